"""RFC 8785 (JCS) canonical JSON for ledger entry bodies.

The ledger stores and hashes these exact bytes; they are never re-derived from
a JSON column. Values are restricted to what every JSON implementation reads
back identically: strings, booleans, null, integers within +/-(2**53 - 1),
lists and string-keyed objects. Floats are refused by default (entry bodies
carry amounts as strings or integers); ``allow_floats=True`` admits finite
floats, which JCS serialises per ECMAScript, for general-purpose use.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import rfc8785

__all__ = ["MAX_SAFE_INTEGER", "CanonicalizationError", "canonicalize", "parse_canonical"]

MAX_SAFE_INTEGER = 2**53 - 1


class CanonicalizationError(ValueError):
    """A value cannot be carried safely in canonical JSON."""


def canonicalize(value: Any, *, allow_floats: bool = False) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of ``value``.

    Raises CanonicalizationError naming the offending path for values JCS
    cannot carry safely (big integers, NaN/inf, non-string keys, bytes,
    unpaired surrogates, floats unless ``allow_floats``).
    """
    _check(value, "$", allow_floats)
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:  # e.g. lone surrogates
        raise CanonicalizationError(str(exc)) from exc


def parse_canonical(body: bytes) -> Any:
    """Parse ``body`` and return its value only if ``body`` is already canonical."""
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise CanonicalizationError(f"not valid JSON: {exc}") from exc
    if canonicalize(value) != body:
        raise CanonicalizationError("body is not in RFC 8785 canonical form")
    return value


def _reject_constant(name: str) -> Any:
    raise CanonicalizationError(f"{name} is not valid JSON")


def _check(value: Any, path: str, allow_floats: bool) -> None:
    # bool is a subclass of int: test it first.
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalizationError(
                f"{path}: integer {value} is outside +/-(2**53 - 1); carry it as a string"
            )
        return
    if isinstance(value, float):
        if not allow_floats:
            raise CanonicalizationError(f"{path}: floats are not allowed; use a string or integer")
        if not math.isfinite(value):
            raise CanonicalizationError(f"{path}: {value} is not representable in JSON")
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]", allow_floats)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalizationError(f"{path}: object key {key!r} is not a string")
            _check(item, f"{path}.{key}", allow_floats)
        return
    raise CanonicalizationError(f"{path}: {type(value).__name__} is not a JSON value")
