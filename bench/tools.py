"""What the harness installs for itself: wrk (Debian), the load generator (cc), LiteLLM (PyPI)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from bench.targets import BENCH_DIR, LITELLM_VENV, LITELLM_VERSION

BUILD_DIR = BENCH_DIR / "results" / "bin"


class ToolMissing(Exception):
    """A tool the benchmark needs is missing and could not be installed; the message says how."""


def _run(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def ensure_wrk() -> str:
    """The path of wrk, installing Debian's package if it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk not found: installing Debian's wrk package (apt-get) ...", flush=True)
    apt = shutil.which("apt-get")
    if apt is None:
        raise ToolMissing(
            "wrk is not installed and apt-get is not available; install wrk "
            "(https://github.com/wg/wrk) and re-run."
        )
    update = _run([apt, "update", "-qq"], 300)
    install = _run([apt, "install", "-y", "-qq", "wrk"], 300)
    found = shutil.which("wrk")
    if found is None:
        raise ToolMissing(
            "could not install wrk with apt-get (are you root?): "
            f"{(update.stderr + install.stderr).strip()[-500:]}\n"
            "Run 'apt-get update && apt-get install -y wrk' and re-run."
        )
    return found


def ensure_loadgen() -> Path:
    """Compile bench/loadgen.c (once per source change) with the system C compiler."""
    source = BENCH_DIR / "loadgen.c"
    binary = BUILD_DIR / "loadgen"
    if binary.exists() and binary.stat().st_mtime >= source.stat().st_mtime:
        return binary
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise ToolMissing("no C compiler: run 'apt-get install -y gcc' and re-run.")
    done = _run([cc, "-O2", "-Wall", "-o", str(binary), str(source)], 120)
    if done.returncode != 0:
        raise ToolMissing(f"compiling {source} failed:\n{done.stderr}")
    return binary


def ensure_litellm() -> str:
    """LiteLLM proxy in its own virtualenv (bench/.venv-litellm); returns its version."""
    python = LITELLM_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {LITELLM_VENV} ...", flush=True)
        done = _run([sys.executable, "-m", "venv", str(LITELLM_VENV)], 300)
        if done.returncode != 0:
            raise ToolMissing(f"cannot create {LITELLM_VENV}: {done.stderr.strip()}")
    version = _run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"], 60
    ).stdout.strip()
    if version != LITELLM_VERSION or not (LITELLM_VENV / "bin" / "litellm").exists():
        print(
            f"installing litellm[proxy]=={LITELLM_VERSION} into {LITELLM_VENV} (a few minutes) ...",
            flush=True,
        )
        done = _run(
            [str(python), "-m", "pip", "install", "-q", f"litellm[proxy]=={LITELLM_VERSION}"], 1200
        )
        if done.returncode != 0:
            raise ToolMissing(
                f"pip install litellm[proxy]=={LITELLM_VERSION} failed:\n"
                f"{done.stderr.strip()[-1500:]}"
            )
        version = LITELLM_VERSION
    return version


def ensure_portkey() -> str:
    """Portkey's gateway from npm into bench/.portkey; returns its version."""
    from bench.targets import PORTKEY_DIR, PORTKEY_VERSION

    script = PORTKEY_DIR / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
    if not script.exists():
        if shutil.which("npm") is None:
            raise ToolMissing("npm is not installed: apt-get install npm, then re-run")
        PORTKEY_DIR.mkdir(parents=True, exist_ok=True)
        print(
            f"installing @portkey-ai/gateway@{PORTKEY_VERSION} into {PORTKEY_DIR} ...", flush=True
        )
        done = _run(
            [
                "npm",
                "install",
                "--prefix",
                str(PORTKEY_DIR),
                "--no-audit",
                "--no-fund",
                f"@portkey-ai/gateway@{PORTKEY_VERSION}",
            ],
            900,
        )
        if done.returncode != 0 or not script.exists():
            raise ToolMissing(f"npm install @portkey-ai/gateway failed: {done.stderr[-1500:]}")
    return PORTKEY_VERSION


def wrk_version(wrk: str) -> str:
    done = _run([wrk, "--version"], 10)
    return (
        (done.stdout or done.stderr).strip().splitlines()[0]
        if (done.stdout or done.stderr)
        else "?"
    )
