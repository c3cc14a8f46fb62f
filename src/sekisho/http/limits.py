"""What one request may send, and for how long: pure values and decisions, no I/O.

The edge (`sekisho.http.protocol`, below ASGI) enforces these on every
connection before any route code runs; `BodyGuard` enforces the body part
again for apps served by another ASGI server. Settings: `limits` in the
config (docs/configuration.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from sekisho.settings import Limits

# Paths that carry chat traffic get the data-plane body limit; every other
# route family (admin API, console, status, ops) the smaller control limit.
DATA_PLANE_PREFIXES = ("/v1/", "/chat")


@dataclass(frozen=True)
class EdgeLimits:
    max_body_bytes: int = 4 * 1024 * 1024
    control_max_body_bytes: int = 1024 * 1024
    max_header_bytes: int = 32 * 1024
    max_header_count: int = 100
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    keep_alive_timeout_s: float = 5.0
    max_connections: int = 10_000
    # After an early answer the unread rest of a body is read and dropped for at
    # most this long / this much, so the client sees the answer instead of a reset.
    drain_timeout_s: float = 2.0
    drain_max_bytes: int = 64 * 1024 * 1024

    @classmethod
    def from_settings(cls, limits: Limits) -> EdgeLimits:
        return cls(
            max_body_bytes=limits.max_body_bytes,
            control_max_body_bytes=limits.control_max_body_bytes,
            max_header_bytes=limits.max_header_bytes,
            max_header_count=limits.max_header_count,
            header_timeout_s=limits.header_timeout_s,
            body_timeout_s=limits.body_timeout_s,
            keep_alive_timeout_s=limits.keep_alive_timeout_s,
            max_connections=limits.max_connections,
        )

    def body_limit_for(self, path: str) -> int:
        """The largest body a request to `path` may send."""
        if path.startswith(DATA_PLANE_PREFIXES):
            return self.max_body_bytes
        return self.control_max_body_bytes


def declared_length(headers: list[tuple[bytes, bytes]] | tuple[tuple[bytes, bytes], ...]) -> int:
    """The Content-Length a request declares (0 when none; the parser refused bad ones)."""
    for name, value in headers:
        if name == b"content-length":
            return int(value) if value.strip().isdigit() else 0
    return 0


def too_large_message(limit: int) -> str:
    return f"The request body exceeds the limit of {limit} bytes."
