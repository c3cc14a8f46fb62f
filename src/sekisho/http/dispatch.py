"""Table-driven dispatch for the bare-ASGI data plane (`/v1/...`).

One table maps each path to the methods it takes and its handler; adding an
endpoint is one line. Anything not in the table is a `404` in the envelope of
its API, a known path with the wrong method a `405` with `Allow`; both are
answered without authentication and without reading the body.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from sekisho.errors import SekishoError
from sekisho.http.asgi import Receive, Scope, Send, send_bytes
from sekisho.http.envelopes import error_bytes_for
from sekisho.http.rest_errors import method_not_allowed, not_found
from sekisho.ids import request_id

AsgiHandler = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class Endpoint:
    methods: tuple[str, ...]
    handler: AsgiHandler


class PathTable:
    """Exact paths, plus prefixes whose one remaining segment is a parameter (`/v1/models/{id}`)."""

    def __init__(
        self, exact: Mapping[str, Endpoint], with_param: Mapping[str, Endpoint] | None = None
    ) -> None:
        self.exact = dict(exact)
        self.with_param = dict(with_param or {})

    def find(self, path: str) -> Endpoint | None:
        endpoint = self.exact.get(path)
        if endpoint is not None:
            return endpoint
        for prefix, candidate in self.with_param.items():
            rest = path[len(prefix) :]
            if path.startswith(prefix) and rest and "/" not in rest:
                return candidate
        return None

    def allowed(self, path: str) -> tuple[str, ...]:
        endpoint = self.find(path)
        return endpoint.methods if endpoint else ()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        endpoint = self.find(path)
        method: str = scope["method"]
        if endpoint is None:
            await send_api_error(send, path, not_found(method, path))
        elif method not in endpoint.methods:
            await send_api_error(send, path, method_not_allowed(method, path, endpoint.methods))
        else:
            await endpoint.handler(scope, receive, send)


async def send_api_error(send: Send, path: str, err: SekishoError) -> None:
    await send_bytes(
        send, err.status, error_bytes_for(path, err), request_id(), extra=err.headers()
    )
