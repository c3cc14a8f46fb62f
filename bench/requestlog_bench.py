"""Request-log capacity on PostgreSQL: bytes per row and rows per second through the writer's sink.

    python -m bench.requestlog_bench [--rows 100000]

Rows look like real ones (two attempts, a route plan, tokens); they are written in the
writer's batches (500 rows, one multi-row INSERT each) into a fresh, migrated database.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime

from sqlalchemy import text

from bench.targets import create_pg_database, drop_pg_database
from sekisho.requestlog.record import Attempt, RequestRecord
from sekisho.requestlog.sink import StoreSink
from sekisho.store.db import Database
from sekisho.store.migrate import migrate


def _record(i: int) -> RequestRecord:
    return RequestRecord(
        id=f"req_{i:024x}",
        ts=datetime.now(UTC),
        tenant_id="ten_0123456789abcdef",
        key_id="key_0123456789abcdef",
        alias="chat-large",
        stream=i % 3 == 0,
        status=200,
        provider="atlas-useast",
        upstream_model="atlas-large",
        attempts=[
            Attempt("atlas-useast", "atlas-large", "server_error", 503, 41.2, "primary"),
            Attempt("meridian-eu", "meridian-opus", "ok", 200, 380.5, "fallback 1"),
        ],
        plan={
            "alias": "chat-large",
            "constraint": None,
            "candidates": [
                {
                    "provider": "atlas-useast",
                    "model": "atlas-large",
                    "decision": "try",
                    "reason": "primary",
                },
                {
                    "provider": "meridian-eu",
                    "model": "meridian-opus",
                    "decision": "try",
                    "reason": "fallback 1",
                },
            ],
        },
        ttfb_ms=120.3,
        latency_ms=433.1,
        prompt_tokens=812,
        completion_tokens=214,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args(argv)
    name, url = create_pg_database()
    try:
        db = Database(url)
        migrate(db)
        sink = StoreSink(db)
        records = [_record(i) for i in range(args.rows)]
        start = time.perf_counter()
        for i in range(0, len(records), 500):
            sink(records[i : i + 500])
        took = time.perf_counter() - start
        with db.engine.connect() as conn:
            size = conn.execute(
                text(
                    "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                    "WHERE c.relname LIKE 'request_log%' AND c.relkind = 'r'"
                )
            ).scalar()
        db.dispose()
        out = {
            "rows": args.rows,
            "seconds": round(took, 2),
            "rows_per_s": round(args.rows / took),
            "bytes_per_row": round(int(size) / args.rows),
            "gb_per_million_requests": round(int(size) / args.rows * 1e6 / 1e9, 2),
        }
        print(json.dumps(out))
    finally:
        drop_pg_database(name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
