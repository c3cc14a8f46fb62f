"""What the simulator remembers: per-provider faults and counters.

Only the event loop that serves the simulator touches this state; other
threads reach it through the admin API or ``SimulatorServer``, which hops
onto that loop.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web

from sekisho.simulator.faults import FaultQueue, parse_faults
from sekisho.simulator.identity import ProviderIdentity


@dataclass(slots=True)
class ProviderState:
    """One simulated provider: its identity, fault queue and counters."""

    identity: ProviderIdentity
    faults: FaultQueue = field(default_factory=FaultQueue)
    requests: int = 0
    streams: int = 0
    faulted: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    last_request: dict[str, object] | None = None
    held: int = 0  # streams waiting at a `hold_after` fault right now
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> int:
        """Let every stream held right now go on; later holds wait for the next release."""
        held, self.gate = self.gate, asyncio.Event()
        held.set()
        return self.held

    def record_request(self, path: str, headers: dict[str, str], body: object) -> int:
        """Count a request that reached this provider; returns its sequence number."""
        self.requests += 1
        self.last_request = {"path": path, "headers": headers, "body": body}
        return self.requests

    def stats(self) -> dict[str, object]:
        body = self.last_request.get("body") if self.last_request else None
        sampling = (
            {key: body.get(key) for key in ("temperature", "top_p")}
            if isinstance(body, dict)
            else None
        )
        return {
            "provider": self.identity.name,
            "requests": self.requests,
            "streams": self.streams,
            "faulted": self.faulted,
            "held": self.held,
            "by_status": dict(self.by_status),
            "last_request": self.last_request,
            "last_sampling": sampling,
            "faults": self.faults.describe(),
        }


class SimulatorState:
    """All simulated providers, created on first use."""

    def __init__(self) -> None:
        self._providers: dict[str, ProviderState] = {}

    def provider(self, name: str) -> ProviderState:
        state = self._providers.get(name)
        if state is None:
            state = self._providers[name] = ProviderState(ProviderIdentity(name))
        return state

    def stats(self, name: str) -> dict[str, object]:
        """A provider's stats; zeros for one that has seen nothing (without creating it)."""
        state = self._providers.get(name) or ProviderState(ProviderIdentity(name))
        return state.stats()

    def all_stats(self) -> dict[str, object]:
        return {"providers": {name: p.stats() for name, p in self._providers.items()}}

    def add_faults(self, name: str, raw: object) -> list[dict[str, object]]:
        """Queue the faults described by ``raw`` (raises FaultError); returns the active list."""
        faults = parse_faults(raw)
        queue = self.provider(name).faults
        queue.add(faults)
        return queue.describe()

    def faults(self, name: str) -> list[dict[str, object]]:
        state = self._providers.get(name)
        return state.faults.describe() if state else []

    def clear_faults(self, name: str | None = None) -> None:
        if name is None:
            targets = list(self._providers.values())
        else:
            targets = [p] if (p := self._providers.get(name)) else []
        for state in targets:
            state.faults.clear()

    def reset(self) -> None:
        self._providers.clear()


STATE = web.AppKey("sekisho_simulator_state", SimulatorState)
