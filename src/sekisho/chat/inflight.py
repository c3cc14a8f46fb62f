"""Registry of in-flight streams, so a suspension can end a tenant's streams at once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(eq=False, slots=True)
class StreamHandle:
    tenant_id: str
    _on_kill: Callable[[], None]
    killed: str | None = field(default=None)  # the error code it was ended with

    def kill(self, code: str) -> None:
        if self.killed is None:
            self.killed = code
            self._on_kill()


class InflightStreams:
    def __init__(self) -> None:
        self._by_tenant: dict[str, set[StreamHandle]] = {}

    def add(self, tenant_id: str, on_kill: Callable[[], None]) -> StreamHandle:
        handle = StreamHandle(tenant_id, on_kill)
        self._by_tenant.setdefault(tenant_id, set()).add(handle)
        return handle

    def discard(self, handle: StreamHandle) -> None:
        handles = self._by_tenant.get(handle.tenant_id)
        if handles is not None:
            handles.discard(handle)
            if not handles:
                del self._by_tenant[handle.tenant_id]

    def end_tenant(self, tenant_id: str, code: str = "tenant_suspended") -> int:
        """End every stream of a tenant with an error event; returns how many."""
        handles = list(self._by_tenant.get(tenant_id, ()))
        for handle in handles:
            handle.kill(code)
        return len(handles)

    def count(self, tenant_id: str | None = None) -> int:
        if tenant_id is not None:
            return len(self._by_tenant.get(tenant_id, ()))
        return sum(len(h) for h in self._by_tenant.values())
