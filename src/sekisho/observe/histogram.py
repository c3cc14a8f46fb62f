"""Fixed latency buckets shared by the rollup, the series and /metrics. Pure.

Percentiles come from merged bucket counts (interpolated inside a bucket),
so any window of rollup rows answers p50/p95/p99 without the raw log.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence

# Upper bounds in milliseconds; one more bucket above the last bound (+Inf).
BOUNDS_MS: tuple[float, ...] = (
    5,
    10,
    25,
    50,
    75,
    100,
    150,
    250,
    400,
    600,
    1000,
    1500,
    2500,
    4000,
    6000,
    10_000,
    15_000,
    30_000,
    60_000,
    120_000,
)
N_BUCKETS = len(BOUNDS_MS) + 1


def bucket_index(value_ms: float) -> int:
    """Index of the bucket holding `value_ms` (upper bounds are inclusive)."""
    return bisect_left(BOUNDS_MS, value_ms)


def empty() -> list[int]:
    return [0] * N_BUCKETS


def merge(into: list[int], other: Sequence[int]) -> list[int]:
    """Add `other` into `into` (tolerates a shorter or empty stored list)."""
    if len(other) == N_BUCKETS:
        into[:] = [a + b for a, b in zip(into, other, strict=True)]
    else:
        for i, n in enumerate(other[:N_BUCKETS]):
            into[i] += int(n)
    return into


def copy(stored: Sequence[int] | None) -> list[int]:
    """A full-length histogram from a stored one (which may be empty or shorter)."""
    if stored is not None and len(stored) == N_BUCKETS:
        return list(stored)
    return merge(empty(), stored or [])


def merged(hists: Iterable[Sequence[int]]) -> list[int]:
    out = empty()
    for h in hists:
        merge(out, h)
    return out


def percentile(hist: Sequence[int], q: float) -> float | None:
    """The q-quantile (0..1) estimated from bucket counts; None when there is no sample."""
    return percentiles(hist, (q,))[0]


def percentiles(hist: Sequence[int], qs: Sequence[float]) -> list[float | None]:
    """Several ascending quantiles in one pass over the buckets."""
    total = sum(hist)
    if total == 0:
        return [None] * len(qs)
    out: list[float | None] = []
    seen = 0
    i = 0
    for q in qs:
        rank = q * total
        while i < len(hist) and not (hist[i] and seen + hist[i] >= rank):
            seen += hist[i]
            i += 1
        if i >= len(hist):
            out.append(BOUNDS_MS[-1] * 2)
            continue
        n = hist[i]
        lo = BOUNDS_MS[i - 1] if i > 0 else 0.0
        hi = BOUNDS_MS[i] if i < len(BOUNDS_MS) else BOUNDS_MS[-1] * 2
        out.append(round(lo + (hi - lo) * max(0.0, rank - seen) / n, 1))
    return out
