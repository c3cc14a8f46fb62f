"""/healthz answers while the process lives; /readyz only when the store answers."""

from __future__ import annotations

import httpx

from sekisho.store.db import Database
from tests.gateway.conftest import Env


def test_healthz_and_readyz(env: Env) -> None:
    with httpx.Client(timeout=5) as http:
        assert http.get(env.url + "/healthz").json() == {"status": "ok"}
        ready = http.get(env.url + "/readyz")
        assert ready.status_code == 200 and ready.json()["store"] is True


def test_readyz_fails_when_the_store_does_not_answer(env: Env) -> None:
    gateway = env.gw.gateway
    real = gateway.db
    gateway.db = Database("postgresql://nobody@127.0.0.1:1/nothing")
    try:
        with httpx.Client(timeout=10) as http:
            ready = http.get(env.url + "/readyz")
        assert ready.status_code == 503 and ready.json()["store"] is False
    finally:
        gateway.db.dispose()
        gateway.db = real
