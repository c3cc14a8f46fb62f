"""tenant, user and key commands."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from sekisho.cli import usage_cmds
from sekisho.cli.context import CliContext, CommandError
from sekisho.settings import password_from_env
from sekisho.store.models import ROLES
from sekisho.tenancy import service


def _aliases(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [a.strip() for a in value.split(",")]


def parse_duration(text: str) -> timedelta:
    """'90d', '12h', '30m', '45s' -> timedelta; anything else is a clear error."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit() or int(text[:-1]) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30m, 12h or 90d")
    return timedelta(seconds=int(text[:-1]) * units[text[-1]])


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    tenant = sub.add_parser("tenant", help="tenants")
    tsub = tenant.add_subparsers(dest="tenant_command", metavar="ACTION")
    tsub.required = True
    p = tsub.add_parser("create", parents=[common], help="create a tenant; prints its id")
    p.add_argument("name")
    p.add_argument(
        "--sovereignty", metavar="TAG", help="required sovereignty tag, e.g. jp_sovereign"
    )
    p.add_argument(
        "--china-gated-access", action="store_true", help="grant use of China-gated aliases"
    )
    p.add_argument("--aliases", metavar="A,B", help="allowed aliases (default: all)")
    p.add_argument("--account-owner-email", metavar="EMAIL")
    p.add_argument("--cs-email", metavar="EMAIL")
    p.set_defaults(handler=tenant_create)
    usage_cmds.register_tenant_actions(tsub, common)

    user = sub.add_parser("user", help="users")
    usub = user.add_subparsers(dest="user_command", metavar="ACTION")
    usub.required = True
    p = usub.add_parser("create", parents=[common], help="create a user; prints its id")
    p.add_argument("email")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--tenant", metavar="TENANT", help="the tenant of a member")
    p.set_defaults(handler=user_create)

    key = sub.add_parser("key", help="API keys")
    ksub = key.add_subparsers(dest="key_command", metavar="ACTION")
    ksub.required = True
    p = ksub.add_parser("create", parents=[common], help="create an API key; prints it once")
    p.add_argument("tenant", metavar="TENANT")
    p.add_argument("--aliases", metavar="A,B", help="restrict the key to these aliases")
    p.add_argument(
        "--expires-in", type=parse_duration, metavar="DURATION", help="expire after e.g. 90d"
    )
    p.add_argument("--name", default="", help="a label for the key")
    p.set_defaults(handler=key_create)
    register_tokens(sub, common)


def tenant_create(ctx: CliContext) -> int:
    a = ctx.args
    spec = service.TenantSpec(
        name=a.name,
        sovereignty=a.sovereignty,
        china_gated_access=a.china_gated_access,
        aliases=_aliases(a.aliases),
        account_owner_email=a.account_owner_email,
        cs_email=a.cs_email,
    )
    with ctx.db.begin() as session:
        tenant = service.create_tenant(session, ctx.settings.matrix, spec, ctx.actor)
    print(f"created tenant {tenant.name}")
    print(tenant.id)
    return 0


def _password() -> str:
    password = password_from_env()
    if password:
        return password
    if not sys.stdin.isatty():
        raise CommandError("no password: set SEKISHO_PASSWORD or run in a terminal to be prompted")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise CommandError("the passwords do not match")
    return first


def user_create(ctx: CliContext) -> int:
    a = ctx.args
    _ = ctx.settings  # fail on a bad config before asking for a password
    password = _password()
    with ctx.db.begin() as session:
        user = service.create_user(
            session, a.email, a.role, password, ctx.actor, tenant_ref=a.tenant
        )
    print(f"created user {user.email} ({user.role})")
    print(user.id)
    return 0


def key_create(ctx: CliContext) -> int:
    a = ctx.args
    expires = datetime.now(UTC) + a.expires_in if a.expires_in else None
    with ctx.db.begin() as session:
        key, secret = service.create_key(
            session,
            ctx.settings.matrix,
            a.tenant,
            ctx.actor,
            aliases=_aliases(a.aliases),
            expires_at=expires,
            name=a.name,
        )
    print(
        f"created API key {key.id} (prefix {key.prefix}) for tenant {key.tenant_id}; "
        "it is shown only once:"
    )
    print(secret)
    return 0


def register_tokens(sub: Any, common: argparse.ArgumentParser) -> None:
    token = sub.add_parser("token", help="operator tokens for the admin API")
    tsub = token.add_subparsers(dest="token_command", metavar="ACTION")
    tsub.required = True
    p = tsub.add_parser("create", parents=[common], help="create a token; prints it once")
    p.add_argument("--user", required=True, metavar="EMAIL", help="a platform user")
    p.add_argument("--expires-in", type=parse_duration, metavar="DURATION", default=None)
    p.add_argument("--name", default="")
    p.set_defaults(handler=token_create)


def token_create(ctx: CliContext) -> int:
    from sekisho.admin.tokens import create_token

    a = ctx.args
    expires = datetime.now(UTC) + a.expires_in if a.expires_in else None
    with ctx.db.begin() as session:
        user = service.find_user(session, a.user)
        token, secret = create_token(session, user, ctx.actor, name=a.name, expires_at=expires)
    print(f"created operator token {token.id} for {a.user} ({user.role}); shown only once:")
    print(secret)
    return 0
