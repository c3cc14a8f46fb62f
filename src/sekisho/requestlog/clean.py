"""Make a request-log row storable: values bounded to their columns, no U+0000 (Rule 13).

Much of a row comes from outside: the caller's `model` (the alias asked for),
upstream error words in attempt details, names in the plan. PostgreSQL refuses
a NUL character in text and a string longer than its column; SQLite refuses an
integer past 64 bits. Each would cost the whole batch, other tenants' rows
included, so every value is cleaned before it is written: strings lose U+0000
and are cut to their column's length, integers are clamped to the column's
range, JSON values lose U+0000 in every string and key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import JSON, Integer, String, Table

__all__ = ["ColumnBounds", "bounded_text", "clean_json", "clean_row"]

INT32 = (-(2**31), 2**31 - 1)
_MAX_JSON_DEPTH = 32


def bounded_text(value: str, limit: int) -> str:
    """A caller's string without U+0000, at most `limit` characters."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    return value if len(value) <= limit else value[:limit]


def clean_json(value: Any, depth: int = 0) -> Any:
    """A JSON value with U+0000 removed from every string and key (too deep: dropped)."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if depth > _MAX_JSON_DEPTH:
        return None
    if isinstance(value, dict):
        return {clean_json(str(k)): clean_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v, depth + 1) for v in value]
    return value


class ColumnBounds:
    """What `clean_row` needs to know about a table: text lengths, integer and JSON columns."""

    def __init__(self, table: Table) -> None:
        self.text: dict[str, int | None] = {}
        self.ints: set[str] = set()
        self.json: set[str] = set()
        for column in table.columns:
            if isinstance(column.type, JSON):
                self.json.add(column.name)
            elif isinstance(column.type, String):
                self.text[column.name] = column.type.length
            elif isinstance(column.type, Integer):
                self.ints.add(column.name)


def clean_row(row: Mapping[str, Any], bounds: ColumnBounds) -> dict[str, Any]:
    """A copy of `row` that the store accepts value by value."""
    out = dict(row)
    for name, value in row.items():
        if value is None:
            continue
        if name in bounds.text and isinstance(value, str):
            limit = bounds.text[name]
            out[name] = bounded_text(value, limit) if limit else value.replace("\x00", "")
        elif name in bounds.ints and isinstance(value, int) and not isinstance(value, bool):
            out[name] = min(max(value, INT32[0]), INT32[1])
        elif name in bounds.json:
            out[name] = clean_json(value)
    return out
