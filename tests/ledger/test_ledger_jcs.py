"""RFC 8785 canonicalization: the official vectors and our stricter entry rules."""

from __future__ import annotations

import json
import re

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from sekisho.ledger.jcs import (
    MAX_SAFE_INTEGER,
    CanonicalizationError,
    canonicalize,
    parse_canonical,
)

from .vectors import JCS

NAMES = sorted(p.stem for p in (JCS / "input").glob("*.json"))


def test_all_vector_files_found() -> None:
    assert NAMES == ["arrays", "french", "structures", "unicode", "values", "weird"]


@pytest.mark.parametrize("name", NAMES)
def test_official_vectors(name: str) -> None:
    value = json.loads((JCS / "input" / f"{name}.json").read_text(encoding="utf-8"))
    expected = (JCS / "output" / f"{name}.json").read_bytes()
    assert canonicalize(value, allow_floats=True) == expected
    hexed = (JCS / "outhex" / f"{name}.txt").read_text().split()
    assert expected == bytes(int(h, 16) for h in hexed)


def test_sort_keys_is_not_jcs() -> None:
    value = {"\u20ac": 1, "\r": 2, "\U0001f602": 3, "\ufb33": 4}
    assert canonicalize(value) != json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (2**53, "outside"),
        (-(2**53), "outside"),
        ({"a": [1, 2.5]}, "$.a[1]: floats"),
        ({"x": float("nan")}, "floats"),
        ({1: "a"}, "not a string"),
        ({"b": b"bytes"}, "bytes is not a JSON value"),
        ({"s": {1, 2}}, "set"),
        ("\ud800", "UTF-8"),
    ],
)
def test_refuses_what_jcs_cannot_carry(value: object, fragment: str) -> None:
    with pytest.raises(CanonicalizationError, match=re.escape(fragment)):
        canonicalize(value)


def test_floats_allowed_on_request_but_never_nan() -> None:
    assert canonicalize([1.5, 1e30], allow_floats=True) == b"[1.5,1e+30]"
    with pytest.raises(CanonicalizationError):
        canonicalize(float("inf"), allow_floats=True)


def test_safe_integer_bounds_accepted() -> None:
    assert canonicalize([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, True]) == (
        b"[9007199254740991,-9007199254740991,true]"
    )


@pytest.mark.parametrize(
    "body",
    [b'{"b":1,"a":2}', b'{"a": 1}', b'{"a":1.0}', b"[NaN]", b'{"a":1,"a":1}', b"\xff", b"nope"],
)
def test_parse_canonical_rejects_non_canonical(body: bytes) -> None:
    with pytest.raises(CanonicalizationError):
        parse_canonical(body)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.text(st.characters(exclude_categories=("Cs",))),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(deadline=None)  # CPU-shared CI must not flake on timing
@given(json_values)
def test_canonical_bytes_round_trip(value: object) -> None:
    body = canonicalize(value)
    assert parse_canonical(body) == value
    assert canonicalize(json.loads(body)) == body


any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=8)
strict_values = st.recursive(
    st.none() | st.booleans() | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER) | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=5),
    max_leaves=25,
)


@settings(deadline=None)  # CPU-shared CI must not flake on timing
@given(strict_values)
def test_fast_path_is_byte_identical_to_rfc8785(value: object) -> None:
    assert canonicalize(value) == rfc8785.dumps(value)


def test_keys_that_sort_differently_in_utf16() -> None:
    # U+1F602 sorts after U+FB33 by code point but before it by UTF-16 unit (0xD83D).
    value = {"\U0001f602": 1, "\ufb33": 2, "a": 3}
    body = canonicalize(value)
    assert body == rfc8785.dumps(value)
    assert body.index("\U0001f602".encode()) < body.index("\ufb33".encode())
