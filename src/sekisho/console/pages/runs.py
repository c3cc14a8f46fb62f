"""Guided runbook runs: a runbook's steps as a checklist, each with the evidence the system has.

A run is kept in the audit ledger itself: `runbook.run.start`, one
`runbook.run.step` per recorded step (the operator's note plus a snapshot of
the evidence shown), `runbook.run.finish`. So a run is tamper-evident, can
be resumed by any operator (its state is read back from the ledger), and
exports as a Markdown report for the post-incident review. A step that acts
(fail over, open an incident, post an update, resolve, request a suspension)
does it from inside the step (`run_acts.py`); each act that succeeds is a
`runbook.run.act` entry carrying what it produced, shown in the step's
evidence and in the report.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from sekisho import audit
from sekisho.actor import Actor
from sekisho.console.pages import run_acts
from sekisho.console.pages.incidents import SEVERITIES
from sekisho.console.pages.providers import DURATIONS, override_choices
from sekisho.console.pages.run_acts import ActRefused, RunAct
from sekisho.console.runbooks import Runbook, load_runbooks
from sekisho.console.web import AdminRefused, Console, Viewer
from sekisho.errors import InvalidRequest, NotFound
from sekisho.ids import new_id
from sekisho.ledger.tables import LedgerEntryRow
from sekisho.lifecycle.policy import REASON_OWNER, REASONS
from sekisho.store.models import EvidenceBundleRecord, Tenant

Evidence = list[tuple[str, str]]
ACTED = "Done. What it produced is in this step's evidence and in the run's ledger entries."


@dataclass
class RunStep:
    number: int
    by: str
    at: str
    note: str
    evidence: list[list[str]]


@dataclass
class Run:
    id: str
    runbook: str
    subject: str
    started_by: str
    started_at: str
    steps: dict[int, RunStep] = field(default_factory=dict)
    finished_by: str | None = None
    finished_at: str | None = None
    finish_note: str | None = None
    acts: list[RunAct] = field(default_factory=list)

    def acts_of(self, step: int) -> list[RunAct]:
        return [a for a in self.acts if a.step == step]


def runs_from_entries(bodies: list[dict[str, Any]]) -> dict[str, Run]:
    """Fold the ledger's runbook entries into runs, oldest entry first (pure)."""
    runs: dict[str, Run] = {}
    for body in bodies:
        target = body.get("target") or {}
        if target.get("type") != "runbook_run":
            continue
        rid, details = target.get("id", ""), body.get("details") or {}
        who = (body.get("actor") or {}).get("email") or (body.get("actor") or {}).get("id", "")
        if body["action"] == "runbook.run.start":
            runs[rid] = Run(rid, details["runbook"], details["subject"], who, body["time"])
        elif rid in runs and body["action"] == "runbook.run.step":
            n = int(details["step"])
            runs[rid].steps[n] = RunStep(
                n, who, body["time"], body.get("note") or "", details.get("evidence", [])
            )
        elif rid in runs and body["action"] == "runbook.run.act":
            runs[rid].acts.append(
                RunAct(
                    int(details["step"]),
                    details["act"],
                    who,
                    body["time"],
                    details.get("summary", ""),
                    dict(details.get("result") or {}),
                )
            )
        elif rid in runs and body["action"] == "runbook.run.finish":
            run = runs[rid]
            run.finished_by, run.finished_at, run.finish_note = who, body["time"], body.get("note")
    return runs


def markdown_report(run: Run, book: Runbook) -> str:
    """The run as Markdown for the post-incident review (pure)."""
    lines = [
        f"# {book.title}: run {run.id}",
        "",
        f"- Subject: {book.subject} `{run.subject}`",
        f"- Started: {run.started_at} by {run.started_by}",
        f"- Finished: {run.finished_at} by {run.finished_by}"
        if run.finished_at
        else "- Finished: not yet",
        "",
    ]
    for step in book.steps:
        done = run.steps.get(step.number)
        mark = "x" if done else " "
        lines.append(f"## [{mark}] {step.number}. {step.title}")
        lines.append("")
        acts = run.acts_of(step.number)
        lines.extend(f"- Acted {a.at} by {a.by}: {a.summary}" for a in acts)
        if acts:
            lines.append("")
        if done:
            lines.append(f"Recorded {done.at} by {done.by}: {done.note or '(no note)'}")
            lines.append("")
            lines.extend(f"- {label}: {value}" for label, value in done.evidence)
            lines.append("")
    if run.finish_note:
        lines += ["## Closing note", "", run.finish_note, ""]
    lines.append("Every step above is an entry of the audit ledger (`runbook.run.*`).")
    return "\n".join(lines) + "\n"


def _rate(value: Any) -> str:
    return "-" if value is None else f"{float(value) * 100:.1f} %"


