"""`sekisho serve` as a real process: fails loudly, stops on SIGTERM, stays flat under a 40 MB body.

The body-limit measurement throws a 40 MB anonymous body at /admin/v1 (once
with Content-Length, once chunked, twice each) while another tenant keeps
making chat requests; the server's RSS (from /proc) and the other tenant's
latencies are printed (`-s`) and bounded.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from sekisho.settings import load_settings
from sekisho.simulator import SimulatorServer
from sekisho.store.models import ReplicaStatus
from tests.security.conftest import rss_bytes
from tests.security.envelope import assert_clean_error
from tests.security.rawhttp import RawResponse, chunk, exchange, request_head
from tests.support.cli import SEKISHO, write_config
from tests.support.databases import sqlite_url
from tests.support.gateway import make_tenant, migrated

MB = 1024 * 1024


@dataclass
class Served:
    proc: subprocess.Popen[str]
    port: int
    key: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _env() -> dict[str, str]:
    from sekisho.demo import DEMO_SECRETS

    return {**os.environ, **DEMO_SECRETS}


@pytest.fixture(scope="module")
def config(simulator: SimulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    state = tmp_path_factory.mktemp("serve")
    path = write_config(state, sqlite_url(state), simulator.url)
    migrated(load_settings(path, environ=_env()).database_url).dispose()
    return path


def _start(config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [SEKISHO, "serve", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=_env(),
    )


@pytest.fixture(scope="module")
def served(config: Path) -> Iterator[Served]:
    settings = load_settings(config, environ=_env())
    db = migrated(settings.database_url)
    _, key = make_tenant(db, settings, "bystander")
    db.dispose()
    proc = _start(config, "--port", "0")
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    assert match, (line, proc.stderr.read() if proc.poll() is not None else "")
    port = int(match.group(1))
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline and proc.poll() is None, "server did not come up"
        time.sleep(0.05)
    yield Served(proc, port, key)
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=20)


def test_taken_port_fails_at_once_with_one_line_and_no_replica(config: Path) -> None:
    settings = load_settings(config, environ=_env())
    engine = sa.create_engine(settings.database_url)
    with engine.connect() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(ReplicaStatus)).scalar_one()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _start(config, "--port", str(port))
        out, err = proc.communicate(timeout=30)
    assert proc.returncode not in (0, None)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("sekisho: cannot listen on 127.0.0.1:") and str(port) in lines[0]
    assert "in use" in lines[0].lower()
    assert "listening" not in out
    with engine.connect() as conn:  # no background job ran: no phantom replica's heartbeat
        after = conn.execute(sa.select(sa.func.count()).select_from(ReplicaStatus)).scalar_one()
    engine.dispose()
    assert after == before


async def _body(head: bytes, total: int, chunked: bool) -> object:
    yield head
    block = b"x" * (256 * 1024)
    for _ in range(total // len(block)):
        yield chunk(block) if chunked else block
    if chunked:
        yield b"0\r\n\r\n"


async def _throw_and_watch(served: Served) -> tuple[list[RawResponse], list[int], list[float]]:
    samples: list[int] = []
    latencies: list[float] = []
    done = asyncio.Event()

    async def sample() -> None:
        while not done.is_set():
            samples.append(rss_bytes(served.proc.pid))
            await asyncio.sleep(0.02)

    async def bystander() -> None:
        body = {"model": "chat-large", "messages": [{"role": "user", "content": "hi"}]}
        async with httpx.AsyncClient(timeout=10) as http:
            while not done.is_set():
                t0 = time.monotonic()
                resp = await http.post(
                    served.url + "/v1/chat/completions",
                    json=body,
                    headers={"authorization": f"Bearer {served.key}"},
                )
                latencies.append(time.monotonic() - t0)
                assert resp.status_code == 200, resp.text

    async def throw() -> list[RawResponse]:
        answers = []
        for chunked in (False, True, False, True):
            head = request_head(
                "POST",
                "/admin/v1/incidents",
                [("content-type", "application/json")],
                body_length=None if chunked else 40 * MB,
            )
            answers.append(
                await exchange(
                    served.port, _body(head, 40 * MB, chunked), timeout_s=20, keep_sending=True
                )
            )
        return answers

    watchers = [asyncio.create_task(sample()), asyncio.create_task(bystander())]
    await asyncio.sleep(0.3)  # a baseline of samples and requests first
    try:
        answers = await throw()
    finally:
        done.set()
        await asyncio.gather(*watchers)
    return answers, samples, latencies


def test_40mb_anonymous_admin_body_keeps_rss_flat_and_others_unstalled(served: Served) -> None:
    baseline = rss_bytes(served.proc.pid)
    t0 = time.monotonic()
    answers, samples, latencies = asyncio.run(_throw_and_watch(served))
    elapsed = time.monotonic() - t0
    for resp in answers:
        assert_clean_error(resp, "ours", 413)
    peak = max(samples)
    growth = peak - baseline
    worst = max(latencies)
    print(
        f"\nRSS baseline {baseline / MB:.1f} MB, peak {peak / MB:.1f} MB (+{growth / MB:.1f} MB) over "
        f"{len(samples)} samples ({len(answers)} x 40 MB sent in {elapsed:.1f} s); bystander {len(latencies)} requests, "
        f"p50 {sorted(latencies)[len(latencies) // 2] * 1000:.1f} ms, max {worst * 1000:.1f} ms"
    )
    assert growth < 32 * MB
    assert worst < 2.0
    assert httpx.get(served.url + "/healthz", timeout=5).status_code == 200


def test_sigterm_stops_the_server(served: Served) -> None:
    """Last in this module: it ends the shared server."""
    started = time.monotonic()
    served.proc.send_signal(signal.SIGTERM)
    served.proc.wait(timeout=20)
    assert time.monotonic() - started < 15
    assert served.proc.returncode in (0, -signal.SIGTERM)
