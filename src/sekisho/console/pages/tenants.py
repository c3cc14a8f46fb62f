"""Tenants: search, detail, key revoke, and the two-act lifecycle (request, then sign-off).

An operator requests a suspension (reason, note, review date); the owner whose
role matches the reason signs it off in their own session on /console/sign-offs,
which executes it. Reinstatement and off-boarding go the same way. Every act
is the admin API's (`admin/suspension_requests.py`), made as the viewer.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from sekisho.console.web import AdminRefused, Console, Viewer
from sekisho.errors import InvalidRequest
from sekisho.lifecycle.policy import REASON_OWNER, REASONS
from sekisho.observe.series import window_totals
from sekisho.store.models import User

NOTICES = {
    "requested": "Request recorded. It takes effect when the matching owner signs it off.",
    "signed": "Signed off and executed.",
    "withdrawn": "Request withdrawn; nothing changed.",
    "revoked": "Key revoked; it is refused on every replica within a second.",
}


def _match(tenant: dict[str, Any], q: str) -> bool:
    q = q.strip().lower()
    return not q or q in tenant["name"].lower() or q in tenant["id"].lower()


def _users_and_usage(
    console: Console, viewer: Viewer, tenant_id: str
) -> tuple[list[dict[str, Any]] | None, Any]:
    """Users (if the role may list users) and usage (if it may read tenant series)."""
    now = datetime.now(UTC)
    users: list[dict[str, Any]] | None = None
    usage: dict[str, Any] | None = None
    with console.gateway.db.read() as session:
        if console.may(viewer, "users"):
            users = [
                {"id": u.id, "email": u.email, "role": u.role, "disabled": u.disabled}
                for u in session.scalars(
                    select(User).where(User.tenant_id == tenant_id).order_by(User.email)
                )
            ]
        if console.may(viewer, "tenant_usage"):
            spans = (("24 h", timedelta(days=1)), ("30 d", timedelta(days=30)))
            usage = {
                label: window_totals(session, "tenant", [tenant_id], now - span, now)[
                    tenant_id
                ].to_dict()
                for label, span in spans
            }
    return users, usage


def _form_text(form: Any, name: str, limit: int = 2000) -> str:
    return str(form.get(name, "")).strip()[:limit]


def suspension_body(form: Any) -> dict[str, Any]:
    """The admin API's suspension-request body from a console form (tenant page, runbook step)."""
    review = _form_text(form, "review_date", 10)
    try:
        review_at = (
            datetime.fromisoformat(review).replace(hour=9, tzinfo=UTC).isoformat()
            if review
            else None
        )
    except ValueError as exc:
        raise InvalidRequest("the review date must be a date like 2026-12-15") from exc
    return {
        "reason": _form_text(form, "reason", 40),
        "note": _form_text(form, "note"),
        "review_at": review_at,
    }


