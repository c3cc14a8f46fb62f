"""Streaming timing: time to first chunk and the gaps between chunks, as a client sees them.

A raw asyncio HTTP/1.1 client (no SDK in the way): it writes the request,
decodes the chunked body and splits SSE frames, stamping each `data:` frame
with the moment the read that completed it returned. The mock sends 64 content
chunks 20 ms apart, so a gateway that forwards as it receives shows ~20 ms gaps;
one that buffers shows frames arriving together (counted as `coalesced`).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence

from bench.measure import Log, percentiles
from bench.targets import Target


class StreamBroken(Exception):
    pass


async def _one_stream(target: Target, scenario: str) -> dict[str, object]:
    reader, writer = await asyncio.open_connection("127.0.0.1", target.port)
    try:
        t0 = time.perf_counter()
        writer.write(target.request(scenario, stream=True))
        await writer.drain()
        raw = bytearray()
        while b"\r\n\r\n" not in raw:
            data = await reader.read(65536)
            if not data:
                raise StreamBroken("connection closed before headers")
            raw += data
        head, _, rest = bytes(raw).partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if status != 200:
            raise StreamBroken(f"status {status}: {rest[:200]!r}")
        chunked = b"transfer-encoding: chunked" in head.lower()
        body = bytearray()
        pending = bytearray(rest)
        sse = bytearray()
        stamps: list[float] = []
        reads_with_many = 0
        done = False
        now = time.perf_counter()
        while True:
            if chunked:
                while True:  # decode as many whole chunks as are buffered
                    line_end = pending.find(b"\r\n")
                    if line_end < 0:
                        break
                    size = int(pending[:line_end].split(b";")[0], 16)
                    if len(pending) < line_end + 2 + size + 2:
                        break
                    body += pending[line_end + 2 : line_end + 2 + size]
                    del pending[: line_end + 4 + size]
                    if size == 0:
                        done = True
                        break
            else:
                body += pending
                pending.clear()
            sse += body
            body.clear()
            frames_now = 0
            while (cut := sse.find(b"\n\n")) >= 0:
                frame = bytes(sse[:cut]).strip()
                del sse[: cut + 2]
                if (
                    frame.startswith(b"data:")
                    and frame != b"data: [DONE]"
                    and b'"choices":[]' not in frame.replace(b" ", b"")
                ):
                    stamps.append(now)
                    frames_now += 1
                if frame == b"data: [DONE]":
                    done = True
            if frames_now > 1:
                reads_with_many += 1
            if done:
                break
            data = await reader.read(65536)
            now = time.perf_counter()
            if not data:
                break
            pending += data
        if not stamps:
            raise StreamBroken("no data frames")
        gaps = [(b - a) * 1e6 for a, b in itertools.pairwise(stamps)]
        return {
            "ttfc_us": (stamps[0] - t0) * 1e6,
            "frames": len(stamps),
            "gaps_us": gaps,
            "reads_with_several_frames": reads_with_many,
            "total_us": (stamps[-1] - t0) * 1e6,
        }
    finally:
        writer.close()


async def _measure(
    targets: Sequence[Target], scenario: str, streams: int, concurrency: int
) -> dict[str, dict[str, object]]:
    runs: dict[str, list[dict[str, object]]] = {t.name: [] for t in targets}
    errors: dict[str, list[str]] = {t.name: [] for t in targets}
    for target in targets:  # warm-up
        try:
            await _one_stream(target, scenario)
        except (StreamBroken, OSError) as exc:
            errors[target.name].append(f"warm-up: {exc}")
    waves = max(1, streams // concurrency)
    for _ in range(waves):
        for target in targets:  # interleaved: each target once per wave
            results = await asyncio.gather(
                *(_one_stream(target, scenario) for _ in range(concurrency)), return_exceptions=True
            )
            for result in results:
                if isinstance(result, BaseException):
                    errors[target.name].append(repr(result))
                else:
                    runs[target.name].append(result)
    out: dict[str, dict[str, object]] = {}
    for target in targets:
        got = runs[target.name]
        ttfc = percentiles([int(r["ttfc_us"]) for r in got])  # type: ignore[call-overload]
        gaps = percentiles([int(g) for r in got for g in r["gaps_us"]])  # type: ignore[attr-defined]
        out[target.name] = {
            "streams": len(got),
            "errors": errors[target.name][:5],
            "error_count": len(errors[target.name]),
            "frames_per_stream": sorted({int(r["frames"]) for r in got}),  # type: ignore[call-overload]
            "reads_with_several_frames": sum(int(r["reads_with_several_frames"]) for r in got),  # type: ignore[call-overload]
            "ttfc": ttfc,
            "gap": gaps,
        }
    base = out["direct"]["ttfc"]
    for entry in out.values():
        ttfc = entry["ttfc"]
        entry["added_ttfc_p50"] = round(ttfc["p50"] - base["p50"], 3) if ttfc.get("n") else None  # type: ignore[index]
        entry["added_ttfc_p99"] = round(ttfc["p99"] - base["p99"], 3) if ttfc.get("n") else None  # type: ignore[index]
    return out


def stream_timing(
    targets: Sequence[Target], scenario: str, *, streams: int, concurrency: int, log: Log
) -> dict[str, object]:
    out = asyncio.run(_measure(targets, scenario, streams, concurrency))
    for name, entry in out.items():
        ttfc, gap = entry["ttfc"], entry["gap"]
        log(
            f"  stream c={concurrency} {name:15s} TTFC p50 {ttfc.get('p50')} ms p99 "  # type: ignore[union-attr]
            f"{ttfc.get('p99')} ms (added p50 {entry['added_ttfc_p50']}); gap p50 "  # type: ignore[union-attr]
            f"{gap.get('p50')} p99 {gap.get('p99')} max {gap.get('max')} ms; "  # type: ignore[union-attr]
            f"frames {entry['frames_per_stream']}, errors {entry['error_count']}"
        )
    return {"scenario": scenario, "concurrency": concurrency, "targets": out}
