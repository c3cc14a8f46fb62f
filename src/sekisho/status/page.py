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
from sekisho.incidents.leakcheck import find_leaks
from sekisho.matrix import Matrix
from sekisho.observe.probes import summaries
from sekisho.observe.series import window_totals
from sekisho.settings import ObserveSettings
from sekisho.status.state import Evidence, Thresholds, alias_state
from sekisho.store.db import Database

WITHHELD = "(update withheld)"


def compute_status(
    db: Database, matrix: Matrix, cfg: ObserveSettings, now: datetime | None = None
) -> dict[str, Any]:
    """The public status document."""
    now = now or datetime.now(UTC)
    since = now - timedelta(seconds=cfg.status_window_s)
    names = sorted(matrix.aliases)
    identities = matrix.identity_strings()

    def public(text: str) -> str:
        return WITHHELD if find_leaks(text, identities) else text

    thresholds = Thresholds(
        cfg.status_min_requests, cfg.status_degraded_rate, cfg.status_outage_rate
    )
    with db.read() as session:
        traffic = window_totals(session, "alias", names, since, now + timedelta(seconds=1))
        probes = summaries(session, "alias", names, since)
        open_incidents = incidents.list_incidents(session)
        docs = []
        for inc in open_incidents:
            docs.append(
                {
                    "id": inc.id,
                    "title": public(inc.title),
                    "severity": inc.severity,
                    "status": inc.status,
                    "aliases": [a for a in inc.aliases if a in matrix.aliases],
                    "opened_at": inc.opened_at.isoformat(),
                    "eta": inc.eta.isoformat() if inc.eta else None,
                    "updates": [
                        {"ts": e.ts.isoformat(), "text": public(e.text)}
                        for e in reversed(incidents.events(session, inc.id, public_only=True))
                    ],
                }
            )
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
                "description": description
                if description and not find_leaks(description, identities)
                else "",
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
        "updated_at": now.isoformat(timespec="seconds"),
        "state": overall,
        "aliases": aliases,
        "incidents": docs,
    }


_LABEL = {"operational": "Operational", "degraded": "Degraded performance", "outage": "Outage"}
_COLOR = {"operational": "#1a7f37", "degraded": "#9a6700", "outage": "#cf222e"}


def render_html(doc: dict[str, Any]) -> str:
    e = html.escape
    rows = "".join(
        f'<tr><td><code>{e(a["alias"])}</code><div class="d">{e(a["description"])}</div></td>'
        f'<td style="color:{_COLOR[a["state"]]}">{_LABEL[a["state"]]}</td></tr>'
        for a in doc["aliases"]
    )
    incidents_html = (
        "".join(
            f"<section><h3>{e(i['title'])} <small>{e(i['severity'])}</small></h3>"
            f"<p>Affected: {e(', '.join(i['aliases']))}"
            + (f" &middot; Expected resolution: {e(i['eta'])}" if i["eta"] else "")
            + "</p><ul>"
            + "".join(f"<li><time>{e(u['ts'])}</time> {e(u['text'])}</li>" for u in i["updates"])
            + "</ul></section>"
            for i in doc["incidents"]
        )
        or "<p>No open incidents.</p>"
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
<p class="d">Updated {e(doc["updated_at"])}</p></body></html>
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
