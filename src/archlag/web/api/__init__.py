"""The read API (``/api/v1/``): what archlag knows, as JSON, for people, pipelines and update
bots.

- :mod:`~archlag.web.api.documents`: the documents, built from a snapshot (pure);
- :mod:`~archlag.web.api.endpoints`: the HTTP routes;
- ``schema.json``: the JSON Schema of every document (version 1).
"""

from archlag.web.api.documents import API_VERSION
from archlag.web.api.endpoints import api_routes

__all__ = ["API_VERSION", "api_routes"]
