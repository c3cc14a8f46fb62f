"""Rule 14 on the CLI: state changes act as `--as EMAIL` / SEKISHO_OPERATOR, an enabled platform
user, recorded with `via: cli`; required once an admin exists; before that only the first admin
may be created without it. Every acting command says as whom."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sekisho.store.db import Database
from tests.support.cli import last_line, run, write_config
from tests.support.databases import fresh_postgres_database, sqlite_url
from tests.support.ledger import ledger_entries

ROOT = "root@ops.example"


@pytest.fixture(params=["sqlite", "postgres"])
def config(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        path = write_config(tmp_path, sqlite_url(tmp_path))
        assert run("migrate", config=path).returncode == 0
        yield path
    else:
        with fresh_postgres_database() as url:
            path = write_config(tmp_path, url)
            assert run("migrate", config=path).returncode == 0
            yield path


def _db(config: Path) -> Database:
    return Database(yaml.safe_load(config.read_text())["database_url"])


def _as(email: str | None, *args: str, config: Path, **env: str):  # type: ignore[no-untyped-def]
    extra = {"SEKISHO_PASSWORD": "long enough password", **env}
    if email is not None:
        extra["SEKISHO_OPERATOR"] = email
    return run(*args, config=config, env=extra, operator=None)


@pytest.mark.timeout(300)  # eight CLI processes: slow on a loaded machine
def test_bootstrap_then_every_act_has_its_operator(config: Path) -> None:
    early = _as(None, "tenant", "create", "acme", config=config)
    assert early.returncode == 2 and "no platform admin exists yet" in early.stderr
    not_admin = _as(None, "user", "create", "ops@ops.example", "--role", "operator", config=config)
    assert not_admin.returncode == 2

    first = _as(None, "user", "create", ROOT, "--role", "admin", config=config)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == "acting as bootstrap via cli"
    second = _as(None, "user", "create", "other@ops.example", "--role", "admin", config=config)
    assert second.returncode == 2 and "--as EMAIL" in second.stderr and second.stdout == ""

    made = run("tenant", "create", "acme", "--as", ROOT, config=config, operator=None)
    assert made.stdout.splitlines()[0] == f"acting as {ROOT} (admin) via cli"
    last_line(made)
    ops = _as(ROOT, "user", "create", "ops@ops.example", "--role", "operator", config=config)
    assert ops.returncode == 0, ops.stderr
    override = _as(
        "ops@ops.example",
        "alias",
        "override",
        "chat-large",
        "--drain",
        "atlas-useast",
        "--for",
        "30m",
        "--reason",
        "drill",
        config=config,
    )
    assert override.returncode == 0, override.stderr
    assert override.stdout.splitlines()[0] == "acting as ops@ops.example (operator) via cli"

    db = _db(config)
    entries = ledger_entries(db)
    db.dispose()
    acts = [e for e in entries if e["action"] != "ledger.open"]
    assert all(not e["actor"]["id"].startswith("cli:") for e in entries)
    first_user = next(e for e in acts if e["action"] == "user.create")
    assert (first_user["actor"]["type"], first_user["actor"]["id"]) == ("system", "bootstrap")
    assert first_user["details"]["via"] == "cli"
    by_root = [e for e in acts if e["action"] in ("tenant.create", "user.create")][1:]
    assert {e["actor"]["email"] for e in by_root} == {ROOT}
    assert {e["details"]["via"] for e in by_root} == {"cli"}
    drain = next(e for e in acts if e["action"].startswith("alias.override"))
    assert drain["actor"]["email"] == "ops@ops.example"


@pytest.mark.timeout(300)
def test_only_enabled_platform_users_act(config: Path) -> None:
    assert _as(None, "user", "create", ROOT, "--role", "admin", config=config).returncode == 0
    tenant = last_line(_as(ROOT, "tenant", "create", "globex", config=config))
    member = _as(
        ROOT,
        "user",
        "create",
        "dev@globex.example",
        "--role",
        "member",
        "--tenant",
        tenant,
        config=config,
    )
    assert member.returncode == 0
    assert _as(ROOT, "user", "create", "gone@ops.example", "--role", "operator", config=config)
    assert _as(ROOT, "user", "disable", "gone@ops.example", config=config).returncode == 0
    for who, reason in (
        ("nobody@ops.example", "no user with e-mail"),
        ("dev@globex.example", "not a platform role"),
        ("gone@ops.example", "disabled"),
    ):
        proc = _as(who, "tenant", "create", "x", config=config)
        assert proc.returncode == 2 and reason in proc.stderr, proc.stderr
        assert proc.stderr.count("\n") == 1 and proc.stdout == ""
    # Reading needs no identity.
    assert _as(None, "tenant", "list", config=config).returncode == 0
