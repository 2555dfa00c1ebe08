"""One watch's loop: list the tags, check what is due, apply the model, save, then update memory.

- :mod:`~archlag.polling.poller`: :class:`~archlag.polling.poller.WatchPoller`, the loop;
- :mod:`~archlag.polling.listing`: what a tag listing means for the view (pure);
- :mod:`~archlag.polling.checks`: looking at tags (``HEAD``, ``GET`` only what changed);
- :mod:`~archlag.polling.findings`: what the checks found, applied to the records (pure);
- :mod:`~archlag.polling.hints`: push events waiting for the next poll;
- :mod:`~archlag.polling.source`: the :class:`~archlag.polling.source.TagSource` seam over a
  registry client;
- :mod:`~archlag.polling.repository_state`: the watch's mutable state, which only its poller
  changes, and its restore from the store.
"""
