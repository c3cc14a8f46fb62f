"""The processes a benchmark talks to: the mock upstream and the three kinds of target.

Every target is started the way its users start it, pinned with `taskset`:
the gateway under test on core 0, the mock upstream (and the load generator,
started elsewhere) on core 1.

- direct: the load generator calls the mock itself; the baseline.
- sekisho-sqlite / sekisho-pg: `sekisho migrate`, `tenant create`, `key create`,
  then `sekisho serve --config FILE`, with auth, planning and the request log on.
- litellm: `litellm --config FILE --num_workers 1` from its own virtualenv, master
  key set, no database, callbacks off, aiohttp transport on.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
GATEWAY_CORE = "0"
CLIENT_CORE = "1"
SCENARIOS = ("small", "large", "slow", "long")
UPSTREAM_KEY_ENV = "BENCH_UPSTREAM_KEY"
UPSTREAM_KEY = "sk-mock-upstream"
LITELLM_MASTER_KEY = "sk-bench-master-key"
PG_ADMIN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(core: str, argv: list[str]) -> list[str]:
    return ["taskset", "-c", core, *argv]


def wait_http(url: str, deadline_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {deadline_s:g}s")


def process_rss_kb(pid: int) -> int:
    """Resident set size of a process and its children, in KiB."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


@dataclass
class Server:
    """A started process, with where its output goes and how it was started."""

    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes]
    log_path: Path
    commands: list[str] = field(default_factory=list)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_process(
    name: str,
    argv: list[str],
    log_path: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Server:
    log = log_path.open("wb")
    proc = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
    )
    return Server(name, argv, proc, log_path, [" ".join(argv)])


def start_mock(workdir: Path) -> tuple[Server, int]:
    port = free_port()
    argv = pinned(CLIENT_CORE, [sys.executable, "-m", "bench.mock_upstream", "--port", str(port)])
    server = start_process("mock", argv, workdir / "mock.log", cwd=REPO)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server, port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("mock upstream did not start")


@dataclass
class Target:
    """Something the load generator sends chat requests to."""

    name: str
    port: int
    auth: str | None
    server: Server | None = None
    commands: list[str] = field(default_factory=list)
    cleanup: list[object] = field(default_factory=list)
    info: dict[str, object] = field(default_factory=dict)

    @property
    def gateway(self) -> bool:
        return self.server is not None

    def path(self, scenario: str) -> str:
        return "/v1/chat/completions" if self.gateway else f"/{scenario}/v1/chat/completions"

    def model(self, scenario: str) -> str:
        return f"bench-{scenario}" if self.gateway else "mock-model"

    def request(self, scenario: str, *, stream: bool = False) -> bytes:
        """The raw HTTP/1.1 request the load generator replays."""
        body: dict[str, object] = {
            "model": self.model(scenario),
            "messages": [
                {"role": "system", "content": "You are a concise assistant."},
                {"role": "user", "content": "Hello! Tell me about the old Tokaido road."},
            ],
            "max_tokens": 128,
            "temperature": 0.2,
        }
        if stream:
            body["stream"] = True
        raw = json.dumps(body, separators=(",", ":")).encode()
        head = [
            f"POST {self.path(scenario)} HTTP/1.1",
            f"Host: 127.0.0.1:{self.port}",
            "Content-Type: application/json",
            f"Content-Length: {len(raw)}",
        ]
        if self.auth:
            head.append(f"Authorization: Bearer {self.auth}")
        head += [f"{k}: {v}" for k, v in self.headers(scenario).items()]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + raw

    def headers(self, scenario: str) -> dict[str, str]:
        """Headers besides Authorization that this target needs (Portkey's routing)."""
        return {}

    def rss_kb(self) -> int | None:
        return process_rss_kb(self.server.proc.pid) if self.server else None

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        for fn in reversed(self.cleanup):
            fn()  # type: ignore[operator]


def direct_target(mock_port: int) -> Target:
    return Target("direct", mock_port, None)


# --- Sekisho ---------------------------------------------------------------


