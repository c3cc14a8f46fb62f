"""Rules 2-5 end to end: each upstream failure class, streaming and not, on the simulator."""

from __future__ import annotations

import time

import pytest

from tests.failover.conftest import Drill
from tests.failover.helpers import chat, log_row, requests_to
from tests.support.gateway import reset_circuits

FAILOVER_FAULTS: list[tuple[str, dict[str, object], str]] = [
    ("500", {"status": 500}, "server_error"),
    ("502", {"status": 502}, "server_error"),
    ("503", {"status": 503}, "server_error"),
    ("429", {"status": 429}, "rate_limited"),
    ("timeout", {"timeout": True}, "timeout"),
    ("reset", {"reset": True}, "reset"),
    ("slow first byte", {"latency_ms": 3000}, "timeout"),
]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize(
    ("name", "fault", "outcome"), FAILOVER_FAULTS, ids=[f[0] for f in FAILOVER_FAULTS]
)
def test_upstream_failure_fails_over_to_the_next_sovereign_route(
    drill: Drill, stream: bool, name: str, fault: dict[str, object], outcome: str
) -> None:
    drill.sim.set_fault("jp-alpha", **fault)
    reply = chat(drill, "sov-chat", stream=stream, content="fail me over")
    assert reply.status == 200
    if stream:
        assert reply.events[-1] == "[DONE]"
        assert reply.text.startswith("Simulated answer to: fail me over")
    else:
        assert reply.json["model"] == "sov-chat"
    row = log_row(drill, reply)
    assert [(a["provider"], a["outcome"]) for a in row.attempts] == [
        ("jp-alpha", outcome),
        ("jp-beta", "ok"),
    ]
    assert [a["reason"] for a in row.attempts] == ["primary", "fallback 1"]
    assert row.provider == "jp-beta"
    assert requests_to(drill, "open-gamma") == 0


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_request_caused_400_is_not_failed_over(drill: Drill, stream: bool) -> None:
    drill.sim.set_fault("jp-alpha", status=400)
    reply = chat(drill, "sov-chat", stream=stream)
    assert reply.status == 400
    assert reply.json["error"]["code"] == "invalid_request"
    assert "sov-chat" in reply.json["error"]["message"]
    assert requests_to(drill, "jp-beta") == 0 and requests_to(drill, "open-gamma") == 0
    assert [a["outcome"] for a in log_row(drill, reply).attempts] == ["request_error"]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_jp_alias_with_every_sovereign_route_down_surfaces_502(drill: Drill, stream: bool) -> None:
    drill.sim.set_fault("jp-alpha", status=503)
    drill.sim.set_fault("jp-beta", status=500)
    for tenant in ("plain", "jp"):
        reply = chat(drill, "sov-chat", tenant=tenant, stream=stream)
        assert reply.status == 502
        err = reply.json["error"]
        assert err["code"] == "upstream_unavailable" and "'sov-chat'" in err["message"]
    # The non-sovereign fallback in the alias's own list received nothing at all.
    assert requests_to(drill, "open-gamma") == 0


def test_jp_tenant_on_open_alias_skips_the_non_sovereign_fallback(drill: Drill) -> None:
    drill.sim.set_fault("jp-alpha", status=503)
    reply = chat(drill, "open-chat", tenant="jp")
    assert reply.status == 200
    row = log_row(drill, reply)
    assert [a["provider"] for a in row.attempts] == ["jp-alpha", "jp-beta"]
    excluded = [e for e in row.plan["entries"] if e["decision"] == "excluded"]
    assert excluded and excluded[0]["provider"] == "open-gamma"
    assert "does not satisfy jp_sovereign" in excluded[0]["reason"]
    assert requests_to(drill, "open-gamma") == 0
    # An unconstrained tenant does use it.
    reply = chat(drill, "open-chat", tenant="plain")
    assert log_row(drill, reply).provider == "open-gamma"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_upstream_rate_limiting_everywhere_is_429_with_retry_after(
    drill: Drill, stream: bool
) -> None:
    drill.sim.set_fault("jp-alpha", status=429)
    drill.sim.set_fault("jp-beta", status=429)
    reply = chat(drill, "sov-chat", stream=stream)
    assert reply.status == 429
    assert reply.json["error"]["code"] == "rate_limited"
    assert int(reply.headers["retry-after"]) > 0


