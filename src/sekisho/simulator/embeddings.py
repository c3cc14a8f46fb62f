"""Deterministic embeddings, as the OpenAI ``POST /v1/embeddings`` serves them. Pure.

The vector of a text is derived from SHA-256 of the text (counter-mode blocks
mapped to [-1, 1)) and normalised to unit length, so equal texts get equal
vectors on every provider and run, and different texts differ. A token is a
whitespace-separated word, as in `generate`.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from collections.abc import Mapping

import orjson

from sekisho.simulator.generate import count_words
from sekisho.simulator.identity import ProviderIdentity
from sekisho.simulator.wire import WireError, is_int

DEFAULT_DIMENSIONS = 64
MAX_DIMENSIONS = 3072
MAX_INPUTS = 2048


def embed(text: str, dimensions: int) -> list[float]:
    """The unit vector of `text`: float32-exact values, deterministic."""
    raw: list[float] = []
    block = 0
    while len(raw) < dimensions:
        digest = hashlib.sha256(f"{block}:{text}".encode()).digest()
        raw.extend((v / 32768.0) for v in struct.unpack("<16h", digest))
        block += 1
    raw = raw[:dimensions]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    # Round-trip through float32 so the float and base64 encodings carry the same numbers.
    packed = struct.pack(f"<{dimensions}f", *(v / norm for v in raw))
    return list(struct.unpack(f"<{dimensions}f", packed))


def _inputs(raw: object) -> list[str]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw or len(raw) > MAX_INPUTS:
        raise WireError(
            400,
            "'input' must be a string or an array of 1 to 2048 strings or token arrays",
            param="input",
            code="invalid_value",
        )
    texts = []
    for item in raw:
        if isinstance(item, str) and item:
            texts.append(item)
        elif is_int(item):
            texts.append(str(item))
        elif isinstance(item, list) and item and all(is_int(t) for t in item):
            texts.append(" ".join(str(t) for t in item))
        else:
            raise WireError(
                400, "'input' items must be non-empty strings", param="input", code="invalid_value"
            )
    if all(is_int(t) for t in raw):  # one token array
        return [" ".join(str(t) for t in raw)]
    return texts


def embeddings_body(body: object, identity: ProviderIdentity) -> bytes:
    """The response body for an embeddings request, or WireError."""
    if not isinstance(body, Mapping):
        raise WireError(400, "We could not parse the JSON body of your request.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise WireError(400, "you must provide a model parameter")
    texts = _inputs(body.get("input"))
    dimensions = body.get("dimensions", DEFAULT_DIMENSIONS)
    if not is_int(dimensions) or not 1 <= dimensions <= MAX_DIMENSIONS:  # type: ignore[operator]
        raise WireError(400, "'dimensions' must be an integer from 1", param="dimensions")
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise WireError(
            400, "'encoding_format' must be 'float' or 'base64'", param="encoding_format"
        )
    data = []
    for index, text in enumerate(texts):
        vector = embed(text, int(dimensions))  # type: ignore[call-overload]
        value: object = vector
        if encoding == "base64":
            value = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": value})
    tokens = sum(max(1, count_words(t)) for t in texts)
    return orjson.dumps(
        {
            "object": "list",
            "data": data,
            "model": identity.model(model),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )
