"""The console on real volumes: 10 M request-log rows in PostgreSQL, pages timed over HTTP.

    python -m bench.console_bench [--rows 10000000] [--days 7] [--jobs 2] [--repeat 20]

1. A fresh, uniquely named PostgreSQL database (dropped at the end), `sekisho migrate`,
   an admin, three tenants with a key each (the CLI, as an operator does it).
2. The request log: `--rows` rows spread evenly over the last `--days` days, three
   aliases, three tenants, a realistic status mix (2xx, 400, 401, 429, 502, 503) and a
   spike of 5xx on one alias. Rows have the product's schema and shape (one attempt,
   a two-candidate route plan, tokens, TTFB on streams) and are written server-side with
   `INSERT ... SELECT generate_series(...)` into the daily partitions (created by the
   product's own `create_partition`), one day per job, `--jobs` at a time.
3. The rollups: the product's own `sekisho.observe.rollup_store.rebuild` over the same
   days (the code path `sekisho report --rebuild` runs), one-minute buckets, alias and
   tenant dimensions. The provider dimension (upstream attempts) is not rebuilt by that
   path and stays empty, as after a real rebuild.
4. `sekisho serve` on that database; an admin signs in (POST /admin/v1/session) and each
   console page is fetched once cold (first hit after start) and `--repeat` times warm.
   Each answer says its SQL statement count (`Server-Timing: db;...;desc="N queries"`).
5. EXPLAIN (ANALYZE, BUFFERS) of the drill-down query: which partitions, which index.

Writes docs/bench-runs/console-10m-<time>.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import text

from bench.targets import (
    REPO,
    UPSTREAM_KEY,
    UPSTREAM_KEY_ENV,
    _cli,
    _sekisho_bin,
    create_pg_database,
    drop_pg_database,
    free_port,
    sekisho_config,
    start_process,
    wait_http,
)
from sekisho.console.tally import parse
from sekisho.observe.rollup_store import rebuild
from sekisho.requestlog.partitions import create_partition
from sekisho.routing.plan import plan_routes
from sekisho.routing.policy import TenantPolicy
from sekisho.settings import settings_from_document
from sekisho.store.db import Database

ALIASES = ("bench-small", "bench-large", "bench-slow")
TENANTS = ("north", "south", "east")
SPIKE_ALIAS = "bench-large"
BUCKET_S = 60


def _attempts_sql() -> str:
    """The attempts JSON of a row, `Attempt.as_dict()`'s shape (one attempt; outcome by status)."""
    return (
        "json_build_array(json_build_object("
        "'provider', 'mock-' || sc || '-a', 'upstream_model', 'mock-model', "
        "'outcome', CASE WHEN st < 300 THEN 'ok' WHEN st = 429 THEN 'rate_limited' "
        "ELSE 'server_error' END, "
        "'status', CASE WHEN st >= 500 THEN 503 WHEN st = 429 THEN 429 ELSE 200 END, "
        "'latency_ms', lat, 'reason', 'primary', "
        "'detail', CASE WHEN st >= 500 THEN 'upstream answered 503' ELSE '' END))"
    )


def plan_templates(config: dict[str, Any]) -> dict[str, str]:
    """Per alias, the route plan the product logs (`RoutePlan.to_log()`) for a jp_sovereign
    tenant, as JSON text with the tenant id left as a placeholder."""
    settings = settings_from_document(config, {UPSTREAM_KEY_ENV: UPSTREAM_KEY})
    tenant = TenantPolicy("__TENANT__", sovereignty="jp_sovereign")
    return {
        alias: json.dumps(plan_routes(settings.matrix, alias, tenant, {}, [], time.time()).to_log())
        for alias in ALIASES
    }


def _plan_sql() -> str:
    return (
        "replace(CASE al WHEN 'bench-small' THEN :plan_small WHEN 'bench-large' "
        "THEN :plan_large ELSE :plan_slow END, '__TENANT__', ten)::json"
    )


