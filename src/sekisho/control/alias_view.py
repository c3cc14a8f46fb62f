"""What `sekisho alias show` and `GET /admin/v1/aliases/{alias}` display. Pure.

For one alias: its routes with provider facts (internal), the plan for each
kind of tenant the matrix distinguishes, circuit states, and overrides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sekisho.matrix import Matrix, Route
from sekisho.routing.circuit import CLOSED, CircuitView
from sekisho.routing.overrides import Override
from sekisho.routing.plan import plan_routes
from sekisho.routing.policy import tenant_kinds


def alias_view(
    matrix: Matrix,
    alias_name: str,
    circuits: Mapping[Route, CircuitView],
    overrides: Iterable[Override],
    now: float,
) -> dict[str, Any]:
    alias = matrix.aliases[alias_name]
    overrides = list(overrides)
    routes = []
    for i, route in enumerate(alias.routes):
        provider = matrix.providers.get(route.provider)
        view = circuits.get(route, CLOSED)
        routes.append(
            {
                "label": "primary" if i == 0 else f"fallback {i}",
                "provider": route.provider,
                "model": route.model,
                "region": provider.region if provider else None,
                "sovereignty": sorted(provider.sovereignty) if provider else [],
                "china_gated": provider.china_gated if provider else None,
                "circuit": view.to_dict(),
            }
        )
    plans = []
    for tenant in tenant_kinds(matrix):
        plan = plan_routes(matrix, alias_name, tenant, circuits, overrides, now)
        plans.append(
            {
                "tenant_kind": tenant.tenant_id.removeprefix("kind:"),
                "usable": plan.access.usable,
                "denial": plan.access.denial,
                "order": [f"{c.route.provider}/{c.route.model}" for c in plan.candidates],
                "entries": [e.to_log() for e in plan.entries],
            }
        )
    return {
        "alias": alias.name,
        "sovereignty": alias.sovereignty,
        "description": alias.description,
        "routes": routes,
        "plans": plans,
        "overrides": [
            o.to_dict() | {"active": o.is_active(now)} for o in overrides if o.alias == alias_name
        ],
    }


def format_alias_view(view: dict[str, Any]) -> str:
    """A readable text rendering for the CLI."""
    lines = [
        f"alias {view['alias']}"
        + (f"  (requires {view['sovereignty']})" if view["sovereignty"] else "")
    ]
    lines.append("routes:")
    for r in view["routes"]:
        flags = ",".join(r["sovereignty"]) or "-"
        gated = " china-gated" if r["china_gated"] else ""
        c = r["circuit"]
        lines.append(
            f"  {r['label']:<11} {r['provider']}/{r['model']}  region={r['region']} "
            f"tags={flags}{gated}  circuit={c['state']}"
        )
    lines.append("overrides:")
    if not view["overrides"]:
        lines.append("  (none)")
    for o in view["overrides"]:
        state = "ACTIVE" if o["active"] else "ended"
        lines.append(
            f"  #{o['id']} {o['kind']} {o['provider']} by {o['created_by']} "
            f"[{state}] reason: {o['reason']}"
        )
    lines.append("plan by kind of tenant:")
    for p in view["plans"]:
        if not p["usable"]:
            lines.append(f"  {p['tenant_kind']:<24} not usable ({p['denial']})")
            continue
        lines.append(f"  {p['tenant_kind']:<24} " + (" -> ".join(p["order"]) or "(no route: 502)"))
        for e in p["entries"]:
            if e["decision"] != "candidate":
                lines.append(f"  {'':<24}   {e['provider']}/{e['model']}: {e['reason']}")
    return "\n".join(lines)
