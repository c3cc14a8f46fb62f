"""The chat app over HTTP without a browser: JSON routes, streaming, isolation, CSRF, cookies."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import orjson
import pytest

from sekisho.actor import Actor
from sekisho.lifecycle import service as lifecycle
from sekisho.store.models import RequestLog
from sekisho.tenancy.service import create_user
from tests.chatapp.conftest import (
    LARGE,
    MEMBER_A,
    MEMBER_A2,
    MEMBER_B,
    ChatEnv,
    csrf_from,
    member_client,
    wait_until,
)
from tests.lifecycle.support import PASSWORD
from tests.support.gateway import make_tenant

SAME = {"sec-fetch-site": "same-origin"}


def _events(resp: httpx.Response) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in resp.text.splitlines() if line]


def _new(env: ChatEnv, client: httpx.Client, csrf: str, alias: str = "chat-large") -> str:
    made = client.post(
        env.url + "/api/conversations",
        json={"alias": alias},
        headers={"x-csrf-token": csrf, **SAME},
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _say(env: ChatEnv, client: httpx.Client, csrf: str, cid: str, text: str) -> httpx.Response:
    return client.post(
        f"{env.url}/api/conversations/{cid}/messages",
        json={"content": text},
        headers={"x-csrf-token": csrf, **SAME},
    )


def test_a_member_chats_through_the_chat_core_with_a_logged_user(chat_env: ChatEnv) -> None:
    with member_client(chat_env, MEMBER_A) as (client, csrf):
        info = client.get(chat_env.url + "/api/session").json()
        # Exactly the tenant's usable aliases, as /v1/models lists them for its key.
        models = httpx.get(
            chat_env.gw.url + "/v1/models", headers={"authorization": f"Bearer {chat_env.key_a}"}
        ).json()
        assert sorted(info["aliases"]) == sorted(m["id"] for m in models["data"])
        assert "chat-cn" not in info["aliases"]  # China-gated: not granted to this tenant
        cid = _new(chat_env, client, csrf)
        resp = _say(chat_env, client, csrf, cid, "Hello there")
        assert resp.status_code == 200 and resp.headers["content-type"] == "application/x-ndjson"
        events = _events(resp)
        assert events[0]["type"] == "start" and events[-1]["type"] == "done"
        text = "".join(str(e["text"]) for e in events if e["type"] == "delta")
        assert text == "Simulated answer to: Hello there"
        shown = client.get(f"{chat_env.url}/api/conversations/{cid}").json()
        assert shown["title"] == "Hello there"
        assert [(t["role"], t["content"]) for t in shown["turns"]] == [
            ("user", "Hello there"),
            ("assistant", text),
        ]
    rid = str(events[0]["request_id"])

    def logged() -> RequestLog | None:
        with chat_env.db.read() as s:
            return s.get(RequestLog, rid)

    row = wait_until(logged)
    assert row.source == "chat" and row.status == 200 and row.alias == "chat-large"
    assert row.tenant_id == chat_env.tenant_a and row.user_id and row.user_id.startswith("usr_")


def test_rename_delete_and_list(chat_env: ChatEnv) -> None:
    with member_client(chat_env, MEMBER_A) as (client, csrf):
        h = {"x-csrf-token": csrf, **SAME}
        cid = _new(chat_env, client, csrf)
        renamed = client.patch(
            f"{chat_env.url}/api/conversations/{cid}", json={"title": "  My   plan "}, headers=h
        )
        assert renamed.status_code == 200 and renamed.json()["title"] == "My plan"
        bad = client.patch(f"{chat_env.url}/api/conversations/{cid}", json={"title": ""}, headers=h)
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "title"
        listed = client.get(chat_env.url + "/api/conversations").json()["data"]
        assert listed[0]["id"] == cid and listed[0]["title"] == "My plan"
        gone = client.delete(f"{chat_env.url}/api/conversations/{cid}", headers=h)
        assert gone.status_code == 200
        assert client.get(f"{chat_env.url}/api/conversations/{cid}").status_code == 404
        assert cid not in {
            c["id"] for c in client.get(chat_env.url + "/api/conversations").json()["data"]
        }


def test_another_members_conversation_is_a_404_everywhere(chat_env: ChatEnv) -> None:
    with member_client(chat_env, MEMBER_A) as (client, csrf):
        cid = _new(chat_env, client, csrf)
        assert _say(chat_env, client, csrf, cid, "secret plans").status_code == 200
        page = client.get(f"{chat_env.url}/c/{cid}")
        assert page.status_code == 200 and "secret plans" in page.text
    for other in (MEMBER_B, MEMBER_A2):  # another tenant, and another member of the same one
        with member_client(chat_env, other) as (client, csrf):
            h = {"x-csrf-token": csrf, **SAME}
            page = client.get(f"{chat_env.url}/c/{cid}")
            assert page.status_code == 404 and "secret plans" not in page.text
            base = f"{chat_env.url}/api/conversations/{cid}"
            answers = [
                client.get(base),
                client.patch(base, json={"title": "mine now"}, headers=h),
                client.delete(base, headers=h),
                client.post(base + "/messages", json={"content": "hi"}, headers=h),
                client.post(base + "/regenerate", json={}, headers=h),
                client.post(base + "/edit", json={"content": "x"}, headers=h),
            ]
            for resp in answers:
                assert resp.status_code == 404, resp.text
                assert resp.json()["error"]["code"] == "not_found"
                assert "secret" not in resp.text
            forms = [
                client.post(
                    f"{chat_env.url}/c/{cid}/rename",
                    data={"title": "x", "csrf_token": csrf},
                    headers=SAME,
                ),
                client.post(
                    f"{chat_env.url}/c/{cid}/delete", data={"csrf_token": csrf}, headers=SAME
                ),
            ]
            assert [f.status_code for f in forms] == [404, 404]
            listed = client.get(chat_env.url + "/api/conversations").json()["data"]
            assert cid not in {c["id"] for c in listed}
    with member_client(chat_env, MEMBER_A) as (client, _):
        kept = client.get(f"{chat_env.url}/api/conversations/{cid}").json()
        assert kept["title"] == "secret plans" and len(kept["turns"]) == 2


def test_state_changes_need_the_csrf_token_and_the_same_origin(chat_env: ChatEnv) -> None:
    with member_client(chat_env, MEMBER_A) as (client, csrf):
        cid = _new(chat_env, client, csrf)
        url = f"{chat_env.url}/api/conversations/{cid}"
        refused = [
            client.patch(url, json={"title": "no token"}, headers=SAME),
            client.patch(url, json={"title": "wrong"}, headers={"x-csrf-token": "0" * 64, **SAME}),
            client.patch(
                url,
                json={"title": "evil origin"},
                headers={"x-csrf-token": csrf, "origin": "https://evil.example"},
            ),
            client.patch(
                url,
                json={"title": "cross-site"},
                headers={"x-csrf-token": csrf, "sec-fetch-site": "cross-site"},
            ),
            client.post(url + "/messages", json={"content": "hi"}, headers={"origin": "null"}),
            client.post(
                f"{chat_env.url}/c/{cid}/delete",
                data={"csrf_token": csrf},
                headers={"origin": "https://evil.example"},
            ),
            client.post(f"{chat_env.url}/c/{cid}/rename", data={"title": "x"}, headers=SAME),
        ]
        for resp in refused:
            assert resp.status_code == 403, resp.text
        shown = client.get(url).json()
        assert shown["title"] == "New chat" and shown["turns"] == []


def test_sign_in_form_is_csrf_bound_and_cross_origin_refused(chat_env: ChatEnv) -> None:
    with httpx.Client() as client:
        page = client.get(chat_env.url + "/sign-in")
        token = csrf_from(page.text)
        form = {"email": MEMBER_A, "password": PASSWORD, "csrf_token": token}
        evil = client.post(
            chat_env.url + "/sign-in", data=form, headers={"origin": "https://evil.example"}
        )
        assert evil.status_code == 403 and "sekisho_chat=" not in evil.headers.get("set-cookie", "")
    with httpx.Client() as fresh:  # a token without its pre-sign-in cookie is worthless
        login_csrf = fresh.post(chat_env.url + "/sign-in", data=form)
        assert login_csrf.status_code == 403


def test_wrong_password_and_platform_users_are_refused(chat_env: ChatEnv) -> None:
    with httpx.Client() as client:
        token = csrf_from(client.get(chat_env.url + "/sign-in").text)
        wrong = client.post(
            chat_env.url + "/sign-in",
            data={"email": MEMBER_A, "password": "nope", "csrf_token": token},
        )
        assert wrong.status_code == 401 and "Wrong e-mail or password." in wrong.text
        operator = client.post(
            chat_env.url + "/sign-in",
            data={"email": chat_env.people["operator"], "password": PASSWORD, "csrf_token": token},
        )
        assert operator.status_code == 403 and "console" in operator.text
        assert client.get(chat_env.url + "/api/session").status_code == 401


def test_cookie_is_host_prefixed_secure_and_rotated_under_tls(chat_env: ChatEnv) -> None:
    tls = {"x-forwarded-proto": "https"}  # uvicorn trusts the local proxy's scheme
    with httpx.Client(headers=tls) as client:
        page = client.get(chat_env.url + "/sign-in")
        assert "__Host-sekisho_chat_pre=" in page.headers["set-cookie"]
        pre = page.cookies["__Host-sekisho_chat_pre"]
        form = {"email": MEMBER_A, "password": PASSWORD, "csrf_token": csrf_from(page.text)}
        cookie = {"cookie": f"__Host-sekisho_chat_pre={pre}"}
        first = client.post(chat_env.url + "/sign-in", data=form, headers=cookie)
        assert first.status_code == 303
        set_cookie = first.headers["set-cookie"]
        assert "__Host-sekisho_chat=" in set_cookie
        lowered = set_cookie.lower()
        assert "httponly" in lowered and "secure" in lowered and "samesite=strict" in lowered
        assert "path=/" in lowered and "domain=" not in lowered
        old = set_cookie.split("__Host-sekisho_chat=")[1].split(";")[0]
        again = client.post(
            chat_env.url + "/sign-in",
            data=form,
            headers={"cookie": f"__Host-sekisho_chat_pre={pre}; __Host-sekisho_chat={old}"},
        )
        assert again.status_code == 303
        new = again.headers["set-cookie"].split("__Host-sekisho_chat=")[1].split(";")[0]
        assert new != old
        dead = client.get(
            chat_env.url + "/api/session", headers={"cookie": f"__Host-sekisho_chat={old}"}
        )
        assert dead.status_code == 401  # the session presented at sign-in was revoked
        live = client.get(
            chat_env.url + "/api/session", headers={"cookie": f"__Host-sekisho_chat={new}"}
        )
        assert live.status_code == 200


def test_pages_carry_a_strict_csp_and_no_inline_script(chat_env: ChatEnv) -> None:
    with member_client(chat_env, MEMBER_A) as (client, _):
        page = client.get(chat_env.url + "/")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp and "require-trusted-types-for 'script'" in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        assert "<script>" not in page.text  # only <script src=...> from our origin
        assert re.search(r"<[^>]*\son[a-z]+\s*=", page.text) is None  # no inline handlers
        scripts = [
            client.get(chat_env.url + f"/static/{n}")
            for n in ("app.js", "marked.min.js", "purify.min.js")
        ]
        assert all(s.status_code == 200 for s in scripts)
        assert all(s.headers["x-content-type-options"] == "nosniff" for s in scripts)
        assert scripts[0].headers["cache-control"].startswith("public")
        assert sum(len(s.content) for s in scripts) < 100_000  # the page's whole script


@pytest.mark.parametrize(
    "upstream,status,code", [(503, 502, "upstream_unavailable"), (429, 429, "rate_limited")]
)
def test_outages_are_errors_in_plain_words_naming_the_alias(
    chat_env: ChatEnv, upstream: int, status: int, code: str
) -> None:
    for provider in (LARGE, "meridian-eu", "kumo-tokyo"):  # every route of chat-large
        chat_env.sim.set_fault(provider, status=upstream)
    with member_client(chat_env, MEMBER_A) as (client, csrf):
        cid = _new(chat_env, client, csrf)
        resp = _say(chat_env, client, csrf, cid, "hello?")
        err = resp.json()["error"]
        assert resp.status_code == status and err["code"] == code
        assert "'chat-large'" in err["message"]
        for leak in ("atlas", "meridian", "kumo", "Atlas"):
            assert leak not in resp.text
        turns = client.get(f"{chat_env.url}/api/conversations/{cid}").json()["turns"]
        assert turns[-1]["state"] == "error" and turns[-1]["error_code"] == code


def test_bad_input_gets_a_clear_error_and_changes_nothing(chat_env: ChatEnv) -> None:
    with member_client(chat_env, MEMBER_A) as (client, csrf):
        h = {"x-csrf-token": csrf, **SAME}
        cid = _new(chat_env, client, csrf)
        url = f"{chat_env.url}/api/conversations/{cid}"
        cases = [
            (
                client.post(
                    url + "/messages",
                    content=b"{nope",
                    headers={**h, "content-type": "application/json"},
                ),
                400,
            ),
            (client.post(url + "/messages", json={"content": "   "}, headers=h), 400),
            (
                client.post(
                    url + "/messages", json={"content": "x", "alias": "chat-cn"}, headers=h
                ),
                403,
            ),
            (client.post(url + "/messages", json={"content": "x" * 300_000}, headers=h), 413),
            (client.post(url + "/regenerate", json={}, headers=h), 400),
            (
                client.post(chat_env.url + "/api/conversations", json={"alias": "nope"}, headers=h),
                400,
            ),
            (client.get(chat_env.url + "/api/nothing-here"), 404),
        ]
        for resp, status in cases:
            assert resp.status_code == status, resp.text
            assert set(resp.json()["error"]) == {"message", "type", "code", "param"}
        assert client.get(url).json()["turns"] == []


def test_the_forms_work_without_script(chat_env: ChatEnv) -> None:
    with member_client(chat_env, MEMBER_A) as (client, csrf):
        sent = client.post(
            chat_env.url + "/send",
            data={"content": "no script here", "alias": "chat-fast", "csrf_token": csrf},
            headers=SAME,
        )
        assert sent.status_code == 303
        page = client.get(chat_env.gw.url + sent.headers["location"])
        assert "Simulated answer to: no script here" in page.text
        cid = sent.headers["location"].rsplit("/", 1)[1]
        renamed = client.post(
            f"{chat_env.url}/c/{cid}/rename",
            data={"title": "Renamed", "csrf_token": csrf},
            headers=SAME,
        )
        assert renamed.status_code == 303
        assert "Renamed" in client.get(f"{chat_env.url}/c/{cid}").text
        deleted = client.post(
            f"{chat_env.url}/c/{cid}/delete", data={"csrf_token": csrf}, headers=SAME
        )
        assert deleted.status_code == 303
        assert client.get(f"{chat_env.url}/c/{cid}").status_code == 404
        assert client.get(chat_env.url + "/no-such-page").status_code == 404
        signed_out = client.post(
            chat_env.url + "/sign-out", data={"csrf_token": csrf}, headers=SAME
        )
        assert signed_out.status_code == 303
        assert client.get(chat_env.url + "/api/session").status_code == 401
        assert client.get(chat_env.url + "/").headers["location"].endswith("/chat/sign-in")
        landing = client.get(chat_env.gw.url + "/chat", follow_redirects=True)  # the demo's URL
        assert landing.status_code == 200 and str(landing.url).endswith("/chat/sign-in")


def test_a_suspended_tenants_open_sessions_get_the_notice_on_every_route(chat_env: ChatEnv) -> None:
    settings = chat_env.gw.gateway.settings
    tenant, _ = make_tenant(chat_env.db, settings, "chat-tenant-t")
    email = "tim@tenant-t.test"
    with chat_env.db.begin() as s:
        create_user(s, email, "member", PASSWORD, Actor.system("t"), tenant_ref=tenant)
    req = lifecycle.LifecycleRequest(
        tenant=tenant,
        requested_by=chat_env.people["operator"],
        authorized_by=chat_env.people["security_owner"],
        note="credential compromise",
        via="tests",
    )
    with member_client(chat_env, email) as (client, csrf):
        cid = _new(chat_env, client, csrf)
        assert _say(chat_env, client, csrf, cid, "before").status_code == 200
        with chat_env.db.begin() as s:
            lifecycle.suspend_tenant(s, settings, req, reason="security_event")
        h = {"x-csrf-token": csrf, **SAME}
        for resp in (
            client.get(chat_env.url + "/api/conversations"),
            client.get(f"{chat_env.url}/api/conversations/{cid}"),
            _say(chat_env, client, csrf, cid, "after"),
            client.post(f"{chat_env.url}/api/conversations/{cid}/regenerate", json={}, headers=h),
        ):
            assert resp.status_code == 403 and resp.json()["error"]["code"] == "tenant_suspended"
            assert "suspended" in resp.json()["error"]["message"]
        page = client.get(f"{chat_env.url}/c/{cid}")
        assert page.status_code == 403 and "Access suspended" in page.text
        token = csrf_from(client.get(chat_env.url + "/sign-in").text)
        refused = client.post(
            chat_env.url + "/sign-in",
            data={"email": email, "password": PASSWORD, "csrf_token": token},
            headers=SAME,
        )
        assert refused.status_code == 403 and "suspended" in refused.text
        with chat_env.db.begin() as s:
            lifecycle.reinstate_tenant(s, settings, req)
    with member_client(chat_env, email) as (client, _):
        turns = client.get(f"{chat_env.url}/api/conversations/{cid}").json()["turns"]
        assert [t["content"] for t in turns] == ["before", "Simulated answer to: before"]


def test_the_demo_prints_a_member_login_and_the_chat_url() -> None:
    from sekisho.demo import DEMO_PASSWORD, banner

    text = banner(8080, "http://127.0.0.1:9100", "sks_x", Path("."))
    assert "http://127.0.0.1:8080/chat" in text
    assert "dev@acme.example" in text and DEMO_PASSWORD in text


def test_sign_in_is_throttled_after_repeated_failures(chat_env: ChatEnv) -> None:
    with httpx.Client() as client:
        token = csrf_from(client.get(chat_env.url + "/sign-in").text)
        form = {"email": "guesser@nowhere.test", "password": "wrong-guess", "csrf_token": token}
        codes = [client.post(chat_env.url + "/sign-in", data=form).status_code for _ in range(6)]
        assert codes == [401] * 5 + [429]
        throttled = client.post(chat_env.url + "/sign-in", data=form)
        assert "Too many failed sign-ins" in throttled.text
