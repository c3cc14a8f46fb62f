"""Every admitted chat request, owned from admission to its last byte.

The chat core opens one `InflightRequest` when it admits a request (before any
upstream is called) and closes it exactly once, on every path: success, an
error answer, an upstream failure, a client that went away, a cancelled task,
a suspension, a shutdown. Opening registers it here under its tenant; closing
deregisters it and hands its request-log row to the writer (never awaited,
Rule 11). Whatever the path, a request leaves exactly one row.

`end_tenant` (suspension, on every replica through the bus) and `end_all`
(shutdown) end requests at any stage:

    waiting     admitted, no response started yet (planning, connecting, waiting
                for upstream headers or for a stream's first byte, reading a JSON
                body): the task serving it is cancelled at once; the core turns
                that cancellation into the kill's error answer (403
                tenant_suspended, 503 service_unavailable).
    streaming   the response has started: the upstream is closed at once and
                the relay ends the stream with an error event (no `[DONE]`).

    admit() ──► waiting ──(first frame ready)──► streaming ──► close(status, code)
                   └──────────────(error, JSON body, cancel)──────┘
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sekisho.errors import ERROR_TABLE, SekishoError, ServiceUnavailable, error_for_code
from sekisho.requestlog.record import RequestRecord

__all__ = [
    "InflightRequest",
    "InflightRequests",
    "InflightStreams",
    "StreamHandle",
    "kill_error",
    "owned",
]

T = TypeVar("T")
_KILL_MESSAGES = {
    "tenant_suspended": "Access for this tenant was ended; the request was stopped.",
    "service_unavailable": "The gateway is shutting down; retry the request.",
}


def kill_error(code: str) -> SekishoError:
    """The answer to a request ended with kill `code`."""
    if code not in ERROR_TABLE:
        return ServiceUnavailable("The request was ended.")
    return error_for_code(code, _KILL_MESSAGES.get(code, "The request was ended."))


async def owned(owner: InflightRequest, work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` for an admitted request; any way it fails closes the request with its answer.

    Success leaves the request open: `work` (or the stream it hands out) closes it.
    A cancellation that was our own kill (suspension, shutdown) becomes the kill's error.
    """
    try:
        if owner.killed is not None:
            raise kill_error(owner.killed)
        return await work()
    except SekishoError as err:
        owner.close(err.status, err.code)
        raise
    except asyncio.CancelledError:
        if owner.absorb_kill():
            ended = kill_error(owner.killed or "tenant_suspended")
            owner.close(ended.status, ended.code)
            raise ended from None
        owner.close(499, "cancelled")
        raise
    except BaseException:
        owner.close(500, "internal_error")
        raise


Submit = Callable[[RequestRecord], None]


class InflightRequest:
    """One admitted request: its registration, its log row, and how to end it now."""

    __slots__ = (
        "_cancel_sent",
        "_clock",
        "_on_kill",
        "_registry",
        "_submit",
        "_task",
        "closed",
        "killed",
        "record",
        "started",
        "tenant_id",
    )

    def __init__(
        self,
        registry: InflightRequests,
        record: RequestRecord,
        submit: Submit,
        clock: Callable[[], float],
        started: float,
    ) -> None:
        self._registry = registry
        self.record = record
        self.tenant_id = record.tenant_id or ""
        self._submit = submit
        self._clock = clock
        self.started = started
        self.killed: str | None = None  # the error code it was ended with
        self.closed = False
        self._on_kill: Callable[[], None] | None = None
        self._cancel_sent = False
        try:
            self._task: asyncio.Task[object] | None = asyncio.current_task()
        except RuntimeError:
            self._task = None

    # -- stages
    def streaming(self, on_kill: Callable[[], None]) -> None:
        """The response is about to start: from now on a kill (and the close) releases
        the upstream through `on_kill` instead of cancelling the task."""
        self._task = None
        self._on_kill = on_kill

    def kill(self, code: str) -> None:
        """End the request now with error `code` (see the module docstring)."""
        if self.killed is not None or self.closed:
            return
        self.killed = code
        if self._on_kill is not None:
            self._on_kill()
        elif self._task is not None and not self._task.done():
            self._cancel_sent = True
            self._task.cancel(f"request ended: {code}")

    def absorb_kill(self) -> bool:
        """Inside `except CancelledError`: was it our kill, and only our kill?

        If so, the cancellation is withdrawn (the task goes on to answer with the kill's
        error); a cancellation from anywhere else (shutdown, a caller) stays in force.
        """
        if self.killed is None or not self._cancel_sent or self._task is None:
            return False
        self._cancel_sent = False
        return self._task.uncancel() == 0

    # -- the end
    def close(self, status: int, code: str | None) -> None:
        """Deregister and hand the request-log row to the writer; later calls do nothing."""
        if self.closed:
            return
        self.closed = True
        release, self._on_kill, self._task = self._on_kill, None, None
        if release is not None:
            release()  # idempotent: usually the relay has released the upstream already
        self._registry._discard(self)
        record = self.record
        record.status = status
        record.error_code = code
        record.latency_ms = (self._clock() - self.started) * 1000
        self._submit(record)


