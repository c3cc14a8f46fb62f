"""`sekisho tenant quota` and `sekisho usage`: per-tenant quota overrides and metered usage."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sekisho.cli.context import CliContext, CommandError
from sekisho.quotas.limits import LIMIT_NAMES
from sekisho.quotas.overrides import set_tenant_quota, tenant_quota
from sekisho.tenancy.service import find_tenant
from sekisho.usage.report import as_csv, as_dicts, as_table, usage_rows


def _limit(text: str) -> int | None:
    """A positive integer, or 'none' / 'unlimited' for no limit."""
    if text.lower() in ("none", "unlimited", "null"):
        return None
    if not text.isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer or 'unlimited'")
    return int(text)


def _days(text: str) -> int:
    if (
        len(text) < 2
        or text[-1] != "d"
        or not text[:-1].isdigit()
        or not 0 < int(text[:-1]) <= 3660
    ):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days like 7d or 30d")
    return int(text[:-1])


def register_tenant_actions(tsub: Any, common: argparse.ArgumentParser) -> None:
    """`sekisho tenant quota`: added to the `tenant` command by tenancy_cmds."""
    p = tsub.add_parser(
        "quota",
        parents=[common],
        help="show or override a tenant's quotas (each change in the ledger)",
        description="Without limits, show the tenant's override and effective quotas. "
        "Each limit takes a positive integer or 'unlimited'.",
    )
    p.add_argument("tenant", metavar="TENANT")
    for name in LIMIT_NAMES:
        p.add_argument(
            f"--{name.replace('_', '-')}",
            type=_limit,
            metavar="N",
            dest=name,
            default=argparse.SUPPRESS,
        )
    p.add_argument("--clear", action="store_true", help="drop the override: defaults apply")
    p.add_argument("--note", default=None, help="why (goes into the ledger)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=tenant_quota_cmd)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "usage", parents=[common], help="metered requests and tokens per tenant, key, alias, day"
    )
    p.add_argument("--tenant", metavar="TENANT", help="one tenant (id or name)")
    p.add_argument(
        "--since",
        type=_days,
        default=30,
        metavar="DAYS",
        help="how many days back, e.g. 7d (default 30d)",
    )
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON")
    fmt.add_argument("--csv", action="store_true", help="print CSV")
    p.set_defaults(handler=usage_cmd)


def tenant_quota_cmd(ctx: CliContext) -> int:
    a = ctx.args
    changes = {name: getattr(a, name) for name in LIMIT_NAMES if hasattr(a, name)}
    defaults = ctx.settings.quotas.limits()
    if changes and a.clear:
        raise CommandError("give either limits to set or --clear, not both")
    if changes or a.clear:
        try:
            with ctx.db.begin() as session:
                set_tenant_quota(session, a.tenant, changes, ctx.actor, clear=a.clear, note=a.note)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
    with ctx.db.read() as session:
        view = tenant_quota(session, a.tenant, defaults)
    if a.json:
        print(json.dumps(view, indent=2))
        return 0
    if changes or a.clear:
        print(
            f"quotas of tenant {view['tenant']} changed (version {view['version']}); "
            "every replica applies them within quotas.refresh_s"
        )
    print(f"tenant {view['tenant']} ({view['tenant_id']})")
    for name in LIMIT_NAMES:
        value = view["effective"][name]
        source = "override" if name in view["override"] else "default"
        print(f"  {name:24} {value if value is not None else 'unlimited':>12}  ({source})")
    return 0


def usage_cmd(ctx: CliContext) -> int:
    a = ctx.args
    since = (datetime.now(UTC) - timedelta(days=a.since - 1)).date()
    with ctx.db.read() as session:
        tenant_id = find_tenant(session, a.tenant).id if a.tenant else None
        rows = usage_rows(session, since=since, tenant_id=tenant_id)
    if a.json:
        print(json.dumps(as_dicts(rows), indent=2))
    elif a.csv:
        print(as_csv(rows), end="")
    else:
        print(f"usage since {since.isoformat()} (UTC days)")
        print(as_table(rows))
    return 0
