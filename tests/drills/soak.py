"""`make soak`: 30 minutes of steady load through nginx over 3 replicas; memory must stay flat.

    python -m tests.drills.soak [SECONDS]

Prints each replica's RSS every 30 s and fails if any grew by more than 20 % between the end
of the warm-up (first 2 minutes) and the end.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from tests.drills.cluster import cluster
from tests.drills.test_drills import _burst
from tests.lifecycle.support import make_people
from tests.support.gateway import gateway_settings, make_tenant


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(seconds: float) -> int:
    with (
        tempfile.TemporaryDirectory() as tmp,
        cluster(Path(tmp), replicas=3, observe={"probes_enabled": False}) as c,
    ):
        settings = gateway_settings(c.sim.url, Path(tmp), c.database_url)
        make_people(c.db)
        _, key = make_tenant(c.db, settings, "soak")
        end = time.monotonic() + seconds
        warm: list[float] | None = None
        started = time.monotonic()
        while time.monotonic() < end:
            counts = asyncio.run(_burst(c.nginx.url, key, total=3000, concurrency=20))
            sizes = [rss_mib(r.process.pid) for r in c.replicas]
            elapsed = time.monotonic() - started
            print(
                f"soak: {elapsed:6.0f} s  {counts}  RSS MiB {[round(s, 1) for s in sizes]}",
                flush=True,
            )
            if warm is None and elapsed >= min(120, seconds / 4):
                warm = sizes
        final = [rss_mib(r.process.pid) for r in c.replicas]
        grown = [f / w for f, w in zip(final, warm or final, strict=True)]
        print(f"soak: growth after warm-up {[f'{g:.2f}x' for g in grown]}")
        return 0 if all(g <= 1.2 for g in grown) else 1


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 1800))
