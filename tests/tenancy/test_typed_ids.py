"""References are unambiguous: no name takes an id's shape, and an id resolves to its own object
only (tenants, users, keys, incidents), never to a name or to another kind's id."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from sekisho.actor import Actor
from sekisho.ids import ID_PREFIXES, id_kind, name_problem, new_id
from sekisho.incidents import service as incidents
from sekisho.lifecycle.keys import find_key
from sekisho.settings import Settings
from sekisho.store.db import Database
from sekisho.store.models import ApiKey, Tenant
from sekisho.tenancy.service import (
    ControlPlaneError,
    TenantSpec,
    create_key,
    create_tenant,
    create_user,
    find_tenant,
    find_user,
)
from tests.support.cli import last_line, run, write_config
from tests.support.databases import sqlite_url
from tests.support.gateway import gateway_settings

SRC = Path(__file__).resolve().parents[2] / "src" / "sekisho"
SYSTEM = Actor.system("tests")


def test_every_minted_prefix_is_registered() -> None:
    minted = {
        m.group(1)
        for path in SRC.rglob("*.py")
        for m in re.finditer(r"new_id\(\s*\"([a-z]+)\"", path.read_text())
    }
    assert minted, "no new_id call found: the scan is broken"
    missing = minted - set(ID_PREFIXES)
    assert not missing, f"add {sorted(missing)} to sekisho.ids.ID_PREFIXES"


@pytest.mark.parametrize("prefix", sorted(ID_PREFIXES))
def test_no_name_takes_a_typed_prefix(prefix: str) -> None:
    for name in (f"{prefix}_acme", f"{prefix.upper()}_acme", new_id(prefix, 8)):
        assert name_problem(name) is not None, name
        assert id_kind(name) == ID_PREFIXES[prefix]


def test_ordinary_names_and_id_shapes() -> None:
    for fine in ("acme", "globex-jp", "ten", "tenant_one", "Acme Corp", "user@x.example"):
        assert name_problem(fine) is None, fine
    assert name_problem("zzz_0123456789abcdef") is not None  # a prefix added some day


def _settings(tmp_path: Path) -> Settings:
    return gateway_settings("http://127.0.0.1:9", tmp_path)


def _tenant(session: Session, settings: Settings, name: str, **spec: object) -> Tenant:
    return create_tenant(session, settings.matrix, TenantSpec(name, **spec), SYSTEM)  # type: ignore[arg-type]


def test_a_tenant_cannot_be_named_like_another_tenants_id(any_db: Database, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with any_db.begin() as session:
        sovereign = _tenant(session, settings, "jp-bank", sovereignty="jp_sovereign")
    for impostor in (sovereign.id, sovereign.id.upper(), "usr_admin", "key_1"):
        with pytest.raises(ControlPlaneError, match="refused"), any_db.begin() as session:
            _tenant(session, settings, impostor)


def test_an_id_never_falls_back_to_a_name(any_db: Database, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with any_db.begin() as session:
        sovereign = _tenant(session, settings, "jp-bank", sovereignty="jp_sovereign")
        open_tenant = _tenant(session, settings, "open-co")
        # Data from before the rule: a tenant *named* like the sovereign tenant's id.
        open_tenant.name = sovereign.id
    with any_db.begin() as session:
        assert find_tenant(session, sovereign.id).id == sovereign.id
        key, _ = create_key(session, settings.matrix, sovereign.id, SYSTEM)
        assert key.tenant_id == sovereign.id  # the key is minted for the jp_sovereign tenant
        assert find_tenant(session, open_tenant.id).id == open_tenant.id
        with pytest.raises(ControlPlaneError, match="no tenant with id"):
            find_tenant(session, "ten_0000000000000000")


def test_ids_of_other_kinds_are_refused(any_db: Database, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with any_db.begin() as session:
        tenant = _tenant(session, settings, "acme")
        user = create_user(session, "ops@acme.example", "operator", None, SYSTEM)
        key, secret = create_key(session, settings.matrix, tenant.id, SYSTEM)
    with any_db.read() as session:
        with pytest.raises(ControlPlaneError, match="is a user id, not a tenant"):
            find_tenant(session, user.id)
        with pytest.raises(ControlPlaneError, match="is a tenant id, not a user"):
            find_user(session, tenant.id)
        assert find_user(session, user.id).email == "ops@acme.example"
        assert find_user(session, "OPS@acme.example").id == user.id
        assert find_key(session, key.id).id == key.id
        assert find_key(session, key.prefix).id == key.id
        with pytest.raises(ControlPlaneError, match="tenant id"):
            find_key(session, tenant.id)
        with pytest.raises(ControlPlaneError, match="neither a key id"):
            find_key(session, "acme")
        with pytest.raises(incidents.IncidentNotFound):
            incidents.get(session, tenant.id)
        assert session.get(ApiKey, key.id) is not None and secret.startswith(key.prefix)


def test_cli_refuses_id_shaped_names_and_wrong_kinds(tmp_path: Path) -> None:
    config = write_config(tmp_path, sqlite_url(tmp_path))
    assert run("migrate", config=config).returncode == 0
    tenant_id = last_line(run("tenant", "create", "acme", config=config))
    named = run("tenant", "create", tenant_id, config=config)
    assert named.returncode == 1 and "refused" in named.stderr and named.stderr.count("\n") == 1
    user_id = last_line(
        run(
            "user",
            "create",
            "dev@acme.example",
            "--role",
            "member",
            "--tenant",
            tenant_id,
            config=config,
            env={"SEKISHO_PASSWORD": "long enough password"},
        )
    )
    wrong = run("key", "create", user_id, config=config)
    assert wrong.returncode == 1 and "is a user id, not a tenant" in wrong.stderr