def test_stream_cut_before_first_byte_fails_over(drill: Drill) -> None:
    drill.sim.set_fault("jp-alpha", cut_after=0)
    reply = chat(drill, "sov-chat", stream=True)
    assert reply.status == 200 and reply.events[-1] == "[DONE]"
    assert log_row(drill, reply).provider == "jp-beta"


# The delay makes the first chunks reach the client before the failure (else it may all
# arrive in one read, before the first byte, and correctly fail over instead).
@pytest.mark.parametrize(
    "fault", [{"cut_after": 4, "chunk_delay_ms": 40}, {"error_after": 4, "chunk_delay_ms": 40}]
)
def test_stream_failure_after_first_byte_ends_with_error_event(
    drill: Drill, fault: dict[str, object]
) -> None:
    drill.sim.set_fault("jp-alpha", **fault)
    reply = chat(drill, "sov-chat", stream=True, content="a long enough answer to be cut")
    assert reply.status == 200
    assert "[DONE]" not in reply.events
    assert reply.events[-1]["error"]["code"] == "upstream_unavailable"
    assert "sov-chat" in reply.events[-1]["error"]["message"]
    assert requests_to(drill, "jp-beta") == 0  # no failover after the first byte
    row = log_row(drill, reply)
    assert (row.status, row.error_code) == (502, "upstream_unavailable")


def test_china_gated_alias(drill: Drill) -> None:
    assert chat(drill, "cn-chat", tenant="plain").status == 403
    assert chat(drill, "cn-chat", tenant="gated").status == 200
    drill.sim.set_fault("cn-delta", status=503)
    reply = chat(drill, "cn-chat", tenant="gated")
    assert reply.status == 502  # no fallback for a China-gated alias, ever


def test_circuit_stops_hammering_a_dead_provider_and_recovers(drill: Drill) -> None:
    drill.sim.set_fault("jp-alpha", status=503)
    started = time.monotonic()
    for _ in range(20):
        assert chat(drill, "sov-chat").status == 200  # served by jp-beta throughout
    elapsed = time.monotonic() - started
    # failure_threshold=3: the circuit opened after 3 failures; afterwards at most one
    # half-open trial per cool-down (1 s, growing) reached the dead provider.
    assert requests_to(drill, "jp-alpha") <= 3 + int(elapsed) + 1
    drill.sim.clear_faults("jp-alpha")
    # The cool-down (1 s, doubling on each failed trial while the fault lasted) ends, one
    # trial succeeds, the circuit closes and the primary serves again.
    deadline = time.monotonic() + 15
    while log_row(drill, chat(drill, "sov-chat")).provider != "jp-alpha":
        assert time.monotonic() < deadline, "the circuit never closed after recovery"
        time.sleep(0.2)
    for _ in range(3):
        assert log_row(drill, chat(drill, "sov-chat")).provider == "jp-alpha"


def test_every_route_open_fails_fast_then_probes_once(drill: Drill) -> None:
    # Long cool-down: only the all-open probe (every 2 s at most) may reach a dead route.
    reset_circuits(drill.gw, cooldown_s=60, max_cooldown_s=60, probe_interval_s=2.0)
    # The gateway's clock stands still: "no probe is due yet" no longer depends on twenty
    # requests finishing within 2 s of real time on a loaded machine (the old flake).
    drill.clock.freeze()
    drill.sim.set_fault("jp-alpha", status=503)
    drill.sim.set_fault("jp-beta", status=503)
    for _ in range(10):
        assert chat(drill, "sov-chat").status == 502
    hits = requests_to(drill, "jp-alpha") + requests_to(drill, "jp-beta")
    assert hits == 6  # 3 + 3 to open both circuits, then fail fast
    for _ in range(10):
        assert chat(drill, "sov-chat").status == 502
    assert requests_to(drill, "jp-alpha") + requests_to(drill, "jp-beta") == hits  # fast fail
    drill.sim.clear_faults()
    drill.clock.advance(1.9)
    assert chat(drill, "sov-chat").status == 502  # not yet: no probe before the interval
    assert requests_to(drill, "jp-alpha") + requests_to(drill, "jp-beta") == hits
    drill.clock.advance(0.2)  # past probe_interval_s: exactly one probe goes through
    assert chat(drill, "sov-chat").status == 200
    assert requests_to(drill, "jp-alpha") + requests_to(drill, "jp-beta") == hits + 1
    assert requests_to(drill, "open-gamma") == 0
