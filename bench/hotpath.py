"""The hot path in-process: CPU, garbage and collector pauses per request, robust to load.

`python -m bench.hotpath [--requests N] [--stream] [--db sqlite|pg] [--garbage]`

Prepares a Sekisho database as `bench.run` does (migrate, tenant, key), then
builds the app in this process on a uvloop loop, runs its lifespan, and calls
`POST /v1/chat/completions` through ASGI (no socket on our side; the upstream
is the mock upstream on its own core). For each request it measures the main
thread's CPU time (`time.thread_time`), which hardly moves when other work
shares the machine, unlike wall-clock latency; it counts collector runs and
their pauses (`gc.callbacks`), and with `--garbage` the objects that only the
cycle collector can free, by type, and the store calls made on the request
path (thread hops).

Use it for before/after comparisons of a change to the request path; the
end-to-end figures come from `bench.run`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import targets
from bench.measure import percentiles


class GcWatch:
    """Collector runs and their pauses, by generation."""

    def __init__(self) -> None:
        self.pauses: dict[int, list[float]] = collections.defaultdict(list)
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append((time.perf_counter() - self._started) * 1e3)

    def summary(self, requests: int) -> dict[str, object]:
        out: dict[str, object] = {}
        for gen in sorted(self.pauses):
            ms = self.pauses[gen]
            out[f"gen{gen}"] = {
                "runs": len(ms),
                "per_1000_requests": round(len(ms) / max(1, requests) * 1000, 2),
                "max_ms": round(max(ms), 3),
                "mean_ms": round(statistics.fmean(ms), 3),
            }
        return out


def _scope(key: str, body: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", f"Bearer {key}".encode()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }


async def _call(app: Any, scope: dict[str, Any], body: bytes) -> tuple[int, int, float | None]:
    """One request: (status, body bytes, seconds to the first body frame)."""
    done = asyncio.Event()
    sent = False
    status = 0
    size = 0
    first: float | None = None
    t0 = time.perf_counter()

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, size, first
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            if chunk and first is None:
                first = time.perf_counter() - t0
            size += len(chunk)
            if not message.get("more_body", False):
                done.set()

    await app(dict(scope), receive, send)
    done.set()
    return status, size, first


async def _lifespan(app: Any) -> tuple[Callable[[], Any], asyncio.Task[None]]:
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def send(message: dict[str, Any]) -> None:
        await outbox.put(message)

    task = asyncio.ensure_future(app({"type": "lifespan"}, inbox.get, send))
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"start-up failed: {started}")

    async def stop() -> None:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()

    return stop, task


class HopCounter:
    """Counts `asyncio.to_thread` calls (thread hops) by the function that made them."""

    def __init__(self) -> None:
        self.by_caller: collections.Counter[str] = collections.Counter()
        self._real = asyncio.to_thread

    def install(self) -> None:
        real = self._real

        def counted(func: Any, /, *args: Any, **kwargs: Any) -> Any:
            caller = sys._getframe(1)
            name = caller.f_code.co_qualname
            module = caller.f_globals.get("__name__", "?")
            self.by_caller[f"{module}.{name}"] += 1
            return real(func, *args, **kwargs)

        asyncio.to_thread = counted  # type: ignore[assignment]

    def uninstall(self) -> None:
        asyncio.to_thread = self._real  # type: ignore[assignment]


class CountingLoader:
    """Wraps the key cache's loader: counts store reads made for credentials."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def load_key(self, prefix: str) -> Any:
        self.calls += 1
        return self.inner.load_key(prefix)