def routes(console: Console) -> list[Route]:
    @console.page("tenants")
    async def search(request: Request, viewer: Viewer) -> Response:
        q = request.query_params.get("q", "")[:200]
        tenants, overdue = await asyncio.gather(
            console.api(viewer, "GET", "/tenants"), console.api(viewer, "GET", "/tenants/overdue")
        )
        overdue_ids = {o["tenant_id"] for o in overdue["overdue"]}
        found = [
            t | {"overdue": t["id"] in overdue_ids} for t in tenants["tenants"] if _match(t, q)
        ]
        return console.render(
            request,
            "tenants.html",
            viewer,
            q=q,
            tenants=found,
            total=len(tenants["tenants"]),
            notice=NOTICES.get(request.query_params.get("notice", "")),
        )

    @console.page("tenant")
    async def detail(request: Request, viewer: Viewer) -> Response:
        ref = request.path_params["ref"]
        tenant = await console.api(viewer, "GET", f"/tenants/{ref}")
        keys = (
            (await console.api(viewer, "GET", f"/tenants/{ref}/keys"))["keys"]
            if console.may(viewer, "keys")
            else None
        )
        lifecycle = (
            (
                await console.api(
                    viewer,
                    "GET",
                    "/suspension-requests",
                    params={"state": "all", "tenant": tenant["id"]},
                )
            )["requests"]
            if console.may(viewer, "suspension_requests")
            else []
        )
        users, usage = await asyncio.to_thread(_users_and_usage, console, viewer, tenant["id"])
        matrix = console.gateway.routing.matrix
        aliases = tenant["allowed_aliases"] or sorted(matrix.aliases)
        return console.render(
            request,
            "tenant.html",
            viewer,
            tenant=tenant,
            keys=keys,
            users=users,
            usage=usage,
            aliases=aliases,
            lifecycle=lifecycle,
            pending=[r for r in lifecycle if r["state"] == "pending"],
            reasons=[(r, REASON_OWNER[r]) for r in REASONS],
            default_review=(datetime.now(UTC) + timedelta(days=14)).date().isoformat(),
            notice=NOTICES.get(request.query_params.get("notice", "")),
            error=request.query_params.get("error"),
        )

    async def act(
        request: Request, viewer: Viewer, path: str, body: dict[str, Any], back: str, notice: str
    ) -> Response:
        try:
            await console.api(viewer, "POST", path, body=body)
        except AdminRefused as exc:
            return console.error_page(
                request,
                viewer,
                exc.status,
                "Refused",
                f"{exc.message} Nothing was changed.",
            )
        sep = "&" if "?" in back else "?"
        return RedirectResponse(f"{back}{sep}notice={notice}", status_code=303)

    @console.page("suspension_request")
    async def request_suspension(request: Request, viewer: Viewer) -> Response:
        ref = request.path_params["ref"]
        form = await request.form()
        body = suspension_body(form)
        return await act(
            request,
            viewer,
            f"/tenants/{ref}/suspension-requests",
            body,
            f"/console/tenants/{ref}",
            "requested",
        )

    @console.page("reinstatement_request")
    async def request_reinstatement(request: Request, viewer: Viewer) -> Response:
        ref = request.path_params["ref"]
        form = await request.form()
        return await act(
            request,
            viewer,
            f"/tenants/{ref}/reinstatement-requests",
            {"note": _form_text(form, "note")},
            f"/console/tenants/{ref}",
            "requested",
        )

    @console.page("offboarding_request")
    async def request_offboarding(request: Request, viewer: Viewer) -> Response:
        ref = request.path_params["ref"]
        form = await request.form()
        return await act(
            request,
            viewer,
            f"/tenants/{ref}/offboarding-requests",
            {"note": _form_text(form, "note"), "complete": form.get("complete") == "1"},
            f"/console/tenants/{ref}",
            "requested",
        )

    @console.page("suspension_requests")
    async def sign_offs(request: Request, viewer: Viewer) -> Response:
        pending = await console.api(
            viewer, "GET", "/suspension-requests", params={"state": "pending"}
        )
        return console.render(
            request,
            "sign_offs.html",
            viewer,
            requests=pending["requests"],
            notice=NOTICES.get(request.query_params.get("notice", "")),
        )

    @console.page("sign_off")
    async def sign_off(request: Request, viewer: Viewer) -> Response:
        form = await request.form()
        note = _form_text(form, "note") or None
        return await act(
            request,
            viewer,
            f"/suspension-requests/{request.path_params['request_id']}/sign-off",
            {"note": note},
            "/console/sign-offs",
            "signed",
        )

    @console.page("withdraw")
    async def withdraw(request: Request, viewer: Viewer) -> Response:
        form = await request.form()
        back = "/console/sign-offs"
        tenant = _form_text(form, "tenant", 60)
        if tenant:
            back = f"/console/tenants/{tenant}"
        return await act(
            request,
            viewer,
            f"/suspension-requests/{request.path_params['request_id']}/withdraw",
            {"note": _form_text(form, "note") or None},
            back,
            "withdrawn",
        )

    @console.page("key_revoke")
    async def revoke_key(request: Request, viewer: Viewer) -> Response:
        form = await request.form()
        tenant = _form_text(form, "tenant", 60)
        return await act(
            request,
            viewer,
            f"/keys/{request.path_params['key_id']}/revoke",
            {"note": _form_text(form, "note") or "revoked from the console"},
            f"/console/tenants/{tenant}" if tenant else "/console/tenants",
            "revoked",
        )

    return [
        Route("/tenants", search, methods=["GET"]),
        Route("/tenants/{ref}", detail, methods=["GET"]),
        Route("/tenants/{ref}/suspension-requests", request_suspension, methods=["POST"]),
        Route("/tenants/{ref}/reinstatement-requests", request_reinstatement, methods=["POST"]),
        Route("/tenants/{ref}/offboarding-requests", request_offboarding, methods=["POST"]),
        Route("/sign-offs", sign_offs, methods=["GET"]),
        Route("/sign-offs/{request_id}/sign-off", sign_off, methods=["POST"]),
        Route("/sign-offs/{request_id}/withdraw", withdraw, methods=["POST"]),
        Route("/keys/{key_id}/revoke", revoke_key, methods=["POST"]),
    ]
