"""`GET /metrics`: public-safe by default, provider-labelled series for operators only.

Without credentials (and `observe.metrics_public`, the default) the body
holds alias-level series only. With `Authorization: Bearer <operator token>`
of an admin, operator or auditor it also holds the internal families that
name providers. With `metrics_public: false` an anonymous scrape gets 401.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from sekisho.control.replicas import live_replicas, merged_circuits
from sekisho.errors import InvalidApiKey, SekishoError, ServiceUnavailable, error_body
from sekisho.identity.tokens import user_for_token
from sekisho.matrix import Matrix
from sekisho.observe.alerts import firing_alerts
from sekisho.observe.metrics import CONTENT_TYPE, Gauges, render
from sekisho.observe.probes import summaries
from sekisho.observe.runtime import Observability
from sekisho.requestlog.writer import RequestLogWriter
from sekisho.store.db import Database
from sekisho.store.models import TenantSuspension

METRICS_ROLES = ("admin", "operator", "auditor")


def _overdue(session: object) -> int:
    return int(
        session.scalar(  # type: ignore[attr-defined]
            select(func.count())
            .select_from(TenantSuspension)
            .where(
                TenantSuspension.ended_at.is_(None), TenantSuspension.review_at < datetime.now(UTC)
            )
        )
        or 0
    )


def _gauges(
    db: Database, obs: Observability, writer: RequestLogWriter, matrix: Matrix, internal: bool
) -> Gauges:
    aliases, providers = sorted(matrix.aliases), sorted(matrix.providers)
    circuits: dict[tuple[str, str], str] = {}
    probes: dict[tuple[str, str], bool] = {}
    with db.read() as session:
        firing = Counter(a.alias for a in firing_alerts(session))
        try:
            overdue: int | None = _overdue(session)
        except Exception:  # the lifecycle tables may not be migrated yet
            overdue = None
        if internal:
            merged = merged_circuits(live_replicas(session))
            for alias in matrix.aliases.values():  # every route; unknown ones are closed
                for route in alias.routes:
                    view = merged.get(route)
                    circuits[(route.provider, route.model)] = view.state if view else "closed"
            since = datetime.now(UTC) - timedelta(hours=1)
            for kind, targets in (("provider", providers), ("alias", aliases)):
                for target, s in summaries(session, kind, targets, since).items():
                    if s.last_ok is not None:
                        probes[(kind, target)] = s.last_ok
    st = writer.stats
    return Gauges(
        writer.depth,
        st.submitted,
        st.written,
        st.dropped,
        st.failed,
        st.write_errors,
        obs.flush_failures,
        overdue,
        dict(firing),
        circuits,
        probes,
        log_dead_lettered=st.dead_lettered,
    )


def _operator(db: Database, request: Request) -> bool | None:
    """True: an operator token; False: no credentials; None: bad credentials."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    with db.read() as session:
        user = user_for_token(session, token.strip())
        return True if user is not None and user.role in METRICS_ROLES else None


def _error(err: SekishoError) -> Response:
    return Response(error_body(err), status_code=err.status, media_type="application/json")


def metrics_routes(
    db: Database, obs: Observability, writer: RequestLogWriter, matrix: object
) -> list[Route]:
    """`matrix` is a callable returning the live matrix."""

    async def metrics(request: Request) -> Response:
        try:
            who = await asyncio.to_thread(_operator, db, request)
            live = matrix()  # type: ignore[operator]
            internal = who is True
            if who is None or (who is False and not obs.settings.observe.metrics_public):
                return _error(InvalidApiKey("An operator token is required for these metrics."))
            gauges = await asyncio.to_thread(_gauges, db, obs, writer, live, internal)
        except Exception:  # the store is down: say so instead of half the numbers
            return _error(ServiceUnavailable("Metrics are unavailable right now."))
        body = render(obs.metrics, gauges, internal=internal)
        body += "".join(part() for part in obs.metrics.exposition_parts)
        return PlainTextResponse(body, media_type=CONTENT_TYPE)

    return [Route("/metrics", metrics)]
