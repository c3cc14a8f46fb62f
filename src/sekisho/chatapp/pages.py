"""The chat app's HTML pages: sign-in, the chat (list + history, server-rendered), plain forms.

Every page works without script: conversations are listed and their history
rendered on the server, and new chat, rename, delete, send and sign-out are
ordinary forms (POST, CSRF token, redirect). The page script only makes the
answer stream in, and adds stop, regenerate, edit and Markdown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from sekisho.chatapp import invitations, store
from sekisho.chatapp.answer import Answerer
from sekisho.chatapp.members import Member, MemberAuth
from sekisho.chatapp.wording import SUSPENDED, plain_words
from sekisho.errors import (
    InvalidApiKey,
    InvalidRequest,
    RateLimited,
    SekishoError,
    TenantSuspended,
)
from sekisho.identity.csrf import CSRF_FIELD, csrf_token
from sekisho.store.db import Database

ROOT = "/chat"
STATIC = ROOT + "/static"
MAX_FORM_BYTES = 64 * 1024

PageHandler = Callable[[Request, Member], Awaitable[Response]]


def environment() -> jinja2.Environment:
    loader = jinja2.FileSystemLoader(str(files("sekisho.chatapp").joinpath("templates")))
    return jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)


class Pages:
    def __init__(self, db: Database, auth: MemberAuth, answerer: Answerer) -> None:
        self._db = db
        self._auth = auth
        self._answerer = answerer
        self._env = environment()

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self._env.get_template(name).render(root=ROOT, static=STATIC, **context)
        return HTMLResponse(html, status_code=status)

    def error_page(self, err: SekishoError) -> Response:
        if isinstance(err, InvalidApiKey):
            return RedirectResponse(ROOT + "/sign-in", status_code=303)
        if isinstance(err, TenantSuspended):
            return self.render(
                "error.html",
                403,
                heading="Access suspended",
                kind="blocked",
                message=SUSPENDED,
                next_href=ROOT + "/sign-in",
                next_label="Back to sign-in",
            )
        if err.status == 404:
            return self.render(
                "error.html",
                404,
                heading="Not found",
                kind="error",
                message=plain_words("not_found", None),
                next_href=ROOT + "/",
                next_label="Back to your chats",
            )
        return self.render(
            "error.html",
            err.status,
            heading="Something went wrong",
            kind="error",
            message=err.message,
            next_href=ROOT + "/",
            next_label="Back to your chats",
        )

    def page(self, handler: PageHandler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                if request.method == "POST":
                    declared = request.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
                        return self.render(
                            "error.html",
                            413,
                            heading="Too large",
                            kind="error",
                            message=plain_words("request_too_large", None),
                            next_href=ROOT + "/",
                            next_label="Back to your chats",
                        )
                member = await self._auth.member(request)
                return await handler(request, member)
            except SekishoError as err:
                return self.error_page(err)

        return endpoint

    async def _in_db(self, fn: Callable[[Any], Any], *, write: bool = False) -> Any:
        return await store.in_db(self._db, fn, write=write)

    # -- sign-in -----------------------------------------------------------------------------

    def _signin_page(
        self,
        request: Request,
        status: int = 200,
        notice: str | None = None,
        kind: str = "error",
        email: str | None = None,
    ) -> Response:
        pre, fresh = self._auth.pre_token(request)
        response = self.render(
            "signin.html",
            status,
            csrf_token=csrf_token(pre),
            notice=notice,
            notice_kind=kind,
            email=email,
        )
        if fresh:
            self._auth.set_pre_cookie(request, response, pre)
        return response

    async def signin_form(self, request: Request) -> Response:
        return self._signin_page(request)

    async def signin_submit(self, request: Request) -> Response:
        pre, fresh = self._auth.pre_token(request)
        email = ""
        try:
            form = await request.form(max_fields=10, max_files=0)
            email = str(form.get("email") or "")[:320]
            password = str(form.get("password") or "")[:1000]
            presented = form.get(CSRF_FIELD)
            result = await self._auth.sign_in(
                request,
                email,
                password,
                "" if fresh else pre,
                presented if isinstance(presented, str) else None,
            )
        except TenantSuspended:
            return self._signin_page(request, 403, SUSPENDED, "blocked", email)
        except RateLimited as err:
            return self._signin_page(request, 429, err.message, "error", email)
        except SekishoError as err:
            return self._signin_page(request, err.status, err.message, "error", email)
        response = RedirectResponse(ROOT + "/", status_code=303)
        self._auth.set_session_cookie(request, response, result.token)
        return response

    async def sign_out(self, request: Request, member: Member) -> Response:
        token = self._auth.token(request) or ""
        await self._auth.sign_out(token)
        response = RedirectResponse(ROOT + "/sign-in", status_code=303)
        self._auth.clear_session_cookie(request, response)
        return response

    # -- first password (invitation) ------------------------------------------------------------

    async def welcome_form(self, request: Request) -> Response:
        token = request.path_params["token"]
        try:
            _, user = await self._in_db(lambda s: invitations.pending(s, token, datetime.now(UTC)))
        except SekishoError as err:
            return self._invitation_refused(err)
        return self._welcome_page(request, token, user.email)

    def _welcome_page(
        self, request: Request, token: str, email: str, status: int = 200, notice: str | None = None
    ) -> Response:
        pre, fresh = self._auth.pre_token(request)
        response = self.render(
            "welcome.html",
            status,
            token=token,
            email=email,
            csrf_token=csrf_token(pre),
            notice=notice,
            notice_kind="error",
        )
        if fresh:
            self._auth.set_pre_cookie(request, response, pre)
        return response

    def _invitation_refused(self, err: SekishoError) -> Response:
        if isinstance(err, TenantSuspended):
            return self.error_page(err)
        return self.render(
            "error.html",
            err.status if err.status != 401 else 400,
            heading="Invitation not valid",
            kind="error",
            message=err.message,
            next_href=ROOT + "/sign-in",
            next_label="Go to sign-in",
        )

    async def welcome_submit(self, request: Request) -> Response:
        token = request.path_params["token"]
        pre, fresh = self._auth.pre_token(request)
        try:
            form = await self._form(request)
            self._auth.check_form(request, "" if fresh else pre, form.get(CSRF_FIELD))
            password = form.get("password", "")[:1000]
            if password != form.get("confirm", ""):
                _, user = await self._in_db(
                    lambda s: invitations.pending(s, token, datetime.now(UTC))
                )
                return self._welcome_page(
                    request, token, user.email, 400, "The two passwords differ."
                )
            await self._in_db(
                lambda s: invitations.accept(s, token, password, datetime.now(UTC)), write=True
            )
        except InvalidRequest as err:
            _, user = await self._in_db(lambda s: invitations.pending(s, token, datetime.now(UTC)))
            return self._welcome_page(request, token, user.email, 400, err.message)
        except SekishoError as err:
            return self._invitation_refused(err)
        return self._signin_page(request, 200, "Your password is set. Sign in.", "ok")

    # -- chat --------------------------------------------------------------------------------

    def _chat(
        self, member: Member, conversation: store.ConversationView | None, turns: list[store.Turn]
    ) -> dict[str, Any]:
        aliases = self._answerer.usable_aliases(member)
        selected = conversation.alias if conversation else (aliases[0] if aliases else "")
        return {
            "csrf_token": member.csrf,
            "email": member.email,
            "aliases": aliases,
            "selected_alias": selected,
            "conversation": conversation,
            "turns": [
                {
                    **t.as_json(),
                    "error_words": plain_words(t.error_code or "internal_error", t.alias),
                }
                for t in turns
            ],
        }

    async def home(self, request: Request, member: Member) -> Response:
        convs = await self._in_db(lambda s: store.list_conversations(s, member.owner))
        return self.render("chat.html", conversations=convs, **self._chat(member, None, []))

    async def conversation(self, request: Request, member: Member) -> Response:
        cid = request.path_params["conversation_id"]

        def run(s: Any) -> tuple[Any, Any, Any]:
            conv = store.get_conversation(s, member.owner, cid)
            return (
                conv,
                store.turns(s, member.owner, cid),
                store.list_conversations(s, member.owner),
            )

        conv, turns, convs = await self._in_db(run)
        return self.render("chat.html", conversations=convs, **self._chat(member, conv, turns))

    async def _form(self, request: Request) -> dict[str, str]:
        form = await request.form(max_fields=10, max_files=0)
        return {k: v for k, v in form.items() if isinstance(v, str)}

    async def rename(self, request: Request, member: Member) -> Response:
        cid = request.path_params["conversation_id"]
        title = (await self._form(request)).get("title", "")
        await self._in_db(lambda s: store.rename(s, member.owner, cid, title), write=True)
        return RedirectResponse(f"{ROOT}/c/{cid}", status_code=303)

    async def delete(self, request: Request, member: Member) -> Response:
        cid = request.path_params["conversation_id"]
        await self._in_db(lambda s: store.delete_conversation(s, member.owner, cid), write=True)
        return RedirectResponse(ROOT + "/", status_code=303)

    async def send(self, request: Request, member: Member) -> Response:
        """The form fallback without script: answer in full on the server, then show it."""
        form = await self._form(request)
        cid = request.path_params.get("conversation_id")
        if cid is None:
            aliases = self._answerer.usable_aliases(member)
            alias = form.get("alias") if form.get("alias") in aliases else None
            alias = alias or (aliases[0] if aliases else "")
            view = await self._in_db(
                lambda s: store.create_conversation(s, member.owner, alias), write=True
            )
            cid = view.id
        prepared = await self._answerer.prepare(
            member, cid, "send", {"content": form.get("content"), "alias": form.get("alias")}
        )
        try:
            result = await self._answerer.open(member, prepared)
        except SekishoError:
            return RedirectResponse(f"{ROOT}/c/{cid}", status_code=303)  # the error turn shows
        await self._answerer.answer_fully(member, prepared, result)
        return RedirectResponse(f"{ROOT}/c/{cid}", status_code=303)

    def routes(self) -> list[Route]:
        return [
            Route("/", self.page(self.home), methods=["GET"]),
            Route("/sign-in", self.signin_form, methods=["GET"]),
            Route("/sign-in", self.signin_submit, methods=["POST"]),
            Route("/sign-out", self.page(self.sign_out), methods=["POST"]),
            Route("/welcome/{token}", self.welcome_form, methods=["GET"]),
            Route("/welcome/{token}", self.welcome_submit, methods=["POST"]),
            Route("/send", self.page(self.send), methods=["POST"]),
            Route("/c/{conversation_id}", self.page(self.conversation), methods=["GET"]),
            Route("/c/{conversation_id}/send", self.page(self.send), methods=["POST"]),
            Route("/c/{conversation_id}/rename", self.page(self.rename), methods=["POST"]),
            Route("/c/{conversation_id}/delete", self.page(self.delete), methods=["POST"]),
        ]
