"""`POST /admin/v1/members/{user}/invitation`: an operator or admin invites a member to set a password.

The answer carries the one-time link (`/chat/welcome/<secret>`), shown once;
the operator hands it to the member out of band.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from starlette.requests import Request

from sekisho.admin.auth import WRITE_OPS, AdminPrincipal, gateway_of, require
from sekisho.chatapp import invitations

router = APIRouter(tags=["chat"])
Writer = Annotated[AdminPrincipal, Depends(require(*WRITE_OPS))]


class InvitationIn(BaseModel):
    expires_in_s: int = Field(7 * 86400, ge=300, le=30 * 86400)


@router.post(
    "/members/{ref}/invitation",
    status_code=201,
    summary="Invite a member to set their chat password; the one-time link is shown once",
)
async def invite_member(
    request: Request, ref: str, body: InvitationIn, who: Writer
) -> dict[str, Any]:
    gw = gateway_of(request)

    def run() -> invitations.Invitation:
        with gw.db.begin() as session:
            return invitations.invite(
                session,
                ref,
                who.actor,
                datetime.now(UTC),
                timedelta(seconds=body.expires_in_s),
            )

    inv = await asyncio.to_thread(run)
    return {
        "invitation_id": inv.id,
        "user_id": inv.user_id,
        "email": inv.email,
        "expires_at": inv.expires_at.isoformat(),
        "url": f"/chat/welcome/{inv.token}",
    }
