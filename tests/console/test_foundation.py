"""Sign-in, sessions, CSP and the overview in a real browser (Debian's Chromium)."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import ConsoleMessage, expect

from tests.console.conftest import ConsoleEnv
from tests.lifecycle.support import PASSWORD


def test_sign_in_overview_and_sign_out(console_env: ConsoleEnv) -> None:
    env = console_env
    ctx = env.context()
    page = ctx.new_page()
    violations: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if "Content Security Policy" in msg.text or "Refused to" in msg.text:
            violations.append(msg.text)

    page.on("console", on_console)
    page.goto("/console/")
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next="))
    env.shot(page, "sign-in")

    page.get_by_label("E-mail").fill(env.people["operator"])
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong e-mail or password.")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    for alias in ("chat-large", "chat-jp", "chat-fast", "chat-cn"):
        expect(page.locator(f'.tile[data-alias="{alias}"]')).to_be_visible()
    env.shot(page, "overview")

    page.get_by_role("link", name=re.compile(env.people["operator"])).click()
    expect(page.locator("#me-role")).to_have_text("operator")
    expect(page.locator("#me-actions")).to_contain_text("override_set")
    expect(page.locator("#me-actions")).not_to_contain_text("ledger_verify")
    env.shot(page, "who-am-i")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto("/console/")
    expect(page).to_have_url(re.compile(r"/console/sign-in"))
    assert violations == []


def test_every_console_answer_has_a_strict_csp(console_env: ConsoleEnv) -> None:
    with httpx.Client(base_url=console_env.url, timeout=10) as http:
        for path in (
            "/console/sign-in",
            "/console/",
            "/console/nope",
            "/console/static/console.js",
        ):
            resp = http.get(path)
            csp = resp.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp, path
            assert "frame-ancestors 'none'" in csp
            assert resp.headers["x-content-type-options"] == "nosniff"
        page = http.get("/console/sign-in").text
        assert "<script>" not in page and " style=" not in page and " on" + "click=" not in page


def test_sign_in_needs_the_form_nonce_and_is_throttled(console_env: ConsoleEnv) -> None:
    env = console_env
    with httpx.Client(base_url=env.url, timeout=10) as http:
        # A cross-site form post (no nonce cookie) is refused without trying the password.
        resp = http.post(
            "/console/sign-in", data={"email": env.people["auditor"], "password": PASSWORD}
        )
        assert resp.status_code == 403 and "expired" in resp.text
        assert "sekisho_session" not in resp.headers.get("set-cookie", "")
        email = "nobody-throttled@sekisho.test"
        statuses = []
        for _ in range(7):
            form = http.get("/console/sign-in")
            nonce = re.search(r'name="nonce" value="([^"]+)"', form.text)
            assert nonce is not None
            resp = http.post(
                "/console/sign-in",
                data={"email": email, "password": "wrong", "nonce": nonce.group(1)},
            )
            statuses.append(resp.status_code)
        assert statuses[:5] == [401] * 5 and statuses[-1] == 429
        assert "Too many failed sign-ins" in resp.text


def test_a_state_change_without_the_csrf_token_is_refused(console_env: ConsoleEnv) -> None:
    env = console_env
    page = env.sign_in("operator")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.Client(base_url=env.url, timeout=10, cookies=cookies) as http:
        resp = http.post("/console/sign-out", data={})
        assert resp.status_code == 403 and "CSRF" in resp.text
        assert http.get("/console/me").status_code == 200  # still signed in
