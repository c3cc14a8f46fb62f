"""alias override | revert | show, and matrix reload (through a running gateway's store)."""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from typing import Any

from sekisho.cli.context import CliContext, CommandError
from sekisho.cli.tenancy_cmds import parse_duration
from sekisho.control import overrides as override_service
from sekisho.control.alias_view import alias_view, format_alias_view
from sekisho.control.replicas import live_replicas, merged_circuits


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    alias = sub.add_parser("alias", help="alias overrides and routing view")
    asub = alias.add_subparsers(dest="alias_command", metavar="ACTION")
    asub.required = True

    p = asub.add_parser(
        "override",
        parents=[common],
        help="drain a provider or pin to one, for a while; prints the override id",
    )
    p.add_argument("alias")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--drain", metavar="PROVIDER", help="stop sending this alias to PROVIDER")
    what.add_argument("--pin", metavar="PROVIDER", help="send this alias to PROVIDER first")
    p.add_argument(
        "--for",
        dest="duration",
        type=parse_duration,
        required=True,
        metavar="DURATION",
        help="how long, e.g. 30m, 2h (1 minute to 7 days)",
    )
    p.add_argument("--reason", required=True, help="why (goes into the audit ledger)")
    p.add_argument("--incident", metavar="ID", help="attach to an incident")
    p.set_defaults(handler=override_cmd)

    p = asub.add_parser("revert", parents=[common], help="end the alias's active overrides")
    p.add_argument("alias")
    p.add_argument("--id", dest="override_id", help="only this override")
    p.add_argument("--note", help="why (goes into the audit ledger)")
    p.set_defaults(handler=revert_cmd)

    p = asub.add_parser(
        "show",
        parents=[common],
        help="routes, circuit states, overrides and the plan per kind of tenant",
    )
    p.add_argument("alias")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=show_cmd)


def override_cmd(ctx: CliContext) -> int:
    a = ctx.args
    kind, provider = ("drain", a.drain) if a.drain else ("pin", a.pin)
    with ctx.db.begin() as session:
        row, warnings = override_service.set_override(
            session,
            ctx.settings.matrix,
            alias=a.alias,
            kind=kind,
            provider=provider,
            duration=a.duration,
            reason=a.reason,
            actor=ctx.actor,
            incident_id=a.incident,
        )
    for warning in warnings:
        print(f"warning: {warning}")
    print(
        f"{kind} of {provider} for alias {a.alias} until {row.expires_at.isoformat()} "
        "(every replica applies it within about a second)"
    )
    print(row.id)
    return 0


def revert_cmd(ctx: CliContext) -> int:
    a = ctx.args
    with ctx.db.begin() as session:
        rows = override_service.revert_overrides(
            session, alias=a.alias, actor=ctx.actor, note=a.note, override_id=a.override_id
        )
    for row in rows:
        print(f"reverted {row.kind} of {row.provider} (#{row.id})")
    return 0


def show_cmd(ctx: CliContext) -> int:
    a = ctx.args
    matrix = ctx.settings.matrix
    if a.alias not in matrix.aliases:
        raise CommandError(f"unknown alias {a.alias!r}")
    with ctx.db.read() as session:
        circuits = merged_circuits(live_replicas(session))
        history = [
            override_service.to_policy(r) for r in override_service.history(session, a.alias)
        ]
    view = alias_view(matrix, a.alias, circuits, history, time.time())
    view["as_of"] = datetime.now(UTC).isoformat()
    print(json.dumps(view, indent=2) if a.json else format_alias_view(view))
    return 0
