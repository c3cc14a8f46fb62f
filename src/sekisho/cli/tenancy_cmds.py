"""tenant, user and key commands."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
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


_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def _duration(text: str) -> timedelta | None:
    text = text.strip()
    if len(text) < 2 or text[-1] not in _UNITS or not text[:-1].isdigit():
        return None
    return timedelta(seconds=int(text[:-1]) * _UNITS[text[-1]])


def format_duration(delta: timedelta) -> str:
    """The largest whole unit: 365d, 24h, 1m, 0s."""
    seconds = int(delta.total_seconds())
    for unit, size in _UNITS.items():
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_duration(text: str) -> timedelta:
    """'90d', '12h', '30m', '45s' -> a positive timedelta; anything else is a clear error."""
    delta = _duration(text)
    if delta is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30m, 12h or 90d")
    if delta <= timedelta(0):
        raise argparse.ArgumentTypeError(
            f"{text!r} is zero: give a positive duration like 30m, 12h or 90d"
        )
    return delta


def duration_arg(
    minimum: timedelta, maximum: timedelta, example: str
) -> Callable[[str], timedelta]:
    """An argparse type for a duration within [minimum, maximum]; refusals say what is allowed."""
    allowed = f"from {format_duration(minimum)} to {format_duration(maximum)}, e.g. {example}"

    def duration(text: str) -> timedelta:
        delta = _duration(text)
        if delta is None:
            raise argparse.ArgumentTypeError(f"{text!r} is not a duration ({allowed})")
        if not minimum <= delta <= maximum:
            raise argparse.ArgumentTypeError(f"{text!r} is out of range: give {allowed}")
        return delta

    return duration


KEY_EXPIRY = duration_arg(timedelta(minutes=1), timedelta(days=5 * 365), "90d")
TOKEN_EXPIRY = duration_arg(timedelta(hours=1), timedelta(days=3650), "90d")


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
        "--expires-in",
        type=KEY_EXPIRY,
        metavar="DURATION",
        help="expire after 1m to 1825d, e.g. 90d (default: never)",
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
            session,
            a.email,
            a.role,
            password,
            ctx.operator(first_admin=a.role == "admin"),
            tenant_ref=a.tenant,
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
    p.add_argument(
        "--user", metavar="EMAIL", help="the platform user it is for (default: you; admins only)"
    )
    p.add_argument(
        "--expires-in",
        type=TOKEN_EXPIRY,
        metavar="DURATION",
        default=None,
        help="1h to 3650d (default: identity.operator_token_ttl_days, 90 days)",
    )
    p.add_argument("--name", default="", help="a label for the token")
    p.set_defaults(handler=token_create)
    p = tsub.add_parser("list", parents=[common], help="operator tokens (prefix, user, status)")
    p.add_argument("--user", metavar="EMAIL", help="only this user's tokens")
    p.add_argument("--all", action="store_true", help="revoked and expired ones too")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=token_list)
    p = tsub.add_parser("revoke", parents=[common], help="revoke a token at once")
    p.add_argument("token", metavar="TOKEN", help="token id (tok_...) or prefix (sko_...)")
    p.add_argument("--note", help="why (goes into the audit ledger)")
    p.set_defaults(handler=token_revoke)

    usub = subcommands(sub.choices["user"])
    p = usub.add_parser(
        "disable",
        parents=[common],
        help="disable a user: sessions end, sign-in and tokens refused at once (admins)",
    )
    p.add_argument("user", metavar="USER", help="e-mail or user id")
    p.add_argument("--note", help="why (goes into the audit ledger)")
    p.set_defaults(handler=user_disable)
    p = usub.add_parser("enable", parents=[common], help="enable a disabled user (admins)")
    p.add_argument("user", metavar="USER", help="e-mail or user id")
    p.add_argument("--note", help="why (goes into the audit ledger)")
    p.set_defaults(handler=user_enable)
    p = usub.add_parser("list", parents=[common], help="every user with role and state")
    p.set_defaults(handler=user_list)


def subcommands(parser: argparse.ArgumentParser) -> Any:
    """The sub-command action of an existing command (e.g. `tenant`), to add actions to it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise RuntimeError(f"{parser.prog} has no sub-commands")


def token_create(ctx: CliContext) -> int:
    from sekisho.identity.tokens import create_token

    a = ctx.args
    expires = datetime.now(UTC) + a.expires_in if a.expires_in else None
    actor = ctx.actor
    with ctx.db.begin() as session:
        user = service.find_user(session, a.user or actor.id)
        token, secret = create_token(
            session,
            user,
            actor,
            name=a.name,
            expires_at=expires,
            ttl_days=ctx.settings.identity.operator_token_ttl_days,
        )
        expires_at = token.expires_at
    assert expires_at is not None
    print(
        f"created operator token {token.id} for {user.email} ({user.role}), expires "
        f"{expires_at.isoformat(timespec='seconds')}; shown only once:"
    )
    print(secret)
    return 0


def token_list(ctx: CliContext) -> int:
    from sekisho.identity.tokens import list_tokens

    a = ctx.args
    with ctx.db.read() as session:
        user = service.find_user(session, a.user) if a.user else None
        tokens = list_tokens(session, user=user, include_inactive=a.all)
    if a.json:
        print(json.dumps(tokens, indent=2))
        return 0
    if not tokens:
        print("no operator tokens" + ("" if a.all else " active (--all shows every one)"))
    for t in tokens:
        print(
            f"{t['id']}  {t['prefix']}  {t['status']:<13} {t['user']} ({t['role']})  "
            f"expires {t['expires_at'] or 'never'}  {t['name']}"
        )
    return 0


def token_revoke(ctx: CliContext) -> int:
    from sekisho.identity.tokens import revoke_token

    with ctx.db.begin() as session:
        token, user = revoke_token(session, ctx.args.token, ctx.actor, ctx.args.note)
    print(f"revoked operator token {token.prefix} ({token.id}) of {user.email}")
    return 0


def user_disable(ctx: CliContext) -> int:
    from sekisho.identity.users import disable_user

    with ctx.db.begin() as session:
        change = disable_user(session, ctx.args.user, ctx.actor, ctx.args.note)
    print(
        f"disabled {change.user.email} ({change.user.role}); "
        f"{change.sessions_revoked} session(s) ended; sign-in and tokens are refused"
    )
    return 0


def user_enable(ctx: CliContext) -> int:
    from sekisho.identity.users import enable_user

    with ctx.db.begin() as session:
        change = enable_user(session, ctx.args.user, ctx.actor, ctx.args.note)
    print(f"enabled {change.user.email} ({change.user.role})")
    return 0


def user_list(ctx: CliContext) -> int:
    from sekisho.identity.users import list_users

    with ctx.db.read() as session:
        users = list_users(session)
    for u in users:
        state = "disabled" if u["disabled"] else "enabled"
        tenant = f"  tenant {u['tenant_id']}" if u["tenant_id"] else ""
        print(f"{u['id']}  {state:<8} {u['role']:<14} {u['email']}{tenant}")
    return 0