class InflightRequests:
    """The registry of admitted, unfinished requests, by tenant."""

    def __init__(self) -> None:
        self._by_tenant: dict[str, set[InflightRequest]] = {}
        # Tenants ended and not yet reopened: a request authenticated just before the
        # suspension arrived, and admitted just after, is ended at admission.
        self._barred: dict[str, str] = {}
        self._empty: asyncio.Event | None = None

    def admit(
        self, record: RequestRecord, submit: Submit, clock: Callable[[], float], started: float
    ) -> InflightRequest:
        """Register a request about to be served (call from the task that serves it).

        If its tenant was ended meanwhile, the request comes back already `killed`.
        """
        request = InflightRequest(self, record, submit, clock, started)
        self._by_tenant.setdefault(request.tenant_id, set()).add(request)
        if self._barred:
            request.killed = self._barred.get(request.tenant_id)
        return request

    def reopen(self, tenant_id: str) -> None:
        """The tenant is active again (reinstated): admit its requests."""
        self._barred.pop(tenant_id, None)

    def _discard(self, request: InflightRequest) -> None:
        requests = self._by_tenant.get(request.tenant_id)
        if requests is not None:
            requests.discard(request)
            if not requests:
                del self._by_tenant[request.tenant_id]
        if not self._by_tenant and self._empty is not None:
            self._empty.set()

    def end_tenant(self, tenant_id: str, code: str = "tenant_suspended") -> int:
        """End every in-flight request of a tenant, at whatever stage; returns how many.

        Until `reopen(tenant_id)`, the tenant's newly admitted requests are ended too.
        """
        self._barred[tenant_id] = code
        requests = list(self._by_tenant.get(tenant_id, ()))
        for request in requests:
            request.kill(code)
        return len(requests)

    def end_all(self, code: str = "service_unavailable") -> int:
        """End every in-flight request (shutdown); returns how many."""
        ended = 0
        for tenant_id in list(self._by_tenant):
            for request in list(self._by_tenant.get(tenant_id, ())):
                request.kill(code)
                ended += 1
        return ended

    async def drain(self, timeout_s: float) -> int:
        """End every request, wait (bounded) until each has closed; returns how many were left."""
        if not self._by_tenant:
            return 0
        self._empty = asyncio.Event()
        self.end_all("service_unavailable")
        try:
            async with asyncio.timeout(timeout_s):
                await self._empty.wait()
        except TimeoutError:
            pass
        finally:
            self._empty = None
        return self.count()

    def count(self, tenant_id: str | None = None) -> int:
        if tenant_id is not None:
            return len(self._by_tenant.get(tenant_id, ()))
        return sum(len(r) for r in self._by_tenant.values())


# Older names: the registry once held streams only.
InflightStreams = InflightRequests
StreamHandle = InflightRequest
