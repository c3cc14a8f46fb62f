"""Prometheus metrics of this replica, counted in memory by the request-log listener.

Two audiences (docs/observability.md):

- **public-safe** series carry aliases and status codes only: requests,
  latency histograms, request-log queue depth and write failures, overdue
  suspensions, firing alerts;
- **internal** series name providers: upstream attempts by provider and
  outcome, circuit states, probe results. They are rendered only for a
  caller holding an operator token.

The text format is written by hand (it is small and stable), version 0.0.4.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

from sekisho.observe import histogram
from sekisho.observe.rollup import UNKNOWN_ALIAS
from sekisho.requestlog.record import RequestRecord

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_CIRCUIT_VALUE = {"closed": 0, "half_open": 1, "open": 2}


@dataclass(slots=True)
class _Hist:
    buckets: list[int] = field(default_factory=histogram.empty)
    total: float = 0.0
    count: int = 0


class LiveMetrics:
    """Counters since this process started; `add` is a request-log listener (no I/O)."""

    def __init__(self, known_aliases: Callable[[], Collection[str]]) -> None:
        self._known = known_aliases
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)  # alias, status, code
        self.latency: dict[str, _Hist] = defaultdict(_Hist)
        self.attempts: dict[tuple[str, str], int] = defaultdict(int)  # provider, outcome
        self.exposition_parts: list[Callable[[], str]] = []  # other parts' families (guardrails)

    def add(self, record: RequestRecord) -> None:
        if record.source == "probe":
            return
        alias = record.alias if record.alias in self._known() else UNKNOWN_ALIAS
        alias = alias or UNKNOWN_ALIAS
        self.requests[(alias, str(record.status), record.error_code or "")] += 1
        h = self.latency[alias]
        h.buckets[histogram.bucket_index(record.latency_ms)] += 1
        h.total += record.latency_ms / 1000
        h.count += 1
        for attempt in record.attempts:
            self.attempts[(attempt.provider, attempt.outcome)] += 1


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Mapping[str, str]) -> str:
    return "{" + ",".join(f'{k}="{_esc(v)}"' for k, v in pairs.items()) + "}" if pairs else ""


class Exposition:
    """Collects metric families and renders the text format."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def family(
        self,
        name: str,
        kind: str,
        help_text: str,
        samples: Iterable[tuple[Mapping[str, str], float]],
    ) -> None:
        self._lines.append(f"# HELP {name} {help_text}")
        self._lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            self._lines.append(f"{name}{_labels(labels)} {_num(value)}")

    def histogram(self, name: str, help_text: str, series: Mapping[str, _Hist], label: str) -> None:
        self._lines.append(f"# HELP {name} {help_text}")
        self._lines.append(f"# TYPE {name} histogram")
        for key, h in sorted(series.items()):
            running = 0
            for bound, n in zip((*histogram.BOUNDS_MS, None), h.buckets, strict=True):
                running += n
                le = "+Inf" if bound is None else _num(bound / 1000)
                self._lines.append(f"{name}_bucket{_labels({label: key, 'le': le})} {running}")
            self._lines.append(f"{name}_sum{_labels({label: key})} {_num(h.total)}")
            self._lines.append(f"{name}_count{_labels({label: key})} {h.count}")

    def render(self) -> str:
        return "\n".join(self._lines) + "\n"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True, slots=True)
class Gauges:
    """Point-in-time values read when /metrics is scraped."""

    queue_depth: int
    log_submitted: int
    log_written: int
    log_dropped: int
    log_failed: int
    log_write_errors: int
    rollup_flush_failures: int
    overdue_suspensions: int | None
    alerts_firing: Mapping[str, int]
    circuits: Mapping[tuple[str, str], str]  # (provider, model) -> state; internal
    probes: Mapping[tuple[str, str], bool]  # (kind, target) -> last ok; internal
    log_dead_lettered: int = 0


def render(live: LiveMetrics, gauges: Gauges, *, internal: bool) -> str:
    """The /metrics body; provider-labelled families only when `internal`."""
    out = Exposition()
    out.family(
        "sekisho_requests_total",
        "counter",
        "Finished chat requests by alias, HTTP status and error code.",
        [
            ({"alias": a, "status": s, "code": c}, n)
            for (a, s, c), n in sorted(live.requests.items())
        ],
    )
    refused: dict[str, int] = defaultdict(int)
    for (_, status, code), n in live.requests.items():
        if code and status.startswith("4"):
            refused[code] += n
    out.family(
        "sekisho_refused_requests_total",
        "counter",
        "Requests refused by the gateway itself (suspended tenant, quota, guardrail, ...) by code.",
        [({"code": c}, n) for c, n in sorted(refused.items())],
    )
    out.histogram(
        "sekisho_request_duration_seconds", "Chat request latency by alias.", live.latency, "alias"
    )
    out.family(
        "sekisho_request_log_queue_depth",
        "gauge",
        "Request-log rows waiting to be written.",
        [({}, gauges.queue_depth)],
    )
    for name, help_text, value in (
        ("submitted", "Request-log rows handed to the writer.", gauges.log_submitted),
        ("written", "Request-log rows written to the store.", gauges.log_written),
        ("dropped", "Request-log rows dropped because the queue was full.", gauges.log_dropped),
        (
            "failed",
            "Request-log rows lost: refused after every retry and not set aside.",
            gauges.log_failed,
        ),
        (
            "dead_lettered",
            "Request-log rows the store refused alone, kept in request_log_dead_letter.",
            gauges.log_dead_lettered,
        ),
        (
            "write_errors",
            "Failed request-log batch writes (retried or not).",
            gauges.log_write_errors,
        ),
    ):
        out.family(f"sekisho_request_log_{name}_total", "counter", help_text, [({}, value)])
    out.family(
        "sekisho_rollup_flush_failures_total",
        "counter",
        "Failed writes of request rollups (deltas are kept and retried).",
        [({}, gauges.rollup_flush_failures)],
    )
    if gauges.overdue_suspensions is not None:
        out.family(
            "sekisho_suspensions_overdue",
            "gauge",
            "Suspended tenants past their review date.",
            [({}, gauges.overdue_suspensions)],
        )
    out.family(
        "sekisho_alerts_firing",
        "gauge",
        "Firing spike alerts by alias.",
        [({"alias": a}, n) for a, n in sorted(gauges.alerts_firing.items())],
    )
    if not internal:
        return out.render()
    out.family(
        "sekisho_upstream_attempts_total",
        "counter",
        "Upstream attempts by provider and outcome (internal).",
        [({"provider": p, "outcome": o}, n) for (p, o), n in sorted(live.attempts.items())],
    )
    out.family(
        "sekisho_circuit_state",
        "gauge",
        "Circuit state per route, merged over live replicas: 0 closed, 1 half-open, "
        "2 open (internal).",
        [
            ({"provider": p, "model": m}, _CIRCUIT_VALUE.get(s, 2))
            for (p, m), s in sorted(gauges.circuits.items())
        ],
    )
    out.family(
        "sekisho_probe_up",
        "gauge",
        "1 if the latest synthetic probe of the target succeeded (internal).",
        [
            ({"kind": k, "target": t}, 1 if ok else 0)
            for (k, t), ok in sorted(gauges.probes.items())
        ],
    )
    return out.render()
