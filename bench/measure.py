"""The measurements: latency at concurrency 1, constant-rate steps, memory over a long run.

Each function drives the compiled load generator (or wrk) against started
targets and returns plain dicts that go straight into the results JSON.
"""

from __future__ import annotations

import json
import math
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.targets import CLIENT_CORE, Target, pinned

SUCCESS_GOAL = 0.999
ADDED_P99_GOAL_MS = 10.0

Log = Callable[[str], None]


def percentiles(samples_us: Sequence[int]) -> dict[str, float]:
    """Nearest-rank percentiles in milliseconds."""
    if not samples_us:
        return {"n": 0}
    data = sorted(samples_us)
    n = len(data)

    def pct(p: float) -> float:
        return data[min(n - 1, max(0, math.ceil(p / 100 * n) - 1))] / 1000

    return {
        "n": n,
        "p50": pct(50),
        "p90": pct(90),
        "p99": pct(99),
        "p99_9": pct(99.9),
        "max": data[-1] / 1000,
        "mean": sum(data) / n / 1000,
    }


class LoadGen:
    """Runs bench/loadgen pinned to the client core; remembers every command line."""

    def __init__(self, binary: Path, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.commands: list[str] = []

    def request_file(self, target: Target, scenario: str) -> Path:
        path = self.workdir / f"request-{target.name}-{scenario}.http"
        if not path.exists():
            path.write_bytes(target.request(scenario))
        return path

    def run(
        self,
        target: Target,
        scenario: str,
        mode: str,
        arg: float,
        seconds: float,
        *,
        timeout_ms: int = 5000,
        max_conns: int = 1024,
        count: int = 0,
    ) -> tuple[dict[str, float], list[int]]:
        samples = self.workdir / "samples.txt"
        argv = pinned(
            CLIENT_CORE,
            [
                str(self.binary),
                "127.0.0.1",
                str(target.port),
                str(self.request_file(target, scenario)),
                mode,
                f"{arg:g}",
                f"{seconds:g}",
                str(timeout_ms),
                str(max_conns),
                str(samples),
                str(count),
            ],
        )
        command = " ".join(argv)
        if command not in self.commands:
            self.commands.append(command)
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + timeout_ms / 1000 + 30,
        )
        summary: dict[str, float] = json.loads(done.stdout)
        values = [int(x) for x in samples.read_text().split()]
        return summary, values


def added(target: dict[str, float], base: dict[str, float], key: str) -> float | None:
    if key in target and key in base:
        return round(target[key] - base[key], 3)
    return None


def latency_c1(
    gen: LoadGen,
    targets: Sequence[Target],
    scenarios: Sequence[str],
    *,
    rounds: int,
    seconds: float,
    log: Log,
) -> dict[str, object]:
    """Concurrency 1, interleaved rounds: every round runs each target once, order rotated."""
    results: dict[str, object] = {}
    for scenario in scenarios:
        pooled: dict[str, list[int]] = {t.name: [] for t in targets}
        per_round: dict[str, list[dict[str, float]]] = {t.name: [] for t in targets}
        for target in targets:  # warm-up: connections, caches, first-request costs
            gen.run(target, scenario, "closed", 1, 0.5)
        for r in range(rounds):
            order = list(targets[r % len(targets) :]) + list(targets[: r % len(targets)])
            for target in order:
                summary, samples = gen.run(target, scenario, "closed", 1, seconds)
                pooled[target.name] += samples
                stats = percentiles(samples)
                stats["errors"] = (
                    summary["bad_status"] + summary["timeouts"] + summary["conn_errors"]
                )
                per_round[target.name].append(stats)
        base = percentiles(pooled["direct"])
        entry: dict[str, object] = {}
        for target in targets:
            stats = percentiles(pooled[target.name])
            errors = sum(int(s["errors"]) for s in per_round[target.name])
            entry[target.name] = {
                **stats,
                "errors": errors,
                "added_p50": added(stats, base, "p50"),
                "added_p99": added(stats, base, "p99"),
                "round_p50": [s.get("p50") for s in per_round[target.name]],
                "round_p99": [s.get("p99") for s in per_round[target.name]],
            }
            log(
                f"  c=1 {scenario:5s} {target.name:15s} p50 {stats['p50']:7.3f} ms  "
                f"p99 {stats['p99']:7.3f} ms  (added p50 {entry[target.name]['added_p50']}, "  # type: ignore[index]
                f"p99 {entry[target.name]['added_p99']})"
            )  # type: ignore[index]
        results[scenario] = entry
    return results


