"""Write rollup deltas to the store, and rebuild the rollup from the raw request log.

Each replica owns its rows (the `replica` column), so a flush is a plain
read-merge-write inside one transaction with no cross-replica contention.
A record that arrives late for an old bucket (a long stream) simply merges
into that bucket's row again.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, and_, case, cast, delete, func, insert, or_, select, tuple_
from sqlalchemy.orm import Session

from sekisho.observe import histogram
from sekisho.observe.rollup import Cell, CellKey, bucket_time
from sekisho.observe.tables import RequestRollup
from sekisho.store.db import Database
from sekisho.store.models import RequestLog

REBUILD_REPLICA = "rebuild"


def _apply(row: RequestRollup, cell: Cell) -> None:
    for name in (
        "requests",
        "s2xx",
        "s4xx",
        "s5xx",
        "s429",
        "s502",
        "latency_sum",
        "ttfb_count",
        "ttfb_sum",
        "prompt_tokens",
        "completion_tokens",
    ):
        setattr(row, name, (getattr(row, name) or 0) + getattr(cell, name))
    codes = dict(row.codes or {})
    for code, n in cell.codes.items():
        codes[code] = codes.get(code, 0) + n
    row.codes = codes
    row.latency_hist = histogram.merge(
        histogram.merged([row.latency_hist or []]), cell.latency_hist
    )
    row.ttfb_hist = histogram.merge(histogram.merged([row.ttfb_hist or []]), cell.ttfb_hist)


def write_deltas(db: Database, replica: str, cells: dict[CellKey, Cell]) -> int:
    """Merge deltas into this replica's rows; returns how many rows were touched."""
    if not cells:
        return 0
    wanted = {(bucket_time(b), dim, key): cell for (b, dim, key), cell in cells.items()}
    with db.begin() as session:
        existing = _existing(session, replica, list(wanted))
        for ident, cell in wanted.items():
            row = existing.get(ident)
            if row is None:
                row = RequestRollup(
                    bucket=ident[0],
                    dim=ident[1],
                    key=ident[2],
                    replica=replica,
                    requests=0,
                    s2xx=0,
                    s4xx=0,
                    s5xx=0,
                    s429=0,
                    s502=0,
                    codes={},
                    latency_sum=0.0,
                    latency_hist=[],
                    ttfb_count=0,
                    ttfb_sum=0.0,
                    ttfb_hist=[],
                    prompt_tokens=0,
                    completion_tokens=0,
                )
                session.add(row)
            _apply(row, cell)
    return len(wanted)


def _existing(
    session: Session, replica: str, idents: list[tuple[datetime, str, str]]
) -> dict[tuple[datetime, str, str], RequestRollup]:
    found: dict[tuple[datetime, str, str], RequestRollup] = {}
    for i in range(0, len(idents), 200):
        chunk = idents[i : i + 200]
        rows = session.scalars(
            select(RequestRollup).where(
                RequestRollup.replica == replica,
                tuple_(RequestRollup.bucket, RequestRollup.dim, RequestRollup.key).in_(chunk),
            )
        ).all()
        for row in rows:
            found[(row.bucket, row.dim, row.key)] = row
    return found


def _latency_index(column: Any) -> Any:
    """SQL for histogram.bucket_index(column)."""
    whens = [(column <= bound, i) for i, bound in enumerate(histogram.BOUNDS_MS)]
    return case(*whens, else_=len(histogram.BOUNDS_MS))


def _bucket_expr(db: Database, bucket_s: int) -> Any:
    """SQL for the bucket start (unix seconds) of each row's timestamp."""
    if db.is_postgres:
        epoch = cast(func.floor(func.extract("epoch", RequestLog.ts)), BigInteger)
    else:
        epoch = cast(func.strftime("%s", RequestLog.ts), BigInteger)
    return epoch - epoch % bucket_s


def rebuild(
    db: Database,
    start: datetime,
    end: datetime,
    bucket_s: int,
    dims: tuple[str, ...] = ("alias", "tenant"),
) -> int:
    """Recompute the alias and tenant rollup of [start, end) from the raw log.

    Replaces every rollup row of those dimensions in the window (rollups are
    derived data) in one transaction. Rebuild closed windows only: live
    replicas keep adding to the current bucket. The provider dimension
    (attempts) is not rebuilt. Returns the number of rows written.
    """
    bucket = _bucket_expr(db, bucket_s).label("b")
    lat = _latency_index(RequestLog.latency_ms).label("li")
    ttfb = _latency_index(RequestLog.ttfb_ms).label("ti")
    customer = or_(RequestLog.source.is_(None), RequestLog.source != "probe")
    columns = {"alias": RequestLog.alias, "tenant": RequestLog.tenant_id}
    cells: dict[CellKey, Cell] = defaultdict(Cell)
    with db.read() as session:
        for dim in dims:
            column = columns[dim]
            scope = (RequestLog.ts >= start, RequestLog.ts < end, column.is_not(None), customer)
            stmt = (
                select(
                    bucket,
                    column,
                    RequestLog.status,
                    RequestLog.error_code,
                    lat,
                    func.count(),
                    func.sum(RequestLog.latency_ms),
                    func.coalesce(func.sum(RequestLog.prompt_tokens), 0),
                    func.coalesce(func.sum(RequestLog.completion_tokens), 0),
                )
                .where(*scope)
                .group_by(bucket, column, RequestLog.status, RequestLog.error_code, lat)
            )
            for b, key, status, code, li, n, lat_sum, pt, ct in session.execute(stmt):
                cell = cells[(int(b), dim, str(key))]
                cell.count_status(int(status), code, int(n))
                cell.latency_sum += float(lat_sum or 0)
                cell.latency_hist[int(li)] += n
                cell.prompt_tokens += int(pt)
                cell.completion_tokens += int(ct)
            stmt = (
                select(bucket, column, ttfb, func.count(), func.sum(RequestLog.ttfb_ms))
                .where(*scope, RequestLog.ttfb_ms.is_not(None))
                .group_by(bucket, column, ttfb)
            )
            for b, key, ti, n, total in session.execute(stmt):
                cell = cells[(int(b), dim, str(key))]
                cell.ttfb_count += n
                cell.ttfb_sum += float(total or 0)
                cell.ttfb_hist[int(ti)] += n
    rows = [_row_values((b, dim, key), cell) for (b, dim, key), cell in cells.items()]
    with db.begin() as session:
        session.execute(
            delete(RequestRollup).where(
                and_(
                    RequestRollup.bucket >= start,
                    RequestRollup.bucket < end,
                    RequestRollup.dim.in_(dims),
                )
            )
        )
        for i in range(0, len(rows), 5000):
            session.execute(insert(RequestRollup), rows[i : i + 5000])
    return len(rows)


def _row_values(key: CellKey, cell: Cell) -> dict[str, Any]:
    b, dim, k = key
    return {
        "bucket": bucket_time(b),
        "dim": dim,
        "key": k,
        "replica": REBUILD_REPLICA,
        "requests": cell.requests,
        "s2xx": cell.s2xx,
        "s4xx": cell.s4xx,
        "s5xx": cell.s5xx,
        "s429": cell.s429,
        "s502": cell.s502,
        "codes": cell.codes,
        "latency_sum": cell.latency_sum,
        "latency_hist": cell.latency_hist,
        "ttfb_count": cell.ttfb_count,
        "ttfb_sum": cell.ttfb_sum,
        "ttfb_hist": cell.ttfb_hist,
        "prompt_tokens": cell.prompt_tokens,
        "completion_tokens": cell.completion_tokens,
    }
