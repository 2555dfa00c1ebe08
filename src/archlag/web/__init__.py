"""The HTTP surface: the ASGI app and what it serves.

- :mod:`~archlag.web.app`: the apps (the main address and the events address) and their routes;
- :mod:`~archlag.web.lifecycle`: ``/-/healthy``, ``/-/ready`` (readiness) and ``/-/reload``;
- :mod:`~archlag.web.chunked`: ``/metrics`` sent in pieces without copying the rendering;
- :mod:`~archlag.web.status_page`: the status page at ``/``;
- :mod:`~archlag.web.api`: the read API under ``/api/v1/``.

The push-event receivers (``/events/...``) are in :mod:`archlag.events`, which the app mounts.
"""
