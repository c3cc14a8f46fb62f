"""The circuit breaker: transitions, cool-down growth, trials, serialization, and its invariants."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sekisho.matrix.model import Route
from sekisho.routing.circuit import CircuitBook, CircuitSettings, CircuitState

K = Route("kumo", "m")
S = CircuitSettings(
    failure_threshold=3,
    window_s=10,
    window_buckets=5,
    min_requests=10,
    error_rate_threshold=0.5,
    cooldown_s=10,
    cooldown_multiplier=2,
    max_cooldown_s=35,
    half_open_trials=1,
    trial_timeout_s=20,
    probe_interval_s=2,
)


def fail(book: CircuitBook, n: int, now: float) -> None:
    for _ in range(n):
        book.record_failure(K, now)


def test_a_fresh_circuit_is_closed_and_allows() -> None:
    book = CircuitBook(S)
    assert book.state(K, 0.0) == "closed" and book.allow(K, 0.0)
    assert book.snapshot(0.0) == {}


def test_opens_on_consecutive_failures_and_a_success_resets_the_count() -> None:
    book = CircuitBook(S)
    fail(book, 2, 0.0)
    book.record_success(K, 0.0)
    fail(book, 2, 0.0)
    assert book.state(K, 0.0) == "closed"
    assert book.record_failure(K, 0.0) == "open"
    assert not book.allow(K, 1.0)
    view = book.view(K, 1.0)
    assert (view.opened_at, view.open_until, view.probe_ready_at) == (0.0, 10.0, 2.0)


def test_opens_on_error_rate_over_the_window_with_enough_requests() -> None:
    book = CircuitBook(S)
    for i in range(10):  # alternate: never 3 in a row, but 50% of 10 requests in the window
        (book.record_failure if i % 2 else book.record_success)(K, 1.0 + i * 0.1)
    assert book.state(K, 2.0) == "open"


def test_error_rate_needs_min_requests_and_forgets_old_buckets() -> None:
    book = CircuitBook(S)
    for i in range(8):
        (book.record_failure if i % 2 else book.record_success)(K, 0.0)
    assert book.view(K, 0.0).window_requests == 8
    assert book.state(K, 0.0) == "closed"
    # 12 s later the window (10 s) has forgotten them: two more mixed results do not trip it.
    book.record_success(K, 12.0)
    book.record_failure(K, 12.0)
    view = book.view(K, 12.0)
    assert (view.state, view.window_requests, view.window_failures) == ("closed", 2, 1)


def test_half_open_after_cool_down_allows_one_trial_and_success_closes() -> None:
    book = CircuitBook(S)
    fail(book, 3, 0.0)
    assert book.state(K, 10.0) == "half_open"
    assert book.allow(K, 10.0)
    assert not book.allow(K, 10.5)  # the one slot is taken
    assert book.view(K, 10.5).trials_in_flight == 1
    assert book.record_success(K, 11.0) == "closed"
    view = book.view(K, 11.0)
    assert (view.consecutive_failures, view.reopens, view.window_failures) == (0, 0, 0)


def test_failed_trial_reopens_with_growing_capped_cool_down() -> None:
    book = CircuitBook(S)
    fail(book, 3, 0.0)  # open for 10
    now, lengths = 0.0, []
    for _ in range(4):
        view = book.view(K, now)
        lengths.append(view.open_until - view.opened_at)  # type: ignore[operator]
        now = view.open_until  # type: ignore[assignment]
        assert book.allow(K, now)
        assert book.record_failure(K, now) == "open"
    assert lengths == [10, 20, 35, 35]


def test_a_trial_that_never_reports_frees_its_slot() -> None:
    book = CircuitBook(S)
    fail(book, 3, 0.0)
    assert book.allow(K, 10.0)
    assert not book.allow(K, 29.0)
    assert book.allow(K, 30.0)  # trial_timeout_s = 20


def test_release_gives_back_a_trial_slot() -> None:
    book = CircuitBook(S)
    fail(book, 3, 0.0)
    assert book.allow(K, 10.0)
    book.release(K, 10.1)
    assert book.allow(K, 10.2)


def test_probe_lets_one_request_through_an_open_circuit_after_the_interval() -> None:
    book = CircuitBook(S)
    fail(book, 3, 0.0)
    assert not book.allow_probe(K, 1.0)  # probe_interval_s = 2
    assert book.allow_probe(K, 2.0)
    assert book.state(K, 2.0) == "half_open"
    assert not book.allow_probe(K, 2.1) and not book.allow(K, 2.1)
    assert book.record_failure(K, 3.0) == "open"
    assert book.view(K, 3.0).opened_at == 3.0  # the newest opening: probes rotate
    assert not book.allow_probe(K, 4.0) and book.allow_probe(K, 5.0)


def test_late_results_do_not_move_an_open_circuit() -> None:
    book = CircuitBook(S)
    fail(book, 3, 0.0)
    book.record_failure(K, 5.0)
    assert book.view(K, 5.0).open_until == 10.0
    book.record_success(K, 6.0)
    assert book.state(K, 6.0) == "open"


def test_a_clock_stepping_back_does_not_strand_a_circuit_open() -> None:
    book = CircuitBook(S)
    fail(book, 3, 1000.0)
    assert book.state(K, 500.0) == "half_open"


def test_round_trip_through_json() -> None:
    book = CircuitBook(S)
    fail(book, 3, 0.0)
    book.allow(K, 10.0)
    book.record_success(Route("other", "x/y"), 1.0)
    data = json.loads(json.dumps(book.to_dict()))
    again = CircuitBook.from_dict(data, S)
    assert again.to_dict() == book.to_dict()
    assert again.snapshot(10.0) == book.snapshot(10.0)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"circuits": [{"provider": "a"}]},
        {"circuits": [{"provider": "a", "model": "m", "status": "x"}]},
    ],
)
def test_from_dict_refuses_malformed_state(data: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        CircuitBook.from_dict(data)


def test_settings_are_validated_and_documented() -> None:
    with pytest.raises(ValueError, match="failure_threshold, error_rate_threshold"):
        CircuitSettings(failure_threshold=0, error_rate_threshold=1.5)
    assert all(text for text in CircuitSettings.help().values())
    assert set(CircuitSettings.help()) >= {"failure_threshold", "cooldown_s", "probe_interval_s"}
    assert CircuitSettings(cooldown_s=1, max_cooldown_s=1e9).cooldown(10_000) == 1e9


# --- properties ---------------------------------------------------------------

events = st.lists(
    st.tuples(
        st.sampled_from(("allow", "probe", "success", "failure", "release")),
        st.floats(min_value=0, max_value=30, allow_nan=False),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(events)
def test_circuit_invariants_over_random_event_sequences(seq: list[tuple[str, float]]) -> None:
    book = CircuitBook(S)
    now = 0.0
    for kind, step in seq:
        now += step
        before = book.view(K, now)
        if kind == "allow":
            allowed = book.allow(K, now)
            assert allowed == (
                before.state == "closed" or (before.state == "half_open" and before.trial_available)
            )
        elif kind == "probe":
            allowed = book.allow_probe(K, now)
            if before.state == "open":
                assert allowed == (now >= before.probe_ready_at)  # type: ignore[operator]
        elif kind == "success":
            after = book.record_success(K, now)
            assert after == ("closed" if before.state == "half_open" else before.state)
        elif kind == "failure":
            after = book.record_failure(K, now)
            if before.state == "half_open":
                assert after == "open"
        else:
            book.release(K, now)
        view = book.view(K, now)
        state = (
            CircuitState.from_dict(book.to_dict()["circuits"][0])
            if book.to_dict()["circuits"]
            else CircuitState()
        )
        assert len(state.trials) <= S.half_open_trials
        assert len(state.buckets) <= S.window_buckets
        if view.state == "open":
            assert view.opened_at is not None and view.open_until is not None
            assert 0 < view.open_until - view.opened_at <= S.max_cooldown_s + 1e-9
            assert view.opened_at <= now < view.open_until
        assert CircuitBook.from_dict(book.to_dict(), S).view(K, now) == view


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=20), st.floats(min_value=0.1, max_value=100))
def test_consecutive_failures_open_exactly_at_the_threshold(
    threshold: int, cooldown: float
) -> None:
    s = CircuitSettings(
        failure_threshold=threshold, cooldown_s=cooldown, max_cooldown_s=cooldown, min_requests=1000
    )
    book = CircuitBook(s)
    for i in range(threshold):
        assert book.state(K, 0.0) == "closed", i
        book.record_failure(K, 0.0)
    assert book.state(K, 0.0) == "open"
    assert book.state(K, cooldown) == "half_open"
