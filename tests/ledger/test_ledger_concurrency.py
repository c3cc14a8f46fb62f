"""Several OS processes appending at once, and a process dying mid-append."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from sekisho.ledger.entry import LEDGER_OPEN, entry_from_body
from sekisho.ledger.queries import heads, snapshot, stored_entries
from sekisho.store.db import Database

from .helpers import SIGNER, fill, service

WORKER = """
import os, sys, time
from pathlib import Path
from sekisho.ledger.append import append
from sekisho.ledger.note import NoteSigner
from sekisho.ledger.signing import attach_entry_signer
from sekisho.store.db import Database

url, who, n, go, crash = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]), sys.argv[5]
db = Database(url)
attach_entry_signer(db, NoteSigner.parse(sys.argv[6]))
while not go.exists():
    time.sleep(0.005)
for i in range(n):
    with db.begin() as session:
        append(session, actor={"type": "system", "id": who}, action="test.append",
               target=("worker", who), tenant="ten_shared" if i % 2 else None, details={"i": i})
        if crash and i == n - 1:
            session.flush()
            os._exit(3)  # die holding an uncommitted entry
db.dispose()
"""

WORKERS, EACH = 4, 12


def _url(db: Database) -> str:
    return db.url.render_as_string(hide_password=False)


def _spawn(
    db: Database, who: str, n: int, go: Path, crash: bool = False
) -> subprocess.Popen[bytes]:
    args = [
        sys.executable,
        "-c",
        WORKER,
        _url(db),
        who,
        str(n),
        str(go),
        "1" if crash else "",
        SIGNER.encode(),
    ]
    return subprocess.Popen(args, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_processes_appending_at_once_make_one_chain(pg_db: Database, tmp_path: Path) -> None:
    any_db = pg_db
    go = tmp_path / "go"
    procs = [_spawn(any_db, f"w{i}", EACH, go) for i in range(WORKERS)]
    time.sleep(0.8)  # let every worker import and connect first
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    report = service(any_db, tmp_path).verify()
    assert report.ok, report.problems
    with snapshot(any_db) as session:
        platform = [entry_from_body(s.body) for s in stored_entries(session, "platform")]
        shared = [entry_from_body(s.body) for s in stored_entries(session, "tenant:ten_shared")]
        sizes = {name: head.size for name, head in heads(session).items()}
    half = WORKERS * EACH // 2
    assert sizes == {"platform": half + 1, "tenant:ten_shared": half}
    assert [e.seq for e in platform] == list(range(half + 1))
    assert [e.action for e in platform].count(LEDGER_OPEN) == 1  # opened exactly once
    per_worker = sorted(
        (e.actor["id"], e.details["i"]) for e in platform + shared if e.action == "test.append"
    )
    assert per_worker == sorted((f"w{w}", i) for w in range(WORKERS) for i in range(EACH))


def test_crash_mid_append_leaves_no_partial_entry(any_db: Database, tmp_path: Path) -> None:
    fill(any_db, 2)
    go = tmp_path / "go"
    go.touch()
    proc = _spawn(any_db, "doomed", 3, go, crash=True)
    proc.communicate(timeout=60)
    assert proc.returncode == 3
    with snapshot(any_db) as session:
        platform = stored_entries(session, "platform")
        shared = stored_entries(session, "tenant:ten_shared")
    # Appends 0 (platform) and 1 (tenant, opening it) committed; append 2 died.
    assert len(platform) == 2 + 1 + 1 and len(shared) == 1
    after = fill(any_db, 1)
    assert after[0].seq == 4
    assert service(any_db, tmp_path).verify().ok
