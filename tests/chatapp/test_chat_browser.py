"""The chat app in a real browser (Debian's Chromium via Playwright) against a real gateway.

Streaming is made observable with a slow simulator stream: the answer's text
must be on screen while the turn still says it is streaming, and grow after.
Every wait is on page state (Playwright auto-waits); no fixed sleeps.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from sekisho.actor import Actor
from sekisho.chatapp import store
from sekisho.chatapp.tables import ChatMessage, Conversation
from sekisho.lifecycle import service as lifecycle
from sekisho.store.models import RequestLog, User
from sekisho.tenancy.service import create_user
from tests.chatapp.browser import browser_page, chromium
from tests.chatapp.conftest import LARGE, MEMBER_A, ChatEnv, wait_until
from tests.lifecycle.support import PASSWORD
from tests.support.gateway import make_tenant

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Browser, chat_env: ChatEnv) -> Iterator[Page]:
    with browser_page(browser, chat_env.gw.url) as (_, pg):
        yield pg


def sign_in(page: Page, email: str = MEMBER_A) -> None:
    page.goto("/chat/")
    expect(page).to_have_url(re.compile(r".*/chat/sign-in$"))
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#content")).to_be_visible()


def ask(page: Page, text: str, alias: str = "chat-large") -> None:
    page.select_option("#alias", alias)
    page.fill("#content", text)
    page.click("#send")


def last_answer(page: Page):  # type: ignore[no-untyped-def]
    return page.locator(".turn-assistant").last


def stored_turns(env: ChatEnv, conversation_id: str) -> list[ChatMessage]:
    with env.db.read() as s:
        return list(
            s.scalars(
                select(ChatMessage)
                .where(ChatMessage.conversation_id == conversation_id)
                .order_by(ChatMessage.seq)
            )
        )


def current_conversation(page: Page) -> str:
    cid = page.evaluate("document.body.dataset.conversation")
    assert isinstance(cid, str) and cid.startswith("cnv_")
    return cid


def test_answers_stream_in_then_regenerate_replaces_them(page: Page, chat_env: ChatEnv) -> None:
    sign_in(page)
    chat_env.sim.set_fault(LARGE, chunk_delay_ms=250)
    ask(page, "Tell me about checkpoints on old roads")
    answer = last_answer(page)
    body = answer.locator(".turn-body")
    # Text is on screen while the answer still streams, and more arrives afterwards.
    expect(answer).to_have_attribute("data-state", "streaming")
    expect(body).to_contain_text("Simulated")
    partial = body.inner_text()
    expect(answer).to_have_attribute("data-state", "complete", timeout=15_000)
    final = body.inner_text()
    assert len(final) > len(partial), "the whole answer came at once"
    assert final.startswith(partial)
    assert final == "Simulated answer to: Tell me about checkpoints on old roads"

    cid = current_conversation(page)
    chat_env.sim.clear_faults()
    page.click("#regenerate")
    expect(page.locator(".turn-assistant")).to_have_count(1)
    expect(last_answer(page)).to_have_attribute("data-state", "complete")
    turns = stored_turns(chat_env, cid)
    assert [t.role for t in turns] == ["user", "assistant"]
    assert turns[1].content == final and turns[1].state == "complete"

    # The history is server-side: a reload shows the same conversation, listed and rendered.
    page.reload()
    expect(page.locator(f'#conversations a[data-id="{cid}"]')).to_be_visible()
    expect(last_answer(page).locator(".turn-body")).to_have_text(final)


def test_stop_ends_the_answer_and_the_upstream_work(page: Page, chat_env: ChatEnv) -> None:
    sign_in(page)
    chat_env.sim.set_fault(LARGE, chunk_delay_ms=400)
    ask(page, "one two three four five six seven eight nine")
    answer = last_answer(page)
    expect(answer.locator(".turn-body")).to_contain_text("Simulated")
    page.click("#stop")
    expect(answer).to_have_attribute("data-state", "stopped")
    expect(answer.locator(".turn-status")).to_have_text("Stopped.")
    expect(page.locator("#stop")).to_be_hidden()
    cid = current_conversation(page)

    stopped = wait_until(lambda: [t for t in stored_turns(chat_env, cid) if t.role == "assistant"])[
        0
    ]
    assert stopped.state == "stopped"
    assert stopped.content.startswith("Simulated") and "nine" not in stopped.content

    def logged() -> RequestLog | None:
        with chat_env.db.read() as s:
            return s.get(RequestLog, stopped.request_id)

    row = wait_until(logged)
    # The chat core's stream was closed mid-answer: the request log says the client left.
    assert row.status == 499 and row.error_code in ("client_closed", "cancelled")
    assert row.source == "chat" and row.user_id is not None and row.key_id is None


def test_edit_and_resend_replaces_the_last_message(page: Page, chat_env: ChatEnv) -> None:
    sign_in(page)
    ask(page, "first question")
    expect(last_answer(page)).to_have_attribute("data-state", "complete")
    page.click("#edit-last")
    expect(page.locator("#content")).to_have_value("first question")
    page.fill("#content", "better question")
    expect(page.locator("#send")).to_have_text("Resend")
    page.click("#send")
    expect(last_answer(page)).to_have_attribute("data-state", "complete")
    expect(page.locator(".turn-user")).to_have_count(1)
    expect(last_answer(page)).to_contain_text("better question")
    turns = stored_turns(chat_env, current_conversation(page))
    assert [(t.role, t.content) for t in turns] == [
        ("user", "better question"),
        ("assistant", "Simulated answer to: better question"),
    ]


PAYLOADS = [
    "<script>window.pwned=1</script>",
    '<img src=x onerror="window.pwned=2">',
    "[click me](javascript:window.pwned=3)",
    "<a href=# onclick=window.pwned=4>hi</a>",
    "<iframe src=/chat/></iframe><b>bold</b>",
    "![px](https://tracker.example/p.gif)",
]


def _assert_inert(page: Page) -> None:
    turns = page.locator("#turns")
    for tag in ("script", "img", "iframe", "b", "style", "svg"):
        expect(turns.locator(tag)).to_have_count(0)
    hrefs = turns.locator("a").evaluate_all("els => els.map(a => a.getAttribute('href'))")
    assert all(h is None or h.startswith(("https:", "http:", "mailto:")) for h in hrefs), hrefs
    handlers = turns.evaluate(
        "t => [...t.querySelectorAll('*')].flatMap(e => [...e.attributes]"
        ".filter(a => a.name.startsWith('on')).map(a => a.name))"
    )
    assert handlers == []
    assert page.evaluate("window.pwned") is None


def test_model_output_with_html_and_script_renders_inert(page: Page, chat_env: ChatEnv) -> None:
    sign_in(page)
    for i, payload in enumerate(PAYLOADS, start=1):
        ask(page, payload, "chat-fast")
        expect(page.locator('.turn-assistant[data-state="complete"]')).to_have_count(i)
    _assert_inert(page)
    # The model's words are still there, as text.
    expect(page.locator("#turns")).to_contain_text("<script>window.pwned=1</script>")
    expect(page.locator("#turns")).to_contain_text("[image: px]")
    # The same history rendered by the server after a reload is just as inert.
    page.reload()
    expect(page.locator(".turn-assistant")).to_have_count(len(PAYLOADS))
    _assert_inert(page)


def _seed(env: ChatEnv, email: str, answer: str, guardrail: dict[str, str] | None = None) -> str:
    with env.db.begin() as s:
        user = s.scalars(select(User).where(User.email == email)).one()
        owner = store.Owner(user.tenant_id or "", user.id)
        conv = store.create_conversation(s, owner, "chat-large", "Seeded")
        store.append(s, owner, conv.id, "user", "show me code")
        store.append(
            s, owner, conv.id, "assistant", answer, alias="chat-large", guardrail=guardrail
        )
    return conv.id


def test_code_blocks_copy_and_guardrail_notice(browser: Browser, chat_env: ChatEnv) -> None:
    answer = (
        "Here:\n\n```python\nprint('hi')\n```\n\n"
        "[docs](https://example.com/docs) and [bad](javascript:alert(1)) "
        '<img src=x onerror="window.pwned=9"> ![t](https://t.example/x.png)'
    )
    cid = _seed(
        chat_env,
        MEMBER_A,
        answer,
        {"notice": "A content guardrail masked sensitive content in this exchange."},
    )
    with browser_page(browser, chat_env.gw.url) as (context, page):
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        sign_in(page)
        page.goto(f"/chat/c/{cid}")
        code = page.locator(".turn-assistant pre code")
        expect(code).to_have_text("print('hi')")
        page.click(".turn-assistant pre .copy")
        expect(page.locator(".turn-assistant pre .copy")).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()").strip() == "print('hi')"
        link = page.locator(".turn-assistant a", has_text="docs")
        expect(link).to_have_attribute("href", "https://example.com/docs")
        expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
        _assert_inert(page)
        expect(page.locator(".turn-guardrail")).to_have_text(
            "A content guardrail masked sensitive content in this exchange."
        )


def test_outage_and_rate_limit_are_told_in_plain_words(page: Page, chat_env: ChatEnv) -> None:
    sign_in(page)
    for provider in ("meridian-eu", "atlas-useast", "hoshi-osaka"):  # chat-fast's routes
        chat_env.sim.set_fault(provider, status=503)
    ask(page, "anyone there?", "chat-fast")
    error = last_answer(page).locator(".turn-error")
    expect(error).to_contain_text("'chat-fast' is not answering right now (an outage)")
    chat_env.sim.clear_faults()
    for provider in ("meridian-eu", "atlas-useast", "hoshi-osaka"):
        chat_env.sim.set_fault(provider, status=429)
    ask(page, "again?", "chat-fast")
    expect(last_answer(page).locator(".turn-error")).to_contain_text("rate limit")
    text = page.locator("#turns").inner_text()
    for word in ("meridian", "atlas", "hoshi", "Meridian", "Atlas"):
        assert word not in text


def test_no_credential_reaches_the_browser(page: Page, chat_env: ChatEnv) -> None:
    sign_in(page)
    ask(page, "hello", "chat-fast")
    expect(last_answer(page)).to_have_attribute("data-state", "complete")
    assert page.evaluate("document.cookie") == ""
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    cookies = page.context.cookies()
    session = [c for c in cookies if c["name"] == "sekisho_chat"]
    assert session and session[0]["httpOnly"] and session[0]["sameSite"] == "Strict"
    token = session[0]["value"]
    source = page.content()
    sources = [source, page.evaluate("fetch('/chat/api/session').then(r => r.text())")]
    for text in sources:
        assert token not in text
        assert "sks_" not in text  # neither a session token nor an API key
        assert chat_env.key_a not in text
        for secret in ("sim-atlas", "sim-meridian", "sim-kumo", "Bearer"):
            assert secret not in text
        for provider in ("atlas-useast", "meridian-eu", "kumo-tokyo", "Atlas Models", "127.0.0.1:"):
            assert provider not in text


def test_suspension_mid_answer_blocks_at_once_and_keeps_the_history(
    browser: Browser, chat_env: ChatEnv
) -> None:
    tenant, _ = make_tenant(chat_env.db, chat_env.gw.gateway.settings, "chat-tenant-s")
    email = "sue@tenant-s.test"
    with chat_env.db.begin() as s:
        create_user(s, email, "member", PASSWORD, Actor.system("t"), tenant_ref=tenant)
    req = lifecycle.LifecycleRequest(
        tenant=tenant,
        requested_by=chat_env.people["operator"],
        authorized_by=chat_env.people["billing_owner"],
        note="unpaid invoices",
        via="tests",
    )
    with browser_page(browser, chat_env.gw.url) as (_, page):
        sign_in(page, email)
        chat_env.sim.set_fault(LARGE, chunk_delay_ms=500)
        ask(page, "a long answer please, word after word after word")
        answer = last_answer(page)
        expect(answer.locator(".turn-body")).to_contain_text("Simulated")
        cid = current_conversation(page)
        with chat_env.db.begin() as s:
            lifecycle.suspend_tenant(s, chat_env.gw.gateway.settings, req, reason="non_payment")
        suspended_at = time.monotonic()
        blocked = page.locator("#blocked")
        expect(blocked).to_be_visible(timeout=5_000)
        elapsed = time.monotonic() - suspended_at
        print(f"suspension to notice: {elapsed:.3f} s")
        assert elapsed < 1.0, f"the stream took {elapsed:.2f} s to stop"
        expect(blocked).to_contain_text("suspended")
        expect(answer).to_have_attribute("data-state", "error")
        partial = answer.locator(".turn-body").inner_text()
        assert "word after word" not in partial  # it stopped mid-answer
        expect(page.locator("#send")).to_be_disabled()

        # Any other open page is blocked on its next action, and sign-in is refused.
        page.goto(f"/chat/c/{cid}")
        expect(page.locator("#page-notice")).to_contain_text("suspended")
        page.goto("/chat/sign-in")
        page.fill("#email", email)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("#signin-notice")).to_contain_text("suspended")

        with chat_env.db.begin() as s:
            lifecycle.reinstate_tenant(s, chat_env.gw.gateway.settings, req)
        sign_in(page, email)
        page.goto(f"/chat/c/{cid}")
        expect(page.locator(".turn-user .turn-body")).to_have_text(
            "a long answer please, word after word after word"
        )
        expect(last_answer(page).locator(".turn-status")).to_contain_text("suspended")
    turns = stored_turns(chat_env, cid)
    assert [t.role for t in turns] == ["user", "assistant"]
    assert turns[1].error_code == "tenant_suspended" and turns[1].content.startswith("Simulated")
    with chat_env.db.read() as s:
        assert s.get(Conversation, cid) is not None


def test_a_cross_site_page_cannot_act_for_the_member(browser: Browser, chat_env: ChatEnv) -> None:
    with browser_page(browser, chat_env.gw.url) as (context, page):
        sign_in(page)
        ask(page, "keep this conversation", "chat-fast")
        expect(last_answer(page)).to_have_attribute("data-state", "complete")
        cid = current_conversation(page)
        csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
        target = f"{chat_env.gw.url}/chat/c/{cid}/delete"
        # An attacker's page on another site, even one that somehow knows the CSRF token.
        evil = (
            f'<form id="f" method="post" action="{target}">'
            f'<input name="csrf_token" value="{csrf}"></form>'
            "<script>"
            "document.getElementById('f').submit();"
            "</script>"
        )
        context.route(
            "http://evil.test/**",
            lambda route: route.fulfill(status=200, content_type="text/html", body=evil),
        )
        with page.expect_response(lambda r: r.url == target) as answer:
            page.goto("http://evil.test/")
        assert answer.value.status in (403, 303)  # refused, or bounced to sign-in without cookie
        with chat_env.db.read() as s:
            assert s.get(Conversation, cid) is not None
        page.goto(f"/chat/c/{cid}")
        expect(page.locator(".turn-user .turn-body")).to_have_text("keep this conversation")
