"""A small Sekisho deployment on 127.0.0.1 for drills: nginx in front of N `sekisho serve`
replicas on one PostgreSQL (reached through a TCP proxy the drill can cut) and a private
Redis (a `redis-server` process the drill can kill and restart), over the provider simulator.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis

from sekisho.simulator import SimulatorServer
from sekisho.store.db import Database
from tests.lifecycle.support import (
    Replica,
    TcpProxy,
    config_document,
    free_port,
    proxied_url,
    start_replica,
    unique_channel,
    write_config,
)
from tests.support.databases import fresh_postgres_database
from tests.support.gateway import migrated

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def wait_until(predicate: Any, timeout: float, what: str, interval: float = 0.05) -> float:
    """Poll `predicate` until true; returns the seconds it took; fails after `timeout`."""
    start = time.monotonic()
    while True:
        try:
            if predicate():
                return time.monotonic() - start
        except Exception:
            pass
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class PrivateRedis:
    """A redis-server of the drill's own, so killing it hurts no other test."""

    def __init__(self, state: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._state = state
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self._state),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        wait_until(client.ping, 10, "the private Redis")
        client.close()

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


class Nginx:
    def __init__(self, state: Path, upstreams: list[str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        servers = "\n".join(
            f"        server {u.removeprefix('http://')} max_fails=1 fail_timeout=10s;"
            for u in upstreams
        )
        template = (ROOT / "deploy" / "nginx.conf.template").read_text()
        conf = template.replace("{state}", str(state)).replace("{port}", str(self.port))
        conf = conf.replace("{servers}", servers)
        self.conf = state / "nginx.conf"
        self.conf.write_text(conf)
        self.process = subprocess.Popen(
            [NGINX, "-c", str(self.conf), "-p", str(state), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        wait_until(
            lambda: httpx.get(self.url + "/healthz", timeout=1).status_code == 200,
            15,
            "nginx in front of the replicas",
        )

    def stop(self) -> None:
        self.process.send_signal(signal.SIGQUIT)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@dataclass
class Cluster:
    state: Path
    sim: SimulatorServer
    db: Database
    database_url: str  # direct (tests read through it)
    pg_proxy: TcpProxy
    redis: PrivateRedis
    config: Path
    replicas: list[Replica]
    nginx: Nginx
    notes: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        """What a drill injected and what it counted, printed with the test's output."""
        self.notes.append(text)
        print(f"drill: {text}")


@contextmanager
def cluster(state: Path, *, replicas: int = 3, **config: Any) -> Iterator[Cluster]:
    if not os.path.exists(NGINX):
        raise RuntimeError("nginx is required for the drills (apt-get install nginx)")
    with SimulatorServer() as sim, fresh_postgres_database() as url:
        db = migrated(url)
        private = PrivateRedis(state)
        private.start()
        with proxied_url(url) as (via_proxy, proxy):
            doc = config_document(
                sim.url,
                state,
                via_proxy,
                redis_url=private.url,
                bus={"channel": unique_channel()},
                **config,
            )
            path = write_config(state / "cluster.yaml", doc)
            started: list[Replica] = []
            nginx: Nginx | None = None
            try:
                for i in range(replicas):
                    started.append(start_replica(path, state, f"replica-{i}"))
                nginx = Nginx(state, [r.url for r in started])
                yield Cluster(state, sim, db, url, proxy, private, path, started, nginx)
            finally:
                if nginx is not None:
                    nginx.stop()
                for replica in started:
                    if replica.process.poll() is None:
                        replica.stop()
                private.kill()
                db.dispose()
