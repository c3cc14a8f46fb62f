"""Identifiers we mint. Random, URL-safe, prefixed by what they name."""

from __future__ import annotations

import secrets


def new_id(prefix: str, nbytes: int = 12) -> str:
    return f"{prefix}_{secrets.token_hex(nbytes)}"


def request_id() -> str:
    return "req_" + secrets.token_hex(12)


def completion_id() -> str:
    return "chatcmpl-" + secrets.token_hex(12)