# One pseudo-random stream per field from the row number (deterministic, no random()).
FILL = f"""
INSERT INTO request_log (id, ts, source, tenant_id, key_id, user_id, alias, stream, status,
    error_code, provider, upstream_model, attempts, plan, ttfb_ms, latency_ms, prompt_tokens,
    completion_tokens, total_tokens, usage_estimated, guardrail)
SELECT 'req_' || lpad(to_hex(g), 24, '0'), ts, 'api', ten, 'key_' || substr(md5(ten), 1, 16),
    NULL, al, stream, st,
    CASE st WHEN 400 THEN 'invalid_request' WHEN 401 THEN 'invalid_api_key'
        WHEN 429 THEN 'rate_limited' WHEN 502 THEN 'upstream_unavailable'
        WHEN 503 THEN 'service_unavailable' END,
    CASE WHEN st < 300 THEN 'mock-' || sc || '-a' END,
    CASE WHEN st < 300 THEN 'mock-model' END,
    CASE WHEN st IN (400, 401) THEN '[]'::json ELSE {_attempts_sql()} END,
    CASE WHEN st = 401 THEN NULL ELSE {_plan_sql()} END,
    CASE WHEN stream THEN round((lat * 0.3)::numeric, 1)::float8 END,
    lat,
    CASE WHEN st < 300 THEN pt END, CASE WHEN st < 300 THEN ct END,
    CASE WHEN st < 300 THEN pt + ct END, false, NULL
FROM (
    SELECT g, ts, al, sc, ten, stream, pt, ct,
        CASE WHEN st < 300 THEN 80 + (r3 % 2400) + (r4 % 100) / 10.0
             ELSE 5 + (r3 % 60) + (r4 % 100) / 10.0 END::float8 AS lat,
        st
    FROM (
        SELECT g, ts, al, split_part(al, '-', 2) AS sc,
            (ARRAY[:t1, :t2, :t3])[1 + ((g * 40503) % 3)::int] AS ten,
            (g % 3 = 0) AS stream,
            100 + ((g * 69069) % 900)::int AS pt, 20 + ((g * 22695477) % 400)::int AS ct,
            (g * 1103515245) % 1000003 AS r3, (g * 134775813) % 100003 AS r4,
            CASE
                WHEN al = :spike AND ts >= :spike_from AND ts < :spike_to
                     AND (g * 48271) % 100 < 35 THEN 503
                WHEN (g * 48271) % 1000 < 950 THEN 200
                WHEN (g * 48271) % 1000 < 965 THEN 429
                WHEN (g * 48271) % 1000 < 975 THEN 502
                WHEN (g * 48271) % 1000 < 980 THEN 503
                WHEN (g * 48271) % 1000 < 995 THEN 400
                ELSE 401 END AS st
        FROM (
            SELECT g, to_timestamp(:t0 + (g - 1) * :dt) AS ts,
                (ARRAY['bench-small', 'bench-large', 'bench-slow'])[1 + ((g * 7919) % 3)::int] AS al
            FROM generate_series(CAST(:g0 AS bigint), CAST(:g1 AS bigint)) AS g
        ) base
    ) picked
) shaped
"""


def _fill_day(
    url: str,
    g0: int,
    g1: int,
    t0: float,
    dt: float,
    tenants: list[str],
    spike: tuple[float, float],
    plans: dict[str, str],
) -> float:
    db = Database(url, pool_size=1)
    started = time.perf_counter()
    try:
        with db.engine.begin() as conn:
            conn.execute(text("SET LOCAL synchronous_commit = off"))
            conn.execute(
                text(FILL),
                {
                    "g0": g0,
                    "g1": g1,
                    "t0": t0,
                    "dt": dt,
                    "t1": tenants[0],
                    "t2": tenants[1],
                    "t3": tenants[2],
                    "spike": SPIKE_ALIAS,
                    "spike_from": datetime.fromtimestamp(spike[0], UTC),
                    "spike_to": datetime.fromtimestamp(spike[1], UTC),
                    "plan_small": plans["bench-small"],
                    "plan_large": plans["bench-large"],
                    "plan_slow": plans["bench-slow"],
                },
            )
    finally:
        db.dispose()
    return time.perf_counter() - started


