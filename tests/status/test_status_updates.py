"""What /status shows of incidents: corrected and withdrawn updates, a resolved incident's
final update for a while, times a person reads, and never a provider (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sekisho.actor import Actor
from sekisho.control.errors import ControlPlaneError
from sekisho.incidents import service
from sekisho.settings import Settings
from sekisho.status.page import WITHHELD, compute_status, render_html
from sekisho.store.db import Database
from tests.support.gateway import gateway_settings, signed_by_gateway_key
from tests.support.ledger import ledger_entries

OPS = Actor("user", "usr_ops", "ops@example.test", "operator")


@pytest.fixture
def setup(any_db: Database, tmp_path: Path) -> tuple[Database, Settings]:
    url = any_db.url.render_as_string(hide_password=False)
    settings = gateway_settings("http://127.0.0.1:9", tmp_path, url)
    return signed_by_gateway_key(any_db, settings), settings


def _open(db: Database, settings: Settings, *updates: str) -> tuple[str, list[int]]:
    with db.begin() as s:
        inc = service.open_incident(
            s,
            settings.matrix,
            title="chat-large errors",
            severity="SEV2",
            aliases=["chat-large"],
            actor=OPS,
        )
        ids = [service.post_update(s, settings.matrix, inc.id, u, OPS).id for u in updates]
    return inc.id, ids


def _status(db: Database, settings: Settings, now: datetime) -> dict:  # type: ignore[type-arg]
    return compute_status(db, settings.matrix, settings.observe, now)


def test_a_published_update_can_be_corrected_or_withdrawn(
    setup: tuple[Database, Settings],
) -> None:
    db, settings = setup
    inc, (first, second) = _open(
        db, settings, "chat-large fails for 10% of requests.", "A fix is rolling out."
    )
    with db.begin() as s:
        service.correct_update(
            s, settings.matrix, inc, first, "chat-large fails for 30% of requests.", OPS
        )
        service.withdraw_update(s, inc, second, OPS, "premature: the fix is not out yet")
    now = datetime.now(UTC) + timedelta(minutes=12)
    [doc] = _status(db, settings, now)["incidents"]
    assert [u["text"] for u in doc["updates"]] == ["chat-large fails for 30% of requests."]
    assert doc["updates"][0]["corrected"].startswith("12 min ago")
    page = render_html(_status(db, settings, now))
    assert "30% of requests" in page and "(corrected 12 min ago" in page
    assert "10% of requests" not in page and "A fix is rolling out" not in page
    corrected = ledger_entries(db, "incident.update.correct")
    assert corrected[-1]["note"] == "chat-large fails for 30% of requests."
    assert corrected[-1]["details"]["original"] == "chat-large fails for 10% of requests."
    withdrawn = ledger_entries(db, "incident.update.withdraw")
    assert withdrawn[-1]["details"]["update_id"] == second

    with pytest.raises(ControlPlaneError, match="reveals provider identity"), db.begin() as s:
        service.correct_update(s, settings.matrix, inc, first, "Atlas in US East is down", OPS)
    with pytest.raises(ControlPlaneError, match="already withdrawn"), db.begin() as s:
        service.withdraw_update(s, inc, second, OPS, "again")
    with pytest.raises(ControlPlaneError, match="no customer update #999"), db.begin() as s:
        service.correct_update(s, settings.matrix, inc, 999, "x", OPS)
    [doc] = _status(db, settings, now)["incidents"]
    assert [u["text"] for u in doc["updates"]] == ["chat-large fails for 30% of requests."]


def test_a_resolved_incidents_final_update_stays_for_a_while(
    setup: tuple[Database, Settings],
) -> None:
    db, settings = setup
    settings.observe.status_resolved_visible_s = 3600
    inc, _ = _open(db, settings, "chat-large fails for some requests.")
    with db.begin() as s:
        service.resolve(
            s, settings.matrix, inc, OPS, impact={}, update="chat-large is fully served again."
        )
    soon = datetime.now(UTC) + timedelta(minutes=20)
    doc = _status(db, settings, soon)
    assert doc["incidents"] == [] and doc["state"] == "operational"
    [resolved] = doc["recently_resolved"]
    assert resolved["status"] == "resolved" and resolved["resolved"].startswith("20 min ago")
    assert [u["text"] for u in resolved["updates"]] == ["chat-large is fully served again."]
    assert "Recently resolved" in render_html(doc)
    later = datetime.now(UTC) + timedelta(hours=2)
    assert _status(db, settings, later)["recently_resolved"] == []


def test_status_times_are_human_readable(setup: tuple[Database, Settings]) -> None:
    db, settings = setup
    _open(db, settings, "chat-large is slow.")
    now = datetime.now(UTC) + timedelta(hours=1, minutes=5)
    doc = _status(db, settings, now)
    [update] = doc["incidents"][0]["updates"]
    assert re.fullmatch(r"1 h 5 min ago \((\d+ \w+ )?\d\d:\d\d UTC\)", update["when"]), update[
        "when"
    ]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", update["ts"])  # no microseconds
    page = render_html(doc)
    assert "1 h 5 min ago (" in page and ">just now (" in page
    assert not re.search(r">\d{4}-\d\d-\d\dT", page)  # no raw ISO shown to a reader
    assert not re.search(r"\.\d{6}", page)


def test_text_that_names_a_provider_is_withheld_on_the_way_out(
    setup: tuple[Database, Settings],
) -> None:
    db, settings = setup
    inc, (update,) = _open(db, settings, "chat-large is slow.")
    from sekisho.incidents.tables import Incident, IncidentEvent

    with db.begin() as s:  # written before the check knew these words (an older release)
        s.get(Incident, inc).title = "our Tokyo provider is slow"  # type: ignore[union-attr]
        s.get(IncidentEvent, update).text = "\u0410tlas is down"  # type: ignore[union-attr]
    [doc] = _status(db, settings, datetime.now(UTC))["incidents"]
    assert doc["title"] == WITHHELD and doc["updates"][0]["text"] == WITHHELD