class EvidenceCollector:
    """What the system already knows for one step, gathered as the viewer (admin API rules)."""

    def __init__(self, console: Console, viewer: Viewer) -> None:
        self.c, self.v = console, viewer

    async def _get(self, action: str, path: str, **params: Any) -> Any:
        if not self.c.may(self.v, action):
            return None
        try:
            return await self.c.api(self.v, "GET", path, params=params)
        except AdminRefused:
            return None

    async def outage(self, alias: str, step: int) -> Evidence:
        out: Evidence = []
        if step in (1, 9):
            doc = await self._get("alias_dashboard", f"/aliases/{alias}/series", since="1h")
            if doc:
                t = doc["totals"]
                out.append(
                    (
                        "last hour",
                        f"{t['requests']} requests, {t['5xx']} 5xx, {t['429']} 429, "
                        f"5xx+429 rate {_rate(t['error_rate'])}",
                    )
                )
            alerts = await self._get("alerts", "/alerts")
            if alerts is not None:
                firing = [a for a in alerts["alerts"] if a["alias"] == alias]
                out.append(("spike alerts firing", str(len(firing))))
        if step in (2, 4, 5, 6):
            view = await self._get("providers", f"/aliases/{alias}")
            if view:
                for r in view["routes"]:
                    tags = ", ".join(r["sovereignty"]) or "no tag"
                    out.append(
                        (
                            r["label"],
                            f"{r['provider']}/{r['model']} ({tags}"
                            f"{', China-gated' if r['china_gated'] else ''}), "
                            f"circuit {r['circuit']['state']}",
                        )
                    )
                if step != 2:
                    for p in view["plans"]:
                        order = " → ".join(p["order"]) if p["usable"] else f"no: {p['denial']}"
                        out.append((f"eligible for {p['tenant_kind']}", order or "nothing"))
                    active = [o for o in view["overrides"] if o.get("active")]
                    out.append(
                        (
                            "active overrides",
                            ", ".join(f"{o['kind']} {o['provider']}" for o in active) or "none",
                        )
                    )
        if step in (3, 9):
            triage = await self._get("triage", f"/aliases/{alias}/triage")
            if triage:
                out.append(("triage verdict", triage["verdict"]))
                out.extend(("triage", r) for r in triage["reasons"])
            probes = await self._get("probes", "/probes")
            if probes:
                for p in probes["providers"]:
                    if p["total"]:
                        ok = p["total"] - p["failed"]
                        out.append((f"probe {p['target']}", f"{ok}/{p['total']} ok"))
        if step in (7, 8, 11):
            incidents = await self._get("incidents", "/incidents")
            if incidents is not None:
                mine = [i for i in incidents["incidents"] if alias in i["aliases"]]
                out.append(
                    (
                        "open incidents",
                        ", ".join(f"{i['id']} {i['title']}" for i in mine) or "none",
                    )
                )
        if step == 10:
            out += await self._bundles(alias=alias)
            out += await self._ledger()
        return out

    async def _bundles(self, *, alias: str | None = None, tenant: str | None = None) -> Evidence:
        if not self.c.may(self.v, "evidence_export"):
            return []

        def read() -> list[str]:
            with self.c.gateway.db.read() as session:
                stmt = select(EvidenceBundleRecord).order_by(EvidenceBundleRecord.created_at)
                if alias:
                    stmt = stmt.where(EvidenceBundleRecord.alias == alias)
                if tenant:
                    stmt = stmt.where(EvidenceBundleRecord.tenant_id == tenant)
                return [f"{r.purpose} {r.sha256[:16]}" for r in session.scalars(stmt)]

        found = await asyncio.to_thread(read)
        return [("evidence bundles", ", ".join(found) or "none yet")]

    async def _ledger(self) -> Evidence:
        report = await self._get("ledger_verify", "/ledger/verify")
        if report is None:
            return [("ledger verification", "not available to your role (an auditor verifies)")]
        return [("ledger verification", "intact" if report["ok"] else "FAILED")]

    async def suspension(self, tenant: str, step: int) -> Evidence:
        out: Evidence = []
        view = await self._get("tenant", f"/tenants/{tenant}")
        if view is None:
            return out
        if step in (1, 2, 3, 9):
            reqs = await self._get(
                "suspension_requests", "/suspension-requests", state="all", tenant=tenant
            )
            for r in (reqs or {}).get("requests", [])[-5:]:
                decided = r["decided_by"]["email"] if r.get("decided_by") else "not yet"
                out.append(
                    (
                        f"{r['kind']} {r['id']}",
                        f"{r['state']}; reason {r['reason'] or '-'}; requested by "
                        f"{r['requested_by']['email']}; decided by {decided}",
                    )
                )
        if step in (3, 4, 5, 9):
            out.append(("tenant state", view["state"]))
            keys = await self._get("keys", f"/tenants/{tenant}/keys")
            if keys is not None:
                out.append(
                    ("API keys", ", ".join(f"{k['prefix']} {k['status']}" for k in keys["keys"]))
                )
            open_s = view.get("open_suspension")
            if open_s:
                flag = " (overdue)" if open_s["overdue"] else ""
                out.append(("review date", f"{open_s['review_at']}{flag}"))
        if step == 6:
            out += await self._ledger()
        if step == 7:
            out += await self._bundles(tenant=view["id"])
        return out


