"""Pure parts of observability: histograms, the rollup listener, the spike rule, triage, status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sekisho.observe import histogram
from sekisho.observe.probes import ProbeSummary
from sekisho.observe.rollup import UNKNOWN_ALIAS, RollupAggregator
from sekisho.observe.series import Totals
from sekisho.observe.spike import RateSample, SpikeRule, decide
from sekisho.observe.triage import ProviderEvidence, TriageInput, verdict
from sekisho.observe.window import WindowError, parse_duration, resolve_window
from sekisho.requestlog.record import Attempt, RequestRecord
from sekisho.status.state import Evidence, Thresholds, alias_state

T0 = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)


def test_percentiles_from_buckets() -> None:
    hist = histogram.empty()
    for ms in [20] * 90 + [900] * 9 + [5000]:
        hist[histogram.bucket_index(ms)] += 1
    assert 10 <= histogram.percentile(hist, 0.5) <= 25  # type: ignore[operator]
    assert 600 <= histogram.percentile(hist, 0.95) <= 1000  # type: ignore[operator]
    assert 4000 <= histogram.percentile(hist, 0.999) <= 6000  # type: ignore[operator]
    assert histogram.percentile(histogram.empty(), 0.5) is None


def _record(
    status: int,
    *,
    alias: str = "chat",
    code: str | None = None,
    source: str = "api",
    attempts: list[Attempt] | None = None,
) -> RequestRecord:
    return RequestRecord(
        id="r",
        ts=T0,
        source=source,
        tenant_id="t1",
        alias=alias,
        status=status,
        error_code=code,
        latency_ms=120.0,
        attempts=attempts or [],
        prompt_tokens=3,
        completion_tokens=4,
    )


def test_rollup_listener_counts_by_alias_tenant_and_provider() -> None:
    agg = RollupAggregator(60, lambda: {"chat"})
    agg.add(
        _record(
            200,
            attempts=[
                Attempt("p1", "m", "server_error", 503, 10.0),
                Attempt("p2", "m", "ok", 200, 50.0),
            ],
        )
    )
    agg.add(_record(502, code="upstream_unavailable"))
    agg.add(_record(429, code="rate_limited"))
    agg.add(_record(404, alias="made-up", code="model_not_found"))
    agg.add(_record(200, source="probe"))  # probes are not customer traffic
    cells = agg.take()
    bucket = int(T0.timestamp()) - 30
    alias = cells[(bucket, "alias", "chat")]
    assert (alias.requests, alias.s2xx, alias.s5xx, alias.s429, alias.s502) == (3, 1, 1, 1, 1)
    assert Totals(alias).errors == 2 and Totals(alias).error_rate == pytest.approx(2 / 3)
    assert alias.codes == {"upstream_unavailable": 1, "rate_limited": 1}
    assert cells[(bucket, "alias", UNKNOWN_ALIAS)].requests == 1  # no cardinality blow-up
    assert cells[(bucket, "tenant", "t1")].requests == 4
    assert cells[(bucket, "provider", "p1")].s5xx == 1
    assert cells[(bucket, "provider", "p2")].completion_tokens == 0  # p2 did not serve it
    assert agg.take() == {}


def test_spike_rule() -> None:
    rule = SpikeRule(threshold=0.1, baseline_factor=3, min_requests=10, resolve_ratio=0.5)
    assert decide(rule, RateSample(100, 30), RateSample(1000, 10), False) == "fire"
    assert decide(rule, RateSample(5, 5), RateSample(0, 0), False) == "quiet"  # too few
    assert decide(rule, RateSample(100, 8), RateSample(0, 0), False) == "quiet"  # below threshold
    assert decide(rule, RateSample(100, 30), RateSample(1000, 200), False) == "quiet"  # usual
    assert decide(rule, RateSample(100, 30), RateSample(0, 0), False) == "fire"  # no baseline
    assert decide(rule, RateSample(100, 6), RateSample(0, 0), True) == "keep"  # hysteresis
    assert decide(rule, RateSample(100, 4), RateSample(0, 0), True) == "resolve"
    assert (
        decide(rule, RateSample(0, 0), RateSample(0, 0), True) == "keep"
    )  # silence proves nothing


def _probes(target: str, total: int, failed: int, last_ok: bool | None) -> ProbeSummary:
    return ProbeSummary("provider", target, total, failed, last_ok, None, None, None)


def _triage(
    providers: list[ProviderEvidence],
    alias_probe: ProbeSummary,
    requests: int = 0,
    errors: int = 0,
    others: tuple[int, int] = (0, 0),
) -> TriageInput:
    traffic = Totals()
    traffic.cell.count_status(502, "upstream_unavailable", errors)
    traffic.cell.count_status(200, None, requests - errors)
    return TriageInput(
        "chat", 900, providers, alias_probe, traffic, [f"a{i}" for i in range(others[0])], others[1]
    )


def test_triage_upstream_when_a_provider_fails() -> None:
    bad = ProviderEvidence("p1", _probes("p1", 4, 4, False), 20, 20, {"server_error": 20})
    good = ProviderEvidence("p2", _probes("p2", 4, 0, True), 20, 0, {"ok": 20})
    answer, reasons = verdict(_triage([bad, good], _probes("chat", 4, 0, True), 40, 10))
    assert answer == "upstream" and "p1" in reasons[0] and "server_error 20" in reasons[0]


def test_triage_gateway_when_providers_answer_but_the_alias_fails() -> None:
    good = ProviderEvidence("p1", _probes("p1", 4, 0, True), 10, 0, {"ok": 10})
    answer, _ = verdict(_triage([good], _probes("chat", 4, 4, False), 20, 20))
    assert answer == "gateway"


def test_triage_gateway_when_every_alias_fails_end_to_end() -> None:
    bad = ProviderEvidence("p1", _probes("p1", 4, 4, False), 0, 0, {})
    good = ProviderEvidence("p2", _probes("p2", 4, 0, True), 0, 0, {})
    answer, _ = verdict(_triage([bad, good], _probes("chat", 4, 4, False), others=(3, 3)))
    assert answer == "gateway"


def test_triage_healthy_and_unknown() -> None:
    good = ProviderEvidence("p1", _probes("p1", 4, 0, True), 10, 0, {"ok": 10})
    assert verdict(_triage([good], _probes("chat", 4, 0, True), 10, 0))[0] == "healthy"
    none = ProviderEvidence("p1", _probes("p1", 0, 0, None), 0, 0, {})
    assert verdict(_triage([none], _probes("chat", 0, 0, None)))[0] == "unknown"


@pytest.mark.parametrize(
    "evidence, state",
    [
        (Evidence(100, 0, 5, 0, False), "operational"),
        (Evidence(100, 10, 5, 0, False), "degraded"),
        (Evidence(100, 60, 5, 0, False), "outage"),
        (Evidence(0, 0, 5, 5, False), "outage"),  # no traffic: probes decide
        (Evidence(100, 0, 5, 5, False), "degraded"),  # customers served: probes alone degrade
        (Evidence(0, 0, 5, 1, False), "degraded"),
        (Evidence(2, 2, 0, 0, False), "operational"),  # too little traffic to judge
        (Evidence(0, 0, 0, 0, True), "degraded"),  # an open incident
    ],
)
def test_status_state(evidence: Evidence, state: str) -> None:
    assert alias_state(evidence, Thresholds(5, 0.05, 0.5)) == state


def test_windows() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert resolve_window(since="1h", now=now) == (now - timedelta(hours=1), now)
    assert resolve_window(start="2025-12-31T23:30:00Z", now=now)[0] == now - timedelta(minutes=30)
    assert parse_duration("90s") == timedelta(seconds=90)
    for bad in (
        {"since": "1x"},
        {"since": "1h", "start": "2025-01-01"},
        {"start": "2026-02-01", "end": "2026-01-01"},
        {"since": "40d"},
    ):
        with pytest.raises(WindowError):
            resolve_window(now=now, **bad)  # type: ignore[arg-type]
