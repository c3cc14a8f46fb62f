"""CORS for browser clients of the API: off unless `cors.allowed_origins` lists origins.

Only paths under `cors.paths` (default `/v1/`) take part; the admin API and
the pages stay same-origin. Credentials (cookies) are never allowed
cross-origin: API clients authenticate with a key in a header.
"""

from __future__ import annotations

from collections.abc import Callable

from sekisho.errors import PermissionDenied
from sekisho.http.asgi import Message, Receive, Scope, Send, header
from sekisho.http.dispatch import AsgiHandler, send_api_error
from sekisho.settings import CorsSettings


class Cors:
    def __init__(
        self, cfg: CorsSettings, allowed_methods: Callable[[str], tuple[str, ...]]
    ) -> None:
        self._any = "*" in cfg.allowed_origins
        self._origins = frozenset(o.rstrip("/") for o in cfg.allowed_origins if o != "*")
        self._paths = tuple(cfg.paths)
        self._allowed_methods = allowed_methods
        self._allow_headers = ", ".join(cfg.allowed_headers).encode()
        self._expose = ", ".join(cfg.expose_headers).encode()
        self._max_age = str(cfg.max_age_s).encode()

    @classmethod
    def from_settings(
        cls, cfg: CorsSettings, allowed_methods: Callable[[str], tuple[str, ...]]
    ) -> Cors | None:
        return cls(cfg, allowed_methods) if cfg.allowed_origins else None

    def applies(self, scope: Scope) -> bool:
        return scope["path"].startswith(self._paths) and header(scope, b"origin") is not None

    def origin_allowed(self, origin: bytes) -> bool:
        return self._any or origin.decode("latin-1") in self._origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send, app: AsgiHandler) -> None:
        origin = header(scope, b"origin") or b""
        allowed = self.origin_allowed(origin)
        preflight = (
            scope["method"] == "OPTIONS"
            and header(scope, b"access-control-request-method") is not None
        )
        if preflight:
            await self._preflight(scope, send, origin, allowed)
            return
        if not allowed:
            await app(scope, receive, send)  # the browser will not let the page read it
            return
        added = [
            (b"access-control-allow-origin", b"*" if self._any else origin),
            (b"access-control-expose-headers", self._expose),
            (b"vary", b"origin"),
        ]

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *added]}
            await send(message)

        await app(scope, receive, send_with_cors)

    async def _preflight(self, scope: Scope, send: Send, origin: bytes, allowed: bool) -> None:
        path: str = scope["path"]
        if not allowed:
            await send_api_error(send, path, PermissionDenied("This origin may not call the API."))
            return
        methods = self._allowed_methods(path) or ("GET", "POST")
        headers = [
            (b"access-control-allow-origin", b"*" if self._any else origin),
            (b"access-control-allow-methods", ", ".join(methods).encode()),
            (b"access-control-allow-headers", self._allow_headers),
            (b"access-control-max-age", self._max_age),
            (b"vary", b"origin"),
            (b"content-length", b"0"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
