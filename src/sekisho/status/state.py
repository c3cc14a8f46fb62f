"""Each alias's public state from live traffic, probes and open incidents. Pure.

- **traffic** (at least `min_requests` in the window): a 5xx/429 rate at or
  above `outage_rate` is an outage, at or above `degraded_rate` degraded;
- **end-to-end probes** of the window: all failing is an outage, some
  failing is degraded; with enough traffic, probes alone can only make an
  alias degraded (real customers outrank one synthetic tenant);
- an **open incident** naming the alias makes it at least degraded, until
  it is resolved.

The worst of these wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

State = Literal["operational", "degraded", "outage"]
_ORDER: dict[State, int] = {"operational": 0, "degraded": 1, "outage": 2}


@dataclass(frozen=True, slots=True)
class Thresholds:
    min_requests: int = 5
    degraded_rate: float = 0.05
    outage_rate: float = 0.5


@dataclass(frozen=True, slots=True)
class Evidence:
    requests: int
    errors: int
    probes: int
    probes_failed: int
    incident_open: bool


def worst(*states: State) -> State:
    return max(states, key=lambda s: _ORDER[s])


def alias_state(e: Evidence, t: Thresholds) -> State:
    """The state a customer sees for one alias."""
    state: State = "operational"
    enough_traffic = e.requests >= t.min_requests
    if enough_traffic:
        rate = e.errors / e.requests
        if rate >= t.outage_rate:
            state = "outage"
        elif rate >= t.degraded_rate:
            state = "degraded"
    if e.probes:
        probe_state: State = (
            "outage"
            if e.probes_failed == e.probes
            else "degraded"
            if e.probes_failed
            else "operational"
        )
        if enough_traffic and probe_state == "outage":
            probe_state = "degraded"
        state = worst(state, probe_state)
    if e.incident_open:
        state = worst(state, "degraded")
    return state
