"""The CLI contract of DESIGN.md: ids and secrets on the last line, one-line failures."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from sekisho.store.db import Database
from sekisho.store.models import ApiKey, Tenant, User
from sekisho.tenancy.keys import hash_key
from tests.support.cli import last_line, run, write_config
from tests.support.databases import fresh_postgres_database, sqlite_url


@pytest.fixture(params=["sqlite", "postgres"], scope="module")
def config(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("cli")
    if request.param == "sqlite":
        path = write_config(directory, sqlite_url(directory))
        assert run("migrate", config=path).returncode == 0
        yield path
    else:
        with fresh_postgres_database() as url:
            path = write_config(directory, url)
            proc = run("migrate", "--config", str(path))
            assert proc.returncode == 0, proc.stderr
            yield path


def _db(config: Path) -> Database:
    import yaml

    return Database(yaml.safe_load(config.read_text())["database_url"])


def test_tenant_user_key_create(config: Path) -> None:
    tenant_id = last_line(
        run(
            "tenant",
            "create",
            "globex",
            "--sovereignty",
            "jp_sovereign",
            "--aliases",
            "chat-jp",
            config=config,
        )
    )
    assert re.fullmatch(r"ten_[0-9a-f]{16}", tenant_id)
    user_id = last_line(
        run(
            "user",
            "create",
            "Dev@Globex.example",
            "--role",
            "member",
            "--tenant",
            "globex",
            config=config,
            env={"SEKISHO_PASSWORD": "correct horse battery"},
        )
    )
    assert user_id.startswith("usr_")
    secret = last_line(run("key", "create", tenant_id, config=config))
    assert re.fullmatch(r"sks_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", secret)
    db = _db(config)
    with db.read() as s:
        tenant = s.get(Tenant, tenant_id)
        assert tenant is not None and tenant.sovereignty == "jp_sovereign"
        assert tenant.allowed_aliases == ["chat-jp"]
        user = s.get(User, user_id)
        assert (
            user is not None and user.email == "dev@globex.example" and user.tenant_id == tenant_id
        )
        assert user.password_hash and user.password_hash.startswith("$argon2id$")
        key = s.scalars(select(ApiKey).where(ApiKey.tenant_id == tenant_id)).one()
        assert key.secret_hash == hash_key(secret) and secret not in repr(key.__dict__)
        assert secret.startswith(key.prefix + "_")
    db.dispose()


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (
            ("tenant", "create", "x", "--sovereignty", "mars_sovereign"),
            "not satisfied by any provider",
        ),
        (("tenant", "create", "y", "--aliases", "chat-nope"), "unknown alias(es): chat-nope"),
        (("tenant", "create", "bad/name"), "tenant name must be"),
        (("key", "create", "no-such-tenant"), "no tenant with id or name 'no-such-tenant'"),
        (("user", "create", "not-an-email", "--role", "operator"), "is not an e-mail address"),
        (("user", "create", "m@x.example", "--role", "member"), "a member belongs to a tenant"),
        (
            ("user", "create", "o@x.example", "--role", "operator", "--tenant", "globex"),
            "is a platform role",
        ),
    ],
)
def test_refusals_are_one_line_and_change_nothing(
    config: Path, args: tuple[str, ...], reason: str
) -> None:
    db = _db(config)
    with db.read() as s:
        before = (
            len(s.scalars(select(Tenant)).all()),
            len(s.scalars(select(User)).all()),
            len(s.scalars(select(ApiKey)).all()),
        )
    proc = run(*args, config=config, env={"SEKISHO_PASSWORD": "long enough password"})
    assert proc.returncode != 0
    assert proc.stderr.count("\n") == 1 and reason in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    with db.read() as s:
        after = (
            len(s.scalars(select(Tenant)).all()),
            len(s.scalars(select(User)).all()),
            len(s.scalars(select(ApiKey)).all()),
        )
    assert before == after
    db.dispose()


def test_duplicate_tenant_is_refused(config: Path) -> None:
    last_line(run("tenant", "create", "dupe", config=config))
    proc = run("tenant", "create", "dupe", config=config)
    assert proc.returncode == 1 and "already exists" in proc.stderr


def test_missing_config_is_a_clear_error(tmp_path: Path) -> None:
    proc = run("tenant", "create", "x", env={"SEKISHO_CONFIG": ""})
    assert proc.returncode == 1 and "no config file" in proc.stderr


def test_bad_arguments_exit_2(config: Path) -> None:
    proc = run("user", "create", "a@b.example", "--role", "emperor", config=config)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    path = write_config(tmp_path, sqlite_url(tmp_path))
    proc = run("serve", "--port", "0", config=path)
    assert proc.returncode == 1 and "run 'sekisho migrate'" in proc.stderr
