"""What a tired operator reads: a suspended tenant's keys show as blocked and why; zero or
negative durations are refused with the range that is allowed (or accepted where 0 means now)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import TEST_OPERATOR, ensure_operator, last_line, run, write_config
from tests.support.databases import sqlite_url

PASSWORD = {"SEKISHO_PASSWORD": "long enough password"}
pytestmark = pytest.mark.timeout(300)  # CLI processes: slow on a loaded machine


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("output")
    path = write_config(directory, sqlite_url(directory))
    assert run("migrate", config=path).returncode == 0
    ensure_operator(sqlite_url(directory))
    for email, role in (("ops@x.example", "operator"), ("billing@x.example", "billing_owner")):
        assert (
            run("user", "create", email, "--role", role, config=path, env=PASSWORD).returncode == 0
        )
    return path


def _suspend(config: Path, tenant: str, *extra: str):  # type: ignore[no-untyped-def]
    return run(
        "tenant",
        "suspend",
        tenant,
        "--reason",
        "non_payment",
        "--requested-by",
        "ops@x.example",
        "--authorized-by",
        "billing@x.example",
        "--note",
        "unpaid",
        *extra,
        config=config,
    )


def test_key_list_shows_blocked_keys_and_why(config: Path) -> None:
    tenant = last_line(run("tenant", "create", "blocked-co", config=config))
    last_line(run("key", "create", tenant, "--name", "prod", config=config))
    before = run("key", "list", tenant, config=config)
    assert " active " in before.stdout and "blocked" not in before.stdout
    assert _suspend(config, tenant).returncode == 0
    after = run("key", "list", tenant, config=config)
    assert after.returncode == 0
    assert " blocked " in after.stdout
    assert "blocked: tenant blocked-co is suspended (non_payment, since " in after.stdout
    as_json = json.loads(run("key", "list", tenant, "--json", config=config).stdout)
    assert as_json[0]["status"] == "blocked"
    assert "suspended" in as_json[0]["blocked_because"]


@pytest.mark.parametrize("value", ["0d", "0s", "30m", "366d"])
def test_review_in_outside_its_range_says_what_is_allowed(config: Path, value: str) -> None:
    tenant = last_line(run("tenant", "create", f"review-{value}", config=config))
    proc = _suspend(config, tenant, f"--review-in={value}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "from 1h to 365d, e.g. 14d" in proc.stderr, proc.stderr
    assert run("tenant", "show", tenant, config=config).stdout.count("suspension ") == 0


def test_other_durations_are_consistent(config: Path) -> None:
    tenant = last_line(run("tenant", "create", "durations", config=config))
    zero_expiry = run("key", "create", tenant, "--expires-in", "0d", config=config)
    assert zero_expiry.returncode == 2 and "from 1m to 1825d" in zero_expiry.stderr
    negative = run("key", "create", tenant, "--expires-in=-1d", config=config)
    assert negative.returncode == 2 and "is not a duration (from 1m to 1825d" in negative.stderr
    made = run("key", "create", tenant, config=config)
    assert made.stdout.startswith(f"acting as {TEST_OPERATOR}")
    key_id = made.stdout.split("created API key ")[1].split()[0]
    # For a rotation, 0 means "the old key stops now": accepted.
    rotated = run("key", "rotate", key_id, "--overlap", "0s", config=config)
    assert rotated.returncode == 0, rotated.stderr
    too_long = run("key", "rotate", key_id, "--overlap", "31d", config=config)
    assert too_long.returncode == 2 and "from 0s to 30d" in too_long.stderr
