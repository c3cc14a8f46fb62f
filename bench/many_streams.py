"""Many streams open at once through one worker: gaps between chunks, memory per stream.

Each target gets `streams` concurrent streaming requests (the mock's `long`
scenario: 250 chunks 20 ms apart, 5 s), opened over `ramp_s`. A lean protocol
(no SSE parsing: it stamps each read that carries `data:` frames) keeps the
client cheap enough for a thousand streams. Gaps between reads are pooled per
target (the first two of each stream left out: the ramp); added = gateway gap
percentile - direct gap percentile, from the same run. The gateway's RSS is
read before and while every stream is open: memory per open stream.

    python -m bench.run --quick --many-streams 1000
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Sequence

from bench.measure import Log, percentiles
from bench.targets import Target

SCENARIO = "long"


def raise_fd_limit(wanted: int = 65536) -> int:
    """Raise this process's open-file limit (children inherit it); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class _Stream(asyncio.Protocol):
    def __init__(self, request: bytes) -> None:
        self.request = request
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.status_ok: bool | None = None
        self.first: float | None = None
        self.last = 0.0
        self.frames = 0
        self.gaps: list[float] = []
        self.multi = 0
        self.t0 = time.perf_counter()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if self.status_ok is None:
            self.status_ok = data.startswith(b"HTTP/1.1 200")
        n = data.count(b"data: ")
        if n:
            if self.first is None:
                self.first = now
            else:
                self.gaps.append(now - self.last)
            self.last = now
            self.frames += n
            if n > 2:  # a content frame plus the usage/[DONE] tail is normal at the end
                self.multi += 1
        if b"[DONE]" in data and not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def _run_target(
    target: Target, streams: int, ramp_s: float, timeout_s: float
) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    request = target.request(SCENARIO, stream=True)
    rss_before = target.rss_kb()
    protos: list[_Stream] = []
    transports: list[asyncio.BaseTransport] = []
    errors: list[str] = []
    t0 = time.perf_counter()

    async def open_one(i: int) -> None:
        await asyncio.sleep(ramp_s * i / streams)
        proto = _Stream(request)
        try:
            transport, _ = await loop.create_connection(lambda: proto, "127.0.0.1", target.port)
        except OSError as exc:
            errors.append(repr(exc))
            return
        protos.append(proto)
        transports.append(transport)

    await asyncio.gather(*(open_one(i) for i in range(streams)))
    # Every stream is open (the ramp is over, each lasts 5 s): read the gateway's RSS.
    await asyncio.sleep(0.5)
    open_now = sum(1 for p in protos if p.first is not None and not p.done.done())
    rss_open = target.rss_kb()
    try:
        await asyncio.wait_for(asyncio.gather(*(p.done for p in protos)), timeout_s + ramp_s)
    except TimeoutError:
        errors.append("timed out")
    for transport in transports:
        transport.close()
    gaps = [int(g * 1e6) for p in protos for g in p.gaps[2:]]
    ttfc = [int((p.first - p.t0) * 1e6) for p in protos if p.first is not None]
    ok = sum(1 for p in protos if p.status_ok and p.done.done() and p.frames)
    out: dict[str, object] = {
        "streams": streams,
        "ok": ok,
        "errors": errors[:5],
        "error_count": len(errors) + (len(protos) - ok),
        "open_at_sample": open_now,
        "gap": percentiles(gaps),
        "ttfc": percentiles(ttfc),
        "reads_with_several_frames": sum(p.multi for p in protos),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    if rss_before is not None and rss_open is not None:
        out["rss_before_kb"] = rss_before
        out["rss_open_kb"] = rss_open
        out["kb_per_open_stream"] = round((rss_open - rss_before) / max(1, open_now), 1)
    return out


def many_streams(
    targets: Sequence[Target],
    *,
    streams: int,
    ramp_s: float = 1.0,
    timeout_s: float = 30.0,
    log: Log,
) -> dict[str, object]:
    """Every target in turn (direct first), `streams` long streams open at once."""
    raise_fd_limit(4 * streams + 1024)
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    results: dict[str, dict[str, object]] = {}
    for target in targets:
        results[target.name] = runner(_run_target(target, streams, ramp_s, timeout_s))
        time.sleep(1.0)
    base = results["direct"]["gap"]
    for name, entry in results.items():
        gap = entry["gap"]
        if gap.get("n") and base.get("n"):  # type: ignore[attr-defined]
            entry["added_gap_p50"] = round(gap["p50"] - base["p50"], 3)  # type: ignore[index]
            entry["added_gap_p99"] = round(gap["p99"] - base["p99"], 3)  # type: ignore[index]
        log(
            f"  {streams} streams {name:15s} ok {entry['ok']}/{streams} gap p50 "
            f"{gap.get('p50')} p99 {gap.get('p99')} max {gap.get('max')} ms "  # type: ignore[attr-defined]
            f"(added p99 {entry.get('added_gap_p99')}); "
            f"{entry.get('kb_per_open_stream', '-')} KiB per open stream"
        )
    return {"scenario": SCENARIO, "streams": streams, "ramp_s": ramp_s, "targets": results}
