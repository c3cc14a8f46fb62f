"""The simulator's embeddings: deterministic unit vectors, both encodings, faults."""

from __future__ import annotations

import base64
import math
import struct

import httpx
import openai

from sekisho.simulator import SimulatorServer
from sekisho.simulator.embeddings import embed

from .sim_helpers import OPENAI_AUTH


def test_vectors_are_deterministic_unit_vectors() -> None:
    one, again, other = embed("hello", 32), embed("hello", 32), embed("hullo", 32)
    assert one == again and one != other
    assert math.isclose(math.sqrt(sum(v * v for v in one)), 1.0, rel_tol=1e-5)
    assert len(embed("x", 3000)) == 3000


def test_openai_sdk_against_the_simulator(sim: SimulatorServer) -> None:
    c = openai.OpenAI(base_url=sim.base_url("p1"), api_key="sk", max_retries=0)
    result = c.embeddings.create(model="e", input=["a b", "c"], dimensions=16)
    assert [len(d.embedding) for d in result.data] == [16, 16]
    assert result.data[1].embedding == embed("c", 16)
    assert result.usage.prompt_tokens == 3
    assert result.model.startswith("e-p1")  # the provider stamps itself, as real ones do


def test_base64_and_errors(client: httpx.Client, sim: SimulatorServer) -> None:
    url = "/p1/v1/embeddings"
    body = {"model": "e", "input": "x", "dimensions": 4, "encoding_format": "base64"}
    raw = base64.b64decode(
        client.post(url, json=body, headers=OPENAI_AUTH).json()["data"][0]["embedding"]
    )
    assert list(struct.unpack("<4f", raw)) == embed("x", 4)
    bad = client.post(url, json={"model": "e", "input": []}, headers=OPENAI_AUTH)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "input"
    assert client.post(url, json={"model": "e", "input": "x"}).status_code == 401
    sim.set_fault("p1", status=503, count=1)
    assert (
        client.post(url, json={"model": "e", "input": "x"}, headers=OPENAI_AUTH).status_code == 503
    )
    assert (
        client.post(url, json={"model": "e", "input": "x"}, headers=OPENAI_AUTH).status_code == 200
    )