def routes(console: Console) -> list[Route]:
    db = console.gateway.db

    def books() -> dict[str, Runbook]:
        found = load_runbooks()
        if not found:
            raise NotFound("The runbooks (docs/runbooks/*.md) are not installed here.")
        return found

    def read_runs() -> dict[str, Run]:
        with db.read() as session:
            bodies = [
                orjson.loads(b)
                for b in session.scalars(
                    select(LedgerEntryRow.body)
                    .where(LedgerEntryRow.ledger == "platform")
                    .order_by(LedgerEntryRow.seq)
                )
                if b"runbook_run" in b
            ]
        return runs_from_entries(bodies)

    def record(viewer: Viewer, action: str, run_id: str, **fields: Any) -> None:
        actor = Actor("user", viewer.user_id, viewer.email, viewer.role, via="console")
        with db.begin() as session:
            audit.record(session, actor, action, ("runbook_run", run_id), **fields)

    async def get_run(run_id: str) -> tuple[Run, Runbook]:
        run = (await asyncio.to_thread(read_runs)).get(run_id)
        if run is None:
            raise NotFound(f"No runbook run {run_id!r}.")
        return run, books()[run.runbook]

    async def evidence(viewer: Viewer, run: Run, step: int) -> Evidence:
        collect = EvidenceCollector(console, viewer)
        acted: Evidence = [(f"acted: {a.kind}", a.summary) for a in run.acts_of(step)]
        if run.runbook == "provider-outage":
            return acted + await collect.outage(run.subject, step)
        return acted + await collect.suspension(run.subject, step)

    async def open_incidents(viewer: Viewer, run: Run) -> list[dict[str, Any]]:
        if run.runbook != "provider-outage" or not console.may(viewer, "incidents"):
            return []
        doc = await console.api(viewer, "GET", "/incidents")
        return [i for i in doc["incidents"] if run.subject in i["aliases"]]

    async def render_run(
        request: Request,
        viewer: Viewer,
        run: Run,
        book: Runbook,
        current: int,
        *,
        refusal: ActRefused | None = None,
        refused_act: str | None = None,
    ) -> Response:
        todo = [s.number for s in book.steps if s.number not in run.steps]
        shown = await evidence(viewer, run, current) if current else []
        opened = run_acts.incident_of(run.acts)
        # One incident per run: once this run opened one, its steps act on it instead.
        kinds = tuple(
            k
            for k in run_acts.acts_for(run.runbook, current)
            if not (opened and k == "incident_open")
        )
        incidents = await open_incidents(viewer, run) if kinds else []
        matrix = console.gateway.routing.matrix
        alias = run.runbook == "provider-outage"
        return console.render(
            request,
            "run.html",
            viewer,
            status=refusal.status if refusal else 200,
            run=run,
            book=book,
            current=current,
            evidence=shown,
            done=not todo,
            acts=[
                (
                    k,
                    run_acts.ACT_LABELS[k],
                    run_acts.ACT_PATHS[k],
                    run_acts.not_allowed_reason(console, viewer, k),
                )
                for k in kinds
            ],
            incidents=incidents,
            run_incident=opened or (incidents[0]["id"] if incidents else None),
            opened_incident=opened,
            route_choices=override_choices(matrix, run.subject) if alias else [],
            durations=DURATIONS,
            severities=SEVERITIES,
            reasons=[(r, REASON_OWNER[r]) for r in REASONS],
            default_review=(datetime.now(UTC) + timedelta(days=14)).date().isoformat(),
            refusal=refusal,
            refused_act=refused_act,
            notice=ACTED if request.query_params.get("acted") == "1" else None,
        )

    @console.page("runbook")
    async def listing(request: Request, viewer: Viewer) -> Response:
        runs = await asyncio.to_thread(read_runs)

        def tenants() -> list[tuple[str, str]]:
            with db.read() as session:
                return [
                    (t.id, t.name) for t in session.scalars(select(Tenant).order_by(Tenant.name))
                ]

        return console.render(
            request,
            "runs.html",
            viewer,
            books=books(),
            runs=sorted(runs.values(), key=lambda r: r.started_at, reverse=True),
            aliases=sorted(console.gateway.routing.matrix.aliases),
            tenants=await asyncio.to_thread(tenants),
        )

    @console.page("runbook_record")
    async def start(request: Request, viewer: Viewer) -> Response:
        form = await request.form()
        name, subject = str(form.get("runbook", "")), str(form.get("subject", "")).strip()
        book = books().get(name)
        if book is None:
            raise InvalidRequest(f"no runbook called {name!r}")
        if book.subject == "alias" and subject not in console.gateway.routing.matrix.aliases:
            raise InvalidRequest("start the outage runbook from one of the aliases")
        if book.subject == "tenant":
            await console.api(viewer, "GET", f"/tenants/{subject}")  # exists, or refused
        run_id = new_id("run", 6)
        details = {"runbook": name, "subject": subject, "subject_kind": book.subject}
        await asyncio.to_thread(record, viewer, "runbook.run.start", run_id, details=details)
        return RedirectResponse(f"/console/runs/{run_id}", status_code=303)

    @console.page("runbook")
    async def show(request: Request, viewer: Viewer) -> Response:
        run, book = await get_run(request.path_params["run_id"])
        todo = [s.number for s in book.steps if s.number not in run.steps]
        try:
            current = int(request.query_params.get("step", todo[0] if todo else 0))
        except ValueError as exc:
            raise InvalidRequest("step must be a number") from exc
        return await render_run(request, viewer, run, book, current)

    def act_handler(kind: str) -> Any:
        @console.page(kind)
        async def act(request: Request, viewer: Viewer) -> Response:
            run, book = await get_run(request.path_params["run_id"])
            step = int(request.path_params["step"])
            if run.finished_at:
                raise InvalidRequest("this run is finished; start a new one")
            if kind not in run_acts.acts_for(run.runbook, step):
                raise InvalidRequest(
                    f"step {step} of this runbook does not {run_acts.ACT_LABELS[kind]}"
                )
            form = await request.form()
            try:
                summary, result = await run_acts.perform(console, viewer, kind, run.subject, form)
            except ActRefused as exc:
                return await render_run(
                    request, viewer, run, book, step, refusal=exc, refused_act=kind
                )
            details = {
                "runbook": run.runbook,
                "step": step,
                "act": kind,
                "summary": summary[:500],
                "result": result,
            }
            await asyncio.to_thread(record, viewer, "runbook.run.act", run.id, details=details)
            return RedirectResponse(
                f"/console/runs/{run.id}?step={step}&acted=1#step", status_code=303
            )

        act.__name__ = f"act_{kind}"
        return act

    @console.page("runbook_record")
    async def record_step(request: Request, viewer: Viewer) -> Response:
        run, book = await get_run(request.path_params["run_id"])
        step = int(request.path_params["step"])
        if run.finished_at:
            raise InvalidRequest("this run is finished; start a new one")
        if step not in {s.number for s in book.steps}:
            raise InvalidRequest(f"the runbook has no step {step}")
        form = await request.form()
        note = str(form.get("note", "")).strip()[:2000] or None
        snapshot = [[label, value[:500]] for label, value in await evidence(viewer, run, step)]
        details = {"runbook": run.runbook, "step": step, "evidence": snapshot}
        await asyncio.to_thread(
            record, viewer, "runbook.run.step", run.id, note=note, details=details
        )
        return RedirectResponse(f"/console/runs/{run.id}", status_code=303)

    @console.page("runbook_record")
    async def finish(request: Request, viewer: Viewer) -> Response:
        run, _ = await get_run(request.path_params["run_id"])
        if run.finished_at:
            raise InvalidRequest("this run is already finished")
        form = await request.form()
        note = str(form.get("note", "")).strip()[:2000] or None
        details = {"runbook": run.runbook, "steps_recorded": len(run.steps)}
        await asyncio.to_thread(
            record, viewer, "runbook.run.finish", run.id, note=note, details=details
        )
        return RedirectResponse(f"/console/runs/{run.id}", status_code=303)

    @console.page("runbook")
    async def report(request: Request, viewer: Viewer) -> Response:
        run, book = await get_run(request.path_params["run_id"])
        stamp = datetime.now(UTC).strftime("%Y%m%d")
        return Response(
            markdown_report(run, book),
            media_type="text/markdown; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{run.id}-{stamp}.md"'},
        )

    return [
        Route("/runs", listing, methods=["GET"]),
        Route("/runs", start, methods=["POST"]),
        Route("/runs/{run_id}", show, methods=["GET"]),
        Route("/runs/{run_id}/steps/{step:int}", record_step, methods=["POST"]),
        Route("/runs/{run_id}/finish", finish, methods=["POST"]),
        *(
            Route(
                f"/runs/{{run_id}}/steps/{{step:int}}/{path}", act_handler(kind), methods=["POST"]
            )
            for kind, path in run_acts.ACT_PATHS.items()
        ),
        Route("/runs/{run_id}/report.md", report, methods=["GET"]),
    ]
