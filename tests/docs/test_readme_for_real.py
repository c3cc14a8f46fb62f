"""The README's "Running it for real" block, run as written on a fresh directory.

Only the two ports are swapped for free ones (so a parallel test run cannot collide); every
command, the sample config and the order are the README's own. The key the last command
prints must then answer a chat request through the server the block started.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("VIRTUAL_ENV") or ROOT / ".venv")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _block() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Running it for real") :]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


def test_running_it_for_real_works_command_by_command(tmp_path: Path) -> None:
    sim_port, port = _free_port(), _free_port()
    config = (ROOT / "sekisho.example.yaml").read_text()
    assert "127.0.0.1:9100" in config and "port: 8080" in config
    (tmp_path / "sekisho.example.yaml").write_text(
        config.replace("9100", str(sim_port)).replace("port: 8080", f"port: {port}")
    )
    (tmp_path / ".venv").symlink_to(VENV)
    script = _block().replace("--port 9100", f"--port {sim_port}")
    assert script.count("\n") >= 8, script
    (tmp_path / "readme.sh").write_text("set -e\n" + script)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEKISHO_")}
    # Files, not pipes: the block's background servers keep their output open.
    out_path, err_path = tmp_path / "out.txt", tmp_path / "err.txt"
    with out_path.open("w") as out_f, err_path.open("w") as err_f:
        proc = subprocess.Popen(
            ["bash", "readme.sh"],
            cwd=tmp_path,
            env=env,
            stdout=out_f,
            stderr=err_f,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        proc.wait(timeout=100)
        out, err = out_path.read_text(), err_path.read_text()
        assert proc.returncode == 0, err
        # The last line `key create` printed (the background server prints too, any time).
        key = [line for line in out.splitlines() if line.startswith("sks_")][-1]
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the README's server did not come up"
            time.sleep(0.1)
        answer = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            headers={"authorization": f"Bearer {key}"},
            json={"model": "chat-fast", "messages": [{"role": "user", "content": "hi"}]},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["model"] == "chat-fast"
    finally:
        # The block left the simulator and the server running in the background.
        os.killpg(proc.pid, signal.SIGTERM)
