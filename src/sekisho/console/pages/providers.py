"""Provider matrix (internal) and overrides: drain, pin, expiry, revert.

Overrides are set and reverted through the admin API (`control/overrides.py`
validates them); a refusal comes back in its own words, and the console adds
which rule demands it (Rule 2: sovereign failover only; Rule 3: China-gated
providers are never a fallback).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from sekisho.console.web import AdminRefused, Console, Viewer
from sekisho.errors import InvalidRequest
from sekisho.matrix import Matrix

DURATIONS: tuple[tuple[int, str], ...] = (
    (900, "15 minutes"),
    (3600, "1 hour"),
    (4 * 3600, "4 hours"),
    (86400, "1 day"),
)
NOTICES = {
    "override": "Override set; every replica routes by it within a second.",
    "reverted": "Override reverted; the alias routes by its matrix again.",
}


def explain_refusal(matrix: Matrix, alias_name: str, provider_id: str) -> list[str]:
    """The rules behind an override refusal, in words an operator can act on (pure)."""
    alias = matrix.aliases.get(alias_name)
    provider = matrix.providers.get(provider_id)
    if alias is None or provider is None:
        return ["Nothing was changed."]
    why: list[str] = []
    if not provider.satisfies(alias.required_tags):
        why.append(
            f"Rule 2, sovereign failover only: {provider_id} does not carry "
            f"{', '.join(sorted(alias.required_tags))}, which {alias_name} requires, so it may "
            "never serve this alias. Pick a provider that carries the tag, or let the outage "
            "surface to callers and open an incident."
        )
    if provider.china_gated and alias.route.provider != provider_id:
        why.append(
            f"Rule 3: {provider_id} is China-gated; such a provider is only the primary route of "
            "an alias that names it, for tenants granted the gate, and never a fallback or pin."
        )
    if all(r.provider != provider_id for r in alias.routes):
        why.append(
            f"Only a route of {alias_name} can be drained or pinned: "
            + ", ".join(r.provider for r in alias.routes)
            + "."
        )
    return why or ["Nothing was changed."]


@dataclass(frozen=True, slots=True)
class ProviderChoice:
    """One option of an override's provider list: the id, what it is to the alias, preselected."""

    id: str
    label: str
    selected: bool


def override_choices(matrix: Matrix, alias_name: str) -> list[ProviderChoice]:
    """The provider list of an override form for one alias (pure).

    The alias's own routes come first, in route order, and the first fallback is
    preselected: in an outage of the primary that is the pin that can hold (a
    fallback already satisfies the alias's sovereignty, Rule 2). Every other
    provider is listed after them, marked as not a route, so an operator who picks
    one anyway gets the refusal with its rule in words rather than a missing option.
    """
    alias = matrix.aliases.get(alias_name)
    if alias is None:
        return [ProviderChoice(pid, pid, False) for pid in sorted(matrix.providers)]
    routes = [r.provider for r in alias.routes]
    ordered = list(dict.fromkeys(routes))
    default = ordered[1] if len(ordered) > 1 else ordered[0]
    choices = [
        ProviderChoice(
            pid, f"{pid} ({'primary' if pid == routes[0] else 'fallback'})", pid == default
        )
        for pid in ordered
    ]
    choices += [
        ProviderChoice(pid, f"{pid} (not a route of {alias_name})", False)
        for pid in sorted(matrix.providers)
        if pid not in ordered
    ]
    return choices


def override_body(form: Any) -> dict[str, Any]:
    """The admin API's override body from a console form (Providers and the runbook step)."""
    try:
        duration = int(str(form.get("duration_s", "")))
    except ValueError as exc:
        raise InvalidRequest("choose how long the override lasts") from exc
    return {
        "kind": str(form.get("kind", "")),
        "provider": str(form.get("provider", "")),
        "duration_s": duration,
        "reason": str(form.get("reason", "")).strip(),
        "incident_id": str(form.get("incident_id", "")).strip() or None,
    }


def routes(console: Console) -> list[Route]:
    async def provider_data(viewer: Viewer) -> dict[str, Any]:
        aliases_doc, probes = await asyncio.gather(
            console.api(viewer, "GET", "/aliases"), console.api(viewer, "GET", "/probes")
        )
        matrix = console.gateway.routing.matrix
        probe = {p["target"]: p for p in probes["providers"]}
        circuits: dict[str, list[dict[str, Any]]] = {pid: [] for pid in matrix.providers}
        for view in aliases_doc["aliases"]:
            for r in view["routes"]:
                circuits.setdefault(r["provider"], []).append(
                    {"alias": view["alias"], "model": r["model"], "state": r["circuit"]["state"]}
                )
        providers = [
            {
                "id": p.id,
                "name": p.name,
                "kind": p.kind,
                "region": p.region,
                "sovereignty": sorted(p.sovereignty),
                "china_gated": p.china_gated,
                "status_url": p.status_url,
                "probe": probe.get(p.id, {}),
                "circuits": circuits.get(p.id, []),
            }
            for p in sorted(matrix.providers.values(), key=lambda p: p.id)
        ]
        return {
            "providers": providers,
            "aliases": aliases_doc["aliases"],
            "matrix_sha256": aliases_doc["matrix_sha256"],
            "durations": DURATIONS,
            "choices": {a: override_choices(matrix, a) for a in matrix.aliases},
        }

    @console.page("providers")
    async def page(request: Request, viewer: Viewer) -> Response:
        data = await provider_data(viewer)
        notice = NOTICES.get(request.query_params.get("notice", ""))
        return console.render(request, "providers.html", viewer, notice=notice, **data)

    async def refused(
        request: Request, viewer: Viewer, alias: str, provider: str, exc: AdminRefused
    ) -> Response:
        data = await provider_data(viewer)
        return console.render(
            request,
            "providers.html",
            viewer,
            status=exc.status,
            refusal={
                "alias": alias,
                "message": exc.message,
                "why": explain_refusal(console.gateway.routing.matrix, alias, provider),
            },
            **data,
        )

    @console.page("override_set")
    async def set_override(request: Request, viewer: Viewer) -> Response:
        form = await request.form()
        alias = str(form.get("alias", ""))
        body = override_body(form)
        provider = body["provider"]
        if alias not in console.gateway.routing.matrix.aliases:
            raise InvalidRequest(f"unknown alias {alias!r}")
        try:
            await console.api(viewer, "POST", f"/aliases/{alias}/overrides", body=body)
        except AdminRefused as exc:
            return await refused(request, viewer, alias, provider, exc)
        return RedirectResponse(f"/console/providers?notice=override#alias-{alias}", 303)

    @console.page("override_revert")
    async def revert(request: Request, viewer: Viewer) -> Response:
        form = await request.form()
        alias = str(form.get("alias", ""))
        if alias not in console.gateway.routing.matrix.aliases:
            raise InvalidRequest(f"unknown alias {alias!r}")
        body = {
            "override_id": str(form.get("override_id", "")) or None,
            "note": str(form.get("note", "")) or "reverted from the console",
        }
        try:
            await console.api(viewer, "POST", f"/aliases/{alias}/revert", body=body)
        except AdminRefused as exc:
            return await refused(request, viewer, alias, "", exc)
        return RedirectResponse(f"/console/providers?notice=reverted#alias-{alias}", 303)

    return [
        Route("/providers", page, methods=["GET"]),
        Route("/providers/overrides", set_override, methods=["POST"]),
        Route("/providers/revert", revert, methods=["POST"]),
    ]
