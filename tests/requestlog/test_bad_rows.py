"""Rule 13 in the request log: one bad row never costs other rows (SQLite and PostgreSQL).

Values from the caller are cleaned at the edge (no U+0000, bounded to their
columns), so they cannot poison a batch. A row the store still refuses is
retried alone and set aside in `request_log_dead_letter` (counted, on
/metrics) while the rest of its batch lands.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from sekisho.requestlog.dead_letter import RequestLogDeadLetter
from sekisho.requestlog.record import Attempt, RequestRecord
from sekisho.requestlog.sink import StoreSink
from sekisho.requestlog.writer import RequestLogWriter
from sekisho.simulator import SimulatorServer
from sekisho.store.db import Database
from sekisho.store.models import RequestLog
from tests.support.gateway import gateway_settings, make_tenant, start_gateway
from tests.support.requestlog import wait_for_row


def _record(rid: str, tenant: str = "ten_a", **fields: object) -> RequestRecord:
    record = RequestRecord(
        id=rid,
        ts=datetime.now(UTC),
        tenant_id=tenant,
        alias="chat-large",
        status=200,
        attempts=[Attempt("p", "m", "ok", 200, 1.0, "primary")],
        latency_ms=1.0,
    )
    for name, value in fields.items():
        setattr(record, name, value)
    return record


def _write(db: Database, records: list[RequestRecord], **options: float) -> RequestLogWriter:
    async def run() -> RequestLogWriter:
        writer = RequestLogWriter(
            StoreSink(db), batch_size=100, flush_interval_s=10, retry_delay_s=0.01, **options
        )
        writer.start()
        for record in records:
            writer.submit(record)
        await writer.stop()
        return writer

    return asyncio.run(run())


def _ids(db: Database) -> set[str]:
    with db.read() as session:
        return set(session.scalars(select(RequestLog.id)))


def _dead(db: Database) -> list[RequestLogDeadLetter]:
    with db.read() as session:
        return list(session.scalars(select(RequestLogDeadLetter)))


def test_values_that_would_poison_a_batch_are_cleaned(any_db: Database) -> None:
    nasty = "m\x00" + "x" * 5000
    records = [
        _record("req_clean_0"),
        _record(
            "req_clean_1",
            tenant="ten_b",
            alias=nasty,
            upstream_model=nasty,
            error_code="code\x00" * 40,
            prompt_tokens=2**70,  # an upstream's nonsense usage: too big for the column
            attempts=[Attempt("p\x00", "m", "ok", 200, 1.0, "primary", "said \x00 this")],
            plan={"alias\x00": ["a\x00b"]},
        ),
        _record("req_clean_2"),
    ]
    writer = _write(any_db, records)
    assert (writer.stats.written, writer.stats.dead_lettered, writer.stats.failed) == (3, 0, 0)
    assert writer.stats.write_errors == 0  # the batch went in at the first try
    assert _ids(any_db) == {"req_clean_0", "req_clean_1", "req_clean_2"}
    with any_db.read() as session:
        row = session.get(RequestLog, "req_clean_1")
        assert row is not None
        assert row.alias == ("m" + "x" * 5000)[:200]
        assert row.upstream_model is not None and len(row.upstream_model) == 200
        assert row.error_code is not None and "\x00" not in row.error_code
        assert len(row.error_code) <= 64
        assert row.prompt_tokens == 2**31 - 1
        assert row.attempts[0]["provider"] == "p" and row.attempts[0]["detail"] == "said  this"
        assert row.plan == {"alias": ["ab"]}


def test_a_row_the_store_refuses_is_set_aside_alone(any_db: Database) -> None:
    taken = _record("req_taken")
    _write(any_db, [taken])  # the store refuses a second row with this key (id, and ts on PG)
    batch = [_record(f"req_ok_{i}", tenant=f"ten_{i % 3}") for i in range(10)]
    batch.insert(4, _record("req_taken", tenant="ten_poison", alias="poisoned", ts=taken.ts))
    writer = _write(any_db, batch)
    stats = writer.stats
    assert (stats.written, stats.dead_lettered, stats.failed) == (10, 1, 0)
    assert _ids(any_db) == {"req_taken"} | {f"req_ok_{i}" for i in range(10)}
    dead = _dead(any_db)
    assert len(dead) == 1
    assert (dead[0].request_id, dead[0].tenant_id) == ("req_taken", "ten_poison")
    kept = orjson.loads(dead[0].row)
    assert kept["alias"] == "poisoned" and kept["id"] == "req_taken"
    assert "Integrity" in dead[0].error or "UNIQUE" in dead[0].error.upper()
    with any_db.read() as session:  # the row already there was not touched
        first = session.get(RequestLog, "req_taken")
        assert first is not None and first.alias == "chat-large"


def test_a_store_that_is_down_is_retried_then_set_aside(any_db: Database) -> None:
    broken = StoreSink(any_db)
    calls: list[int] = []

    class DownSink:
        """The store refuses every request-log insert, but the dead-letter table works."""

        def __call__(self, batch: list[RequestRecord]) -> None:
            calls.append(len(batch))
            raise OSError("store down")

        dead_letter = broken.dead_letter

    async def run() -> RequestLogWriter:
        writer = RequestLogWriter(DownSink(), retries=2, retry_delay_s=0.01, flush_interval_s=10)
        writer.start()
        for i in range(3):
            writer.submit(_record(f"req_down_{i}"))
        await writer.stop()
        return writer

    writer = asyncio.run(run())
    assert (writer.stats.written, writer.stats.dead_lettered, writer.stats.failed) == (0, 3, 0)
    assert calls.count(3) == 3  # the batch, retried twice; each followed by row-by-row tries
    assert sorted(d.request_id or "" for d in _dead(any_db)) == [f"req_down_{i}" for i in range(3)]


@pytest.fixture
def running(any_db: Database, simulator: SimulatorServer, tmp_path: Path):  # type: ignore[no-untyped-def]
    url = any_db.url.render_as_string(hide_password=False)
    settings = gateway_settings(simulator.url, tmp_path, url)
    simulator.reset()
    gw = start_gateway(settings, any_db)
    yield gw, settings
    gw.stop()


def test_a_callers_poisonous_model_name_costs_nobody_a_row(running, any_db: Database) -> None:  # type: ignore[no-untyped-def]
    gw, settings = running
    _, hostile = make_tenant(any_db, settings, "hostile")
    _, innocent = make_tenant(any_db, settings, "innocent")
    with httpx.Client(timeout=10) as http:
        bad = http.post(
            gw.url + "/v1/chat/completions",
            json={
                "model": "chat-large" + "\x00" + "z" * 300,
                "messages": [{"role": "user", "content": "x"}],
            },
            headers={"authorization": f"Bearer {hostile}"},
        )
        good = http.post(
            gw.url + "/v1/chat/completions",
            json={"model": "chat-large", "messages": [{"role": "user", "content": "x"}]},
            headers={"authorization": f"Bearer {innocent}"},
        )
    assert bad.status_code == 404 and bad.json()["error"]["code"] == "model_not_found"
    assert good.status_code == 200
    bad_row = wait_for_row(any_db, bad.headers["x-request-id"])
    assert bad_row.alias is not None and "\x00" not in bad_row.alias and len(bad_row.alias) == 200
    assert wait_for_row(any_db, good.headers["x-request-id"]).status == 200

    # A row the store refuses even alone: on /metrics, in the dead-letter table.
    gateway = gw.gateway
    loop = gateway._tasks[0].get_loop()
    good_row = wait_for_row(any_db, good.headers["x-request-id"])
    # The same key (id, and ts: PostgreSQL's request log is partitioned by time) is refused.
    duplicate = _record(good.headers["x-request-id"], tenant="ten_dup", ts=good_row.ts)
    loop.call_soon_threadsafe(gateway.writer.submit, duplicate)
    loop.call_soon_threadsafe(gateway.writer.submit, _record("req_after_dup"))
    deadline = time.monotonic() + 10
    with httpx.Client(timeout=10) as http:
        while "sekisho_request_log_dead_lettered_total 1" not in (
            text := http.get(gw.url + "/metrics").text
        ):
            assert time.monotonic() < deadline, text
            time.sleep(0.05)
    assert "sekisho_request_log_failed_total 0" in text
    wait_for_row(any_db, "req_after_dup")
    assert [d.tenant_id for d in _dead(any_db)] == ["ten_dup"]
    with any_db.read() as session:
        assert session.scalar(select(func.count()).select_from(RequestLogDeadLetter)) == 1
