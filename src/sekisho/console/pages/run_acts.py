"""Runbook steps that act: fail over, open an incident, post a note or a customer update,
resolve, request a suspension, from inside the step.

Each act is the standalone page's own: the same form fields, the same admin API
route called as the viewer (so the same validation, sovereignty rules, leak
check and ledger entries), judged by the same `allows()` decision through the
console action of that page. What the act produced (the override, incident,
update or request id) comes back as a result the run records in the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sekisho.console.pages.providers import explain_refusal, override_body
from sekisho.console.pages.tenants import suspension_body
from sekisho.console.web import AdminRefused, Console, Viewer
from sekisho.errors import InvalidRequest

# (runbook, step) -> the acts offered inside that step, by console action name
STEP_ACTS: dict[tuple[str, int], tuple[str, ...]] = {
    ("provider-outage", 4): ("incident_open", "override_set"),
    ("provider-outage", 7): ("incident_open", "incident_note"),
    ("provider-outage", 8): ("incident_update",),
    ("provider-outage", 9): ("incident_resolve",),
    ("tenant-suspension", 2): ("suspension_request",),
    ("tenant-suspension", 9): ("reinstatement_request",),
}
ACT_LABELS = {
    "incident_open": "open the incident",
    "override_set": "fail over (drain or pin)",
    "incident_note": "post an internal note",
    "incident_update": "post a customer update",
    "incident_resolve": "resolve the incident",
    "suspension_request": "request the suspension",
    "reinstatement_request": "request reinstatement",
}
# the path segment of each act's console route: /console/runs/{id}/steps/{n}/<segment>
ACT_PATHS = {kind: kind.replace("_", "-") for kind in ACT_LABELS}


@dataclass
class RunAct:
    step: int
    kind: str
    by: str
    at: str
    summary: str
    result: dict[str, str]


@dataclass(frozen=True, slots=True)
class ActRefused(Exception):
    """The admin API refused the act; nothing changed. `why` explains the rule in words."""

    message: str
    why: tuple[str, ...]
    status: int


def acts_for(runbook: str, step: int) -> tuple[str, ...]:
    return STEP_ACTS.get((runbook, step), ())


def not_allowed_reason(console: Console, viewer: Viewer, kind: str) -> str | None:
    """None if the viewer may do `kind`; else why not, as the admin API would answer."""
    if console.may(viewer, kind):
        return None
    return (
        f"Your role ({viewer.role}) may not {ACT_LABELS[kind]}: the admin API refuses it too, "
        "so this action is disabled for you. Ask an operator or admin."
    )


def incident_of(acts: list[RunAct]) -> str | None:
    """The incident this run opened most recently (pure)."""
    for act in reversed(acts):
        if "incident_id" in act.result:
            return act.result["incident_id"]
    return None


def _text(form: Any, name: str, limit: int = 4000) -> str:
    return str(form.get(name, "")).strip()[:limit]


def _need_incident(form: Any) -> str:
    incident_id = _text(form, "incident_id", 60)
    if not incident_id:
        raise InvalidRequest("open the incident first (step 4 or 7), then act on it here")
    return incident_id


async def perform(
    console: Console, viewer: Viewer, kind: str, subject: str, form: Any
) -> tuple[str, dict[str, str]]:
    """Do act `kind` for the run's subject as the viewer; (summary, result ids) or ActRefused."""
    try:
        return await _perform(console, viewer, kind, subject, form)
    except AdminRefused as exc:
        why: tuple[str, ...] = ("Nothing was changed.",)
        if kind == "override_set":
            provider = _text(form, "provider", 100)
            why = tuple(explain_refusal(console.gateway.routing.matrix, subject, provider))
        elif kind == "incident_update":
            why = ("Nothing was published. Describe the impact by alias only and retry.",)
        raise ActRefused(exc.message, why, exc.status) from exc


async def _perform(
    console: Console, viewer: Viewer, kind: str, subject: str, form: Any
) -> tuple[str, dict[str, str]]:
    if kind == "override_set":
        body = override_body(form)
        doc = await console.api(viewer, "POST", f"/aliases/{subject}/overrides", body=body)
        attached = f", attached to {body['incident_id']}" if body["incident_id"] else ""
        warn = "; ".join(doc.get("warnings") or [])
        return (
            f"override {doc['id']}: {body['kind']} {body['provider']} on {subject} until "
            f"{doc['expires_at'][:19]}Z{attached}" + (f" (warning: {warn})" if warn else ""),
            {"override_id": doc["id"]},
        )
    if kind == "incident_open":
        body = {
            "title": _text(form, "title", 200),
            "severity": _text(form, "severity", 8),
            "aliases": [subject],
            "note": _text(form, "note") or None,
        }
        doc = await console.api(viewer, "POST", "/incidents", body=body)
        return (
            f"incident {doc['id']} opened ({doc['severity']}): {doc['title']}",
            {"incident_id": doc["id"]},
        )
    if kind in ("incident_note", "incident_update"):
        incident_id = _need_incident(form)
        route = "notes" if kind == "incident_note" else "updates"
        body = {"text": _text(form, "text")}
        doc = await console.api(viewer, "POST", f"/incidents/{incident_id}/{route}", body=body)
        entry = [e for e in doc["timeline"] if e["public"] == (kind == "incident_update")][-1]
        what = "customer update" if kind == "incident_update" else "internal note"
        return (
            f"{what} {entry['id']} on {incident_id}: {entry['text'][:200]}",
            {"incident_id": incident_id, f"{route[:-1]}_id": entry["id"]},
        )
    if kind == "incident_resolve":
        incident_id = _need_incident(form)
        body = {
            "update": _text(form, "update") or None,
            "note": _text(form, "note") or None,
            "evidence": True,
        }
        doc = await console.api(viewer, "POST", f"/incidents/{incident_id}/resolve", body=body)
        rates = doc.get("impact") or {}
        shown = ", ".join(
            f"{k} {float(v['error_rate']) * 100:.1f} %"
            for k, v in rates.items()
            if isinstance(v, dict) and isinstance(v.get("error_rate"), int | float)
        )
        reverted = [o["id"] for o in doc.get("overrides", []) if o.get("reverted_at")]
        return (
            f"incident {incident_id} resolved; overrides reverted: "
            f"{', '.join(reverted) or 'none'}; 5xx+429 rate {shown or 'n/a'}",
            {"incident_id": incident_id},
        )
    if kind in ("suspension_request", "reinstatement_request"):
        path, body = (
            ("suspension-requests", suspension_body(form))
            if kind == "suspension_request"
            else ("reinstatement-requests", {"note": _text(form, "note", 2000)})
        )
        doc = await console.api(viewer, "POST", f"/tenants/{subject}/{path}", body=body)
        return (
            f"{doc['kind']} request {doc['id']} for {doc['tenant']}: {doc['state']}, "
            f"waiting for a {doc['owner_role']} to sign off",
            {"request_id": doc["id"]},
        )
    raise InvalidRequest(f"no act {kind!r}")
