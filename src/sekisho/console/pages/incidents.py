"""Incidents: open, timeline, internal notes, customer updates with a live leak check, resolve.

The live leak check runs the same `check_customer_text` the admin API applies
before publishing, so what the page accepts while typing is what gets posted.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from sekisho.console.web import AdminRefused, Console, Viewer
from sekisho.control.errors import ControlPlaneError
from sekisho.incidents.service import check_customer_text

SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4")
NOTICES = {
    "opened": "Incident opened; the ops channel was told.",
    "note": "Note added to the internal timeline and posted to the ops channel.",
    "update": "Customer update published on /status.",
    "resolved": "Incident resolved; its overrides were reverted.",
    "evidence": "Evidence captured; its hash is in the ledger.",
}


def leak_verdict(console: Console, text: str) -> tuple[bool, str]:
    """(ok, message) for customer-facing text, as the publish step will judge it."""
    try:
        check_customer_text(console.gateway.routing.matrix, text, "the update")
    except ControlPlaneError as exc:
        return False, str(exc)
    return True, "No provider identity found: this text may be published."


def routes(console: Console) -> list[Route]:
    @console.page("incidents")
    async def listing(request: Request, viewer: Viewer) -> Response:
        show_all = request.query_params.get("all") == "1"
        doc = await console.api(
            viewer, "GET", "/incidents", params={"all": "true" if show_all else None}
        )
        return console.render(
            request,
            "incidents.html",
            viewer,
            incidents=doc["incidents"],
            show_all=show_all,
            severities=SEVERITIES,
            aliases=sorted(console.gateway.routing.matrix.aliases),
            selected=request.query_params.getlist("alias"),
        )

    async def render_detail(
        request: Request, viewer: Viewer, *, error: str | None = None, status: int = 200
    ) -> Response:
        incident_id = request.path_params["incident_id"]
        doc = await console.api(viewer, "GET", f"/incidents/{incident_id}")
        return console.render(
            request,
            "incident.html",
            viewer,
            status=status,
            incident=doc,
            severities=SEVERITIES,
            notice=NOTICES.get(request.query_params.get("notice", "")),
            error=error,
        )

    @console.page("incident")
    async def detail(request: Request, viewer: Viewer) -> Response:
        return await render_detail(request, viewer)

    async def act(
        request: Request, viewer: Viewer, path: str, body: dict[str, Any], notice: str
    ) -> Response:
        incident_id = request.path_params["incident_id"]
        try:
            await console.api(viewer, "POST", path, body=body)
        except AdminRefused as exc:
            return await render_detail(request, viewer, error=exc.message, status=exc.status)
        return RedirectResponse(f"/console/incidents/{incident_id}?notice={notice}", 303)

    @console.page("incident_open")
    async def open_incident(request: Request, viewer: Viewer) -> Response:
        form = await request.form()
        body = {
            "title": str(form.get("title", "")).strip(),
            "severity": str(form.get("severity", "")),
            "aliases": [str(a) for a in form.getlist("alias")],
            "note": str(form.get("note", "")).strip() or None,
        }
        try:
            doc = await console.api(viewer, "POST", "/incidents", body=body)
        except AdminRefused as exc:
            return console.error_page(
                request, viewer, exc.status, "Incident not opened", exc.message
            )
        return RedirectResponse(f"/console/incidents/{doc['id']}?notice=opened", 303)

    @console.page("incident_note")
    async def note(request: Request, viewer: Viewer) -> Response:
        form = await request.form()
        incident_id = request.path_params["incident_id"]
        body = {"text": str(form.get("text", "")).strip()}
        return await act(request, viewer, f"/incidents/{incident_id}/notes", body, "note")

    @console.page("incident_update")
    async def update(request: Request, viewer: Viewer) -> Response:
        form = await request.form()
        incident_id = request.path_params["incident_id"]
        body = {"text": str(form.get("text", "")).strip()}
        return await act(request, viewer, f"/incidents/{incident_id}/updates", body, "update")

    @console.page("incident_update")
    async def leak_check(request: Request, viewer: Viewer) -> Response:
        form = await request.form()
        text = str(form.get("text", ""))[:5000]
        ok, message = (None, "") if not text.strip() else leak_verdict(console, text)
        return console.render(request, "partials/leak.html", viewer, ok=ok, message=message)

    @console.page("incident_resolve")
    async def resolve(request: Request, viewer: Viewer) -> Response:
        form = await request.form()
        incident_id = request.path_params["incident_id"]
        body = {
            "update": str(form.get("update", "")).strip() or None,
            "note": str(form.get("note", "")).strip() or None,
            "evidence": form.get("evidence") == "1",
        }
        return await act(request, viewer, f"/incidents/{incident_id}/resolve", body, "resolved")

    @console.page("incident_evidence")
    async def evidence(request: Request, viewer: Viewer) -> Response:
        incident_id = request.path_params["incident_id"]
        return await act(request, viewer, f"/incidents/{incident_id}/evidence", {}, "evidence")

    return [
        Route("/incidents", listing, methods=["GET"]),
        Route("/incidents", open_incident, methods=["POST"]),
        Route("/incidents/leak-check", leak_check, methods=["POST"]),
        Route("/incidents/{incident_id}", detail, methods=["GET"]),
        Route("/incidents/{incident_id}/notes", note, methods=["POST"]),
        Route("/incidents/{incident_id}/updates", update, methods=["POST"]),
        Route("/incidents/{incident_id}/resolve", resolve, methods=["POST"]),
        Route("/incidents/{incident_id}/evidence", evidence, methods=["POST"]),
    ]
