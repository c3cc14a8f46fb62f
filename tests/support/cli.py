"""Run the real `sekisho` command line in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from sekisho.demo import DEMO_SECRETS, demo_document

SEKISHO = str(Path(sys.executable).with_name("sekisho"))


def write_config(directory: Path, database_url: str, sim_url: str = "http://127.0.0.1:9") -> Path:
    doc = demo_document(sim_url, directory, 0)
    doc["database_url"] = database_url
    path = directory / "sekisho.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def run(
    *args: str, config: Path | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **DEMO_SECRETS, **(env or {})}
    if config is not None:
        full_env["SEKISHO_CONFIG"] = str(config)
    return subprocess.run(
        [SEKISHO, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        stdin=subprocess.DEVNULL,
    )


def last_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]
