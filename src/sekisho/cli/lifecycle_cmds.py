"""tenant suspend | reinstate | offboard | show | overdue | list; key list | rotate | revoke;
evidence export | verify."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sekisho.bus import Announcer, Invalidation
from sekisho.cli import evidence_cmds
from sekisho.cli.context import CliContext, CommandError
from sekisho.cli.tenancy_cmds import duration_arg, parse_duration, subcommands
from sekisho.evidence import (
    BundleError,
    EvidenceFilters,
    EvidenceWindow,
    collect_bundle,
    ledger_entry_for,
    read_bundle,
    record_bundle,
    verify_bundle,
    write_bundle,
)
from sekisho.lifecycle import keys as key_service
from sekisho.lifecycle import requests, service
from sekisho.lifecycle.overdue import list_overdue
from sekisho.lifecycle.policy import REASONS
from sekisho.store.models import Tenant
from sekisho.tenancy.service import find_tenant

REVIEW_IN = duration_arg(timedelta(hours=1), timedelta(days=365), "14d")
OVERLAP = duration_arg(timedelta(0), timedelta(days=30), "24h")


def _people(p: argparse.ArgumentParser) -> None:
    p.add_argument("tenant", metavar="TENANT", help="tenant id or unique name")
    p.add_argument(
        "--requested-by", required=True, metavar="EMAIL", help="the operator (or admin) who asked"
    )
    p.add_argument(
        "--authorized-by",
        required=True,
        metavar="EMAIL",
        help="the owner whose role matches the reason",
    )
    p.add_argument("--note", required=True, help="why (goes into the audit ledger)")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    tsub = subcommands(sub.choices["tenant"])
    p = tsub.add_parser(
        "suspend",
        parents=[common],
        help="break-glass: suspend a tenant at once on every replica (the people named are "
        "recorded as your statement); prints the suspension id",
    )
    _people(p)
    p.add_argument("--reason", required=True, choices=REASONS)
    p.add_argument(
        "--review-in",
        type=REVIEW_IN,
        metavar="DURATION",
        help="review date from now, 1h to 365d, e.g. 14d (default: lifecycle.review_default_days)",
    )
    p.set_defaults(handler=suspend_cmd)
    p = tsub.add_parser("reinstate", parents=[common], help="end a suspension; access returns")
    _people(p)
    p.set_defaults(handler=reinstate_cmd)
    p = tsub.add_parser(
        "offboard",
        parents=[common],
        help="start off-boarding a suspended tenant (or --complete it)",
    )
    _people(p)
    p.add_argument("--complete", action="store_true", help="finish an off-boarding started earlier")
    p.set_defaults(handler=offboard_cmd)
    register_requests(tsub, common)
    p = tsub.add_parser("show", parents=[common], help="a tenant's state and suspension history")
    p.add_argument("tenant", metavar="TENANT")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=show_cmd)
    p = tsub.add_parser("overdue", parents=[common], help="suspensions past their review date")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=overdue_cmd)
    p = tsub.add_parser("list", parents=[common], help="every tenant with its state")
    p.set_defaults(handler=list_cmd)

    ksub = subcommands(sub.choices["key"])
    p = ksub.add_parser(
        "list", parents=[common], help="a tenant's keys (prefix, status, last used)"
    )
    p.add_argument("tenant", metavar="TENANT")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=key_list_cmd)
    p = ksub.add_parser(
        "rotate",
        parents=[common],
        help="new key with the same scope; the old one expires after the overlap; "
        "prints the new key once",
    )
    p.add_argument("key", metavar="KEY", help="key id or prefix")
    p.add_argument(
        "--overlap",
        type=OVERLAP,
        default=timedelta(hours=24),
        metavar="DURATION",
        help="how long the old key keeps working, 0s to 30d (default 24h)",
    )
    p.add_argument("--note", help="why (goes into the audit ledger)")
    p.set_defaults(handler=key_rotate_cmd)
    p = ksub.add_parser("revoke", parents=[common], help="revoke a key at once")
    p.add_argument("key", metavar="KEY", help="key id or prefix")
    p.add_argument("--note", help="why (goes into the audit ledger)")
    p.set_defaults(handler=key_revoke_cmd)

    evidence = sub.add_parser("evidence", help="evidence bundles")
    esub = evidence.add_subparsers(dest="evidence_command", metavar="ACTION")
    esub.required = True
    p = esub.add_parser(
        "export",
        parents=[common],
        help="export a window of request log as a bundle; prints its SHA-256",
    )
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--tenant", metavar="TENANT", help="tenant id or name")
    who.add_argument("--alias", metavar="ALIAS")
    p.add_argument("--since", type=parse_duration, metavar="DURATION", help="e.g. 24h, up to now")
    p.add_argument("--from", dest="start", metavar="ISO8601", help="window start (inclusive)")
    p.add_argument("--to", dest="end", metavar="ISO8601", help="window end (exclusive)")
    p.add_argument("--out", required=True, metavar="PATH", help="the bundle file (tar) to write")
    p.add_argument("--force", action="store_true", help="replace an existing file at --out")
    p.set_defaults(handler=evidence_export_cmd)
    p = esub.add_parser(
        "verify", parents=[common], help="check a bundle against its manifest and its ledger entry"
    )
    p.add_argument("path", metavar="PATH")
    p.add_argument("--offline", action="store_true", help="check the manifest only (no database)")
    p.set_defaults(handler=evidence_verify_cmd)
    evidence_cmds.register(esub, common)  # evidence get | list (h-ledger)


def _request(ctx: CliContext) -> service.LifecycleRequest:
    """The break-glass form: the actor is `--as`; the people named are its statement."""
    a = ctx.args
    return service.LifecycleRequest(
        tenant=a.tenant,
        requested_by=a.requested_by,
        authorized_by=a.authorized_by,
        note=a.note,
        via=ctx.actor.via or "cli",
        actor=ctx.actor,
        statement=True,
    )


def register_requests(tsub: Any, common: argparse.ArgumentParser) -> None:
    """The two-step form: an operator requests, the matching owner signs off."""
    p = tsub.add_parser(
        "request-suspension",
        parents=[common],
        help="ask for a suspension; the owner matching the reason signs it off; prints the id",
    )
    p.add_argument("tenant", metavar="TENANT", help="tenant id or unique name")
    p.add_argument("--reason", required=True, choices=REASONS)
    p.add_argument("--note", required=True, help="why (goes into the audit ledger)")
    p.add_argument(
        "--review-in",
        type=REVIEW_IN,
        metavar="DURATION",
        help="review date from now, 1h to 365d (default: lifecycle.review_default_days)",
    )
    p.set_defaults(handler=request_suspension_cmd)
    p = tsub.add_parser(
        "request-reinstatement",
        parents=[common],
        help="ask to end the open suspension; its owner role signs it off; prints the id",
    )
    p.add_argument("tenant", metavar="TENANT", help="tenant id or unique name")
    p.add_argument("--note", required=True, help="why (goes into the audit ledger)")
    p.set_defaults(handler=request_reinstatement_cmd)
    p = tsub.add_parser(
        "requests", parents=[common], help="lifecycle requests waiting for sign-off (or others)"
    )
    p.add_argument(
        "--state", choices=("pending", "executed", "withdrawn", "all"), default="pending"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=requests_cmd)
    p = tsub.add_parser(
        "sign-off",
        parents=[common],
        help="sign off a request as the owner matching its reason; executes it",
    )
    p.add_argument("request", metavar="ID", help="the request id (sreq_...)")
    p.add_argument("--note", help="goes into the audit ledger")
    p.set_defaults(handler=sign_off_cmd)
    p = tsub.add_parser(
        "withdraw", parents=[common], help="withdraw a pending request (requester or owner side)"
    )
    p.add_argument("request", metavar="ID", help="the request id (sreq_...)")
    p.add_argument("--note", help="goes into the audit ledger")
    p.set_defaults(handler=withdraw_cmd)


def _describe(r: requests.SuspensionRequest) -> list[str]:
    review = r.review_at.isoformat(timespec="seconds") if r.review_at else "default"
    lines = [
        f"{r.id}  {r.state:<9} {r.kind} of {r.tenant_name} ({r.tenant_id}, now {r.tenant_state})",
        f"    reason {r.reason} (signed off by a {r.owner_role}); review {review}",
        f"    requested by {r.requested_by['email']} at "
        f"{r.requested_at.isoformat(timespec='seconds')}",
        f"    note: {r.note}",
    ]
    if r.decided_by is not None and r.decided_at is not None:
        lines.append(
            f"    {r.state} by {r.decided_by['email']} at "
            f"{r.decided_at.isoformat(timespec='seconds')}"
            + (f": {r.decision_note}" if r.decision_note else "")
        )
    return lines


def request_suspension_cmd(ctx: CliContext) -> int:
    a = ctx.args
    review_at = datetime.now(UTC) + a.review_in if a.review_in else None
    with ctx.db.begin() as session:
        r = requests.request_suspension(session, a.tenant, a.reason, a.note, review_at, ctx.actor)
    print("\n".join(_describe(r)))
    print(f"waiting for a {r.owner_role} to run: sekisho tenant sign-off {r.id}")
    print(r.id)
    return 0


def request_reinstatement_cmd(ctx: CliContext) -> int:
    with ctx.db.begin() as session:
        r = requests.request_reinstatement(session, ctx.args.tenant, ctx.args.note, ctx.actor)
    print("\n".join(_describe(r)))
    print(f"waiting for a {r.owner_role} to run: sekisho tenant sign-off {r.id}")
    print(r.id)
    return 0


def requests_cmd(ctx: CliContext) -> int:
    state = None if ctx.args.state == "all" else ctx.args.state
    with ctx.db.read() as session:
        found = requests.list_requests(session, state=state)
    if ctx.args.json:
        print(json.dumps([r.as_dict() for r in found], indent=2))
        return 0
    if not found:
        print(f"no {ctx.args.state} requests" if state else "no requests")
    for r in found:
        print("\n".join(_describe(r)))
    return 0


def sign_off_cmd(ctx: CliContext) -> int:
    actor = ctx.actor
    with ctx.db.begin() as session:
        r = requests.sign_off(
            session, ctx.args.request, actor, settings=ctx.settings, note=ctx.args.note
        )
    assert r.result is not None
    _announce(ctx, r.result.event)
    print("\n".join(_describe(r)))
    if r.result.evidence_sha256:
        print(f"evidence snapshot taken first: sha256 {r.result.evidence_sha256}")
    print(f"tenant {r.tenant_name} ({r.tenant_id}) is now {r.result.state}")
    print(r.result.suspension_id)
    return 0


def withdraw_cmd(ctx: CliContext) -> int:
    with ctx.db.begin() as session:
        r = requests.withdraw(session, ctx.args.request, ctx.actor, ctx.args.note)
    print("\n".join(_describe(r)))
    return 0


def _announce(ctx: CliContext, event: Invalidation) -> None:
    settings = ctx.settings
    Announcer(settings.redis_url, settings.bus.channel).publish([event])


def suspend_cmd(ctx: CliContext) -> int:
    with ctx.db.begin() as session:
        result = service.suspend_tenant(
            session,
            ctx.settings,
            _request(ctx),
            reason=ctx.args.reason,
            review_in=ctx.args.review_in,
        )
    _announce(ctx, result.event)
    if result.evidence_sha256:
        print(f"evidence snapshot taken first: sha256 {result.evidence_sha256}")
    assert result.review_at is not None
    print(
        f"suspended tenant {result.tenant_name} ({result.tenant_id}); "
        f"{result.sessions_revoked} session(s) ended; review by {result.review_at.isoformat()}"
    )
    print(result.suspension_id)
    return 0


def reinstate_cmd(ctx: CliContext) -> int:
    with ctx.db.begin() as session:
        result = service.reinstate_tenant(session, ctx.settings, _request(ctx))
    _announce(ctx, result.event)
    print(f"reinstated tenant {result.tenant_name} ({result.tenant_id})")
    return 0


def offboard_cmd(ctx: CliContext) -> int:
    with ctx.db.begin() as session:
        result = service.offboard_tenant(
            session, ctx.settings, _request(ctx), complete=ctx.args.complete
        )
    _announce(ctx, result.event)
    print(
        f"tenant {result.tenant_name} ({result.tenant_id}) is now {result.state}; "
        "no data was deleted (see docs/data-retention.md)"
    )
    return 0


def show_cmd(ctx: CliContext) -> int:
    with ctx.db.read() as session:
        view = service.tenant_view(session, ctx.args.tenant)
    if ctx.args.json:
        print(json.dumps(view, indent=2))
        return 0
    print(
        f"{view['name']} ({view['id']}): {view['state'].upper()} since "
        f"{view['state_changed_at']} (version {view['version']})"
    )
    print(
        f"  contacts: account owner {view['account_owner_email'] or '-'}, "
        f"CS {view['cs_email'] or '-'}"
    )
    for s in view["suspensions"]:
        flag = "  OVERDUE" if s["overdue"] else ""
        print(
            f"  suspension {s['id']}: {s['reason']} at {s['created_at']}, requested by "
            f"{s['requested_by']}, authorized by {s['authorized_by']}; review by "
            f"{s['review_at']}{flag}"
        )
        print(f"    note: {s['note']}")
        if s["evidence_sha256"]:
            print(f"    evidence sha256 {s['evidence_sha256']}")
        if s["ended_at"]:
            print(f"    ended {s['ended_at']} ({s['ended_kind']}): {s['end_note']}")
    return 0


def overdue_cmd(ctx: CliContext) -> int:
    with ctx.db.read() as session:
        items = list_overdue(session)
    if ctx.args.json:
        print(json.dumps(items, indent=2))
        return 0
    if not items:
        print("no suspension is past its review date")
    for item in items:
        print(
            f"{item['tenant']} ({item['tenant_id']}): {item['reason']}, suspended "
            f"{item['suspended_at']}, review was due {item['review_at']} "
            f"({item['days_overdue']} day(s) overdue)"
        )
    return 0


def list_cmd(ctx: CliContext) -> int:
    from sqlalchemy import select

    with ctx.db.read() as session:
        for tenant in session.scalars(select(Tenant).order_by(Tenant.name)):
            print(f"{tenant.id}  {tenant.state:<12} {tenant.name}")
    return 0


def key_list_cmd(ctx: CliContext) -> int:
    with ctx.db.read() as session:
        keys = key_service.list_keys(session, ctx.args.tenant)
    if ctx.args.json:
        print(json.dumps(keys, indent=2))
        return 0
    if not keys:
        print("no API keys")
    for k in keys:
        print(
            f"{k['id']}  {k['prefix']}  {k['status']:<8} created {k['created_at']}  "
            f"last used {k['last_used_at'] or 'never'}  expires {k['expires_at'] or 'never'}"
            f"  {k['name']}"
        )
        if k["blocked_because"]:
            print(f"    blocked: {k['blocked_because']}; the key works again on reinstatement")
    return 0


def key_rotate_cmd(ctx: CliContext) -> int:
    a = ctx.args
    with ctx.db.begin() as session:
        change = key_service.rotate_key(
            session,
            ctx.settings,
            ctx.settings.matrix,
            a.key,
            ctx.actor,
            overlap=a.overlap,
            note=a.note,
        )
    _announce(ctx, change.event)
    assert change.replaced is not None and change.replaced.expires_at is not None
    print(
        f"rotated {change.replaced.prefix} -> {change.key.prefix} ({change.key.id}); the old key "
        f"works until {change.replaced.expires_at.isoformat()}; the new key is shown only once:"
    )
    print(change.secret)
    return 0


def key_revoke_cmd(ctx: CliContext) -> int:
    with ctx.db.begin() as session:
        change = key_service.revoke_key(
            session, ctx.settings, ctx.args.key, ctx.actor, note=ctx.args.note
        )
    _announce(ctx, change.event)
    print(f"revoked API key {change.key.prefix} ({change.key.id})")
    return 0


def _parse_time(text: str, flag: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"{flag} {text!r} is not an ISO 8601 time", code=2) from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _window(ctx: CliContext) -> EvidenceWindow:
    a = ctx.args
    if a.since is not None and (a.start or a.end):
        raise CommandError("give --since, or --from and --to, not both", code=2)
    try:
        if a.since is not None:
            now = datetime.now(UTC)
            return EvidenceWindow(now - a.since, now)
        if a.start and a.end:
            return EvidenceWindow(_parse_time(a.start, "--from"), _parse_time(a.end, "--to"))
    except BundleError as exc:
        raise CommandError(str(exc), code=2) from exc
    raise CommandError("give --since DURATION, or both --from and --to", code=2)


def evidence_export_cmd(ctx: CliContext) -> int:
    a = ctx.args
    window = _window(ctx)
    if a.alias is not None and a.alias not in ctx.settings.matrix.aliases:
        raise CommandError(f"unknown alias {a.alias!r}")
    out = Path(a.out)
    with ctx.db.begin() as session:
        tenant_id = find_tenant(session, a.tenant).id if a.tenant else None
        bundle = collect_bundle(
            session, EvidenceFilters(tenant_id=tenant_id, alias=a.alias), window
        )
        try:  # refuse before anything is recorded: evidence is never overwritten
            path = write_bundle(bundle, out, force=a.force)
        except BundleError as exc:
            raise CommandError(str(exc), code=2) from exc
        record_bundle(session, bundle, purpose="export", actor=ctx.actor)
    records = sum(f.get("records", 0) for f in bundle.manifest["files"])
    print(
        f"wrote {path} ({records} record(s), {bundle.manifest['window']['from']} to "
        f"{bundle.manifest['window']['to']}); its SHA-256 is in the ledger:"
    )
    print(bundle.sha256)
    return 0


def evidence_verify_cmd(ctx: CliContext) -> int:
    try:
        bundle = read_bundle(ctx.args.path)
    except BundleError as exc:
        raise CommandError(str(exc)) from exc
    problems = verify_bundle(bundle)
    if not ctx.args.offline and not problems:
        with ctx.db.read() as session:
            entry = ledger_entry_for(session, bundle.sha256)
        if entry is None:
            problems.append(f"no ledger entry records bundle {bundle.sha256}")
        else:
            files = {f["name"]: f["sha256"] for f in bundle.manifest["files"]}
            if entry["details"].get("files") != files:
                problems.append("the ledger entry's file hashes differ from the manifest")
            else:
                print(
                    f"recorded in ledger {entry['ledger']} at seq {entry['seq']} "
                    f"({entry['action']}, {entry['time']})"
                )
    if problems:
        raise CommandError("bundle does not verify: " + "; ".join(problems))
    print(f"bundle {bundle.sha256} verifies")
    return 0
