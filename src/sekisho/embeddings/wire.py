"""The OpenAI embeddings wire format: upstream request bytes, our rebuilt response. Pure.

The response is rebuilt from an allow-list (`object`, `index`, `embedding`,
`usage` counts) with the alias as `model`: nothing an upstream adds survives.
Upstream vectors are asked for as `float` and re-encoded as the client asked;
an upstream that answers base64 anyway is decoded.
"""

from __future__ import annotations

import base64
import binascii
import struct
from typing import Any

import orjson

from sekisho.adapters.base import UpstreamRequest, Usage
from sekisho.adapters.shape import as_dict, as_int, usage_body
from sekisho.adapters.upstream_errors import UpstreamFormatError, decode_body
from sekisho.embeddings.request import EmbeddingRequest

__all__ = ["build_request", "parse_response"]


def build_request(req: EmbeddingRequest, *, upstream_model: str, api_key: str) -> UpstreamRequest:
    body: dict[str, Any] = {"model": upstream_model, "input": req.input, "encoding_format": "float"}
    if req.dimensions is not None:
        body["dimensions"] = req.dimensions
    return UpstreamRequest(
        path="/embeddings",
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
        body=orjson.dumps(body),
    )


def estimate_tokens(value: str | list[Any]) -> int:
    """A rough token count (words; token arrays by length) when an upstream reports none."""
    if isinstance(value, str):
        return max(1, len(value.split()))
    if all(isinstance(t, int) for t in value):
        return len(value)
    return sum(estimate_tokens(item) for item in value)


def _floats(value: Any) -> list[float]:
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise UpstreamFormatError(f"embedding is not base64: {exc}") from exc
        if len(raw) % 4:
            raise UpstreamFormatError("base64 embedding is not float32 data")
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        return [float(v) for v in value]
    raise UpstreamFormatError("embedding is neither a list of numbers nor base64")


def _encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


def parse_response(data: bytes, req: EmbeddingRequest) -> tuple[dict[str, Any], Usage]:
    """Our `list` of embeddings for a successful upstream body; UpstreamFormatError if not one."""
    payload = decode_body(data, "data", "an embeddings list")
    expected = (
        1
        if isinstance(req.input, str) or all(isinstance(t, int) for t in req.input)
        else len(req.input)
    )
    items: list[dict[str, Any]] = []
    for position, raw in enumerate(payload["data"]):
        item = as_dict(raw)
        index = as_int(item.get("index"))
        vector = _floats(item.get("embedding"))
        if req.dimensions is not None and len(vector) != req.dimensions:
            raise UpstreamFormatError(
                f"embedding has {len(vector)} dimensions, not {req.dimensions}"
            )
        items.append(
            {
                "object": "embedding",
                "index": index if index is not None else position,
                "embedding": _encode(vector, req.encoding),
            }
        )
    if len(items) != expected:
        raise UpstreamFormatError(f"{len(items)} embeddings for {expected} inputs")
    items.sort(key=lambda item: item["index"])
    fields = as_dict(payload.get("usage"))
    usage = Usage(as_int(fields.get("prompt_tokens")), 0)
    if usage.prompt_tokens is None:  # the spec requires usage: count (roughly) ourselves
        usage.prompt_tokens = estimate_tokens(req.input)
    shown = usage_body(usage) or {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    body = {
        "object": "list",
        "data": items,
        "model": req.alias,
        "usage": {"prompt_tokens": shown["prompt_tokens"], "total_tokens": shown["prompt_tokens"]},
    }
    return body, usage
