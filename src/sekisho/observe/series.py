"""Time series and window totals read from the rollup (never from the raw log).

`series` answers the dashboards (`/admin/v1/aliases/{alias}/series`, `sekisho
report`); `window_totals` answers the spike rule, the status page, triage and
incident impact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from operator import add
from typing import Any

import orjson
from sqlalchemy import JSON, Text, cast, select
from sqlalchemy.orm import Session

from sekisho.observe import histogram
from sekisho.observe.refusals import refusals_of
from sekisho.observe.rollup import Cell
from sekisho.observe.tables import RequestRollup


@dataclass(slots=True)
class Totals:
    """Merged counters of some rollup rows, with the derived numbers operators read."""

    cell: Cell = field(default_factory=Cell)

    @property
    def requests(self) -> int:
        return self.cell.requests

    @property
    def errors(self) -> int:
        """Customer-visible failures the runbook watches: every 5xx plus 429."""
        return self.cell.s5xx + self.cell.s429

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    def to_dict(self) -> dict[str, Any]:
        c = self.cell
        rate = self.error_rate
        return {
            "requests": c.requests,
            "2xx": c.s2xx,
            "4xx": c.s4xx,
            "5xx": c.s5xx,
            "429": c.s429,
            "502": c.s502,
            "error_rate": round(rate, 4) if rate is not None else None,
            "codes": dict(sorted(c.codes.items())),
            "refused": refusals_of(c.codes),
            "latency_ms": _latency(c.latency_hist, c.latency_sum, sum(c.latency_hist)),
            "ttfb_ms": _latency(c.ttfb_hist, c.ttfb_sum, c.ttfb_count),
            "tokens": {"prompt": c.prompt_tokens, "completion": c.completion_tokens},
        }


def _latency(hist: list[int], total: float, n: int) -> dict[str, float | None]:
    p50, p95, p99 = histogram.percentiles(hist, (0.50, 0.95, 0.99))
    return {"p50": p50, "p95": p95, "p99": p99, "mean": round(total / n, 1) if n else None}


def _json(value: Any) -> Any:
    """JSON columns are read as text and decoded here (orjson: 2-3x faster than the driver)."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def row_cell(row: Any) -> Cell:
    """A `Cell` from a rollup row (an ORM object or a plain result row)."""
    return Cell(
        requests=row.requests,
        s2xx=row.s2xx,
        s4xx=row.s4xx,
        s5xx=row.s5xx,
        s429=row.s429,
        s502=row.s502,
        codes=dict(_json(row.codes) or {}),
        latency_sum=row.latency_sum,
        latency_hist=histogram.copy(_json(row.latency_hist)),
        ttfb_count=row.ttfb_count,
        ttfb_sum=row.ttfb_sum,
        ttfb_hist=histogram.copy(_json(row.ttfb_hist)),
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
    )


def _add_hist(into: list[int], stored: Any) -> None:
    if stored is not None and len(stored) == histogram.N_BUCKETS:
        into[:] = map(add, into, stored)
    elif stored:
        histogram.merge(into, stored)


def add_row(cell: Cell, row: Any) -> None:
    """Add one rollup row into `cell` in place (what `cell.merge(row_cell(row))` does, with
    no intermediate cell: a 7-day window merges ten thousand rows)."""
    (
        _,
        requests,
        s2xx,
        s4xx,
        s5xx,
        s429,
        s502,
        codes,
        latency_sum,
        latency_hist,
        ttfb_count,
        ttfb_sum,
        ttfb_hist,
        prompt_tokens,
        completion_tokens,
    ) = row[-15:]  # _COLUMNS, whatever precedes them
    cell.requests += requests or 0
    cell.s2xx += s2xx or 0
    cell.s4xx += s4xx or 0
    cell.s5xx += s5xx or 0
    cell.s429 += s429 or 0
    cell.s502 += s502 or 0
    cell.latency_sum += latency_sum or 0.0
    cell.ttfb_count += ttfb_count or 0
    cell.ttfb_sum += ttfb_sum or 0.0
    cell.prompt_tokens += prompt_tokens or 0
    cell.completion_tokens += completion_tokens or 0
    codes = _json(codes)
    if codes:
        mine = cell.codes
        for code, n in codes.items():
            mine[code] = mine.get(code, 0) + n
    _add_hist(cell.latency_hist, _json(latency_hist))
    _add_hist(cell.ttfb_hist, _json(ttfb_hist))


_COLUMNS = [
    cast(c, Text).label(c.name) if isinstance(c.type, JSON) else c
    for c in RequestRollup.__table__.columns
    if c.name not in ("dim", "key", "replica")
]
assert [c.name for c in _COLUMNS] == [
    "bucket",
    "requests",
    "s2xx",
    "s4xx",
    "s5xx",
    "s429",
    "s502",
    "codes",
    "latency_sum",
    "latency_hist",
    "ttfb_count",
    "ttfb_sum",
    "ttfb_hist",
    "prompt_tokens",
    "completion_tokens",
], "add_row unpacks the rollup columns in this order"


def _rows(session: Session, dim: str, keys: list[str], start: datetime, end: datetime) -> list[Any]:
    # Plain tuples, not ORM objects: 24 h of 1-minute buckets stays a few thousand rows.
    stmt = select(*_COLUMNS).where(
        RequestRollup.dim == dim,
        RequestRollup.key.in_(keys),
        RequestRollup.bucket >= start,
        RequestRollup.bucket < end,
    )
    return list(session.execute(stmt).all())


def series(
    session: Session, dim: str, key: str, start: datetime, end: datetime, step_s: int = 0
) -> list[tuple[datetime, Totals]]:
    """Per-bucket totals of one alias / tenant / provider in [start, end), oldest first.

    `step_s` (a multiple of the rollup bucket) merges the buckets of each step into one
    point, for a chart over a wide window; 0 keeps the rollup's own buckets.
    """
    merged: dict[datetime, Totals] = {}
    for row in _rows(session, dim, [key], start, end):
        slot = row.bucket
        if step_s:
            epoch = int(slot.timestamp())
            slot = datetime.fromtimestamp(epoch - epoch % step_s, slot.tzinfo)
        seen = merged.get(slot)
        if seen is None:
            seen = merged[slot] = Totals()
        add_row(seen.cell, row)
    return sorted(merged.items())


def window_totals(
    session: Session, dim: str, keys: list[str], start: datetime, end: datetime
) -> dict[str, Totals]:
    """Totals per key over [start, end) (buckets whose start falls in the window)."""
    out = {k: Totals() for k in keys}
    if not keys:
        return out
    for row in session.execute(
        select(RequestRollup.key, *_COLUMNS).where(
            RequestRollup.dim == dim,
            RequestRollup.key.in_(keys),
            RequestRollup.bucket >= start,
            RequestRollup.bucket < end,
        )
    ).all():
        add_row(out[row.key].cell, row)
    return out


def series_document(
    dim: str,
    key: str,
    start: datetime,
    end: datetime,
    bucket_s: int,
    points: list[tuple[datetime, Totals]],
) -> dict[str, Any]:
    """The JSON shape of a series (admin API and `report --json`)."""
    total = Totals()
    for _, t in points:
        total.cell.merge(t.cell)
    return {
        dim: key,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "bucket_s": bucket_s,
        "buckets": [{"ts": ts.isoformat(), **t.to_dict()} for ts, t in points],
        "totals": total.to_dict(),
    }