def _step(
    gen: LoadGen, target: Target, scenario: str, rate: float, seconds: float, timeout_ms: int
) -> dict[str, float]:
    summary, samples = gen.run(
        target, scenario, "rate", rate, seconds, timeout_ms=timeout_ms, max_conns=2048
    )
    stats = percentiles(samples)
    scheduled = summary["scheduled"] or 1
    return {
        **stats,
        "rate": rate,
        "scheduled": summary["scheduled"],
        "ok": summary["ok"],
        "success": summary["ok"] / scheduled,
        "bad_status": summary["bad_status"],
        "timeouts": summary["timeouts"],
        "conn_errors": summary["conn_errors"],
        "peak_conns": summary["peak_conns"],
        "achieved_rps": summary["ok"] / seconds,
    }


def rate_steps(
    gen: LoadGen,
    direct: Target,
    gateways: Sequence[Target],
    scenario: str,
    ladder: Sequence[float],
    *,
    seconds: float,
    timeout_ms: int,
    pause_s: float,
    log: Log,
) -> dict[str, object]:
    """Open-loop constant-rate steps up the ladder, direct and each gateway at every rate.

    A gateway leaves the ladder after three failing steps in a row (success below
    99.9% or added p99 above 10 ms) or one below 99% success; direct goes on to twice the best gateway's
    ceiling, to show the load generator and the mock were not the limit.
    """
    steps: dict[str, list[dict[str, float]]] = {t.name: [] for t in [direct, *gateways]}
    active = list(gateways)
    misses = {t.name: 0 for t in gateways}
    ceiling = {t.name: 0.0 for t in gateways}
    direct_ok = 0.0
    for rate in ladder:
        if (
            not active
            and rate > 2 * max([*ceiling.values(), 0.0])
            and direct_ok >= 2 * max([*ceiling.values(), 0.0])
        ):
            break
        base = _step(gen, direct, scenario, rate, seconds, timeout_ms)
        steps[direct.name].append(base)
        if base["success"] >= SUCCESS_GOAL:
            direct_ok = rate
        log(
            f"  rate {rate:6.0f}/s direct          ok {base['success']:.4f}  "
            f"p50 {base.get('p50', 0):7.3f}  p99 {base.get('p99', 0):8.3f} ms"
        )
        for target in list(active):
            time.sleep(pause_s)
            step = _step(gen, target, scenario, rate, seconds, timeout_ms)
            step["added_p50"] = added(step, base, "p50")  # type: ignore[assignment]
            step["added_p99"] = added(step, base, "p99")  # type: ignore[assignment]
            passed = (
                step["success"] >= SUCCESS_GOAL
                and step["added_p99"] is not None
                and step["added_p99"] <= ADDED_P99_GOAL_MS
            )
            step["meets_goal"] = passed
            steps[target.name].append(step)
            log(
                f"  rate {rate:6.0f}/s {target.name:15s} ok {step['success']:.4f}  "
                f"p50 {step.get('p50', 0):7.3f}  p99 {step.get('p99', 0):8.3f} ms  "
                f"added p99 {step['added_p99']}  {'PASS' if passed else 'miss'}"
            )
            if passed:
                ceiling[target.name] = rate
                misses[target.name] = 0
            else:
                # Latency spikes on a shared machine can miss one step well below the
                # ceiling; a gateway leaves after three misses in a row, or at once when
                # it drops requests.
                misses[target.name] += 1
                if misses[target.name] >= 3 or step["success"] < 0.99:
                    active.remove(target)
            if not passed:
                time.sleep(2 * pause_s)  # let a saturated gateway drain before the next step
        time.sleep(pause_s)
    return {
        "scenario": scenario,
        "seconds_per_step": seconds,
        "timeout_ms": timeout_ms,
        "steps": steps,
        "ceiling_rps": ceiling,
        "direct_highest_ok_rps": direct_ok,
    }


WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
{auth}
"""


def wrk_script(target: Target, scenario: str, path: Path) -> Path:
    raw = target.request(scenario)
    body = raw.split(b"\r\n\r\n", 1)[1].decode()
    auth = f'wrk.headers["Authorization"] = "Bearer {target.auth}"' if target.auth else ""
    for name, value in target.headers(scenario).items():
        auth += f'\nwrk.headers["{name}"] = "{value}"'
    path.write_text(WRK_SCRIPT.format(body=json.dumps(body), auth=auth))
    return path


def parse_wrk(text: str) -> dict[str, object]:
    out: dict[str, object] = {"raw": text}
    for line in text.splitlines():
        parts = line.split()
        if line.strip().startswith("Requests/sec:"):
            out["requests_per_s"] = float(parts[1])
        elif "requests in" in line:
            out["requests"] = int(parts[0])
        elif line.strip().startswith("Non-2xx"):
            out["non_2xx"] = int(parts[-1])
        elif line.strip().startswith("Socket errors"):
            out["socket_errors"] = line.strip()
    return out


def wrk_run(
    wrk: str,
    target: Target,
    scenario: str,
    *,
    connections: int,
    seconds: float,
    workdir: Path,
    commands: list[str],
) -> dict[str, object]:
    script = wrk_script(target, scenario, workdir / f"wrk-{target.name}.lua")
    argv = pinned(
        CLIENT_CORE,
        [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{target.port}{target.path(scenario)}",
        ],
    )
    commands.append(" ".join(argv))
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    return parse_wrk(done.stdout + done.stderr)


def memory_run(
    gen: LoadGen, target: Target, scenario: str, *, total: int, connections: int, log: Log
) -> dict[str, object]:
    """RSS before, every second during, and after a `total`-request closed-loop run."""
    before = target.rss_kb()
    samples: list[tuple[float, int | None]] = []
    stop = threading.Event()
    t0 = time.monotonic()

    def sample() -> None:
        while not stop.wait(1.0):
            samples.append((round(time.monotonic() - t0, 1), target.rss_kb()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        summary, latencies = gen.run(
            target, scenario, "closed", connections, 900, timeout_ms=10_000, count=total
        )
    finally:
        stop.set()
        sampler.join()
    time.sleep(5)  # let the request-log writer drain
    after = target.rss_kb()
    during = [kb for _, kb in samples if kb is not None]
    third = max(1, len(during) // 3)
    elapsed = time.monotonic() - t0 - 5
    out = {
        "requests": summary["sent"],
        "ok": summary["ok"],
        "requests_per_s": round(summary["ok"] / max(summary["elapsed_s"], 1e-9), 1),
        "failed": summary["sent"] - summary["ok"],
        "latency": percentiles(latencies),
        "rss_before_kb": before,
        "rss_after_kb": after,
        "rss_during_max_kb": max(during) if during else None,
        "rss_first_third_avg_kb": sum(during[:third]) // third if during else None,
        "rss_last_third_avg_kb": sum(during[-third:]) // third if during else None,
        "rss_samples": samples,
        "seconds": round(elapsed, 1),
    }
    log(
        f"  memory {target.name}: {out['ok']} of {out['requests']} requests ok at "
        f"{out['requests_per_s']}/s, RSS before {before} KiB, max during "
        f"{out['rss_during_max_kb']} KiB, after {after} KiB"
    )
    return out
