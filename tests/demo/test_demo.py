"""`sekisho demo` starts with one command and answers a chat request (OpenAI SDK)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from pathlib import Path

import httpx
import openai

from tests.support.cli import SEKISHO


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_serves_a_chat_request(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEKISHO_")}
    proc = subprocess.Popen(
        [SEKISHO, "demo", "--port", str(port), "--state-dir", str(tmp_path / "state")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        key = None
        deadline = time.monotonic() + 60
        while key is None:
            assert time.monotonic() < deadline, "".join(lines)
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "".join(lines)
            lines.append(line)
            if re.fullmatch(r"sks_[0-9a-f]{12}_[A-Za-z0-9_-]{43}\n", line):
                key = line.strip()
        banner = "".join(lines)
        assert f"http://127.0.0.1:{port}/v1" in banner and "admin@sekisho.example" in banner
        base = f"http://127.0.0.1:{port}"
        while True:
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.1)
        client = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)
        for alias in ("chat-large", "chat-jp", "chat-fast"):
            reply = client.chat.completions.create(
                model=alias, messages=[{"role": "user", "content": "Hello demo"}]
            )
            assert reply.model == alias
            assert reply.choices[0].message.content.startswith("Simulated answer")
        assert sorted(m.id for m in client.models.list()) == ["chat-fast", "chat-jp", "chat-large"]
        assert (tmp_path / "state" / "sekisho.db").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
