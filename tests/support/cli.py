"""Run the real `sekisho` command line in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from sekisho.demo import DEMO_SECRETS, demo_document

SEKISHO = str(Path(sys.executable).with_name("sekisho"))
# The platform admin CLI commands in tests act as (`SEKISHO_OPERATOR`), unless a test says otherwise.
TEST_OPERATOR = "cli-admin@sekisho.test"
_NO_DATABASE = {"migrate", "matrix", "simulator", "serve", "demo"}


def write_config(directory: Path, database_url: str, sim_url: str = "http://127.0.0.1:9") -> Path:
    doc = demo_document(sim_url, directory, 0)
    doc["database_url"] = database_url
    path = directory / "sekisho.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def ensure_operator(
    database_url: str, email: str = TEST_OPERATOR, signing_key_path: str | None = None
) -> None:
    """Create the test operator (an enabled admin) in a migrated database, once.

    Its ledger entry is signed with the config's ledger key, as the CLI would sign it.
    """
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from sekisho.actor import Actor
    from sekisho.store.db import Database
    from sekisho.store.models import User
    from sekisho.tenancy import service

    db = Database(database_url)
    if signing_key_path:
        from sekisho.ledger.signing import attach_from_settings
        from sekisho.settings import LedgerSettings

        attach_from_settings(db, LedgerSettings(signing_key_path=signing_key_path))
    try:
        with db.begin() as session:
            if session.scalars(select(User.id).where(User.email == email)).first() is None:
                service.create_user(session, email, "admin", None, Actor.system("tests"))
    except SQLAlchemyError:
        pass  # not migrated yet: the command itself will say so
    finally:
        db.dispose()


def run(
    *args: str,
    config: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    operator: str | None = TEST_OPERATOR,
) -> subprocess.CompletedProcess[str]:
    """`sekisho ARGS`; state changes act as `operator` (created if missing; None: nobody)."""
    full_env = {**os.environ, **DEMO_SECRETS, **(env or {})}
    if config is not None:
        full_env["SEKISHO_CONFIG"] = str(config)
    full_env.pop("SEKISHO_OPERATOR", None)
    if env and "SEKISHO_OPERATOR" in env:
        full_env["SEKISHO_OPERATOR"] = env["SEKISHO_OPERATOR"]
    elif operator is not None:
        full_env["SEKISHO_OPERATOR"] = operator
        path = full_env.get("SEKISHO_CONFIG")
        if "--config" in args[:-1]:
            path = args[args.index("--config") + 1]
        if operator == TEST_OPERATOR and path and args and args[0] not in _NO_DATABASE:
            doc = yaml.safe_load(Path(path).read_text())
            key_path = (doc.get("ledger") or {}).get("signing_key_path")
            ensure_operator(doc["database_url"], signing_key_path=key_path)
    return subprocess.run(
        [SEKISHO, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        stdin=subprocess.DEVNULL,
    )


def last_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]
