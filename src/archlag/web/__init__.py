"""The HTTP surface: the ASGI app and what it serves.

- :mod:`~archlag.web.app`: the apps (the main address and the events address) and their routes;
- :mod:`~archlag.web.lifecycle`: ``/-/healthy``, ``/-/ready`` (readiness) and ``/-/reload``;
- :mod:`~archlag.web.chunked`: ``/metrics`` sent in pieces without copying the rendering;
- :mod:`~archlag.web.status_page`: the status page at ``/``;
- :mod:`~archlag.web.api`: the read API under ``/api/v1/``;
- ``--web.config.file`` (the exporter-toolkit format): :mod:`~archlag.web.web_config` reads it,
  :mod:`~archlag.web.tls_server` makes its TLS context, :mod:`~archlag.web.live_web_config`
  reads it again when it or a certificate changes, :mod:`~archlag.web.basic_auth` checks
  credentials and :mod:`~archlag.web.guard` puts both in front of every request;
- :mod:`~archlag.web.listener` (connections bounded at ``accept``) and
  :mod:`~archlag.web.http_server` (Hypercorn's settings for one listener);
- :mod:`~archlag.web.healthcheck`: ``archlag healthcheck``, the image's HEALTHCHECK.

The push-event receivers (``/events/...``) are in :mod:`archlag.events`, which the app mounts.
"""
