"""A JSON value that satisfies a JSON Schema: what a simulated model "writes" for one. Pure.

Used for `response_format` json_schema / json_object answers and for tool-call
arguments generated from the tool's `parameters`. Strings are the prompt's
text (bounded by minLength/maxLength), numbers the schema's minimum or 1,
every listed property is filled, arrays get `minItems` (at least one) items,
`enum`/`const`/`anyOf`/`oneOf` take their first non-null choice (a `default`
wins, a `pattern` of plain alternatives gives its first), `$ref`s to
`#/$defs/...` or `#/definitions/...` are followed (to a bounded depth).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["fill"]

_MAX_DEPTH = 12
_ALTERNATION = re.compile(r"\^\(?(?P<first>[\w -]+)(\|[\w -]+)*\)?\$")
_FORMATS = {
    "date": "2024-01-01",
    "date-time": "2024-01-01T00:00:00Z",
    "time": "00:00:00",
    "email": "user@example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "uri": "https://example.com/",
}


def fill(schema: Any, text: str) -> Any:
    """A value valid against `schema` (a JSON Schema object), built around `text`."""
    root = schema if isinstance(schema, Mapping) else {}
    return _value(root, text, root, 0)


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    node: Any = root
    for part in ref[2:].split("/"):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else {}


def _number(schema: Mapping[str, Any], *, integer: bool) -> int | float:
    value: float = 1
    low, above, high = schema.get("minimum"), schema.get("exclusiveMinimum"), schema.get("maximum")
    if isinstance(low, int | float) and not isinstance(low, bool):
        value = max(value, low)
    if isinstance(above, int | float) and not isinstance(above, bool) and value <= above:
        value = above + 1
    if isinstance(high, int | float) and not isinstance(high, bool) and value > high:
        value = high
    return int(value) if integer else value


def _value(schema: Mapping[str, Any], text: str, root: Mapping[str, Any], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return None
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf"):
        options = [o for o in schema.get(key) or [] if isinstance(o, Mapping)]
        if options:
            chosen = next((o for o in options if o.get("type") != "null"), options[0])
            return _value(chosen, text, root, depth + 1)
    if isinstance(schema.get("allOf"), list):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            if isinstance(part, Mapping):
                part = _resolve(part, root)
                merged.setdefault("properties", {}).update(part.get("properties") or {})
                merged.setdefault("type", part.get("type"))
        return _value(merged, text, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None and "properties" in schema:
        kind = "object"
    if kind == "object":
        properties = schema.get("properties") or {}
        return {
            name: _value(sub if isinstance(sub, Mapping) else {}, text, root, depth + 1)
            for name, sub in properties.items()
        }
    if kind == "array":
        raw_items = schema.get("items")
        items: Mapping[str, Any] = raw_items if isinstance(raw_items, Mapping) else {}
        count = max(1, int(schema.get("minItems") or 1))
        return [_value(items, text, root, depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        return _number(schema, integer=kind == "integer")
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS:
        return _FORMATS[fmt]
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and (match := _ALTERNATION.fullmatch(pattern)):
        return match["first"]  # "^(a|b)$": the first alternative
    value = text or "text"
    low, high = schema.get("minLength"), schema.get("maxLength")
    if isinstance(high, int):
        value = value[:high]
    if isinstance(low, int) and len(value) < low:
        value = value.ljust(low, "x")
    return value
