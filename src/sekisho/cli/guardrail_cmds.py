"""tenant guardrails: show or set a tenant's guardrail policy (recorded in the ledger)."""

from __future__ import annotations

import argparse
from typing import Any

from sekisho.cli.context import CliContext
from sekisho.guardrails.assignments import set_tenant_policy, tenant_assignment


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    tsub = next(
        a for a in sub.choices["tenant"]._actions if isinstance(a, argparse._SubParsersAction)
    )
    p = tsub.add_parser(
        "guardrails",
        parents=[common],
        help="show a tenant's guardrail policy, or set it with --policy; prints the policy",
    )
    p.add_argument("tenant", metavar="TENANT", help="tenant id or unique name")
    p.add_argument("--policy", metavar="NAME", help="a policy the config defines")
    p.add_argument("--note", default=None, help="why (goes into the ledger)")
    p.set_defaults(handler=tenant_guardrails)


def tenant_guardrails(ctx: CliContext) -> int:
    a = ctx.args
    config = ctx.settings.guardrails
    if a.policy is None:
        with ctx.db.read() as session:
            found = tenant_assignment(session, a.tenant, config.default_policy)
        origin = f"version {found.version}" if found.version else "config default"
        print(f"tenant {found.tenant_id}: policy {found.policy} ({origin})")
        print(found.policy)
        return 0
    with ctx.db.begin() as session:
        done = set_tenant_policy(
            session,
            a.tenant,
            a.policy,
            ctx.actor,
            known_policies=config.all_policies(),
            note=a.note,
        )
    print(f"tenant {done.tenant_id}: guardrail policy {done.policy} (version {done.version})")
    print(done.policy)
    return 0
