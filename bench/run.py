"""Run the benchmark: `python -m bench.run --quick` (under two minutes) or `--full`.

Starts the mock upstream and the targets, measures, writes
`bench/results/<time>-<mode>.json` (raw results) and `.md` (the tables), and
prints the tables. Quick: direct vs Sekisho (SQLite) only. Full: direct,
Sekisho on SQLite and on PostgreSQL, and LiteLLM, plus the 100,000-request
memory run. See docs/benchmarks.md for the method.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import measure, report, targets, tools
from bench.many_streams import many_streams, raise_fd_limit
from bench.stream_client import stream_timing

RESULTS = targets.BENCH_DIR / "results"


@dataclass(frozen=True)
class Plan:
    mode: str
    gateways: tuple[str, ...]
    c1_scenarios: tuple[str, ...]
    c1_rounds: int
    c1_seconds: float
    ladder: tuple[float, ...]
    step_seconds: float
    step_timeout_ms: int
    pause_s: float
    stream_c1: int
    stream_concurrent: int  # 0: skip
    wrk_seconds: float
    memory_requests: int  # 0: skip
    many_streams: int = 0  # 0: skip; else that many long streams open at once


QUICK = Plan(
    "quick",
    ("sekisho-sqlite",),
    ("small",),
    3,
    2.0,
    (100, 250, 500, 750, 1000, 1500, 2000, 3000, 4000, 6000),
    3.0,
    3000,
    0.3,
    4,
    0,
    4.0,
    0,
)
# Every peer side by side, shorter than the full run (~10 min): no large/slow scenarios,
# a short ladder, no memory run.
PEERS = Plan(
    "peers",
    ("sekisho-sqlite", "sekisho-pg", "litellm", "portkey"),
    ("small",),
    4,
    3.0,
    (10, 50, 100, 250, 500, 1000, 1500, 2000),
    4.0,
    5000,
    0.5,
    10,
    32,
    5.0,
    0,
    1000,
)
FULL = Plan(
    "full",
    ("sekisho-sqlite", "sekisho-pg", "litellm", "portkey"),
    ("small", "large", "slow"),
    5,
    3.0,
    (
        10,
        25,
        50,
        100,
        200,
        300,
        400,
        500,
        600,
        750,
        1000,
        1250,
        1500,
        2000,
        2500,
        3000,
        4000,
        5000,
        6000,
        8000,
        10000,
        12000,
    ),
    8.0,
    5000,
    1.0,
    10,
    32,
    5.0,
    100_000,
    1000,
)


def log(message: str) -> None:
    print(message, flush=True)


def _read(cmd: list[str]) -> str:
    try:
        return subprocess.run(
            cmd, capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    except OSError:
        return ""


def environment(plan: Plan, wrk: str | None, litellm_version: str | None) -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    packages = {}
    for name in (
        "sekisho",
        "uvicorn",
        "uvloop",
        "httptools",
        "aiohttp",
        "orjson",
        "sqlalchemy",
        "psycopg",
        "starlette",
    ):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            packages[name] = importlib.metadata.version(name)
    if litellm_version:
        packages["litellm"] = litellm_version
    commit = _read(["git", "-C", str(targets.REPO), "rev-parse", "--short", "HEAD"])
    dirty = _read(["git", "-C", str(targets.REPO), "status", "--porcelain", "--untracked-files=no"])
    env: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": plan.mode,
        "cpu_model": cpu,
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "packages": packages,
        "git_commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
        "pinning": f"gateway under test on core {targets.GATEWAY_CORE}; mock upstream, load "
        f"generator and harness on core {targets.CLIENT_CORE} (taskset)",
        "command": " ".join([Path(sys.executable).name, "-m", "bench.run", *sys.argv[1:]]),
    }
    if wrk:
        env["wrk"] = tools.wrk_version(wrk)
    if "sekisho-pg" in plan.gateways:
        env["postgresql"] = (
            _read(
                [
                    "psql",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-d",
                    "test",
                    "-Atc",
                    "show server_version",
                ]
            )
            or "?"
        )
    return env


def start_targets(
    plan: Plan, mock_port: int, workdir: Path, stack: ExitStack, notes: list[str]
) -> list[targets.Target]:
    started = [targets.direct_target(mock_port)]
    for name in plan.gateways:
        log(f"starting {name} ...")
        try:
            if name == "litellm":
                target = targets.litellm_target(mock_port, workdir)
            elif name == "portkey":
                target = targets.portkey_target(mock_port, workdir)
            else:
                target = targets.sekisho_target(name.split("-", 1)[1], mock_port, workdir)
        except Exception as exc:
            if name in ("litellm", "portkey"):
                notes.append(f"{name} could not be started and is left out: {exc}")
                log(f"  ! {notes[-1]}")
                continue
            raise
        stack.callback(target.stop)
        target.info["rss_start_kb"] = target.rss_kb()
        started.append(target)
    return started


def run(plan: Plan, *, out_dir: Path) -> Path:
    os.sched_setaffinity(0, {int(targets.CLIENT_CORE)})  # the harness stays off the gateway core
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    workdir = out_dir / f"{stamp}-{plan.mode}"
    workdir.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    if plan.many_streams:
        raise_fd_limit(4 * plan.many_streams + 1024)  # before the targets start: they inherit it
    loadgen = tools.ensure_loadgen()
    wrk = tools.ensure_wrk() if plan.wrk_seconds else None
    litellm_version = None
    if "litellm" in plan.gateways:
        try:
            litellm_version = tools.ensure_litellm()
        except tools.ToolMissing as exc:
            notes.append(f"LiteLLM could not be installed and is left out: {exc}")
            plan = Plan(
                **{**plan.__dict__, "gateways": tuple(g for g in plan.gateways if g != "litellm")}
            )
    if "portkey" in plan.gateways:
        try:
            tools.ensure_portkey()
        except tools.ToolMissing as exc:
            notes.append(f"Portkey could not be installed and is left out: {exc}")
            plan = Plan(
                **{**plan.__dict__, "gateways": tuple(g for g in plan.gateways if g != "portkey")}
            )
    doc: dict[str, Any] = {"environment": environment(plan, wrk, litellm_version), "notes": notes}
    started = time.monotonic()
    gen = measure.LoadGen(loadgen, workdir)
    wrk_commands: list[str] = []
    with ExitStack() as stack:
        mock, mock_port = targets.start_mock(workdir)
        stack.callback(mock.stop)
        all_targets = start_targets(plan, mock_port, workdir, stack, notes)
        direct, gateways = all_targets[0], all_targets[1:]
        doc["targets"] = {
            t.name: {"port": t.port, **t.info, "commands": t.commands} for t in all_targets
        }

        log(f"latency at concurrency 1: {plan.c1_rounds} rounds x {plan.c1_seconds:g} s ...")
        doc["latency_c1"] = measure.latency_c1(
            gen,
            all_targets,
            plan.c1_scenarios,
            rounds=plan.c1_rounds,
            seconds=plan.c1_seconds,
            log=log,
        )
        log("streaming, one stream at a time ...")
        doc["stream_c1"] = stream_timing(
            all_targets, "small", streams=plan.stream_c1, concurrency=1, log=log
        )
        if plan.stream_concurrent:
            log(f"streaming, {plan.stream_concurrent} concurrent streams ...")
            doc["stream_concurrent"] = stream_timing(
                all_targets,
                "small",
                streams=2 * plan.stream_concurrent,
                concurrency=plan.stream_concurrent,
                log=log,
            )
        if plan.many_streams:
            log(f"{plan.many_streams} streams open at once ...")
            doc["many_streams"] = many_streams(
                [t for t in all_targets if t.name == "direct" or t.name.startswith("sekisho")],
                streams=plan.many_streams,
                log=log,
            )
        log("constant-rate steps ...")
        doc["rate_steps"] = measure.rate_steps(
            gen,
            direct,
            gateways,
            "small",
            plan.ladder,
            seconds=plan.step_seconds,
            timeout_ms=plan.step_timeout_ms,
            pause_s=plan.pause_s,
            log=log,
        )
        if plan.wrk_seconds and wrk:
            log("closed-loop throughput (wrk) ...")
            doc["wrk_throughput"] = {}
            for target in all_targets:
                result = measure.wrk_run(
                    wrk,
                    target,
                    "small",
                    connections=32,
                    seconds=plan.wrk_seconds,
                    workdir=workdir,
                    commands=wrk_commands,
                )
                doc["wrk_throughput"][target.name] = {k: v for k, v in result.items() if k != "raw"}
                log(f"  wrk {target.name:15s} {result.get('requests_per_s')} req/s")
        if plan.memory_requests:
            log(f"memory over {plan.memory_requests} requests ...")
            doc["memory"] = {}
            for target in gateways:
                if not target.name.startswith("sekisho"):
                    continue
                result = measure.memory_run(
                    gen, target, "small", total=plan.memory_requests, connections=16, log=log
                )
                result["rss_start_kb"] = target.info.get("rss_start_kb")
                doc["memory"][target.name] = result
    doc["environment"]["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    doc["environment"]["duration_s"] = round(time.monotonic() - started, 1)
    commands = [doc["environment"]["command"]]
    for info in doc["targets"].values():
        commands += info["commands"]
    commands += [mock.commands[0], *gen.commands[:3], "...", *wrk_commands[:2]]
    doc["commands"] = commands
    doc["all_commands"] = [*commands, *gen.commands, *wrk_commands]
    path = out_dir / f"{stamp}-{plan.mode}.json"
    path.write_text(json.dumps(doc, indent=1, default=str))
    markdown = report.render(doc)
    path.with_suffix(".md").write_text(markdown + "\n")
    print("\n" + markdown)
    log(
        f"\nraw results: {path}\ntables:      {path.with_suffix('.md')}\n"
        f"took {doc['environment']['duration_s']} s"
    )
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--quick", action="store_true", help="direct vs Sekisho (SQLite), <2 min")
    group.add_argument(
        "--full",
        action="store_true",
        help="all targets incl. PostgreSQL and LiteLLM, memory run (~20 min)",
    )
    group.add_argument(
        "--peers",
        action="store_true",
        help="every peer (Sekisho SQLite/PostgreSQL, LiteLLM, Portkey), short ladder (~10 min)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    parser.add_argument(
        "--many-streams",
        type=int,
        default=None,
        metavar="N",
        help="also N long streams open at once through one worker (full: 1000)",
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else PEERS if args.peers else FULL
    if args.many_streams is not None:
        plan = Plan(**{**plan.__dict__, "many_streams": args.many_streams})
    try:
        run(plan, out_dir=args.out)
    except tools.ToolMissing as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
