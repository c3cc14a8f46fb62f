"""Shared pieces of the lifecycle tests: people in every role, real replicas, a TCP proxy."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import inspect, select, text

from sekisho.actor import Actor
from sekisho.demo import DEMO_SECRETS, demo_document
from sekisho.store.db import Database
from sekisho.store.models import PLATFORM_ROLES, User
from sekisho.tenancy import service
from tests.support.cli import SEKISHO

PASSWORD = "correct-horse-battery"
ROLE_EMAIL = {role: f"{role.replace('_', '-')}@sekisho.test" for role in PLATFORM_ROLES}
MEMBER_EMAIL = "member@tenant.test"


def make_people(db: Database, *, passwords: bool = True) -> dict[str, str]:
    """One enabled user per platform role; returns role -> e-mail."""
    with db.begin() as session:
        existing = set(session.scalars(select(User.email)))
        for role, email in ROLE_EMAIL.items():
            if email not in existing:
                service.create_user(
                    session, email, role, PASSWORD if passwords else None, Actor.system("tests")
                )
    return dict(ROLE_EMAIL)


def row_counts(db: Database) -> dict[str, int]:
    """Rows in every table of the database (whatever features created them)."""
    with db.read() as session:
        names = inspect(session.get_bind()).get_table_names()
        return {
            n: int(session.execute(text(f'SELECT count(*) FROM "{n}"')).scalar_one())
            for n in sorted(names)
        }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config_document(sim_url: str, state: Path, database_url: str, **extra: Any) -> dict[str, Any]:
    doc = demo_document(sim_url, state, 0)
    doc["database_url"] = database_url
    doc.update(extra)
    return doc


def write_config(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@dataclass
class Replica:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def start_replica(config: Path, state: Path, name: str) -> Replica:
    """A real `sekisho serve` process on a free port; waits until /healthz answers."""
    port = free_port()
    log = state / f"{name}.log"
    env = {**os.environ, **DEMO_SECRETS}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [SEKISHO, "serve", "--config", str(config), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"replica {name} exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return Replica(url, proc, log)
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"replica {name} did not start: {log.read_text()[-2000:]}")
        time.sleep(0.1)


class TcpProxy:
    """A TCP relay the test controls: `cut()` drops every connection and refuses new ones;
    `stall()` keeps connections open but forwards nothing; `heal()` relays again."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self.mode = "relay"
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            if self.mode == "cut":
                client.close()
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                while self.mode == "stall":
                    time.sleep(0.05)
                if self.mode == "cut":
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with suppress(OSError):
                    s.close()

    def cut(self) -> None:
        self.mode = "cut"
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            except OSError:
                pass

    def stall(self) -> None:
        self.mode = "stall"

    def heal(self) -> None:
        self.mode = "relay"

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()


@contextmanager
def proxied_url(database_url: str) -> Iterator[tuple[str, TcpProxy]]:
    """The same database reached through a TcpProxy."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    try:
        yield (
            url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
            proxy,
        )
    finally:
        proxy.close()


def unique_channel() -> str:
    return f"sekisho_t_{secrets.token_hex(4)}"
