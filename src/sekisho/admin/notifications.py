"""/admin/v1/notifications: the outbox, per tenant, with delivery state and retries."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request

from sekisho.admin.auth import READ_OPS, AdminPrincipal, gateway_of, require
from sekisho.admin.schemas import NotificationDetail, NotificationList
from sekisho.errors import InvalidRequest, NotFound
from sekisho.notify.inspect import (
    STATES,
    NotificationNotFound,
    get_notification,
    list_notifications,
)

router = APIRouter(tags=["notifications"])
Reader = Annotated[AdminPrincipal, Depends(require(*READ_OPS))]


@router.get(
    "/notifications",
    summary="Notifications, newest first, with delivery state",
    response_model=NotificationList,
)
async def notifications(
    request: Request,
    _: Reader,
    tenant: Annotated[str | None, Query(description="a tenant id")] = None,
    state: Annotated[str | None, Query(description=" | ".join(STATES))] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    gw = gateway_of(request)
    if state is not None and state not in STATES:
        raise InvalidRequest(f"state must be one of {', '.join(STATES)}", param="state")

    def run() -> list[dict[str, Any]]:
        with gw.db.read() as session:
            return list_notifications(session, tenant_id=tenant, state=state, limit=limit)

    return {"notifications": await asyncio.to_thread(run)}


@router.get(
    "/notifications/{notification_id}",
    summary="One notification with its payload",
    response_model=NotificationDetail,
)
async def notification(request: Request, notification_id: str, _: Reader) -> dict[str, Any]:
    gw = gateway_of(request)

    def run() -> dict[str, Any]:
        with gw.db.read() as session:
            return get_notification(session, notification_id)

    try:
        return await asyncio.to_thread(run)
    except NotificationNotFound as exc:
        raise NotFound(str(exc)) from exc
