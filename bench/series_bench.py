"""Request-log series at scale: 10 million rows in PostgreSQL, the alias series of the last 24 h.

    .venv/bin/python -m bench.series_bench [--rows N] [--reload] [--pg URL] [--runs N]

Loads N request-log rows (default 10,000,000) over 48 hours server-side with
`generate_series` (a few minutes, once: the database `sekisho_series_bench`
is kept and reused, so a re-run only measures), rebuilds the per-minute
alias rollup from the raw log (`sekisho rollup rebuild`, the same code), then
times what `GET /admin/v1/aliases/{alias}/series` does for the last 24 h:
read the rollup and compute per-minute counts and p50/p95/p99. For contrast
it also times one aggregate scan of the raw log for the same window.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from sekisho.observe.rollup_store import rebuild
from sekisho.observe.series import series, series_document
from sekisho.observe.tables import RequestRollup
from sekisho.store.db import Database
from sekisho.store.migrate import migrate
from sekisho.store.models import RequestLog

DB_NAME = "sekisho_series_bench"
ALIASES = (
    "chat-large",
    "chat-jp",
    "chat-fast",
    "chat-cn",
    "chat-eu",
    "chat-code",
    "chat-mini",
    "chat-vision",
)
RESULTS = Path(__file__).resolve().parent / "results"

LOAD_SQL = """
INSERT INTO request_log (id, ts, source, tenant_id, key_id, alias, stream, status, error_code,
    provider, upstream_model, attempts, plan, ttfb_ms, latency_ms, prompt_tokens,
    completion_tokens, total_tokens, guardrail)
SELECT 'req_' || lpad(to_hex(g), 12, '0'),
       :end_ts - make_interval(secs => (g::float8 * 172800 / :rows)),
       'api',
       'tnt_' || (g % 200),
       'key_' || (g % 1000),
       (ARRAY[{aliases}])[1 + (g % {n_aliases})],
       (g % 3 = 0),
       CASE WHEN g % 50 = 0 THEN 502 WHEN g % 97 = 0 THEN 429 WHEN g % 211 = 0 THEN 400 ELSE 200 END,
       CASE WHEN g % 50 = 0 THEN 'upstream_unavailable' WHEN g % 97 = 0 THEN 'rate_limited'
            WHEN g % 211 = 0 THEN 'invalid_request' END,
       'prov-' || (g % 5), 'model-' || (g % 5),
       '[]'::json, NULL,
       CASE WHEN g % 3 = 0 THEN 50 + (g % 400) END,
       80 + (g::bigint * 7919 % 2500),
       10 + (g % 300), 20 + (g % 500), 30 + (g % 300) + (g % 500),
       NULL
FROM generate_series(1, :rows) AS g
"""


def _admin_conninfo(url: str) -> str:
    u = make_url(url)
    return (
        f"host={u.host or '127.0.0.1'} port={u.port or 5432} user={u.username or 'postgres'} "
        f"dbname={u.database or 'test'}"
    )


def ensure_database(admin_url: str) -> str:
    with psycopg.connect(_admin_conninfo(admin_url), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone():
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    return (
        make_url(admin_url)
        .set(drivername="postgresql+psycopg", database=DB_NAME)
        .render_as_string(hide_password=False)
    )


def load(db: Database, rows: int) -> float:
    """(Re)load `rows` request-log rows ending now; returns the seconds it took."""
    t0 = time.perf_counter()
    end = datetime.now(UTC).replace(microsecond=0)
    sql = LOAD_SQL.format(aliases=", ".join(f"'{a}'" for a in ALIASES), n_aliases=len(ALIASES))
    with db.engine.connect() as conn:
        conn.execute(text("TRUNCATE request_log, request_rollup"))
        conn.execute(text(sql), {"end_ts": end, "rows": rows})
        conn.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE request_log"))
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--reload", action="store_true", help="drop and load the rows again")
    parser.add_argument("--runs", type=int, default=20, help="timed series queries")
    parser.add_argument("--alias", default="chat-large")
    parser.add_argument(
        "--pg",
        default=os.environ.get("SEKISHO_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args()

    db = Database(ensure_database(args.pg))
    migrate(db)
    with db.read() as session:
        present = session.scalar(select(func.count()).select_from(RequestLog)) or 0
        rollups = session.scalar(select(func.count()).select_from(RequestRollup)) or 0
    load_s = rebuild_s = None
    if args.reload or present != args.rows or not rollups:
        print(
            f"loading {args.rows:,} request-log rows (server-side generate_series)...", flush=True
        )
        load_s = load(db, args.rows)
        print(f"  loaded in {load_s:.1f} s; rebuilding the per-minute alias rollup...", flush=True)
        with db.read() as session:
            lo, hi = session.execute(select(func.min(RequestLog.ts), func.max(RequestLog.ts))).one()
        t0 = time.perf_counter()
        written = rebuild(db, lo, hi + timedelta(seconds=1), 60, dims=("alias",))
        rebuild_s = time.perf_counter() - t0
        print(f"  {written:,} rollup rows in {rebuild_s:.1f} s", flush=True)
    with db.read() as session:
        present = session.scalar(select(func.count()).select_from(RequestLog)) or 0
        newest = session.scalar(select(func.max(RequestLog.ts)))
    assert newest is not None
    # Whole minutes, so the raw scan and the rollup cover exactly the same rows.
    end = newest.replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = end - timedelta(hours=24)

    def query() -> dict[str, object]:
        with db.read() as session:
            points = series(session, "alias", args.alias, start, end)
        return series_document("alias", args.alias, start, end, 60, points)

    t0 = time.perf_counter()
    doc = query()
    cold_ms = (time.perf_counter() - t0) * 1000
    timings = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        query()
        timings.append((time.perf_counter() - t0) * 1000)
    with db.engine.connect() as conn:
        t0 = time.perf_counter()
        raw = conn.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE status >= 500 OR status = 429), "
                "percentile_cont(ARRAY[0.5,0.95,0.99]) WITHIN GROUP (ORDER BY latency_ms) "
                "FROM request_log WHERE alias = :a AND ts >= :s AND ts < :e"
            ),
            {"a": args.alias, "s": start, "e": end},
        ).one()
        raw_ms = (time.perf_counter() - t0) * 1000
    totals = doc["totals"]
    assert isinstance(totals, dict) and totals["requests"] == raw[0], (totals["requests"], raw[0])
    result = {
        "rows": present,
        "alias": args.alias,
        "window": "24h",
        "buckets": len(doc["buckets"]),  # type: ignore[arg-type]
        "alias_requests_in_window": totals["requests"],
        "series_cold_ms": round(cold_ms, 1),
        "series_median_ms": round(statistics.median(timings), 1),
        "series_p95_ms": round(sorted(timings)[int(0.95 * (len(timings) - 1))], 1),
        "raw_scan_ms": round(raw_ms, 1),
        "load_s": round(load_s, 1) if load_s else None,
        "rollup_rebuild_s": round(rebuild_s, 1) if rebuild_s else None,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "series_bench.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(
        f"\nalias series, last 24 h over {present:,} rows: median {result['series_median_ms']} ms "
        f"(cold {result['series_cold_ms']} ms); raw-log scan {result['raw_scan_ms']} ms"
    )


if __name__ == "__main__":
    main()
