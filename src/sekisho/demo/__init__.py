"""`sekisho demo`: one command, nothing else running, everything on 127.0.0.1:8080.

It starts the provider simulator in-process, writes a config under the state
directory, migrates a SQLite database there, seeds demo tenants, users and an
API key (idempotently: a second run reuses them and mints a fresh key), and
serves the gateway.
"""

from __future__ import annotations

import shlex
import sys
from importlib.resources import files
from pathlib import Path

import yaml
from sqlalchemy import select

from sekisho.actor import Actor
from sekisho.settings import Settings, settings_from_document
from sekisho.store.db import Database
from sekisho.store.migrate import migrate
from sekisho.store.models import Tenant, User
from sekisho.tenancy import service

DEMO_PASSWORD = "sekisho-demo-password"
DEMO_TENANTS = (
    service.TenantSpec(
        "acme", account_owner_email="owner@acme.example", cs_email="cs@sekisho.example"
    ),
    service.TenantSpec(
        "sakura-bank", sovereignty="jp_sovereign", account_owner_email="owner@sakura.example"
    ),
    service.TenantSpec("dragon-trade", china_gated_access=True),
)
DEMO_USERS = (
    ("admin@sekisho.example", "admin", None),
    ("operator@sekisho.example", "operator", None),
    ("billing@sekisho.example", "billing_owner", None),
    ("legal@sekisho.example", "legal_owner", None),
    ("security@sekisho.example", "security_owner", None),
    ("auditor@sekisho.example", "auditor", None),
    ("dev@acme.example", "member", "acme"),
)
DEMO_SECRETS = {
    "KUMO_API_KEY": "sim-kumo",
    "HOSHI_API_KEY": "sim-hoshi",
    "ATLAS_API_KEY": "sim-atlas",
    "MERIDIAN_API_KEY": "sim-meridian",
    "LONGMEN_API_KEY": "sim-longmen",
}


def demo_document(simulator_url: str, state_dir: Path, port: int) -> dict[str, object]:
    """The demo config: the packaged matrix pointed at a simulator, SQLite in `state_dir`."""
    text = files("sekisho.demo").joinpath("matrix.yaml").read_text(encoding="utf-8")
    doc: dict[str, object] = yaml.safe_load(text.replace("{sim}", simulator_url))
    doc.update(
        {
            "database_url": f"sqlite:///{(state_dir / 'sekisho.db').resolve()}",
            "listen": {"host": "127.0.0.1", "port": port},
            "state_dir": str(state_dir),
            "ledger": {"signing_key_path": str(state_dir / "ledger-signing.key")},
        }
    )
    return doc


def seed(db: Database, settings: Settings) -> str:
    """Create the demo tenants and users if missing; return a fresh API key for acme."""
    actor = Actor.system("demo")
    with db.begin() as session:
        for spec in DEMO_TENANTS:
            if session.scalars(select(Tenant).where(Tenant.name == spec.name)).first() is None:
                service.create_tenant(session, settings.matrix, spec, actor)
        for email, role, tenant in DEMO_USERS:
            if session.scalars(select(User).where(User.email == email)).first() is None:
                service.create_user(session, email, role, DEMO_PASSWORD, actor, tenant_ref=tenant)
        _, secret = service.create_key(session, settings.matrix, "acme", actor, name="demo")
    return secret


def banner(port: int, simulator_url: str, api_key: str, state_dir: Path) -> str:
    base = f"http://127.0.0.1:{port}"
    python = shlex.quote(sys.executable)  # the interpreter that has the openai package
    return f"""
Sekisho demo is running.

  Gateway (OpenAI-compatible):  {base}/v1
  Operator console:             {base}/console   (sign in with a login below)
  Chat app (tenant members):    {base}/chat   (sign in as dev@acme.example)
  Public status page:           {base}/status
  Health / readiness:           {base}/healthz  {base}/readyz
  Provider simulator (internal, fault injection): {simulator_url}/_sim/stats
  State (SQLite, ledger key):   {state_dir.resolve()}

Logins for the console (password: {DEMO_PASSWORD}):
  admin@sekisho.example, operator@sekisho.example, billing@sekisho.example,
  legal@sekisho.example, security@sekisho.example, auditor@sekisho.example,
  dev@acme.example (member of tenant acme)

Aliases: chat-large, chat-fast, chat-jp (jp_sovereign), chat-cn (China-gated).
The key below (tenant acme) may use chat-large, chat-fast and chat-jp; chat-cn is
only for tenants granted the China gate (dragon-trade), so acme gets 403 there.

Try it:
  curl -s {base}/v1/chat/completions \\
    -H "Authorization: Bearer {api_key}" -H "Content-Type: application/json" \\
    -d '{{"model": "chat-large", "messages": [{{"role": "user", "content": "Hello!"}}]}}'

  {python} -c 'from openai import OpenAI; c = OpenAI(base_url="{base}/v1", api_key="{api_key}"); print(c.chat.completions.create(model="chat-jp", messages=[{{"role": "user", "content": "Konnichiwa"}}]).choices[0].message.content)'

API key for tenant acme (shown once):
{api_key}"""


def run_demo(state_dir: Path, *, port: int = 8080, serve: bool = True) -> int:
    from sekisho.ledger.signing import attach_from_settings
    from sekisho.serve import run_server
    from sekisho.simulator import SimulatorServer

    state_dir.mkdir(parents=True, exist_ok=True)
    simulator = SimulatorServer(port=0).start()
    try:
        doc = demo_document(simulator.url, state_dir, port)
        (state_dir / "demo-config.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        settings = settings_from_document(doc, DEMO_SECRETS, config_path=None)
        db = Database(settings.database_url)
        attach_from_settings(db, settings.ledger)
        migrate(db)
        api_key = seed(db, settings)
        print(banner(port, simulator.url, api_key, state_dir), flush=True)
        if serve:
            run_server(settings, host="127.0.0.1", port=port, db=db)
        return 0
    finally:
        simulator.stop()


__all__ = ["DEMO_PASSWORD", "demo_document", "run_demo", "seed"]
