"""The read API's JSON Schema (src/archlag/web/api/schema.json), to validate answers with."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from tests.support.paths import ROOT

SCHEMA = json.loads((ROOT / "src/archlag/web/api/schema.json").read_text(encoding="utf-8"))


def valid(document: Any, kind: str) -> Any:
    """``document`` validated against the schema's definition ``kind``; returned as it is."""
    schema = {"$ref": f"#/$defs/{kind}", **{k: v for k, v in SCHEMA.items() if k != "$id"}}
    jsonschema.validate(document, schema)
    return document
