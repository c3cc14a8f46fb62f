"""One real simulator on a socket for the whole session; each test gets it reset."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sekisho.simulator import SimulatorServer


@pytest.fixture(scope="session")
def _server() -> Iterator[SimulatorServer]:
    with SimulatorServer() as server:
        yield server


@pytest.fixture
def sim(_server: SimulatorServer) -> SimulatorServer:
    _server.reset()
    return _server


@pytest.fixture
def client(sim: SimulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, timeout=5.0) as http:
        yield http
