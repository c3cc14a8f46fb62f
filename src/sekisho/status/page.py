"""`GET /status` (HTML) and `GET /status.json`: public, by alias only.

Nothing here may reveal a provider: aliases, their states and the customer
updates of open incidents only. Incident text passed the leak check when it
was posted; it is checked again against the *current* matrix on the way out
(a provider added later may share a word with an old update), and anything
that fails is withheld.
"""

from __future__ import annotations

import asyncio
import html
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from sekisho.incidents import service as incidents
from sekisho.matrix import Matrix
from sekisho.matrix.leakcheck import find_leaks, terms_for
from sekisho.observe.probes import summaries
from sekisho.observe.series import window_totals
from sekisho.settings import ObserveSettings
from sekisho.status.humantime import human_time
from sekisho.status.state import Evidence, Thresholds, alias_state
from sekisho.store.db import Database

WITHHELD = "(update withheld)"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def compute_status(
    db: Database, matrix: Matrix, cfg: ObserveSettings, now: datetime | None = None
) -> dict[str, Any]:
    """The public status document: every text in it passes the leak check."""
    now = now or datetime.now(UTC)
    since = now - timedelta(seconds=cfg.status_window_s)
    names = sorted(matrix.aliases)
    terms = terms_for(matrix)

    def public(text: str) -> str:
        return WITHHELD if find_leaks(text, terms) else text

    def when(moment: datetime) -> dict[str, str]:
        return {"ts": _iso(moment), "when": human_time(moment, now)}

    def incident_doc(inc: Any, session: Any) -> dict[str, Any]:
        updates = incidents.customer_updates(incidents.events(session, inc.id))
        return {
            "id": inc.id,
            "title": public(inc.title),
            "severity": inc.severity,
            "status": inc.status,
            "aliases": [a for a in inc.aliases if a in matrix.aliases],
            "opened_at": _iso(inc.opened_at),
            "opened": human_time(inc.opened_at, now),
            "eta": _iso(inc.eta) if inc.eta else None,
            "eta_when": human_time(inc.eta, now) if inc.eta else None,
            "resolved_at": _iso(inc.resolved_at) if inc.resolved_at else None,
            "resolved": human_time(inc.resolved_at, now) if inc.resolved_at else None,
            "updates": [
                {
                    **when(u.ts),
                    "text": public(u.text),
                    "corrected": human_time(u.corrected_at, now) if u.corrected_at else None,
                }
                for u in reversed(updates)
            ],
        }

    thresholds = Thresholds(
        cfg.status_min_requests, cfg.status_degraded_rate, cfg.status_outage_rate
    )
    keep = timedelta(seconds=cfg.status_resolved_visible_s)
    with db.read() as session:
        traffic = window_totals(session, "alias", names, since, now + timedelta(seconds=1))
        probes = summaries(session, "alias", names, since)
        open_incidents = incidents.list_incidents(session)
        docs = [incident_doc(inc, session) for inc in open_incidents]
        resolved = []
        for inc in incidents.list_incidents(session, include_resolved=True):
            if inc.status == "resolved" and inc.resolved_at and now - inc.resolved_at <= keep:
                doc = incident_doc(inc, session)
                doc["updates"] = doc["updates"][:1]  # the final update stays for a while
                resolved.append(doc)
    affected = {a for inc in open_incidents for a in inc.aliases}
    aliases = []
    for name in names:
        t, p = traffic[name], probes[name]
        state = alias_state(
            Evidence(t.requests, t.errors, p.total, p.failed, name in affected), thresholds
        )
        description = matrix.aliases[name].description
        aliases.append(
            {
                "alias": name,
                "state": state,
                "description": ""
                if not description or public(description) == WITHHELD
                else description,
            }
        )
    overall = (
        "outage"
        if any(a["state"] == "outage" for a in aliases)
        else "degraded"
        if any(a["state"] == "degraded" for a in aliases)
        else "operational"
    )
    return {
        "updated_at": _iso(now),
        "updated": human_time(now, now),
        "state": overall,
        "aliases": aliases,
        "incidents": docs,
        "recently_resolved": resolved,
    }


_LABEL = {"operational": "Operational", "degraded": "Degraded performance", "outage": "Outage"}
_COLOR = {"operational": "#1a7f37", "degraded": "#9a6700", "outage": "#cf222e"}


def _incident_html(i: dict[str, Any]) -> str:
    e = html.escape
    facts = [f"Affected: {e(', '.join(i['aliases']))}"]
    if i.get("resolved"):
        facts.append(f"Resolved {e(i['resolved'])}")
    elif i["eta"]:
        facts.append(f"Expected resolution: {e(i['eta_when'])}")
    items = "".join(
        f'<li><time datetime="{e(u["ts"])}">{e(u["when"])}</time> {e(u["text"])}'
        + (f" <small>(corrected {e(u['corrected'])})</small>" if u.get("corrected") else "")
        + "</li>"
        for u in i["updates"]
    )
    return (
        f"<section><h3>{e(i['title'])} <small>{e(i['severity'])}</small></h3>"
        f"<p>{' &middot; '.join(facts)}</p><ul>{items}</ul></section>"
    )


def render_html(doc: dict[str, Any]) -> str:
    e = html.escape
    rows = "".join(
        f'<tr><td><code>{e(a["alias"])}</code><div class="d">{e(a["description"])}</div></td>'
        f'<td style="color:{_COLOR[a["state"]]}">{_LABEL[a["state"]]}</td></tr>'
        for a in doc["aliases"]
    )
    incidents_html = "".join(_incident_html(i) for i in doc["incidents"]) or (
        "<p>No open incidents.</p>"
    )
    resolved = doc.get("recently_resolved") or []
    if resolved:
        incidents_html += "<h2>Recently resolved</h2>" + "".join(
            _incident_html(i) for i in resolved
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Service status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="30">
<style>body{{font-family:system-ui,sans-serif;max-width:760px;margin:2em auto;padding:0 1em}}
table{{width:100%;border-collapse:collapse}}td{{padding:.5em;border-bottom:1px solid #ddd}}
.d{{color:#666;font-size:.85em}}time{{color:#666;font-size:.85em;margin-right:.5em}}</style>
</head><body><h1>Service status: <span style="color:{_COLOR[doc["state"]]}">{_LABEL[doc["state"]]}</span></h1>
<table><tr><th align="left">Model alias</th><th align="left">State</th></tr>{rows}</table>
<h2>Incidents</h2>{incidents_html}
<p class="d">Updated <time datetime="{e(doc["updated_at"])}">{e(doc["updated"])}</time></p></body></html>
"""


class StatusPage:
    """Serves the status document, recomputed at most every `status_cache_s`."""

    def __init__(self, db: Database, matrix: Any, cfg: ObserveSettings) -> None:
        self._db = db
        self._matrix = matrix  # a callable returning the live matrix
        self._cfg = cfg
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._lock = asyncio.Lock()

    async def document(self) -> dict[str, Any]:
        async with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] >= self._cfg.status_cache_s:
                doc = await asyncio.to_thread(compute_status, self._db, self._matrix(), self._cfg)
                self._cached = (now, doc)
            return self._cached[1]

    def routes(self) -> list[Route]:
        headers = {"cache-control": f"public, max-age={int(self._cfg.status_cache_s)}"}

        async def status_json(_: Request) -> Response:
            return JSONResponse(await self.document(), headers=headers)

        async def status_html(_: Request) -> Response:
            return HTMLResponse(render_html(await self.document()), headers=headers)

        return [Route("/status.json", status_json), Route("/status", status_html)]
