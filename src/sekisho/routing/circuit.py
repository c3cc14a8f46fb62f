"""Passive health: a circuit breaker per (provider, upstream model), as a value-level state machine.

    closed ──(N consecutive failures, or error rate ≥ R over the window
              with ≥ M requests)──► open
    open ──(cool-down over)──► half_open            (lazily, on the next read)
    open ──(all-open probe, see below)──► half_open (one trial slot claimed)
    half_open ──(a trial succeeds)──► closed        (window and counters reset)
    half_open ──(a trial fails)──► open             (cool-down * multiplier, capped)

A circuit's state is a small frozen `CircuitState` (counts, a bucketed
sliding window, timestamps) moved by pure functions — `claim`, `on_success`,
`on_failure`, `release` — so the same transitions can later run against a
copy kept in Redis. `CircuitBook` is the in-process holder of those values
(one event loop: no locks).

Time: `now` is **unix seconds** (`time.time()`), like every clock in
`sekisho.routing`: overrides expire on the wall clock, and circuit state is
meant to be shared between replicas, whose monotonic clocks do not agree. A
backwards clock step must not strand a circuit open: an open circuit whose
`opened_at` lies in the future counts as past its cool-down, and trial claims
from the future are dropped.

Half-open trials: `claim` takes one of `half_open_trials` slots; a claimed
slot that never reports (a cancelled task) frees itself after
`trial_timeout_s`, so a circuit can never stay half-open forever.

All eligible routes open: the planner (`routing.plan`) then offers one probe
on the route whose circuit opened earliest, and `claim(..., probe=True)` lets
it through — ahead of the cool-down, but at most once per `probe_interval_s`
per route, and only into a free half-open slot, so exactly one trial is in
flight while every other request fails fast. A failed probe re-opens the
circuit (now the most recently opened), so probes rotate between routes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from sekisho.matrix.model import Route

__all__ = [
    "CLOSED",
    "CircuitBook",
    "CircuitSettings",
    "CircuitState",
    "CircuitStatus",
    "CircuitView",
    "claim",
    "on_failure",
    "on_success",
    "release",
    "view_of",
]

CircuitStatus = Literal["closed", "open", "half_open"]
_STATUSES: tuple[CircuitStatus, ...] = ("closed", "open", "half_open")


def _help(default: Any, text: str) -> Any:
    return field(default=default, metadata={"help": text})


@dataclass(frozen=True, slots=True)
class CircuitSettings:
    """Thresholds of the circuit breaker; each field carries its help text."""

    failure_threshold: int = _help(5, "Open after this many consecutive failed attempts.")
    window_s: float = _help(60.0, "Length of the sliding window for the error rate, seconds.")
    window_buckets: int = _help(12, "The window is kept as this many time buckets (state size).")
    min_requests: int = _help(
        20, "The error rate opens the circuit only with at least this many attempts in the window."
    )
    error_rate_threshold: float = _help(
        0.5, "Open when this fraction (0..1] of attempts in the window failed."
    )
    cooldown_s: float = _help(15.0, "How long a circuit stays open the first time, seconds.")
    cooldown_multiplier: float = _help(
        2.0, "Each re-open without a close in between multiplies the cool-down by this."
    )
    max_cooldown_s: float = _help(300.0, "Upper bound of the cool-down, seconds.")
    half_open_trials: int = _help(1, "Trial requests let through at once while half-open.")
    trial_timeout_s: float = _help(
        60.0, "A trial that never reports frees its slot after this long, seconds."
    )
    probe_interval_s: float = _help(
        5.0, "When every eligible route is open, probe one route at most this often, seconds."
    )

    def __post_init__(self) -> None:
        problems = [
            name
            for name, ok in (
                ("failure_threshold", self.failure_threshold >= 1),
                ("window_s", self.window_s > 0),
                ("window_buckets", self.window_buckets >= 1),
                ("min_requests", self.min_requests >= 1),
                ("error_rate_threshold", 0 < self.error_rate_threshold <= 1),
                ("cooldown_s", self.cooldown_s > 0),
                ("cooldown_multiplier", 1 <= self.cooldown_multiplier <= 100),
                ("max_cooldown_s", self.max_cooldown_s >= self.cooldown_s),
                ("half_open_trials", self.half_open_trials >= 1),
                ("trial_timeout_s", self.trial_timeout_s > 0),
                ("probe_interval_s", self.probe_interval_s > 0),
            )
            if not ok
        ]
        if problems:
            raise ValueError(f"invalid circuit settings: {', '.join(problems)}")

    @classmethod
    def help(cls) -> dict[str, str]:
        """Setting name -> help text, for docs and `--help`."""
        return {f.name: f.metadata["help"] for f in fields(cls)}

    @property
    def bucket_s(self) -> float:
        return self.window_s / self.window_buckets

    def cooldown(self, reopens: int) -> float:
        # The exponent is capped so a long outage cannot overflow a float.
        grown = self.cooldown_s * self.cooldown_multiplier ** min(reopens, 64)
        return min(grown, self.max_cooldown_s)


Bucket = tuple[int, int, int]  # (bucket number, successes, failures)


@dataclass(frozen=True, slots=True)
class CircuitState:
    """The stored state of one circuit: small, immutable, JSON-serializable."""

    status: CircuitStatus = "closed"
    consecutive_failures: int = 0
    buckets: tuple[Bucket, ...] = ()  # oldest first
    opened_at: float | None = None  # the most recent transition to open
    open_until: float | None = None
    reopens: int = 0  # re-opens since the last close; grows the cool-down
    trials: tuple[float, ...] = ()  # claim times of half-open trials in flight

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "consecutive_failures": self.consecutive_failures,
            "buckets": [list(b) for b in self.buckets],
            "opened_at": self.opened_at,
            "open_until": self.open_until,
            "reopens": self.reopens,
            "trials": list(self.trials),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CircuitState:
        """Rebuild from `to_dict` output; raises ValueError on a malformed value."""
        try:
            status = data["status"]
            if status not in _STATUSES:
                raise ValueError(f"unknown circuit status {status!r}")
            opened_at, open_until = data.get("opened_at"), data.get("open_until")
            return cls(
                status=status,
                consecutive_failures=int(data.get("consecutive_failures", 0)),
                buckets=tuple((int(b), int(s), int(f)) for b, s, f in data.get("buckets", ())),
                opened_at=None if opened_at is None else float(opened_at),
                open_until=None if open_until is None else float(open_until),
                reopens=int(data.get("reopens", 0)),
                trials=tuple(float(t) for t in data.get("trials", ())),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed circuit state: {exc}") from exc


@dataclass(frozen=True, slots=True)
class CircuitView:
    """A circuit as seen at one instant: what the planner, the console and metrics read."""

    state: CircuitStatus
    opened_at: float | None = None
    open_until: float | None = None
    probe_ready_at: float | None = None  # open: when an all-open probe may be let through
    trials_in_flight: int = 0
    trial_available: bool = True  # half-open: is a trial slot free?
    consecutive_failures: int = 0
    window_requests: int = 0
    window_failures: int = 0
    reopens: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


CLOSED = CircuitView("closed")


# --- pure transitions -------------------------------------------------------


def _bucket_number(now: float, settings: CircuitSettings) -> int:
    return math.floor(now / settings.bucket_s)


def _current(state: CircuitState, now: float, s: CircuitSettings) -> CircuitState:
    """The state with time applied: cool-down expiry, stale trials and buckets dropped."""
    status, trials = state.status, state.trials
    if status == "open" and _cooldown_over(state, now):
        status, trials = "half_open", ()
    trials = tuple(t for t in trials if 0 <= now - t < s.trial_timeout_s)
    newest = _bucket_number(now, s)
    buckets = tuple(b for b in state.buckets if newest - s.window_buckets < b[0] <= newest)
    if (status, trials, buckets) == (state.status, state.trials, state.buckets):
        return state
    return replace(state, status=status, trials=trials, buckets=buckets)


def _cooldown_over(state: CircuitState, now: float) -> bool:
    if state.open_until is None or state.opened_at is None:
        return True
    return now >= state.open_until or now < state.opened_at  # the latter: clock stepped back


def _count(state: CircuitState, now: float, s: CircuitSettings, *, failed: bool) -> CircuitState:
    number = _bucket_number(now, s)
    buckets = list(state.buckets)
    if buckets and buckets[-1][0] == number:
        _, ok, bad = buckets[-1]
        buckets[-1] = (number, ok + (not failed), bad + failed)
    else:
        buckets.append((number, int(not failed), int(failed)))
    return replace(state, buckets=tuple(buckets))


def _window(state: CircuitState) -> tuple[int, int]:
    failures = sum(b[2] for b in state.buckets)
    return sum(b[1] for b in state.buckets) + failures, failures


def _open(state: CircuitState, now: float, s: CircuitSettings, reopens: int) -> CircuitState:
    return replace(
        state,
        status="open",
        opened_at=now,
        open_until=now + s.cooldown(reopens),
        reopens=reopens,
        trials=(),
    )


def claim(
    state: CircuitState, now: float, s: CircuitSettings, *, probe: bool = False
) -> tuple[bool, CircuitState]:
    """May a request go to this route now? Claims a half-open trial slot when it may."""
    cur = _current(state, now, s)
    if cur.status == "closed":
        return True, cur
    if cur.status == "open":
        assert cur.opened_at is not None  # _current turns an open state without it half-open
        if not (probe and now - cur.opened_at >= s.probe_interval_s):
            return False, cur
        cur = replace(cur, status="half_open", trials=())
    if len(cur.trials) >= s.half_open_trials:
        return False, cur
    return True, replace(cur, trials=(*cur.trials, now))


def on_success(state: CircuitState, now: float, s: CircuitSettings) -> CircuitState:
    """Record a successful attempt; a half-open success closes the circuit."""
    cur = _current(state, now, s)
    if cur.status == "half_open":
        return _count(CircuitState(), now, s, failed=False)
    # An open circuit only notes a late success from a request begun before it opened.
    counted = _count(cur, now, s, failed=False)
    return counted if cur.status == "open" else replace(counted, consecutive_failures=0)


def on_failure(state: CircuitState, now: float, s: CircuitSettings) -> CircuitState:
    """Record a failed attempt (one that counts against the circuit); may open it."""
    cur = _count(_current(state, now, s), now, s, failed=True)
    if cur.status == "half_open":
        return _open(cur, now, s, cur.reopens + 1)
    if cur.status == "open":
        return cur  # a late failure must not extend the cool-down
    cur = replace(cur, consecutive_failures=cur.consecutive_failures + 1)
    requests, failures = _window(cur)
    rate_tripped = requests >= s.min_requests and failures >= s.error_rate_threshold * requests
    if cur.consecutive_failures >= s.failure_threshold or rate_tripped:
        return _open(cur, now, s, 0)
    return cur


def release(state: CircuitState, now: float, s: CircuitSettings) -> CircuitState:
    """Give back a claimed trial slot without an outcome (the request was cancelled)."""
    cur = _current(state, now, s)
    return replace(cur, trials=cur.trials[1:]) if cur.trials else cur


def view_of(state: CircuitState, now: float, s: CircuitSettings) -> CircuitView:
    """What the circuit looks like at `now`."""
    cur = _current(state, now, s)
    requests, failures = _window(cur)
    opened = cur.status == "open"
    return CircuitView(
        state=cur.status,
        opened_at=cur.opened_at if cur.status != "closed" else None,
        open_until=cur.open_until if opened else None,
        probe_ready_at=(cur.opened_at or 0.0) + s.probe_interval_s if opened else None,
        trials_in_flight=len(cur.trials),
        trial_available=len(cur.trials) < s.half_open_trials,
        consecutive_failures=cur.consecutive_failures,
        window_requests=requests,
        window_failures=failures,
        reopens=cur.reopens,
    )


# --- the in-process holder ---------------------------------------------------


class CircuitBook:
    """Every circuit of this process, keyed by `Route` (provider id + upstream model)."""

    def __init__(
        self,
        settings: CircuitSettings | None = None,
        states: Mapping[Route, CircuitState] | None = None,
    ) -> None:
        self.settings = settings or CircuitSettings()
        self._states: dict[Route, CircuitState] = dict(states or {})

    def _get(self, key: Route) -> CircuitState:
        return self._states.get(key) or CircuitState()

    def _put(self, key: Route, state: CircuitState) -> CircuitStatus:
        if state == CircuitState():
            self._states.pop(key, None)
        else:
            self._states[key] = state
        return state.status

    def allow(self, key: Route, now: float) -> bool:
        """May a request use this route now? Claims a half-open trial slot if so."""
        allowed, state = claim(self._get(key), now, self.settings)
        self._put(key, state)
        return allowed

    def allow_probe(self, key: Route, now: float) -> bool:
        """Like `allow`, but lets an open circuit take the all-open probe (see module doc)."""
        allowed, state = claim(self._get(key), now, self.settings, probe=True)
        self._put(key, state)
        return allowed

    def record_success(self, key: Route, now: float) -> CircuitStatus:
        """Record a success; returns the circuit's new state."""
        return self._put(key, on_success(self._get(key), now, self.settings))

    def record_failure(self, key: Route, now: float) -> CircuitStatus:
        """Record a failure that counts against the circuit; returns the new state."""
        return self._put(key, on_failure(self._get(key), now, self.settings))

    def release(self, key: Route, now: float) -> None:
        """Free a trial slot claimed by a request that ended without an outcome."""
        self._put(key, release(self._get(key), now, self.settings))

    def state(self, key: Route, now: float) -> CircuitStatus:
        """closed, open or half_open at `now`."""
        return _current(self._get(key), now, self.settings).status

    def view(self, key: Route, now: float) -> CircuitView:
        """The circuit of `key` at `now`."""
        return view_of(self._get(key), now, self.settings)

    def snapshot(self, now: float) -> dict[Route, CircuitView]:
        """Every known circuit at `now` (unknown keys are closed); the planner's `health`."""
        return {key: view_of(st, now, self.settings) for key, st in self._states.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "circuits": [
                {"provider": k.provider, "model": k.model, **st.to_dict()}
                for k, st in sorted(
                    self._states.items(), key=lambda kv: (kv[0].provider, kv[0].model)
                )
            ]
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], settings: CircuitSettings | None = None
    ) -> CircuitBook:
        """Rebuild from `to_dict` output; raises ValueError on a malformed value."""
        try:
            states = {
                Route(str(c["provider"]), str(c["model"])): CircuitState.from_dict(c)
                for c in data["circuits"]
            }
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed circuit book: {exc}") from exc
        return cls(settings, states)
