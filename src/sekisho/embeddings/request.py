"""Parse and validate an OpenAI embeddings request. Pure.

Every parameter of `CreateEmbeddingRequest` has a disposition, as on the chat
path: `input`, `dimensions` passed; `model` translated (alias -> upstream
model); `encoding_format` translated (the upstream is asked for what is
cheapest to check, and we encode what the client asked for); `user` withheld.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson

from sekisho.errors import InvalidRequest

__all__ = [
    "EMBEDDING_PARAMETERS",
    "EmbeddingRequest",
    "parse_embedding_request",
    "validate_embedding_request",
    "wrong_kind",
]

MAX_INPUTS = 2048
EMBEDDING_PARAMETERS: dict[str, str] = {
    "model": "translated: the alias; replaced by the route's upstream model",
    "input": "passed",
    "dimensions": "passed",
    "encoding_format": "translated: `float` or `base64`, encoded by the gateway",
    "user": "withheld: the tenant's end-user identifier",
}


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    alias: str
    input: str | list[Any]
    encoding: Literal["float", "base64"]
    dimensions: int | None


def wrong_kind(alias: str, kind: str) -> InvalidRequest:
    """The error for an alias used on the other API (chat vs embeddings)."""
    if kind == "embedding":
        text = f"Alias '{alias}' is an embedding model; use POST /v1/embeddings."
    else:
        text = f"Alias '{alias}' is a chat model, not an embedding model; use a chat endpoint."
    return InvalidRequest(text, param="model")


def _bad(message: str, param: str | None = None) -> InvalidRequest:
    return InvalidRequest(message, param=param)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_input(value: Any) -> None:
    if isinstance(value, str):
        if not value:
            raise _bad("'input' must not be empty.", "input")
        return
    if not isinstance(value, list) or not value or len(value) > MAX_INPUTS:
        raise _bad(
            f"'input' must be a string or a list of 1 to {MAX_INPUTS} strings or token arrays.",
            "input",
        )
    if all(_is_int(t) for t in value):
        return  # one token array
    for i, item in enumerate(value):
        ok = (isinstance(item, str) and item) or (
            isinstance(item, list) and item and all(_is_int(t) for t in item)
        )
        if not ok:
            raise _bad(f"input[{i}] must be a non-empty string or token array.", "input")


def validate_embedding_request(body: Any) -> EmbeddingRequest:
    """Check a decoded JSON body; return the request or raise `InvalidRequest`."""
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    unknown = sorted(set(body) - set(EMBEDDING_PARAMETERS))
    if unknown:
        raise _bad(f"Unrecognized request argument(s): {', '.join(unknown)}.", unknown[0])
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _bad("'model' is required and must be a model alias string.", "model")
    if "input" not in body:
        raise _bad("'input' is required.", "input")
    _check_input(body["input"])
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise _bad("'encoding_format' must be 'float' or 'base64'.", "encoding_format")
    dimensions = body.get("dimensions")
    if dimensions is not None and (not _is_int(dimensions) or dimensions < 1):
        raise _bad("'dimensions' must be a positive integer.", "dimensions")
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise _bad("'user' must be a string.", "user")
    fmt: Literal["float", "base64"] = "base64" if encoding == "base64" else "float"
    return EmbeddingRequest(model, body["input"], fmt, dimensions)


def parse_embedding_request(raw: bytes) -> EmbeddingRequest:
    """Decode JSON bytes and validate them."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _bad(f"The request body is not valid JSON: {exc}.") from exc
    return validate_embedding_request(body)
