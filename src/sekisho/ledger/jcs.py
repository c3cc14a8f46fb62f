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
import re
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
    if _check(value, "$", allow_floats):
        return _rfc8785(value)
    return _fast(value)


def _rfc8785(value: Any) -> bytes:
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:  # e.g. lone surrogates
        raise CanonicalizationError(str(exc)) from exc


def _fast(value: Any) -> bytes:
    # Byte-identical to JCS when there are no floats and every key sorts the
    # same by code point as by UTF-16 code unit (no character >= U+E000): the
    # stdlib escapes exactly the characters RFC 8785 escapes, the same way.
    try:
        return _ENCODER.encode(value).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalizationError("input contains non-UTF-8 codepoints") from exc


def parse_canonical(body: bytes) -> Any:
    """Parse ``body`` and return its value only if ``body`` is already canonical.

    The body must also stay within the strict domain: no floats, safe integers.
    """
    try:
        value = _DECODER.decode(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CanonicalizationError(f"not valid JSON: {exc}") from exc
    # UTF-8 lead bytes 0xEE and up encode U+E000 and beyond: sort those the slow way.
    again = _rfc8785(value) if _HIGH_BYTES.search(body) else _fast(value)
    if again != body:
        raise CanonicalizationError("body is not in RFC 8785 canonical form")
    return value


def _reject_constant(name: str) -> Any:
    raise CanonicalizationError(f"{name} is not valid JSON")


def _reject_float(text: str) -> Any:
    raise CanonicalizationError(f"float {text} is not allowed")


def _safe_int(text: str) -> int:
    number = int(text)
    if abs(number) > MAX_SAFE_INTEGER:
        raise CanonicalizationError(f"integer {text} is outside +/-(2**53 - 1)")
    return number


_HIGH_BYTES = re.compile(rb"[\xee-\xff]")
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
)
_DECODER = json.JSONDecoder(
    parse_float=_reject_float, parse_int=_safe_int, parse_constant=_reject_constant
)


def _check(value: Any, path: str, allow_floats: bool) -> bool:
    """Raise for what JCS cannot carry; True if the slow (rfc8785) path is needed."""
    # bool is a subclass of int: test it first.
    if value is None or isinstance(value, bool | str):
        return False
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalizationError(
                f"{path}: integer {value} is outside +/-(2**53 - 1); carry it as a string"
            )
        return False
    if isinstance(value, float):
        if not allow_floats:
            raise CanonicalizationError(f"{path}: floats are not allowed; use a string or integer")
        if not math.isfinite(value):
            raise CanonicalizationError(f"{path}: {value} is not representable in JSON")
        return True  # ECMAScript number formatting
    slow = False
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            slow = _check(item, f"{path}[{i}]", allow_floats) or slow
        return slow
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalizationError(f"{path}: object key {key!r} is not a string")
            # Keys past U+E000 may sort differently by UTF-16 code unit.
            slow = slow or _UTF16_ORDER_RISK.search(key) is not None
            slow = _check(item, f"{path}.{key}", allow_floats) or slow
        return slow
    raise CanonicalizationError(f"{path}: {type(value).__name__} is not a JSON value")


_UTF16_ORDER_RISK = re.compile("[\ue000-\U0010ffff]")
