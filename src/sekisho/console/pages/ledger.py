"""Ledger: browse and filter entries, verify now, checkpoints, an entry's inclusion proof, export.

Everything but the export is the admin API's `/ledger` routes (auditor and
admin). The export is `LedgerService.export` (the same JSONL file the CLI
writes, ending with a fresh signed checkpoint), judged by the `/ledger` roles.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from sekisho.console.web import Console, Viewer
from sekisho.errors import InvalidRequest
from sekisho.ledger.service import LedgerService

PAGE = 50


def matches(entry: dict[str, Any], action: str, actor: str, text: str) -> bool:
    """Filter by action prefix, actor e-mail/id substring, and free text (pure)."""
    body = entry["body"]
    who = body.get("actor") or {}
    if action and not str(body.get("action", "")).startswith(action):
        return False
    if actor and actor not in f"{who.get('email', '')} {who.get('id', '')}".lower():
        return False
    return not text or text in str(body).lower()


def routes(console: Console) -> list[Route]:
    @console.page("ledger")
    async def browse(request: Request, viewer: Viewer) -> Response:
        q = request.query_params
        summary = await console.api(viewer, "GET", "/ledger")
        names = [s["name"] for s in summary["ledgers"]]
        ledger = q.get("ledger") or ("platform" if "platform" in names else (names or [""])[0])
        if ledger and ledger not in names:
            raise InvalidRequest(f"no ledger called {ledger!r}")
        size = next((s["size"] for s in summary["ledgers"] if s["name"] == ledger), 0)
        anchored = next((s["anchored_size"] for s in summary["ledgers"] if s["name"] == ledger), 0)
        try:
            start = int(q.get("start", max(0, size - PAGE)))
        except ValueError as exc:
            raise InvalidRequest("start must be a whole number") from exc
        start = min(max(0, start), max(0, size - 1))
        entries: list[dict[str, Any]] = []
        checkpoints: list[dict[str, Any]] = []
        if ledger:
            page, cps = await asyncio.gather(
                console.api(
                    viewer,
                    "GET",
                    f"/ledger/{ledger}/entries",
                    params={"start": start, "limit": PAGE},
                ),
                console.api(viewer, "GET", f"/ledger/{ledger}/checkpoints"),
            )
            action, actor, text = (
                q.get("action", "").strip(),
                q.get("actor", "").strip().lower(),
                q.get("text", "").strip().lower(),
            )
            entries = [e for e in page["entries"] if matches(e, action, actor, text)][::-1]
            checkpoints = cps["checkpoints"][-10:][::-1]
        return console.render(
            request,
            "ledger.html",
            viewer,
            summary=summary,
            ledger=ledger,
            size=size,
            anchored=anchored,
            start=start,
            page=PAGE,
            entries=entries,
            checkpoints=checkpoints,
            filters={k: q.get(k, "") for k in ("action", "actor", "text")},
        )

    @console.page("ledger_verify")
    async def verify(request: Request, viewer: Viewer) -> Response:
        report = await console.api(viewer, "GET", "/ledger/verify")
        template = "partials/verify.html" if request.headers.get("hx-request") else "verify.html"
        return console.render(request, template, viewer, report=report)

    @console.page("ledger_proof")
    async def proof(request: Request, viewer: Viewer) -> Response:
        ledger, seq = request.path_params["ledger"], request.path_params["seq"]
        if not seq.isdigit():
            raise InvalidRequest("seq must be a whole number")
        doc = await console.api(viewer, "GET", f"/ledger/{ledger}/proof/{seq}")
        return console.render(request, "proof.html", viewer, proof=doc)

    @console.page("ledger")
    async def export(request: Request, viewer: Viewer) -> Response:
        gw = console.gateway
        folder = Path(tempfile.mkdtemp(prefix="sekisho-ledger-"))
        target = folder / "ledger-export.jsonl"

        def run() -> None:
            LedgerService.from_settings(gw.db, gw.settings.ledger).export(target)

        await asyncio.to_thread(run)

        def cleanup() -> None:
            target.unlink(missing_ok=True)
            folder.rmdir()

        return FileResponse(
            target,
            media_type="application/x-ndjson",
            filename="sekisho-ledger-export.jsonl",
            background=BackgroundTask(cleanup),
        )

    return [
        Route("/ledger", browse, methods=["GET"]),
        Route("/ledger/verify", verify, methods=["GET"]),
        Route("/ledger/export", export, methods=["GET"]),
        Route("/ledger/{ledger}/proof/{seq}", proof, methods=["GET"]),
    ]
