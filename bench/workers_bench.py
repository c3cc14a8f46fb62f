"""`sekisho serve --workers 2` against one worker: closed-loop throughput on this machine.

    python -m bench.workers_bench [--seconds 15] [--connections 64]

Both runs are unpinned (the point is using both cores), on PostgreSQL (one database several
processes write to), against the same mock upstream, with wrk on the same machine; the JSON
goes to docs/bench-runs/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from bench import measure, targets, tools

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench-runs")
    args = parser.parse_args(argv)
    wrk = tools.ensure_wrk()
    results: dict[str, object] = {
        "what": "closed-loop throughput, non-streaming chat, sekisho serve --workers 1 vs 2",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "seconds": args.seconds,
        "connections": args.connections,
        "runs": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        mock, mock_port = targets.start_mock(work)
        try:
            for workers in (1, 2):
                target = targets.sekisho_target("pg", mock_port, work, workers=workers, core=None)
                try:
                    commands: list[str] = []
                    measure.wrk_run(
                        wrk,
                        target,
                        "small",
                        connections=args.connections,
                        seconds=3,
                        workdir=work,
                        commands=commands,
                    )  # warm-up
                    run = measure.wrk_run(
                        wrk,
                        target,
                        "small",
                        connections=args.connections,
                        seconds=args.seconds,
                        workdir=work,
                        commands=commands,
                    )
                    run.pop("raw", None)
                    run["command"] = commands[-1]
                    results["runs"][f"workers={workers}"] = run  # type: ignore[index]
                    print(f"workers={workers}: {run.get('requests_per_s')} req/s", flush=True)
                finally:
                    target.stop()
        finally:
            mock.stop()
    runs = results["runs"]  # type: ignore[assignment]
    one = runs["workers=1"].get("requests_per_s") or 0  # type: ignore[index,union-attr]
    two = runs["workers=2"].get("requests_per_s") or 0  # type: ignore[index,union-attr]
    results["speedup"] = round(two / one, 2) if one else None
    print(f"speed-up with 2 workers: {results['speedup']}x")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"workers-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
