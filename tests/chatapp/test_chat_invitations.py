"""First-password setup: an operator invites a member, who sets a password once and signs in."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from sekisho.actor import Actor
from sekisho.ledger.tables import LedgerEntryRow
from sekisho.tenancy.service import create_user
from tests.chatapp.conftest import MEMBER_A, ChatEnv, csrf_from, member_client, sign_in
from tests.lifecycle.support import PASSWORD

SAME = {"sec-fetch-site": "same-origin"}
NEW_PASSWORD = "a-fresh-password-42"


def _operator(env: ChatEnv) -> tuple[httpx.Client, str]:
    client = httpx.Client(timeout=30)
    resp = client.post(
        env.gw.url + "/admin/v1/session",
        json={"email": env.people["operator"], "password": PASSWORD},
    )
    assert resp.status_code == 200, resp.text
    return client, str(resp.json()["csrf_token"])


def _invite(env: ChatEnv, client: httpx.Client, csrf: str, ref: str) -> httpx.Response:
    return client.post(
        f"{env.gw.url}/admin/v1/members/{ref}/invitation",
        json={},
        headers={"x-csrf-token": csrf},
    )


def test_an_invited_member_sets_a_password_once_and_signs_in(chat_env: ChatEnv) -> None:
    email = "ivy@tenant-a.test"
    with chat_env.db.begin() as s:
        create_user(s, email, "member", None, Actor.system("t"), tenant_ref=chat_env.tenant_a)
    op, op_csrf = _operator(chat_env)
    try:
        first = _invite(chat_env, op, op_csrf, email)
        assert first.status_code == 201, first.text
        replaced = first.json()["url"]
        made = _invite(chat_env, op, op_csrf, email)  # a second invitation ends the first
        url = made.json()["url"]
        assert made.json()["email"] == email and url.startswith("/chat/welcome/sks_inv_")
        assert _invite(chat_env, op, op_csrf, chat_env.people["auditor"]).status_code == 404
    finally:
        op.close()
    with httpx.Client(timeout=30) as browser:
        assert browser.get(chat_env.gw.url + replaced).status_code == 400
        page = browser.get(chat_env.gw.url + url)
        assert page.status_code == 200 and email in page.text
        token = csrf_from(page.text)
        short = browser.post(
            chat_env.gw.url + url,
            data={"password": "short", "confirm": "short", "csrf_token": token},
            headers=SAME,
        )
        assert short.status_code == 400 and "at least 10" in short.text
        differ = browser.post(
            chat_env.gw.url + url,
            data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x", "csrf_token": token},
            headers=SAME,
        )
        assert differ.status_code == 400 and "differ" in differ.text
        evil = browser.post(
            chat_env.gw.url + url,
            data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": token},
            headers={"origin": "https://evil.example"},
        )
        assert evil.status_code == 403
        done = browser.post(
            chat_env.gw.url + url,
            data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": token},
            headers=SAME,
        )
        assert done.status_code == 200 and "Your password is set" in done.text
        again = browser.get(chat_env.gw.url + url)
        assert again.status_code == 400 and "already used" in again.text
    with httpx.Client(timeout=30) as member:
        sign_in(chat_env, email, member, NEW_PASSWORD)
    with chat_env.db.read() as s:
        bodies = list(s.scalars(select(LedgerEntryRow.body)))
    invites = [b for b in bodies if b'"user.invite"' in b]
    password_sets = [b for b in bodies if b'"user.password_set"' in b]
    assert len(invites) >= 2 and len(password_sets) == 1


def test_only_operators_and_admins_invite(chat_env: ChatEnv) -> None:
    with member_client(chat_env, MEMBER_A) as (client, csrf):
        resp = client.post(
            f"{chat_env.gw.url}/admin/v1/members/{MEMBER_A}/invitation",
            json={},
            headers={"x-csrf-token": csrf},
        )
        assert resp.status_code in (401, 403)
