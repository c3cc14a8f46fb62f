"""CPU per request and where it goes: `python -m bench.profile [--rate R] [--py-spy FILE]`.

Starts the mock upstream and one Sekisho target (as `bench.run` does), drives
it with the load generator (closed loop at concurrency 1, or open loop at
`--rate`), and reports the gateway's CPU time per request from
`/proc/<pid>/stat` (user + system, all threads): a figure that, unlike
latency, hardly moves when other work shares the machine. `--py-spy FILE`
records a flame graph (py-spy, installed from PyPI) of the same window, or
raw collapsed stacks with a `.txt` name.

    python -m bench.profile --seconds 10                 # c=1, SQLite
    python -m bench.profile --rate 500 --py-spy /tmp/p.svg
    python -m bench.profile --db pg --stream 20           # 20 streams one at a time
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import measure, targets, tools
from bench.stream_client import stream_timing

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (every thread), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "pg"), default="sqlite")
    parser.add_argument("--rate", type=float, default=0, help="open loop at this rate (0: c=1)")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--stream", type=int, default=0, help="N streams one at a time instead")
    parser.add_argument("--py-spy", type=Path, default=None, help="flame graph (.svg) or .txt")
    parser.add_argument("--out", type=Path, default=targets.BENCH_DIR / "results")
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, {int(targets.CLIENT_CORE)})
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    workdir = args.out / f"{stamp}-profile"
    workdir.mkdir(parents=True, exist_ok=True)
    gen = measure.LoadGen(tools.ensure_loadgen(), workdir)
    mock, mock_port = targets.start_mock(workdir)
    target = None
    spy = None
    try:
        target = targets.sekisho_target(args.db, mock_port, workdir)
        direct = targets.direct_target(mock_port)
        assert target.server is not None
        pid = target.server.proc.pid
        gen.run(target, "small", "closed", 1, 1.0)  # warm-up
        if args.py_spy is not None:
            exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            fmt = "raw" if args.py_spy.suffix == ".txt" else "flamegraph"
            spy = subprocess.Popen(
                [
                    exe,
                    "record",
                    "-r",
                    "500",
                    "--threads",
                    "-f",
                    fmt,
                    "-o",
                    str(args.py_spy),
                    "--pid",
                    str(pid),
                    "-d",
                    str(int(args.seconds) + 1),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1.0)
        load = Path("/proc/loadavg").read_text().split()[:3]
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        out: dict[str, object] = {"loadavg": load, "db": args.db}
        if args.stream:
            result = stream_timing(
                [direct, target], "small", streams=args.stream, concurrency=1, log=print
            )
            requests = args.stream + 1
            out["stream"] = result
        else:
            mode, arg = ("rate", args.rate) if args.rate else ("closed", 1.0)
            summary, samples = gen.run(
                target, "small", mode, arg, args.seconds, timeout_ms=5000, max_conns=2048
            )
            requests = int(summary["ok"])
            stats = measure.percentiles(samples)
            out["latency"] = stats
            out["summary"] = summary
            print(f"latency: {json.dumps(stats)}")
        cpu = cpu_seconds(pid) - cpu0
        wall = time.monotonic() - t0
        out["cpu_s"] = round(cpu, 3)
        out["wall_s"] = round(wall, 3)
        out["requests"] = requests
        out["cpu_us_per_request"] = round(cpu / max(1, requests) * 1e6, 1)
        out["cpu_share"] = round(cpu / wall, 3)
        print(
            f"{requests} requests in {wall:.1f} s; gateway CPU {cpu:.2f} s = "
            f"{out['cpu_us_per_request']} µs/request ({out['cpu_share']:.0%} of a core); "
            f"load {' '.join(load)}"
        )
        if spy is not None:
            spy.wait(timeout=60)
            print(f"py-spy: {args.py_spy}")
        (workdir / "profile.json").write_text(json.dumps(out, indent=1, default=str))
    finally:
        if spy is not None and spy.poll() is None:
            spy.terminate()
        if target is not None:
            target.stop()
        mock.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
