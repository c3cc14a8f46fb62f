"""Streaming through the BFF chat app vs `/v1` SSE, side by side: `python -m bench.chatapp_bench`.

One `sekisho serve` process (SQLite) in front of the benchmark's mock upstream
(64 content chunks 20 ms apart). The same answer is streamed, alternately,
through `POST /v1/chat/completions` (API key, SSE) and through the chat app's
`POST /chat/api/conversations/{id}/messages` (session cookie, NDJSON). Each
content chunk is stamped when its line arrives at the client.

Reported: time to first chunk for both (the BFF also reads the session and
stores the member's turn before it calls the chat core); the gaps between
chunks (a relay that buffers or falls behind shows longer or coalesced gaps);
the drift of chunk *i* since the first chunk, BFF minus /v1 in the same round
(what the BFF adds that grows along the stream); and the BFF's own work per
chunk measured in-process (decoding the chat core's SSE frame, re-encoding it
as an NDJSON line) over the frames of a real /v1 stream.

    python -m bench.chatapp_bench [--rounds 20]   # writes bench/results/chatapp-<time>.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.targets import BENCH_DIR, free_port, start_mock, start_process, wait_http
from sekisho.actor import Actor
from sekisho.settings import settings_from_document
from sekisho.store.db import Database
from sekisho.store.migrate import migrate
from sekisho.tenancy import service

PASSWORD = "bench-password-1"
MEMBER = "bench@member.test"
PROMPT = "Hello! Tell me about the old Tokaido road."


def _config(workdir: Path, mock_port: int, port: int) -> dict[str, Any]:
    return {
        "database_url": f"sqlite:///{workdir / 'bench.db'}",
        "listen": {"host": "127.0.0.1", "port": port},
        "state_dir": str(workdir),
        "ledger": {"signing_key_path": str(workdir / "ledger.key")},
        "observe": {"probes_enabled": False},
        "providers": [
            {
                "id": "mock",
                "kind": "openai",
                "base_url": f"http://127.0.0.1:{mock_port}/small/v1",
                "api_key_env": "BENCH_UPSTREAM_KEY",
                "region": "local",
            }
        ],
        "aliases": [{"name": "bench-small", "route": {"provider": "mock", "model": "m"}}],
    }


def _seed(doc: dict[str, Any]) -> str:
    settings = settings_from_document(doc, {"BENCH_UPSTREAM_KEY": "sk-mock-upstream"})
    db = Database(settings.database_url)
    migrate(db)
    actor = Actor.system("bench")
    with db.begin() as session:
        tenant = service.create_tenant(
            session, settings.matrix, service.TenantSpec("bench-tenant"), actor
        )
        _, key = service.create_key(session, settings.matrix, tenant.id, actor)
        service.create_user(session, MEMBER, "member", PASSWORD, actor, tenant_ref=tenant.id)
    db.dispose()
    return key


def _sign_in(client: httpx.Client, base: str) -> str:
    page = client.get(base + "/chat/sign-in")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert token
    resp = client.post(
        base + "/chat/sign-in",
        data={"email": MEMBER, "password": PASSWORD, "csrf_token": token.group(1)},
    )
    assert resp.status_code == 303, resp.text
    home = client.get(base + "/chat/")
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', home.text)
    assert found
    return found.group(1)


def _v1(
    client: httpx.Client, base: str, key: str, frames: list[bytes] | None = None
) -> tuple[float, list[float]]:
    body = {
        "model": "bench-small",
        "messages": [{"role": "user", "content": PROMPT}],
        "stream": True,
    }
    t0 = time.perf_counter()
    stamps: list[float] = []
    with client.stream(
        "POST",
        base + "/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {key}"},
    ) as resp:
        assert resp.status_code == 200
        for line in resp.iter_lines():
            if line.startswith("data: {") and '"content"' in line:
                stamps.append(time.perf_counter() - t0)
            if frames is not None and line:
                frames.append(line.encode() + b"\n\n")
    return t0, stamps


def relay_cost_us(frames: list[bytes], repeat: int = 200) -> float:
    """The BFF's own work per chunk: decode the core's SSE frame, encode the NDJSON line."""
    from sekisho.adapters.sse import SSEDecoder
    from sekisho.chatapp.answer import _deltas, _line

    t0 = time.perf_counter()
    for _ in range(repeat):
        decoder = SSEDecoder()
        for frame in frames:
            texts, _ = _deltas(decoder, frame)
            if texts:
                _line({"type": "delta", "text": "".join(texts)})
    return (time.perf_counter() - t0) / (repeat * len(frames)) * 1e6


def _bff(client: httpx.Client, base: str, csrf: str, cid: str) -> tuple[float, list[float]]:
    t0 = time.perf_counter()
    stamps: list[float] = []
    with client.stream(
        "POST",
        f"{base}/chat/api/conversations/{cid}/messages",
        json={"content": PROMPT},
        headers={"x-csrf-token": csrf, "sec-fetch-site": "same-origin"},
    ) as resp:
        assert resp.status_code == 200
        for line in resp.iter_lines():
            if line.startswith('{"type":"delta"'):
                stamps.append(time.perf_counter() - t0)
    return t0, stamps


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(rounds: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="sekisho-chatapp-bench-"))
    mock, mock_port = start_mock(workdir)
    port = free_port()
    doc = _config(workdir, mock_port, port)
    key = _seed(doc)
    config = workdir / "bench.yaml"
    config.write_text(yaml.safe_dump(doc))
    env = {**os.environ, "BENCH_UPSTREAM_KEY": "sk-mock-upstream"}
    sekisho = str(Path(sys.executable).with_name("sekisho"))
    server = start_process(
        "sekisho", [sekisho, "serve", "--config", str(config)], workdir / "serve.log", env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/healthz", 30, server.proc)
        v1_ttfc, bff_ttfc, drift, v1_gaps, bff_gaps = [], [], [], [], []
        frames: list[bytes] = []
        with httpx.Client(timeout=30) as api, httpx.Client(timeout=30) as browser:
            csrf = _sign_in(browser, base)
            made = browser.post(
                base + "/chat/api/conversations",
                json={"alias": "bench-small"},
                headers={"x-csrf-token": csrf, "sec-fetch-site": "same-origin"},
            )
            cid = made.json()["id"]
            for i in range(rounds + 2):
                # A fresh conversation every few rounds keeps the history (and the body) small.
                if i % 5 == 0:
                    cid = browser.post(
                        base + "/chat/api/conversations",
                        json={"alias": "bench-small"},
                        headers={"x-csrf-token": csrf, "sec-fetch-site": "same-origin"},
                    ).json()["id"]
                _, a = _v1(api, base, key, frames if i == 0 else None)
                _, b = _bff(browser, base, csrf, cid)
                if i < 2:
                    continue  # warm-up
                n = min(len(a), len(b))
                v1_ttfc.append(a[0] * 1000)
                bff_ttfc.append(b[0] * 1000)
                drift += [((b[j] - b[0]) - (a[j] - a[0])) * 1000 for j in range(1, n)]
                v1_gaps += [(a[j] - a[j - 1]) * 1000 for j in range(1, len(a))]
                bff_gaps += [(b[j] - b[j - 1]) * 1000 for j in range(1, len(b))]
                assert len(a) == len(b) == 64, (len(a), len(b))
    finally:
        server.stop()
        mock.stop()

    def summary(values: list[float]) -> dict[str, float]:
        return {
            "p50": round(statistics.median(values), 3),
            "p99": round(_pct(values, 0.99), 3),
            "max": round(max(values), 3),
        }

    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "rounds": rounds,
        "chunks_per_stream": 64,
        "ttfc_ms": {"v1": summary(v1_ttfc), "bff": summary(bff_ttfc)},
        "gap_ms": {"v1": summary(v1_gaps), "bff": summary(bff_gaps)},
        "bff_drift_since_first_chunk_ms": summary(drift),
        "bff_relay_work_per_chunk_us": round(relay_cost_us(frames), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    result = run(args.rounds)
    out = BENCH_DIR / "results"
    out.mkdir(exist_ok=True)
    path = out / f"chatapp-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
