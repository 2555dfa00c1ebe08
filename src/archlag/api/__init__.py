"""The read API (``/api/v1/``): what archlag knows, as JSON, for people, pipelines and update
bots.

- :mod:`~archlag.api.documents`: the documents, built from a snapshot (pure);
- :mod:`~archlag.api.routes`: the HTTP routes;
- ``schema.json``: the JSON Schema of every document (version 1).
"""

from archlag.api.documents import API_VERSION
from archlag.api.routes import api_routes

__all__ = ["API_VERSION", "api_routes"]
