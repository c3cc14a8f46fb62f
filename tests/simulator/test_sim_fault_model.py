"""Fault parsing and the per-provider fault queue, called directly."""

from __future__ import annotations

import pytest

from sekisho.simulator.faults import Fault, FaultError, FaultQueue, parse_fault, parse_faults


def test_a_full_fault_parses() -> None:
    fault = parse_fault({"status": 429, "count": 2, "latency_ms": 5, "retry_after": 3})
    assert fault == Fault(status=429, count=2, latency_ms=5.0, retry_after=3)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ([], "empty list"),
        ("503", "JSON object"),
        ({}, "empty fault"),
        ({"stauts": 503}, "unknown fault field"),
        ({"status": "503"}, "status must be an integer"),
        ({"status": 200}, "between 400 and 599"),
        ({"status": True}, "status must be an integer"),
        ({"count": 0, "status": 500}, "count must be between 1"),
        ({"latency_ms": -1}, "latency_ms must be between 0"),
        ({"latency_ms": "slow"}, "number of milliseconds"),
        ({"timeout": 1}, "timeout must be true or false"),
        ({"status": 500, "reset": True}, "choose one of"),
        ({"cut_after": 1, "error_after": 1}, "choose one of"),
    ],
)
def test_a_bad_fault_is_refused_with_a_reason(raw: object, says: str) -> None:
    with pytest.raises(FaultError, match=says):
        parse_faults(raw)


def test_delays_combine_with_an_outcome() -> None:
    fault = parse_fault({"chunk_delay_ms": 10, "first_byte_delay_ms": 1, "cut_after": 0})
    assert fault.cut_after == 0
    assert fault.describe(None) == {
        "first_byte_delay_ms": 1.0,
        "chunk_delay_ms": 10.0,
        "cut_after": 0,
    }


def test_queue_uses_counted_faults_in_order_then_keeps_the_uncounted_one() -> None:
    queue = FaultQueue()
    queue.add(parse_faults([{"status": 503, "count": 2}, {"latency_ms": 1}]))
    assert queue.describe() == [{"status": 503, "count": 2}, {"latency_ms": 1.0}]
    taken = [queue.take() for _ in range(4)]
    assert [f.status if f else None for f in taken] == [503, 503, None, None]
    assert all(f is not None for f in taken)
    assert queue.describe() == [{"latency_ms": 1.0}]
    queue.clear()
    assert queue.take() is None
