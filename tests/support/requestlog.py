"""Wait for a request's log row (it is written off the request path, in batches)."""

from __future__ import annotations

import time

from sqlalchemy import select

from sekisho.store.db import Database
from sekisho.store.models import RequestLog


def wait_for_row(db: Database, request_id: str, timeout_s: float = 5.0) -> RequestLog:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with db.read() as session:
            row = session.scalars(select(RequestLog).where(RequestLog.id == request_id)).first()
        if row is not None:
            return row
        time.sleep(0.05)
    raise AssertionError(f"request {request_id} was never logged")