def sekisho_config(
    mock_port: int, database_url: str, state_dir: Path, port: int
) -> dict[str, object]:
    """A production-shaped config: a jp_sovereign alias per scenario, each with a fallback."""
    base = f"http://127.0.0.1:{mock_port}"
    providers: list[dict[str, object]] = []
    aliases: list[dict[str, object]] = []
    for scenario in SCENARIOS:
        for suffix, region in (("a", "local-1"), ("b", "local-2")):
            providers.append(
                {
                    "id": f"mock-{scenario}-{suffix}",
                    "name": f"Mock {scenario} {suffix}",
                    "kind": "openai",
                    "base_url": f"{base}/{scenario}/v1",
                    "api_key_env": UPSTREAM_KEY_ENV,
                    "region": region,
                    "sovereignty": ["jp_sovereign"],
                    "timeout_s": 30,
                }
            )
        aliases.append(
            {
                "name": f"bench-{scenario}",
                "sovereignty": "jp_sovereign",
                "route": {"provider": f"mock-{scenario}-a", "model": "mock-model"},
                "fallbacks": [{"provider": f"mock-{scenario}-b", "model": "mock-model"}],
            }
        )
    return {
        "database_url": database_url,
        "listen": {"host": "127.0.0.1", "port": port},
        "state_dir": str(state_dir),
        "ledger": {"signing_key_path": str(state_dir / "ledger-signing.key")},
        "providers": providers,
        "aliases": aliases,
    }


def _sekisho_bin() -> str:
    found = Path(sys.executable).parent / "sekisho"
    return str(found) if found.exists() else (shutil.which("sekisho") or "sekisho")


def _cli(argv: list[str], env: dict[str, str], commands: list[str]) -> str:
    commands.append(" ".join(argv))
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return done.stdout.strip().splitlines()[-1]


def create_pg_database() -> tuple[str, str]:
    """A fresh, uniquely named database on the local PostgreSQL: (name, SQLAlchemy URL)."""
    import psycopg

    name = f"sekisho_bench_{os.getpid()}_{secrets.token_hex(4)}"
    conninfo = " ".join(f"{k}={v}" for k, v in PG_ADMIN.items())
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://{PG_ADMIN['user']}@{PG_ADMIN['host']}:{PG_ADMIN['port']}/{name}"
    return name, url


def drop_pg_database(name: str) -> None:
    import psycopg

    conninfo = " ".join(f"{k}={v}" for k, v in PG_ADMIN.items())
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class SekishoSetup:
    """A migrated Sekisho database with a tenant and a key, and the config that serves it."""

    kind: str
    state: Path
    config: Path
    port: int
    key: str
    env: dict[str, str]
    commands: list[str]
    cleanup: list[object]


def prepare_sekisho(kind: str, mock_port: int, workdir: Path, *, suffix: str = "") -> SekishoSetup:
    """`migrate`, the first admin, `tenant create`, `key create`: everything but `serve`."""
    state = workdir / f"sekisho-{kind}{suffix}"
    state.mkdir(parents=True, exist_ok=True)
    cleanup: list[object] = []
    if kind == "pg":
        db_name, database_url = create_pg_database()
        cleanup.append(lambda: drop_pg_database(db_name))
    else:
        database_url = f"sqlite:///{state / 'sekisho.db'}"
    try:
        port = free_port()
        config = state / "sekisho.yaml"
        config.write_text(
            yaml.safe_dump(sekisho_config(mock_port, database_url, state, port), sort_keys=False)
        )
        env = {**os.environ, UPSTREAM_KEY_ENV: UPSTREAM_KEY}
        exe = _sekisho_bin()
        commands: list[str] = []
        cfg = ["--config", str(config)]
        _cli([exe, "migrate", *cfg], env, commands)
        # The first platform admin needs no operator identity; every later command acts as it.
        admin = "bench-admin@example.com"
        _cli(
            [exe, "user", "create", admin, "--role", "admin", *cfg],
            {**env, "SEKISHO_PASSWORD": secrets.token_urlsafe(16)},
            commands,
        )
        env["SEKISHO_OPERATOR"] = admin
        aliases = ",".join(f"bench-{s}" for s in SCENARIOS)
        _cli(
            [
                exe,
                "tenant",
                "create",
                "bench",
                "--sovereignty",
                "jp_sovereign",
                "--aliases",
                aliases,
                *cfg,
            ],
            env,
            commands,
        )
        key = _cli([exe, "key", "create", "bench", *cfg], env, commands)
    except Exception:
        for fn in reversed(cleanup):
            fn()  # type: ignore[operator]
        raise
    return SekishoSetup(kind, state, config, port, key, env, commands, cleanup)