def generate(
    url: str,
    rows: int,
    start: datetime,
    end: datetime,
    tenants: list[str],
    jobs: int,
    plans: dict[str, str],
) -> dict[str, Any]:
    """Fill the request log in per-day chunks, `jobs` at a time; then ANALYZE."""
    db = Database(url)
    with db.engine.begin() as conn:
        day = start.date()
        while day <= end.date() + timedelta(days=1):
            create_partition(conn, day)
            day += timedelta(days=1)
    db.dispose()
    t0, span = start.timestamp(), (end - start).total_seconds()
    dt = span / rows
    spike_to = end.timestamp() - 2 * 3600
    spike = (spike_to - 20 * 60, spike_to)  # 20 minutes of 5xx on one alias, 2 h ago
    chunks: list[tuple[int, int, float]] = []
    chunk_rows = max(1, rows // max(1, round(span / 86400 * 2)))  # half a day per chunk
    for g0 in range(1, rows + 1, chunk_rows):
        g1 = min(rows, g0 + chunk_rows - 1)
        chunks.append((g0, g1, t0))
    started = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        took = list(
            pool.map(lambda c: _fill_day(url, c[0], c[1], c[2], dt, tenants, spike, plans), chunks)
        )
    fill_s = time.perf_counter() - started
    db = Database(url)
    a0 = time.perf_counter()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE request_log"))
        size = conn.execute(
            text(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                "WHERE c.relname LIKE 'request_log_p%' AND c.relkind = 'r'"
            )
        ).scalar()
        count = conn.execute(text("SELECT count(*) FROM request_log")).scalar()
    analyze_s = time.perf_counter() - a0
    db.dispose()
    return {
        "rows": int(count or 0),
        "chunks": len(chunks),
        "jobs": jobs,
        "fill_s": round(fill_s, 1),
        "chunk_s_max": round(max(took), 1),
        "rows_per_s": round(rows / fill_s),
        "analyze_and_count_s": round(analyze_s, 1),
        "bytes_total": int(size or 0),
        "bytes_per_row": round(int(size or 0) / rows),
        "spike": {
            "alias": SPIKE_ALIAS,
            "from": datetime.fromtimestamp(spike[0], UTC).isoformat(),
            "to": datetime.fromtimestamp(spike[1], UTC).isoformat(),
        },
    }


def build_rollups(url: str, start: datetime, end: datetime, jobs: int) -> dict[str, Any]:
    """The product's rebuild, one day per call (disjoint windows), `jobs` at a time."""
    windows = []
    lo = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while lo < end:
        windows.append((lo, lo + timedelta(days=1)))
        lo += timedelta(days=1)

    def one(window: tuple[datetime, datetime]) -> int:
        db = Database(url, pool_size=1)
        try:
            return rebuild(db, window[0], window[1], BUCKET_S)
        finally:
            db.dispose()

    started = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        written = sum(pool.map(one, windows))
    return {
        "path": "sekisho.observe.rollup_store.rebuild (alias + tenant, 60 s buckets)",
        "rows": written,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _walk(node: dict[str, Any], into: list[str]) -> None:
    """A plan tree as flat labels: node type, relation, index."""
    label = node["Node Type"]
    if "Relation Name" in node:
        label += f" on {node['Relation Name']}"
    if "Index Name" in node:
        label += f" using {node['Index Name']}"
    into.append(label)
    for child in node.get("Plans", []):
        _walk(child, into)


def explain_drill(url: str, alias: str, frm: datetime, to: datetime) -> dict[str, Any]:
    """The drill-down query as the console issues it, under EXPLAIN ANALYZE."""
    db = Database(url)
    sql = (
        "SELECT * FROM request_log WHERE alias = :a AND ts >= :f AND ts < :t "
        "{extra} ORDER BY ts DESC LIMIT 200"
    )
    out: dict[str, Any] = {}
    with db.engine.connect() as conn:
        for name, extra in (
            ("bucket", ""),
            ("bucket_errors", "AND (status >= 500 OR status = 429)"),
        ):
            plan = conn.execute(
                text("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql.format(extra=extra)),
                {"a": alias, "f": frm, "t": to},
            ).scalar()
            top = plan[0]
            nodes: list[str] = []
            _walk(top["Plan"], nodes)
            out[name] = {
                "execution_ms": round(top["Execution Time"], 2),
                "planning_ms": round(top["Planning Time"], 2),
                "nodes": nodes,
            }
    db.dispose()
    return out


def _summary(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {
        "p50_ms": round(statistics.median(ms), 1),
        "max_ms": round(ms[-1], 1),
        "min_ms": round(ms[0], 1),
    }


def time_pages(
    base: str, email: str, password: str, pages: dict[str, str], repeat: int
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with httpx.Client(base_url=base, timeout=120) as http:
        r = http.post("/admin/v1/session", json={"email": email, "password": password})
        r.raise_for_status()
        for name, path in pages.items():
            samples: list[float] = []
            queries: set[int | None] = set()
            statuses: set[int] = set()
            sizes: list[int] = []
            for _ in range(repeat + 1):
                t = time.perf_counter()
                resp = http.get(path)
                samples.append(time.perf_counter() - t)
                statuses.add(resp.status_code)
                queries.add(parse(resp.headers.get("server-timing", "")))
                sizes.append(len(resp.content))
            results[name] = {
                "path": path,
                "status": sorted(statuses),
                "cold_ms": round(samples[0] * 1000, 1),
                "warm": _summary(samples[1:]),
                "queries": sorted(q for q in queries if q is not None),
                "bytes": max(sizes),
            }
            print(
                f"  {name:<24} cold {results[name]['cold_ms']:>8.1f} ms  warm {results[name]['warm']}  queries {results[name]['queries']}"
            )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="leave the filled database")
    parser.add_argument("--fill-only", action="store_true", help="fill (with --keep), no timing")
    parser.add_argument("--reuse", type=Path, help="filled.json of a --keep run: time only")
    args = parser.parse_args(argv)

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or REPO / "docs" / "bench-runs" / f"console-10m-{stamp}.json"
    state = Path(os.environ.get("TMPDIR", "/tmp")) / f"sekisho-console-bench-{stamp}"
    if args.reuse:  # a database a previous `--keep` run filled: time the pages again
        prior = json.loads(args.reuse.read_text())
        name, url, state = prior["database"], prior["url"], Path(prior["state"])
    else:
        name, url = create_pg_database()
    state.mkdir(parents=True, exist_ok=True)
    server = None
    try:
        port = free_port()
        config = sekisho_config(free_port(), url, state, port)  # no upstream is ever called
        config["observe"] = {"probes_enabled": False}
        cfg_path = state / "sekisho.yaml"
        cfg_path.write_text(yaml.safe_dump(config, sort_keys=False))
        env = {**os.environ, UPSTREAM_KEY_ENV: UPSTREAM_KEY}
        exe, cfg, commands = _sekisho_bin(), ["--config", str(cfg_path)], []
        if args.reuse:
            email, password = prior["email"], prior["password"]
            start, end = (datetime.fromisoformat(prior[k]) for k in ("from", "to"))
            gen, roll = prior["generation"], prior["rollups"]
        else:
            _cli([exe, "migrate", *cfg], env, commands)
            email, password = "bench-admin@example.com", secrets.token_urlsafe(16)
            _cli(
                [exe, "user", "create", email, "--role", "admin", *cfg],
                {**env, "SEKISHO_PASSWORD": password},
                commands,
            )
            env["SEKISHO_OPERATOR"] = email
            for tenant in TENANTS:
                _cli(
                    [exe, "tenant", "create", tenant, "--sovereignty", "jp_sovereign", *cfg],
                    env,
                    commands,
                )
                _cli([exe, "key", "create", tenant, *cfg], env, commands)
            db = Database(url)
            with db.engine.connect() as conn:
                tenant_ids = [
                    str(r[0])
                    for r in conn.execute(text("SELECT id FROM tenants ORDER BY name")).all()
                ]
            db.dispose()
            end = datetime.now(UTC).replace(second=0, microsecond=0)
            start = end - timedelta(days=args.days)
            print(f"filling {args.rows:,} rows over {args.days} days ({args.jobs} jobs)...")
            gen = generate(
                url, args.rows, start, end, tenant_ids, args.jobs, plan_templates(config)
            )
            print(f"  {gen}")
            print("rebuilding rollups...")
            roll = build_rollups(url, start, end, args.jobs)
            print(f"  {roll}")
            if args.keep:
                kept = state / "filled.json"
                kept.write_text(
                    json.dumps(
                        {
                            "database": name,
                            "url": url,
                            "state": str(state),
                            "email": email,
                            "password": password,
                            "from": start.isoformat(),
                            "to": end.isoformat(),
                            "generation": gen,
                            "rollups": roll,
                        }
                    )
                )
                print(f"kept the database; time it again with --reuse {kept}")
            if args.fill_only:
                return 0

        server = start_process("sekisho-pg", [exe, "serve", *cfg], state / "serve.log", env=env)
        wait_http(f"http://127.0.0.1:{port}/healthz", 60, server.proc)
        base = f"http://127.0.0.1:{port}"
        point = int((end - timedelta(hours=2, minutes=10)).timestamp())  # inside the spike
        with httpx.Client(base_url=base, timeout=60) as http:
            http.post("/admin/v1/session", json={"email": email, "password": password})
            one = http.get(f"/console/aliases/{SPIKE_ALIAS}/series.json?window=7d").json()
        bucket_7d = int(one["bucket_s"])
        db = Database(url)
        with db.engine.connect() as conn:
            request_id = conn.execute(
                text(
                    "SELECT id FROM request_log WHERE alias = :a AND ts >= :f ORDER BY ts DESC LIMIT 1"
                ),
                {"a": SPIKE_ALIAS, "f": datetime.fromtimestamp(point, UTC)},
            ).scalar()
        db.dispose()
        pages = {
            "overview": "/console/",
            "overview_live": "/console/overview/live",
            **{
                f"alias_{w}": f"/console/aliases/{SPIKE_ALIAS}?window={w}"
                for w in ("1h", "24h", "7d")
            },
            **{
                f"series_{w}": f"/console/aliases/{SPIKE_ALIAS}/series.json?window={w}"
                for w in ("1h", "24h", "7d")
            },
            "drill_1min": f"/console/aliases/{SPIKE_ALIAS}/requests?from={point}&to={point + 60}",
            "drill_7d_bucket": (
                f"/console/aliases/{SPIKE_ALIAS}/requests?from={point - point % bucket_7d}"
                f"&to={point - point % bucket_7d + bucket_7d}"
            ),
            "drill_errors_1min": (
                f"/console/aliases/{SPIKE_ALIAS}/requests?from={point}&to={point + 60}&errors=1"
            ),
            "drill_errors_7d": (
                f"/console/aliases/{SPIKE_ALIAS}/requests?from={int(start.timestamp())}"
                f"&to={int(end.timestamp())}&errors=1"
            ),
            "request_detail": f"/console/requests/{request_id}",
            "tenants": "/console/tenants",
            "ledger": "/console/ledger",
        }
        print("timing pages...")
        timings = time_pages(base, email, password, pages, args.repeat)
        explain = explain_drill(
            url,
            SPIKE_ALIAS,
            datetime.fromtimestamp(point, UTC),
            datetime.fromtimestamp(point + 60, UTC),
        )
        print(f"  explain: {explain}")
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        doc = {
            "bench": "console_bench",
            "when": stamp,
            "commit": commit,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
            "database": "postgresql (local, default settings)",
            "window": {"from": start.isoformat(), "to": end.isoformat()},
            "generation": gen,
            "rollups": roll,
            "pages": timings,
            "drill_explain": explain,
            "repeat": args.repeat,
            "commands": commands,
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {out}")
    finally:
        if server is not None:
            server.stop()
        if not args.keep:
            drop_pg_database(name)
        else:
            print(f"database {name} left in place; drop it with DROP DATABASE")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
