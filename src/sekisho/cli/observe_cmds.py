"""report, triage, alerts, probes, rollup rebuild: what an operator reads in an outage."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sekisho.cli.context import CliContext, CommandError
from sekisho.observe import alerts, triage
from sekisho.observe.probes import summaries
from sekisho.observe.rollup_store import rebuild
from sekisho.observe.series import series, series_document
from sekisho.observe.window import WindowError, parse_duration, resolve_window
from sekisho.status.humantime import human_time


def _window_args(p: argparse.ArgumentParser, default: str = "1h") -> None:
    p.add_argument(
        "--since", metavar="DURATION", help=f"how far back, e.g. 15m, 1h, 24h (default {default})"
    )
    p.add_argument(
        "--from", dest="start", metavar="ISO8601", help="window start instead of --since"
    )
    p.add_argument("--to", dest="end", metavar="ISO8601", help="window end (default: now)")


def _window(ctx: CliContext, default: timedelta = timedelta(hours=1)) -> tuple[datetime, datetime]:
    a = ctx.args
    try:
        return resolve_window(since=a.since, start=a.start, end=a.end, default=default)
    except WindowError as exc:
        raise CommandError(str(exc), 2) from exc


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "report",
        parents=[common],
        help="request-log series by alias (or tenant, or provider) as a table",
    )
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--alias", help="a model alias")
    who.add_argument("--tenant", metavar="TENANT", help="tenant id or unique name")
    who.add_argument("--provider", help="a provider id (internal: upstream attempts)")
    _window_args(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=report_cmd)

    p = sub.add_parser(
        "triage", parents=[common], help="upstream or us? probes and live traffic for one alias"
    )
    p.add_argument("alias")
    p.add_argument(
        "--window",
        metavar="DURATION",
        help="how far back (default: the spike alert's window, observe.alert_window_s)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=triage_cmd)

    p = sub.add_parser("alerts", parents=[common], help="spike alerts (firing ones by default)")
    p.add_argument("--all", action="store_true", help="resolved ones too")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=alerts_cmd)

    p = sub.add_parser("probes", parents=[common], help="synthetic probe results (last hour)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=probes_cmd)

    p = sub.add_parser("notify", help="the notification outbox (e-mail and webhook)")
    nsub = p.add_subparsers(dest="notify_command", metavar="ACTION")
    nsub.required = True
    n = nsub.add_parser(
        "list", parents=[common], help="notifications, newest first, with delivery state"
    )
    n.add_argument("--tenant", metavar="TENANT", help="a tenant id or name")
    n.add_argument("--state", choices=("pending", "retrying", "delivered", "failed"))
    n.add_argument("--json", action="store_true", help="machine-readable output")
    n.set_defaults(handler=notify_list_cmd)
    n = nsub.add_parser("show", parents=[common], help="one notification with its payload")
    n.add_argument("notification", metavar="ID")
    n.set_defaults(handler=notify_show_cmd)

    p = sub.add_parser("rollup", help="the request-log rollup behind dashboards")
    rsub = p.add_subparsers(dest="rollup_command", metavar="ACTION")
    rsub.required = True
    r = rsub.add_parser(
        "rebuild",
        parents=[common],
        help="recompute alias and tenant rollups of a closed window from the raw log",
    )
    _window_args(r, "24h")
    r.set_defaults(handler=rebuild_cmd)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}"


def format_series(doc: dict[str, Any], dim: str) -> str:
    """A readable table of a series document."""
    head = (
        f"{'time (UTC)':<17} {'req':>6} {'2xx':>6} {'4xx':>5} {'5xx':>5} {'429':>5} "
        f"{'502':>5} {'err%':>6} {'p50':>6} {'p95':>6} {'p99':>6} {'ttfb50':>6} {'tokens':>8}"
    )

    def line(label: str, b: dict[str, Any]) -> str:
        lat, ttfb, tok = b["latency_ms"], b["ttfb_ms"], b["tokens"]
        return (
            f"{label:<17} {b['requests']:>6} {b['2xx']:>6} {b['4xx']:>5} {b['5xx']:>5} "
            f"{b['429']:>5} {b['502']:>5} {_pct(b['error_rate']):>6} {_ms(lat['p50']):>6} "
            f"{_ms(lat['p95']):>6} {_ms(lat['p99']):>6} {_ms(ttfb['p50']):>6} "
            f"{tok['prompt'] + tok['completion']:>8}"
        )

    label = f"{doc['tenant_name']} ({doc[dim]})" if doc.get("tenant_name") else doc[dim]
    out = [f"{dim} {label}: {doc['from']} .. {doc['to']} ({doc['bucket_s']}s buckets)", head]
    out += [
        line(datetime.fromisoformat(b["ts"]).strftime("%m-%d %H:%M:%S"), b) for b in doc["buckets"]
    ]
    if not doc["buckets"]:
        out.append("(no traffic in this window)")
    out.append(line("total", doc["totals"]))
    codes = doc["totals"]["codes"]
    if codes:
        out.append("codes: " + ", ".join(f"{k} {v}" for k, v in codes.items()))
    refused = doc["totals"].get("refused") or {}
    if refused:
        out.append(
            "refused by the gateway (no upstream called): "
            + ", ".join(f"{k} {v}" for k, v in refused.items())
        )
    return "\n".join(out)


def report_cmd(ctx: CliContext) -> int:
    a = ctx.args
    dim, key = (
        ("alias", a.alias)
        if a.alias
        else ("tenant", a.tenant)
        if a.tenant
        else ("provider", a.provider)
    )
    matrix = ctx.settings.matrix
    if dim == "alias" and key not in matrix.aliases:
        raise CommandError(f"unknown alias {key!r}")
    if dim == "provider" and key not in matrix.providers:
        raise CommandError(f"unknown provider {key!r}")
    start, end = _window(ctx)
    name = None
    with ctx.db.read() as session:
        if dim == "tenant":  # by id or unique name, as every tenant command takes it
            from sekisho.tenancy.service import ControlPlaneError, find_tenant

            try:
                tenant = find_tenant(session, key)
            except ControlPlaneError as exc:
                raise CommandError(str(exc)) from exc
            key, name = tenant.id, tenant.name
        points = series(session, dim, key, start, end)
    doc = series_document(dim, key, start, end, ctx.settings.observe.rollup_bucket_s, points)
    if name is not None:
        doc["tenant_name"] = name
    print(json.dumps(doc, indent=2) if a.json else format_series(doc, dim))
    return 0


def format_triage(doc: dict[str, Any]) -> str:
    answer = {
        "upstream": "UPSTREAM — a provider behind the alias is failing",
        "gateway": "US — the providers answer but the alias fails through the gateway",
        "healthy": "HEALTHY — no failure seen",
        "unknown": "UNKNOWN — no data",
    }
    out = [f"alias {doc['alias']}: {answer[doc['verdict']]}"]
    window = doc.get("window") or {}
    if window.get("from") and window.get("to"):
        start, end = (datetime.fromisoformat(window[k]) for k in ("from", "to"))
        out.append(
            f"  judged over the last {_span(doc['window_s'])}: "
            f"{start.strftime('%H:%M:%S')}-{end.strftime('%H:%M:%S')} UTC"
        )
    out += [f"  - {r}" for r in doc["reasons"]]
    out.append(f"{'provider':<24} {'probes failed':>14} {'attempts failed':>16}  outcomes")
    for p in doc["providers"]:
        pr = p["probes"]
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(p["outcomes"].items())) or "-"
        out.append(
            f"{p['provider']:<24} {pr['failed']:>6}/{pr['total']:<7} "
            f"{p['failed_attempts']:>7}/{p['attempts']:<8}  {outcomes}"
        )
    t, ap = doc["alias_traffic"], doc["alias_probe"]
    out.append(
        f"alias traffic: {t['requests']} requests, 5xx {t['5xx']}, 429 {t['429']}, "
        f"error rate {_pct(t['error_rate'])}; end-to-end probes failed "
        f"{ap['failed']}/{ap['total']}"
    )
    return "\n".join(out)


def _span(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:.0f} h"
    if seconds % 60 == 0:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def triage_cmd(ctx: CliContext) -> int:
    a = ctx.args
    matrix = ctx.settings.matrix
    if a.alias not in matrix.aliases:
        raise CommandError(f"unknown alias {a.alias!r}")
    try:
        window_s = (
            parse_duration(a.window).total_seconds()
            if a.window
            else ctx.settings.observe.alert_window_s
        )
    except WindowError as exc:
        raise CommandError(str(exc), 2) from exc
    doc = triage.report(triage.gather(ctx.db, matrix, a.alias, window_s))
    print(json.dumps(doc, indent=2) if a.json else format_triage(doc))
    return 0


def alerts_cmd(ctx: CliContext) -> int:
    with ctx.db.read() as session:
        rows = alerts.list_alerts(session, include_resolved=ctx.args.all)
    if ctx.args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no alerts" if ctx.args.all else "no firing alerts")
    now = datetime.now(UTC)
    for r in rows:
        fired, resolved = r["at_firing"], r["at_resolution"]
        line = (
            f"{r['id']}  {r['state']:<8} {r['alias']:<20} "
            f"fired {human_time(datetime.fromisoformat(r['fired_at']), now)} at "
            f"{_figures(fired)}; peak {_pct(r['peak_rate'])}"
        )
        if r["resolved_at"]:
            line += f"; resolved {human_time(datetime.fromisoformat(r['resolved_at']), now)}"
            line += f" at {_figures(resolved)}" if resolved else ""
        else:
            line += f"; now {_pct(r['rate'])}"
        print(line)
    return 0


def _figures(f: dict[str, Any]) -> str:
    return f"{_pct(f['rate'])} of {f['requests']} requests (baseline {_pct(f['baseline_rate'])})"


def probes_cmd(ctx: CliContext) -> int:
    matrix = ctx.settings.matrix
    since = datetime.now(UTC) - timedelta(hours=1)
    with ctx.db.read() as session:
        found = [
            *summaries(session, "provider", sorted(matrix.providers), since).values(),
            *summaries(session, "alias", sorted(matrix.aliases), since).values(),
        ]
    if ctx.args.json:
        print(json.dumps([s.to_dict() for s in found], indent=2))
        return 0
    print(f"{'kind':<9} {'target':<24} {'failed':>10}  last")
    for s in found:
        last = (
            "never"
            if s.last_ok is None
            else f"{'ok' if s.last_ok else s.last_outcome} {s.last_latency_ms:.0f}ms at "
            f"{s.last_at.isoformat(timespec='seconds') if s.last_at else '?'}"
        )
        print(f"{s.kind:<9} {s.target:<24} {s.failed:>4}/{s.total:<5}  {last}")
    return 0


def rebuild_cmd(ctx: CliContext) -> int:
    start, end = _window(ctx, timedelta(hours=24))
    rows = rebuild(ctx.db, start, end, ctx.settings.observe.rollup_bucket_s)
    print(f"rebuilt {rows} rollup rows for {start.isoformat()} .. {end.isoformat()}")
    return 0


def notify_list_cmd(ctx: CliContext) -> int:
    from sekisho.notify.inspect import list_notifications
    from sekisho.tenancy.service import ControlPlaneError, find_tenant

    a = ctx.args
    with ctx.db.read() as session:
        tenant_id = None
        if a.tenant:
            try:
                tenant_id = find_tenant(session, a.tenant).id
            except ControlPlaneError as exc:
                raise CommandError(str(exc)) from exc
        rows = list_notifications(session, tenant_id=tenant_id, state=a.state)
    if a.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no notifications" + (f" for {a.tenant}" if a.tenant else ""))
        return 0
    now = datetime.now(UTC)
    for r in rows:
        created = human_time(datetime.fromisoformat(r["created_at"]), now)
        line = (
            f"{r['id']}  {r['state']:<9} {r['channel']:<7} {r['event']:<24} "
            f"to {r['destination']}  {r['attempts']} attempt(s), queued {created}"
        )
        if r["state"] == "delivered":
            line += f", delivered {human_time(datetime.fromisoformat(r['delivered_at']), now)}"
        elif r["state"] == "retrying":
            line += f", next try {human_time(datetime.fromisoformat(r['next_attempt_at']), now)}"
        if r["last_error"] and r["state"] != "delivered":
            line += f"; last error: {r['last_error']}"
        print(line)
    return 0


def notify_show_cmd(ctx: CliContext) -> int:
    from sekisho.notify.inspect import NotificationNotFound, get_notification

    with ctx.db.read() as session:
        try:
            doc = get_notification(session, ctx.args.notification)
        except NotificationNotFound as exc:
            raise CommandError(str(exc)) from exc
    print(json.dumps(doc, indent=2))
    return 0
