"""Injected faults: the model, its parsing and the per-provider queue. Pure, no I/O.

A provider holds an ordered queue of faults. Each chat request takes the
first one; a fault with a ``count`` is used up after that many requests,
one without lasts until cleared. Fields (all optional, combinable):

    status               HTTP error to return (400-599) in the endpoint's wire format
    retry_after          seconds for the ``retry-after`` header (default 1 on 429)
    count                apply to the next N requests, then drop
    latency_ms           delay before the response headers
    timeout              accept, then never answer (until the client leaves, max 600 s)
    reset                abort the TCP connection without a response
    first_byte_delay_ms  delay between the response headers and the first body byte
    chunk_delay_ms       delay between stream chunks
    cut_after            send N chunks (non-stream: N body bytes), then drop the connection
    error_after          stream: after N chunks send an in-stream error event, then end
    success_status       answer normally, but with this 2xx status (e.g. 201)
    omit_usage           a JSON answer carries ``"usage": null``
    error_message        the message of a ``status`` error instead of the simulated one
                         (e.g. a context-length error in a provider's words)
    hold_after           stream: after N chunks wait until released (``POST
                         /_sim/{provider}/release``) or the client leaves, max 600 s;
                         lets a test keep a stream open exactly as long as it needs

At most one of ``status``, ``timeout``, ``reset``, ``cut_after`` and
``error_after`` (the outcome); the delays combine with anything. Faults meet
chat requests only (``chat/completions``, ``messages``), in either wire
format; ``/v1/models`` is always served. A non-stream request ignores
``chunk_delay_ms`` and ``error_after`` (but still uses up a count). A stream
chunk is one SSE event (OpenAI ``data:`` line, Anthropic ``event:``), so
``cut_after: 0`` sends the headers and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

MAX_HANG_S = 600.0
MAX_DELAY_MS = MAX_HANG_S * 1000
MAX_COUNT = 1_000_000
DEFAULT_RETRY_AFTER_S = 1

_OUTCOMES = ("status", "timeout", "reset", "cut_after", "error_after")


class FaultError(ValueError):
    """A fault description that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class Fault:
    status: int | None = None
    retry_after: int | None = None
    count: int | None = None
    latency_ms: float = 0.0
    timeout: bool = False
    reset: bool = False
    first_byte_delay_ms: float = 0.0
    chunk_delay_ms: float = 0.0
    cut_after: int | None = None
    error_after: int | None = None
    hold_after: int | None = None
    success_status: int | None = None
    omit_usage: bool = False
    error_message: str | None = None

    def describe(self, remaining: int | None) -> dict[str, object]:
        """The fault as the admin API shows it: set fields only, with what is left of count."""
        shown: dict[str, object] = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name != "count" and getattr(self, f.name) != f.default
        }
        if remaining is not None:
            shown["count"] = remaining
        return shown


_FIELD_NAMES = tuple(f.name for f in fields(Fault))


def parse_fault(raw: object) -> Fault:
    """Validate one fault description (a JSON object) and build the Fault."""
    if not isinstance(raw, Mapping):
        raise FaultError('a fault must be a JSON object, e.g. {"status": 503, "count": 3}')
    unknown = sorted(set(raw) - set(_FIELD_NAMES))
    if unknown:
        raise FaultError(f"unknown fault field(s) {unknown}; known: {list(_FIELD_NAMES)}")
    if not raw:
        raise FaultError("an empty fault does nothing; give at least one field")
    outcomes = [name for name in _OUTCOMES if raw.get(name) not in (None, False)]
    if len(outcomes) > 1:
        raise FaultError(f"choose one of {list(_OUTCOMES)} per fault, got {outcomes}")
    status = _int(raw, "status", 400, 599)
    return Fault(
        status=status,
        retry_after=_int(raw, "retry_after", 0, 86_400),
        count=_int(raw, "count", 1, MAX_COUNT),
        latency_ms=_ms(raw, "latency_ms"),
        timeout=_bool(raw, "timeout"),
        reset=_bool(raw, "reset"),
        first_byte_delay_ms=_ms(raw, "first_byte_delay_ms"),
        chunk_delay_ms=_ms(raw, "chunk_delay_ms"),
        cut_after=_int(raw, "cut_after", 0, MAX_COUNT),
        error_after=_int(raw, "error_after", 0, MAX_COUNT),
        hold_after=_int(raw, "hold_after", 0, MAX_COUNT),
        success_status=_int(raw, "success_status", 200, 299),
        omit_usage=_bool(raw, "omit_usage"),
        error_message=_str(raw, "error_message"),
    )


def parse_faults(raw: object) -> list[Fault]:
    """One fault object, or a list of them (queued in order)."""
    if isinstance(raw, list):
        if not raw:
            raise FaultError("an empty list of faults does nothing")
        return [parse_fault(item) for item in raw]
    return [parse_fault(raw)]


def _int(raw: Mapping[str, object], name: str, low: int, high: int) -> int | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise FaultError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise FaultError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _ms(raw: Mapping[str, object], name: str) -> float:
    value = raw.get(name)
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultError(f"{name} must be a number of milliseconds, got {value!r}")
    if not 0 <= value <= MAX_DELAY_MS:
        raise FaultError(f"{name} must be between 0 and {MAX_DELAY_MS:.0f}, got {value}")
    return float(value)


def _str(raw: Mapping[str, object], name: str) -> str | None:
    value = raw.get(name)
    if value is not None and (not isinstance(value, str) or not 0 < len(value) <= 2000):
        raise FaultError(f"{name} must be a string of 1 to 2000 characters, got {value!r}")
    return value


def _bool(raw: Mapping[str, object], name: str) -> bool:
    value = raw.get(name, False)
    if not isinstance(value, bool):
        raise FaultError(f"{name} must be true or false, got {value!r}")
    return value


@dataclass(slots=True)
class _Pending:
    fault: Fault
    remaining: int | None  # None: until cleared


class FaultQueue:
    """The faults waiting for one provider's requests, first one first."""

    def __init__(self) -> None:
        self._pending: list[_Pending] = []

    def add(self, faults: list[Fault]) -> None:
        self._pending.extend(_Pending(fault, fault.count) for fault in faults)

    def clear(self) -> None:
        self._pending.clear()

    def take(self) -> Fault | None:
        """The fault for the next request, using up one of its count."""
        if not self._pending:
            return None
        head = self._pending[0]
        if head.remaining is not None:
            head.remaining -= 1
            if head.remaining <= 0:
                del self._pending[0]
        return head.fault

    def describe(self) -> list[dict[str, object]]:
        return [p.fault.describe(p.remaining) for p in self._pending]