async def _run(args: argparse.Namespace, setup: targets.SekishoSetup) -> dict[str, object]:
    from sekisho.http.app import create_app
    from sekisho.settings import load_settings

    settings = load_settings(setup.config, environ=setup.env)
    settings.observe.probes_enabled = False  # synthetic probes would add their own requests
    app = create_app(settings)
    stop, _task = await _lifespan(app)
    keys = app.gateway.keys
    loader = CountingLoader(keys._loader)
    keys._loader = loader
    scenario = "small"
    body = (
        targets.Target("sekisho", 0, setup.key, server=None)
        .request(scenario, stream=args.stream)
        .split(b"\r\n\r\n", 1)[1]
        .replace(b'"mock-model"', f'"bench-{scenario}"'.encode())
    )
    scope = _scope(setup.key, body)
    for _ in range(args.warmup):
        status, _size, _first = await _call(app, scope, body)
        if status != 200:
            raise RuntimeError(f"warm-up answered {status}")
    await asyncio.sleep(0.6)  # let the warm-up's rows be written
    gc.collect()
    heap: dict[str, object] = {"tracked_objects": len(gc.get_objects())}
    t0 = time.perf_counter()
    gc.collect()
    heap["full_collection_ms"] = round((time.perf_counter() - t0) * 1e3, 2)
    if not args.no_freeze:
        from sekisho.serve import settle_heap

        settle_heap()  # as `sekisho serve` does once it accepts
        t0 = time.perf_counter()
        gc.collect()
        heap["full_collection_after_freeze_ms"] = round((time.perf_counter() - t0) * 1e3, 2)
    watch = GcWatch()
    gc.callbacks.append(watch)
    loader.calls = 0
    cpu: list[float] = []
    wall: list[float] = []
    firsts: list[float] = []
    garbage: collections.Counter[str] = collections.Counter()
    if args.garbage:
        gc.set_debug(gc.DEBUG_SAVEALL)
    hops = HopCounter()
    hops.install()
    profiler = None
    if args.cprofile is not None:
        import cProfile

        profiler = cProfile.Profile(time.thread_time)
        profiler.enable()
    total_cpu0 = time.thread_time()
    total_wall0 = time.perf_counter()
    for _ in range(args.requests):
        c0, w0 = time.thread_time(), time.perf_counter()
        status, _size, first = await _call(app, scope, body)
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - w0)
        if first is not None:
            firsts.append(first)
        if status != 200:
            raise RuntimeError(f"answered {status}")
        if args.pause:
            await asyncio.sleep(args.pause)
    total_cpu = time.thread_time() - total_cpu0
    total_wall = time.perf_counter() - total_wall0
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.cprofile)
    gc.callbacks.remove(watch)
    hops.uninstall()
    if args.garbage:
        gc.collect()
        for obj in gc.garbage:
            garbage[type(obj).__qualname__] += 1
        gc.set_debug(0)
        gc.garbage.clear()
    await stop()
    n = args.requests
    return {
        "requests": n,
        "stream": args.stream,
        "main_thread_cpu_us_per_request": {
            "median": round(statistics.median(cpu) * 1e6, 1),
            "mean": round(total_cpu / n * 1e6, 1),
            "p90": round(sorted(cpu)[int(0.9 * n)] * 1e6, 1),
        },
        "wall": percentiles([int(w * 1e6) for w in wall]),
        "first_body_frame": percentiles([int(f * 1e6) for f in firsts]),
        "cpu_share_of_wall": round(total_cpu / total_wall, 3),
        "credential_store_reads": loader.calls,
        "seconds": round(total_wall, 2),
        "thread_hops": dict(hops.by_caller.most_common()),
        "heap": heap,
        "gc": watch.summary(n),
        "cyclic_garbage_per_request": round(sum(garbage.values()) / n, 2) if args.garbage else None,
        "cyclic_garbage_types": dict(garbage.most_common(25)) if args.garbage else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hotpath", description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "pg"), default="sqlite")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--stream", action="store_true", help="streaming requests")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between requests")
    parser.add_argument("--garbage", action="store_true", help="count cyclic garbage by type")
    parser.add_argument("--no-freeze", action="store_true", help="skip gc.freeze after start")
    parser.add_argument("--cprofile", type=Path, default=None, help="write pstats of the run")
    parser.add_argument("--out", type=Path, default=targets.BENCH_DIR / "results")
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, {int(targets.GATEWAY_CORE)})
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    workdir = args.out / f"{stamp}-hotpath"
    workdir.mkdir(parents=True, exist_ok=True)
    mock, mock_port = targets.start_mock(workdir)
    setup = targets.prepare_sekisho(args.db, mock_port, workdir)
    try:
        import uvloop

        result = uvloop.run(_run(args, setup))
    finally:
        for fn in reversed(setup.cleanup):
            fn()  # type: ignore[operator]
        mock.stop()
    result["loadavg"] = Path("/proc/loadavg").read_text().split()[:3]
    (workdir / "hotpath.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
