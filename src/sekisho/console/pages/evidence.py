"""Evidence: take a window (tenant or alias), list what was taken, download, verify.

Taking a window is the admin API's `/evidence/export` (its hash goes into the
ledger). Verification recomputes: a stored bundle (the security snapshot of a
suspension) is checked file by file against its manifest; any other is
rebuilt from the request log for its window and compared with the recorded
manifest; either way its ledger entry must hold the same hash.
"""

from __future__ import annotations

import asyncio
import io
import tarfile
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sekisho.console.web import Console, Viewer
from sekisho.errors import InvalidRequest, NotFound
from sekisho.evidence import EvidenceFilters, EvidenceWindow, collect_bundle, ledger_entry_for
from sekisho.evidence.bundle import Bundle, make_bundle, verify_bundle
from sekisho.store.models import EvidenceBundleRecord, Tenant

SINCE = {"1h": 3600, "24h": 86400, "7d": 7 * 86400}


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    lines: list[str]


def _stored_bundle(row: EvidenceBundleRecord) -> Bundle | None:
    if row.content is None:
        return None
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(row.content), mode="r:") as tar:
        for member in tar.getmembers():
            handle = tar.extractfile(member)
            files[member.name] = handle.read() if handle else b""
    raw = files.pop("manifest.json", row.manifest.encode())
    return Bundle(manifest=orjson.loads(raw), manifest_bytes=raw, files=files)


def _rebuilt(session: Any, row: EvidenceBundleRecord) -> Bundle:
    manifest = orjson.loads(row.manifest)
    fresh = collect_bundle(
        session,
        EvidenceFilters(tenant_id=row.tenant_id, alias=row.alias),
        EvidenceWindow(row.window_start, row.window_end),
    )
    return make_bundle(
        fresh.files,
        EvidenceFilters(tenant_id=row.tenant_id, alias=row.alias),
        EvidenceWindow(row.window_start, row.window_end),
        manifest.get("meta"),
    )


def verify_record(session: Any, row: EvidenceBundleRecord) -> tuple[Verdict, Bundle | None]:
    lines: list[str] = []
    bundle = _stored_bundle(row)
    if bundle is not None:
        problems = verify_bundle(bundle)
        lines += problems or ["every file matches the stored manifest"]
    else:
        bundle = _rebuilt(session, row)
        if bundle.sha256 == row.sha256:
            lines.append("rebuilt from the request log: the same bytes as when it was taken")
        else:
            lines.append(
                "rebuilt from the request log: it differs from the bundle taken "
                "(rows changed, or the bundle had incident files of its own)"
            )
    same = bundle.sha256 == row.sha256
    entry = ledger_entry_for(session, row.sha256)
    lines.append(
        "its hash is in the ledger" if entry is not None else "no ledger entry holds its hash"
    )
    ok = same and entry is not None and not (lines and "does not match" in lines[0])
    return Verdict(ok, lines), bundle if same else None


def routes(console: Console) -> list[Route]:
    db = console.gateway.db

    def listing() -> tuple[list[EvidenceBundleRecord], list[tuple[str, str]]]:
        with db.read() as session:
            rows = list(
                session.scalars(
                    select(EvidenceBundleRecord)
                    .order_by(EvidenceBundleRecord.created_at.desc())
                    .limit(100)
                )
            )
            for r in rows:
                session.expunge(r)
            tenants = [
                (t.id, t.name) for t in session.scalars(select(Tenant).order_by(Tenant.name))
            ]
        return rows, tenants

    @console.page("evidence_export")
    async def page(request: Request, viewer: Viewer) -> Response:
        rows, tenants = await asyncio.to_thread(listing)
        return console.render(
            request,
            "evidence.html",
            viewer,
            rows=rows,
            tenants=tenants,
            aliases=sorted(console.gateway.routing.matrix.aliases),
            since=list(SINCE),
        )

    @console.page("evidence_export")
    async def take(request: Request, viewer: Viewer) -> Response:
        form = await request.form()
        scope, since = str(form.get("scope", "")), str(form.get("since", ""))
        if since not in SINCE:
            raise InvalidRequest(f"choose a window: {', '.join(SINCE)}")
        kind, _, ref = scope.partition(":")
        if kind not in ("tenant", "alias") or not ref:
            raise InvalidRequest("choose a tenant or an alias")
        body: dict[str, Any] = {kind: ref, "since_s": SINCE[since]}
        answer = await console.api_raw(viewer, "POST", "/evidence/export", body)
        name = answer.headers.get("content-disposition") or (
            f'attachment; filename="evidence-{kind}-{since}.tar"'
        )
        return Response(
            answer.content,
            media_type="application/x-tar",
            headers={
                "content-disposition": name,
                "x-sekisho-bundle-sha256": answer.headers.get("x-sekisho-bundle-sha256", ""),
            },
        )

    def load(record_id: str) -> tuple[Verdict, Bundle | None]:
        with db.read() as session:
            row = session.get(EvidenceBundleRecord, record_id)
            if row is None:
                raise NotFound(f"No evidence bundle {record_id!r}.")
            return verify_record(session, row)

    @console.page("evidence_export")
    async def verify(request: Request, viewer: Viewer) -> Response:
        verdict, _ = await asyncio.to_thread(load, request.path_params["record_id"])
        return console.render(request, "partials/evidence_verdict.html", viewer, verdict=verdict)

    @console.page("evidence_export")
    async def download(request: Request, viewer: Viewer) -> Response:
        record_id = request.path_params["record_id"]
        verdict, bundle = await asyncio.to_thread(load, record_id)
        if bundle is None:
            raise NotFound(
                "This bundle can no longer be rebuilt byte for byte: " + "; ".join(verdict.lines)
            )
        return Response(
            bundle.tar_bytes(),
            media_type="application/x-tar",
            headers={"content-disposition": f'attachment; filename="{record_id}.tar"'},
        )

    return [
        Route("/evidence", page, methods=["GET"]),
        Route("/evidence", take, methods=["POST"]),
        Route("/evidence/{record_id}/verify", verify, methods=["GET"]),
        Route("/evidence/{record_id}/download", download, methods=["GET"]),
    ]
