"""Validators for the official OpenAI schemas vendored in tests/vectors/openai/schemas.json.

The document is OpenAPI 3.0: `nullable: true` is turned into a JSON-Schema
type union (or an `anyOf` with null) before jsonschema reads it.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SCHEMAS = Path(__file__).resolve().parents[1] / "vectors" / "openai" / "schemas.json"


def _nullable(node: Any) -> Any:
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable(value) for key, value in node.items()}
    if node.pop("nullable", False) is True:
        if isinstance(node.get("type"), str) and "$ref" not in node:
            node["type"] = [node["type"], "null"]
            if isinstance(node.get("enum"), list):
                node["enum"] = [*node["enum"], None]
        else:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


@cache
def _document() -> dict[str, Any]:
    return _nullable(copy.deepcopy(json.loads(SCHEMAS.read_text())))  # type: ignore[no-any-return]


@cache
def validator(name: str) -> jsonschema.Draft202012Validator:
    doc = _document()
    schema = {**doc, "$ref": f"#/components/schemas/{name}"}
    return jsonschema.Draft202012Validator(schema)


def check(name: str, value: Any) -> None:
    """Raise with every violation when `value` does not conform to schema `name`."""
    errors = sorted(validator(name).iter_errors(value), key=lambda e: list(e.path))
    if errors:
        detail = "\n".join(f"- {list(e.path)}: {e.message[:300]}" for e in errors[:10])
        raise AssertionError(f"not a valid {name}:\n{detail}\nvalue: {json.dumps(value)[:2000]}")


@cache
def _event_schemas() -> dict[str, str]:
    """Responses stream event `type` -> the schema of that event."""
    schemas = _document()["components"]["schemas"]
    found: dict[str, str] = {}
    for option in schemas["ResponseStreamEvent"]["anyOf"]:
        name = option["$ref"].rsplit("/", 1)[1]
        kind = schemas[name].get("properties", {}).get("type", {})
        for value in kind.get("enum", []):
            found[value] = name
    return found


def check_event(event: dict[str, Any]) -> None:
    """A Responses stream event against the schema of its own type (clearer than the union)."""
    name = _event_schemas().get(event.get("type", ""))
    assert name is not None, f"unknown Responses event type {event.get('type')!r}"
    check(name, event)
