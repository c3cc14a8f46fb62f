"""sekisho incident open | note | update | resolve | evidence | show | list."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from sekisho.cli.context import CliContext, CommandError
from sekisho.incidents import service, workflow
from sekisho.observe.window import WindowError, parse_duration, parse_time
from sekisho.status.humantime import human_time


def _eta(text: str) -> datetime:
    """'45m' (from now) or an ISO 8601 time."""
    try:
        return datetime.now(UTC) + parse_duration(text)
    except WindowError:
        pass
    try:
        return parse_time(text)
    except WindowError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a duration like 45m nor an ISO 8601 time"
        ) from exc


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    inc = sub.add_parser("incident", help="incidents: timeline, customer updates, resolution")
    isub = inc.add_subparsers(dest="incident_command", metavar="ACTION")
    isub.required = True

    p = isub.add_parser("open", parents=[common], help="open an incident; prints its id")
    p.add_argument("--title", required=True, help="customer-facing title (aliases only)")
    p.add_argument("--severity", required=True, type=str.upper, choices=service.SEVERITIES)
    p.add_argument(
        "--alias",
        dest="aliases",
        action="append",
        required=True,
        metavar="ALIAS",
        help="an affected alias (repeat for several)",
    )
    p.add_argument("--eta", type=_eta, metavar="WHEN", help="expected resolution: 45m or ISO 8601")
    p.add_argument("--note", help="first internal note (may name providers)")
    p.set_defaults(handler=open_cmd)

    p = isub.add_parser(
        "note", parents=[common], help="add an internal timeline note (posted to the ops channel)"
    )
    p.add_argument("incident")
    p.add_argument("text")
    p.add_argument(
        "--severity", type=str.upper, choices=service.SEVERITIES, help="change the severity"
    )
    p.set_defaults(handler=note_cmd)

    p = isub.add_parser(
        "update",
        parents=[common],
        help="post a customer-facing update (leak-checked; shown on /status)",
    )
    p.add_argument("incident")
    p.add_argument("text")
    p.add_argument("--eta", type=_eta, metavar="WHEN", help="new expected resolution")
    p.set_defaults(handler=update_cmd)

    p = isub.add_parser(
        "correct",
        parents=[common],
        help="correct a published customer update (leak-checked; /status shows the correction)",
    )
    p.add_argument("incident")
    p.add_argument("update_id", type=int, metavar="UPDATE", help="the update's #number")
    p.add_argument("text")
    p.set_defaults(handler=correct_cmd)

    p = isub.add_parser(
        "withdraw",
        parents=[common],
        help="withdraw a published customer update from /status (kept in the ledger)",
    )
    p.add_argument("incident")
    p.add_argument("update_id", type=int, metavar="UPDATE", help="the update's #number")
    p.add_argument("--note", required=True, help="why (internal; goes into the ledger)")
    p.set_defaults(handler=withdraw_cmd)

    p = isub.add_parser(
        "resolve",
        parents=[common],
        help="resolve: revert its overrides, show error rates, capture evidence",
    )
    p.add_argument("incident")
    p.add_argument("--update", help="a last customer-facing update")
    p.add_argument("--note", help="internal resolution note")
    p.add_argument("--no-evidence", action="store_true", help="do not capture evidence now")
    p.set_defaults(handler=resolve_cmd)

    p = isub.add_parser(
        "evidence",
        parents=[common],
        help="capture the incident's request-log evidence window; prints the hash",
    )
    p.add_argument("incident")
    p.set_defaults(handler=evidence_cmd)

    p = isub.add_parser("show", parents=[common], help="an incident with its internal timeline")
    p.add_argument("incident")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=show_cmd)

    p = isub.add_parser("list", parents=[common], help="open incidents")
    p.add_argument("--all", action="store_true", help="resolved ones too")
    p.set_defaults(handler=list_cmd)


def _warn_unposted(outcome: workflow.Outcome) -> None:
    if not outcome.posted:
        print("sekisho: warning: the ops channel did not accept the post", file=sys.stderr)


def open_cmd(ctx: CliContext) -> int:
    a = ctx.args
    out = workflow.open_incident(
        ctx.db,
        ctx.settings,
        ctx.settings.matrix,
        ctx.actor,
        title=a.title,
        severity=a.severity,
        aliases=a.aliases,
        eta=a.eta,
        note=a.note,
    )
    _warn_unposted(out)
    print(
        f"{out.document['severity']} incident opened for {', '.join(out.document['aliases'])}; "
        f"attach overrides with: sekisho alias override ALIAS ... --incident {out.incident_id}"
    )
    print(out.incident_id)
    return 0


def note_cmd(ctx: CliContext) -> int:
    a = ctx.args
    out = workflow.add_note(ctx.db, ctx.settings, ctx.actor, a.incident, a.text, a.severity)
    _warn_unposted(out)
    print(f"note added to {a.incident}")
    return 0


def update_cmd(ctx: CliContext) -> int:
    a = ctx.args
    out = workflow.post_update(
        ctx.db, ctx.settings, ctx.settings.matrix, ctx.actor, a.incident, a.text, a.eta
    )
    _warn_unposted(out)
    print(f"customer update posted to {a.incident} (shown on /status)")
    return 0


def correct_cmd(ctx: CliContext) -> int:
    a = ctx.args
    out = workflow.correct_update(
        ctx.db, ctx.settings, ctx.settings.matrix, ctx.actor, a.incident, a.update_id, a.text
    )
    _warn_unposted(out)
    print(f"customer update #{a.update_id} of {a.incident} corrected (/status shows the new text)")
    return 0


def withdraw_cmd(ctx: CliContext) -> int:
    a = ctx.args
    out = workflow.withdraw_update(ctx.db, ctx.settings, ctx.actor, a.incident, a.update_id, a.note)
    _warn_unposted(out)
    print(f"customer update #{a.update_id} of {a.incident} withdrawn from /status")
    return 0


def _period(name: str, p: dict[str, Any]) -> str:
    rate = "n/a" if p["error_rate"] is None else f"{p['error_rate']:.1%}"
    return (
        f"  {name:<7} {rate:>7} of {p['requests']:>6} requests ({p['from'][:19]} .. {p['to'][:19]})"
    )


def resolve_cmd(ctx: CliContext) -> int:
    a = ctx.args
    out = workflow.resolve(
        ctx.db,
        ctx.settings,
        ctx.settings.matrix,
        ctx.actor,
        a.incident,
        update=a.update,
        note=a.note,
        evidence=not a.no_evidence,
    )
    _warn_unposted(out)
    impact = out.extra["impact"]
    print(f"incident {a.incident} resolved; 5xx/429 error rate of {', '.join(impact['aliases'])}:")
    for name in ("before", "during", "after"):
        print(_period(name, impact[name]))
    threshold = ctx.settings.observe.status_degraded_rate
    after = impact["after"]["error_rate"]
    if after is not None and after >= threshold:
        print(
            f"warning: the 'after' error rate is still at or above {threshold:.0%}; "
            "watch `sekisho report` before closing the review"
        )
    for r in out.extra["reverted"]:
        print(f"reverted {r['kind']} of {r['provider']} on {r['alias']} (#{r['id']})")
    for b in out.extra["evidence"]:
        print(f"evidence {b['alias']}: {b['path']} sha256 {b['sha256']} ({b['records']} rows)")
    return 0


def _bundle_line(b: dict[str, Any]) -> str:
    ident = f"{b['bundle_id']} " if b.get("bundle_id") else ""
    return f"evidence {ident}{b['alias']}: sha256 {b['sha256']} ({b['records']} rows) {b['path']}"


def evidence_cmd(ctx: CliContext) -> int:
    out = workflow.capture_evidence(ctx.db, ctx.settings, ctx.actor, ctx.args.incident)
    bundles = out.extra["evidence"]
    if not bundles:
        raise CommandError("no evidence captured")
    for b in bundles:  # one line per bundle; earlier bundles are never rewritten
        print(_bundle_line(b))
    return 0


def _when(text: str | None, now: datetime) -> str:
    return human_time(datetime.fromisoformat(text), now) if text else "-"


def show_cmd(ctx: CliContext) -> int:
    now = datetime.now(UTC)
    with ctx.db.read() as session:
        incident = service.get(session, ctx.args.incident)
        doc = service.incident_document(session, incident)
        live = doc["impact"] is None
        if live:  # still open: measure up to now
            doc["impact"] = workflow.live_impact(session, ctx.settings, incident, now)
        doc["impact_live"] = live
    if ctx.args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(f"{doc['id']} {doc['severity']} {doc['status']}: {doc['title']}")
    print(
        f"aliases {', '.join(doc['aliases'])}; opened {_when(doc['opened_at'], now)} "
        f"by {doc['opened_by']}"
        + (f"; ETA {_when(doc['eta'], now)}" if doc["eta"] else "")
        + (
            f"; resolved {_when(doc['resolved_at'], now)} by {doc['resolved_by']}"
            if doc["resolved_at"]
            else ""
        )
    )
    impact = doc["impact"]
    if impact:
        print(f"impact (5xx/429 error rate{', so far' if live else ''}):")
        for name in ("before", "during", "after"):
            print(_period(name, impact[name]))
    print("timeline:")
    for e in doc["timeline"]:
        tag = f"customer update #{e['id']}" if e["public"] else e["kind"]
        print(f"  {e['ts'][:19]} [{tag}] {e['author']}: {e['text']}")
    for o in doc["overrides"]:
        state = (
            f"reverted {o['reverted_at'][:19]}"
            if o["reverted_at"]
            else f"until {o['expires_at'][:19]}"
        )
        print(f"  override {o['id']}: {o['kind']} {o['provider']} on {o['alias']} ({state})")
    print(
        f"evidence: {len(doc['evidence'])} bundle(s)" if doc["evidence"] else "evidence: none yet"
    )
    for b in doc["evidence"]:
        print("  " + _bundle_line(b))
    return 0


def list_cmd(ctx: CliContext) -> int:
    with ctx.db.read() as session:
        rows = service.list_incidents(session, include_resolved=ctx.args.all)
        lines = [
            f"{i.id}  {i.severity} {i.status:<8} {', '.join(i.aliases):<24} {i.title}" for i in rows
        ]
    print("\n".join(lines) if lines else "no open incidents")
    return 0
