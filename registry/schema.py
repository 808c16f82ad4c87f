"""The JSON Schema of ESM metadata, generated from the Pydantic models.

The checked-in copy (``metadata/esm-metadata.schema.json``) is the published contract; a
test fails when it drifts from the models. Regenerate it with
``esm-registry schema -o metadata/esm-metadata.schema.json``.
"""

from __future__ import annotations

import json
from typing import Any

from .metadata import EsmMetadata

__all__ = ["SCHEMA_FILENAME", "metadata_schema", "metadata_schema_text"]

SCHEMA_FILENAME = "esm-metadata.schema.json"


def metadata_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) that ESM metadata files and card data follow."""
    schema = EsmMetadata.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://esm-registry.invalid/schemas/{SCHEMA_FILENAME}",
        **schema,
    }


def metadata_schema_text() -> str:
    """The schema as the exact text of the checked-in file (stable key order, final newline)."""
    return json.dumps(metadata_schema(), indent=2, ensure_ascii=False) + "\n"
