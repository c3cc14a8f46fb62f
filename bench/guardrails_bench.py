"""Guardrails benchmark: cost per KB of text, and added time to first chunk with output masking.

    .venv/bin/python -m bench.guardrails_bench [--rounds N] [--quality] [--json FILE]

1. Cost per KB: the default policy's input stage (secrets, payment cards, My
   Number, prompt injection) and output stage (cards, secrets) over a mixed
   corpus (English and Japanese prose, code, logs, JSON) of 1 KB and 16 KB,
   median of N rounds; side by side with guardrails off (the disabled guard).
2. Added time to first chunk: the stream translator of the OpenAI adapter fed
   the first upstream SSE event of a completion, with and without the output
   guard wrapped around it (the exact work the chat core adds before the
   first byte reaches the client), median over N streams.

3. With --e2e: the same through the real gateway (uvicorn, simulator upstream,
   SQLite), guardrails on (default policy) and off, interleaved: median time
   from sending a streaming request to its first content chunk.
4. With --quality: per-detector precision and recall over the labelled corpus
   of tests/guardrails/corpus.py (the benign corpus counts as negatives).

Prints Markdown tables (and writes JSON with --json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import orjson

from sekisho.adapters import adapter_for
from sekisho.adapters.base import ResponseContext
from sekisho.guardrails.config import GuardrailSettings
from sekisho.guardrails.pipeline import Segment, run_stage
from sekisho.guardrails.policy import Check, compile_policies
from sekisho.guardrails.sse import GuardedTranslator
from sekisho.guardrails.stream import StreamMasker

PARAGRAPHS = [
    "The deployment runs on EKS in ap-northeast-1; static assets live in S3 behind CloudFront. ",
    "いつもお世話になっております。来週の定例会議は3月5日(火)14:00から第2会議室で行います。",
    "def handler(event, context):\n    return {'statusCode': 200, 'body': json.dumps(event)}\n",
    "2024-01-15T10:30:00.123Z INFO request_id=req_8f14e45f latency_ms=42 status=200 path=/v1\n",
    '{"order": "ORD-2024-000123", "total": 12345.67, "items": [{"sku": "A-1", "qty": 3}]}\n',
    "Version 2.4.1 changes the log format; upgrade from v1.2.3 before the end of the month. ",
    "本システムはAWSの東京リージョンで稼働しており、S3とEKSを利用しています。ご確認ください。",
]


def corpus(size: int) -> str:
    text, i = "", 0
    while len(text.encode()) < size:
        text += PARAGRAPHS[i % len(PARAGRAPHS)]
        i += 1
    return text


def median_us(fn: Callable[[], object], rounds: int) -> float:
    fn()  # warm caches and compiled patterns
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(samples)


def _stage_us(checks: tuple[Check, ...], text: str, rounds: int) -> float:
    """Median time of one stage over `rounds` distinct copies of `text`.

    Each round gets a new string object, as each request does, so nothing
    cached per text (the shared digit-run scan) carries over between rounds.
    """
    copies = [
        [Segment(("messages", 0, "content"), text[:-1] + text[-1])] for _ in range(rounds + 1)
    ]
    run_stage(checks, copies[-1], budget_ms=10_000)  # warm compiled patterns
    samples = []
    for seg in copies[:-1]:
        t0 = time.perf_counter()
        run_stage(checks, seg, budget_ms=10_000)
        samples.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(samples)


def cost_per_kb(rounds: int) -> list[dict[str, object]]:
    settings = GuardrailSettings()
    policies = compile_policies(settings.all_policies())
    on, off = policies["standard"], policies["off"]
    rows = []
    for size in (1024, 16 * 1024):
        text = corpus(size)
        kb = len(text.encode()) / 1024
        for stage in ("input", "output"):
            t_on = _stage_us(getattr(on, stage), text, rounds)
            t_off = _stage_us(getattr(off, stage), text, rounds)
            rows.append(
                {
                    "stage": stage,
                    "text_bytes": len(text.encode()),
                    "on_us_per_kb": round(t_on / kb, 1),
                    "off_us_per_kb": round(t_off / kb, 2),
                }
            )
    return rows


def _first_event() -> bytes:
    chunk = {
        "id": "chatcmpl-up",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "up-model",
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": "Hello, here is"},
                "finish_reason": None,
            }
        ],
    }
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def first_chunk(rounds: int) -> dict[str, float]:
    policy = compile_policies(GuardrailSettings().all_policies())["standard"]
    adapter = adapter_for("openai")
    ctx = ResponseContext(completion_id="chatcmpl-ours", alias="chat-large", created=1)
    data = _first_event()

    def plain() -> object:
        return adapter.stream_translator(ctx).feed(data)

    def guarded() -> object:
        inner = adapter.stream_translator(ctx)
        tr = GuardedTranslator(
            inner, lambda: StreamMasker(policy.output), lambda i, d: None, lambda c: None
        )
        out = tr.feed(data)
        assert out.frames, "the first frame must not be held"
        return out

    t_plain = median_us(plain, rounds)
    t_guard = median_us(guarded, rounds)
    return {
        "off_us": round(t_plain, 1),
        "on_us": round(t_guard, 1),
        "added_us": round(t_guard - t_plain, 1),
    }


def quality() -> list[dict[str, object]]:
    from tests.guardrails import corpus

    from sekisho.guardrails.config import CHECKS, CheckSpec
    from sekisho.guardrails.findings import findings
    from sekisho.guardrails.normalize import normalize
    from sekisho.guardrails.policy import detector_for

    rows = []
    for name in (c for c in CHECKS if c != "blocked_terms"):
        det = detector_for(CheckSpec(check=name, action="flag"))  # type: ignore[arg-type]
        tp = fp = fn = 0
        cases = [(t, e.get(name, 0)) for t, e in corpus.LABELLED] + [(t, 0) for t in corpus.BENIGN]
        for text, want in cases:
            got = len(findings(det, normalize(text)))
            tp, fp, fn = tp + min(got, want), fp + max(0, got - want), fn + max(0, want - got)
        rows.append(
            {
                "check": name,
                "positives": tp + fn,
                "tp": tp,
                "fp": fp,
                "fn": fn,
                "precision": round(tp / (tp + fp), 3) if tp + fp else 1.0,
                "recall": round(tp / (tp + fn), 3) if tp + fn else 1.0,
            }
        )
    return rows


def end_to_end(rounds: int) -> dict[str, float]:
    """One gateway, one keep-alive client; the guard is switched off and on between requests."""
    import tempfile
    from pathlib import Path

    import httpx
    from tests.support.gateway import gateway_settings, make_tenant, migrated, start_gateway

    from sekisho.simulator import SimulatorServer

    body = {
        "model": "chat-large",
        "stream": True,
        "messages": [{"role": "user", "content": "hello there, how is the weather today"}],
    }
    samples: dict[bool, list[float]] = {False: [], True: []}
    with SimulatorServer() as sim, tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        settings = gateway_settings(sim.url, state, f"sqlite:///{state / 'db.sqlite'}")
        db = migrated(settings.database_url)
        _, key = make_tenant(db, settings, "bench")
        gw = start_gateway(settings, db)
        guard = gw.gateway.chat.guard
        headers = {"authorization": f"Bearer {key}"}
        try:
            with httpx.Client(timeout=30) as client:

                def ttfc() -> float:
                    first = 0.0
                    t0 = time.perf_counter()
                    with client.stream(
                        "POST", gw.url + "/v1/chat/completions", json=body, headers=headers
                    ) as r:
                        for line in r.iter_lines():
                            if not first and '"content"' in line:
                                first = time.perf_counter() - t0
                    return first * 1e6

                for i in range(20 + 2 * rounds):
                    guard.enabled = i % 2 == 1
                    sample = ttfc()
                    if i >= 20:
                        samples[guard.enabled].append(sample)
        finally:
            gw.stop()
    off, on = statistics.median(samples[False]), statistics.median(samples[True])
    return {"off_us": round(off, 1), "on_us": round(on, 1), "added_us": round(on - off, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--quality", action="store_true", help="also precision and recall")
    parser.add_argument("--e2e", type=int, metavar="N", help="also N streams through the gateway")
    args = parser.parse_args()
    costs = cost_per_kb(args.rounds)
    ttfc = first_chunk(args.rounds)
    print("| stage | text | default policy (µs/KB) | guardrails off (µs/KB) |")
    print("|---|---|---|---|")
    for r in costs:
        print(
            f"| {r['stage']} | {int(r['text_bytes']) // 1024} KB | {r['on_us_per_kb']} | {r['off_us_per_kb']} |"  # type: ignore[operator]
        )
    print()
    print(
        "| time to first chunk (translator, in process) | guardrails off | output masking on | added |"
    )
    print("|---|---|---|---|")
    print(
        f"| first SSE event of a completion | {ttfc['off_us']} µs | {ttfc['on_us']} µs | {ttfc['added_us']} µs |"
    )
    report: dict[str, object] = {"cost_per_kb": costs, "first_chunk": ttfc}
    if args.e2e:
        e2e = end_to_end(args.e2e)
        report["first_chunk_e2e"] = e2e
        print(
            f"| first content chunk through the gateway (median of {args.e2e}) "
            f"| {e2e['off_us']} µs | {e2e['on_us']} µs | {e2e['added_us']} µs |"
        )
    if args.quality:
        rows = quality()
        report["quality"] = rows
        print()
        print(
            "| check | labelled values | true pos. | false pos. | false neg. | precision | recall |"
        )
        print("|---|---|---|---|---|---|---|")
        for q in rows:
            print(
                f"| `{q['check']}` | {q['positives']} | {q['tp']} | {q['fp']} | {q['fn']} "
                f"| {q['precision']} | {q['recall']} |"
            )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)


if __name__ == "__main__":
    main()
