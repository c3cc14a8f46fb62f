"""The spike rule, pure: does an alias's 5xx/429 rate call for an alert?

An alert **fires** for an alias when, over the last `window_s`:

- at least `min_requests` requests were seen, and
- the error rate (5xx + 429 over all requests) is at least `threshold`, and
- it is at least `baseline_factor` times the baseline rate (the same rate
  over the `baseline_s` before the window), so an alias that always runs at
  some error rate does not page by itself.

A firing alert **resolves** when the window again holds at least one request
and its rate is below `threshold x resolve_ratio` (hysteresis, so it does not
flap). A window with no traffic at all proves nothing: the alert stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Decision = Literal["fire", "resolve", "keep", "quiet"]


@dataclass(frozen=True, slots=True)
class SpikeRule:
    window_s: float = 300
    baseline_s: float = 3600
    threshold: float = 0.05
    baseline_factor: float = 3.0
    min_requests: int = 20
    resolve_ratio: float = 0.5


@dataclass(frozen=True, slots=True)
class RateSample:
    requests: int
    errors: int

    @property
    def rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


def decide(rule: SpikeRule, window: RateSample, baseline: RateSample, firing: bool) -> Decision:
    """'fire' / 'resolve' a change of state; 'keep' an alert firing; 'quiet' nothing to do."""
    if firing:
        if window.requests > 0 and window.rate < rule.threshold * rule.resolve_ratio:
            return "resolve"
        return "keep"
    if window.requests < rule.min_requests or window.rate < rule.threshold:
        return "quiet"
    if baseline.requests and window.rate < rule.baseline_factor * baseline.rate:
        return "quiet"
    return "fire"
