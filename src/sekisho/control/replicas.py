"""Replica heartbeats with their circuit states, merged for operators.

Circuits are passive health seen by each replica. Every replica writes its
view about once a second; readers (`alias show`, triage, metrics) merge the
views of live replicas, worst state first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sekisho.matrix import Route
from sekisho.routing.circuit import CircuitView
from sekisho.store.models import ReplicaStatus

LIVE_FOR = timedelta(seconds=15)
_SEVERITY = {"closed": 0, "half_open": 1, "open": 2}


def circuits_to_rows(views: Mapping[Route, CircuitView]) -> list[dict[str, Any]]:
    return [{"provider": r.provider, "model": r.model, **v.to_dict()} for r, v in views.items()]


def heartbeat(
    session: Session,
    replica_id: str,
    started_at: datetime,
    matrix_hash: str,
    views: Mapping[Route, CircuitView],
) -> None:
    row = session.get(ReplicaStatus, replica_id)
    now = datetime.now(UTC)
    circuits = circuits_to_rows(views)
    if row is None:
        session.add(
            ReplicaStatus(
                replica_id=replica_id,
                started_at=started_at,
                heartbeat_at=now,
                matrix_hash=matrix_hash,
                circuits=circuits,
            )
        )
    else:
        row.heartbeat_at, row.matrix_hash, row.circuits = now, matrix_hash, circuits


def live_replicas(session: Session, now: datetime | None = None) -> list[ReplicaStatus]:
    now = now or datetime.now(UTC)
    return list(
        session.scalars(
            select(ReplicaStatus)
            .where(ReplicaStatus.heartbeat_at >= now - LIVE_FOR)
            .order_by(ReplicaStatus.replica_id)
        ).all()
    )


def merged_circuits(replicas: list[ReplicaStatus]) -> dict[Route, CircuitView]:
    """Per route, the worst circuit any live replica reports."""
    merged: dict[Route, CircuitView] = {}
    fields = set(CircuitView.__dataclass_fields__)
    for replica in replicas:
        for item in replica.circuits:
            route = Route(item["provider"], item["model"])
            view = CircuitView(**{k: v for k, v in item.items() if k in fields})
            seen = merged.get(route)
            if seen is None or _SEVERITY[view.state] > _SEVERITY[seen.state]:
                merged[route] = view
    return merged