def sekisho_target(
    kind: str, mock_port: int, workdir: Path, *, workers: int = 1, core: str | None = GATEWAY_CORE
) -> Target:
    """Start `sekisho serve` on a fresh SQLite file or a fresh PostgreSQL database.

    `workers` > 1 runs `serve --workers N`; `core` None leaves the processes unpinned.
    """
    suffix = "" if workers == 1 else f"-w{workers}"
    setup = prepare_sekisho(kind, mock_port, workdir, suffix=suffix)
    try:
        exe = _sekisho_bin()
        serve = [
            exe,
            "serve",
            "--config",
            str(setup.config),
            *(["--workers", str(workers)] if workers > 1 else []),
        ]
        argv = pinned(core, serve) if core is not None else serve
        server = start_process(f"sekisho-{kind}", argv, setup.state / "serve.log", env=setup.env)
        setup.commands.append(" ".join(argv))
        target = Target(
            f"sekisho-{kind}{suffix}",
            setup.port,
            setup.key,
            server,
            setup.commands,
            setup.cleanup,
            {"database": "postgresql" if kind == "pg" else "sqlite", "config": str(setup.config)},
        )
        try:
            wait_http(f"http://127.0.0.1:{setup.port}/healthz", 60, server.proc)
        except Exception:
            target.stop()
            raise
        return target
    except Exception:
        for fn in reversed(setup.cleanup):
            fn()  # type: ignore[operator]
        raise


# --- Portkey ---------------------------------------------------------------

PORTKEY_VERSION = "1.15.2"
PORTKEY_DIR = BENCH_DIR / ".portkey"


@dataclass
class PortkeyTarget(Target):
    """Portkey's open-source gateway, routed by headers to the mock (OpenAI wire format)."""

    mock_port: int = 0

    def model(self, scenario: str) -> str:
        return "mock-model"

    def headers(self, scenario: str) -> dict[str, str]:
        return {
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": f"http://127.0.0.1:{self.mock_port}/{scenario}/v1",
        }


def portkey_target(mock_port: int, workdir: Path) -> Target:
    """`node build/start-server.js --port=P --headless` of @portkey-ai/gateway (npm)."""
    state = workdir / "portkey"
    state.mkdir(parents=True, exist_ok=True)
    port = free_port()
    script = PORTKEY_DIR / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
    argv = pinned(GATEWAY_CORE, ["node", str(script), f"--port={port}", "--headless"])
    server = start_process("portkey", argv, state / "portkey.log", cwd=state)
    target = PortkeyTarget(
        "portkey",
        port,
        UPSTREAM_KEY,
        server,
        [" ".join(argv)],
        info={"version": PORTKEY_VERSION},
        mock_port=mock_port,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/", 60, server.proc)
    except Exception:
        target.stop()
        raise
    return target


# --- LiteLLM ---------------------------------------------------------------

LITELLM_VERSION = "1.108.7"
LITELLM_VENV = BENCH_DIR / ".venv-litellm"


def litellm_config(mock_port: int) -> dict[str, object]:
    base = f"http://127.0.0.1:{mock_port}"
    return {
        "model_list": [
            {
                "model_name": f"bench-{s}",
                "litellm_params": {
                    "model": "openai/mock-model",
                    "api_base": f"{base}/{s}/v1",
                    "api_key": UPSTREAM_KEY,
                },
            }
            for s in SCENARIOS
        ],
        "litellm_settings": {
            "callbacks": [],
            "success_callback": [],
            "failure_callback": [],
            "set_verbose": False,
            "json_logs": False,
        },
        "general_settings": {"master_key": LITELLM_MASTER_KEY},
    }


def litellm_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        {
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no network: use the packaged cost map
            "USE_AIOHTTP_TRANSPORT": "True",
            "LITELLM_LOG": "ERROR",
            "LITELLM_TELEMETRY": "False",
            "DISABLE_SCHEMA_UPDATE": "True",
        }
    )
    return env


def litellm_target(mock_port: int, workdir: Path) -> Target:
    state = workdir / "litellm"
    state.mkdir(parents=True, exist_ok=True)
    config = state / "litellm.yaml"
    config.write_text(yaml.safe_dump(litellm_config(mock_port), sort_keys=False))
    port = free_port()
    argv = pinned(
        GATEWAY_CORE,
        [
            str(LITELLM_VENV / "bin" / "litellm"),
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--num_workers",
            "1",
            "--telemetry",
            "False",
        ],
    )
    server = start_process("litellm", argv, state / "litellm.log", env=litellm_env(), cwd=state)
    target = Target(
        "litellm",
        port,
        LITELLM_MASTER_KEY,
        server,
        [" ".join(argv)],
        info={"version": LITELLM_VERSION, "config": str(config)},
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/health/liveliness", 180, server.proc)
    except Exception:
        target.stop()
        raise
    return target
