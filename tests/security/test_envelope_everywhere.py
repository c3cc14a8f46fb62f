"""One envelope everywhere: unknown paths, wrong methods, validation, forms, docs page, CORS."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sekisho.simulator import SimulatorServer
from tests.security.conftest import Edge
from tests.security.envelope import assert_clean_error
from tests.security.rawhttp import RawResponse
from tests.support.databases import sqlite_url
from tests.support.gateway import (
    RunningGateway,
    gateway_settings,
    make_tenant,
    migrated,
    start_gateway,
)


def _raw(resp: httpx.Response) -> RawResponse:
    return RawResponse(resp.status_code, dict(resp.headers), resp.content, 0.0)


UNKNOWN = [
    ("GET", "/", "ours"),
    ("GET", "/nope", "ours"),
    ("GET", "/v1", "ours"),
    ("GET", "/v1/", "ours"),
    ("POST", "/v1/completions", "ours"),
    ("GET", "/v1/models/chat-large/extra", "ours"),
    ("POST", "/v1/messages/not-a-thing", "anthropic"),
    ("GET", "/admin/v1/nope", "ours"),
    ("GET", "/admin/nope", "ours"),
    ("GET", "/status/nope", "ours"),
    ("GET", "/healthzz", "ours"),
]


@pytest.mark.parametrize(("method", "path", "envelope"), UNKNOWN)
def test_unknown_path_is_a_404_in_its_apis_envelope(
    edge: Edge, method: str, path: str, envelope: str
) -> None:
    with httpx.Client(timeout=10) as http:
        resp = http.request(
            method, edge.gw.url + path, headers={"authorization": f"Bearer {edge.key}"}
        )
    kind = assert_clean_error(_raw(resp), envelope, 404)
    assert kind in ("not_found", "not_found_error", "model_not_found")


WRONG_METHOD = [
    ("GET", "/v1/chat/completions", "POST"),
    ("DELETE", "/v1/models", "GET"),
    ("POST", "/v1/models/chat-large", "GET"),
    ("OPTIONS", "/v1/chat/completions", "POST"),
    ("POST", "/healthz", "GET, HEAD"),
    ("PUT", "/status", "GET, HEAD"),
    ("PUT", "/admin/v1/incidents", None),
    ("DELETE", "/admin/v1/aliases", "GET"),
]


@pytest.mark.parametrize(("method", "path", "allow"), WRONG_METHOD)
def test_wrong_method_is_a_405_with_allow(
    edge: Edge, method: str, path: str, allow: str | None
) -> None:
    with httpx.Client(timeout=10) as http:
        resp = http.request(
            method, edge.gw.url + path, headers={"authorization": f"Bearer {edge.key}"}
        )
    assert_clean_error(_raw(resp), "ours", 405)
    assert resp.headers["allow"]
    if allow is not None:
        assert resp.headers["allow"] == allow
    assert "access-control-allow-origin" not in resp.headers


def test_validation_error_is_invalid_request_naming_the_parameter(edge: Edge) -> None:
    with httpx.Client(timeout=10) as http:
        resp = http.post(
            edge.gw.url + "/admin/v1/incidents",
            json={"severity": "sev2", "aliases": ["chat-large"]},
            headers={"authorization": f"Bearer {edge.token}"},
        )
    assert_clean_error(_raw(resp), "ours", 400)
    err = resp.json()["error"]
    assert err["code"] == "invalid_request"
    assert err["param"] == "title"
    assert "title" in err["message"]


@pytest.mark.parametrize(
    "path", ["/admin/v1/incidents", "/admin/v1/session", "/admin/v1/aliases/chat-large/overrides"]
)
@pytest.mark.parametrize(
    "ctype",
    [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "multipart/form-data",
    ],
)
def test_form_post_with_a_cookie_is_a_clean_error(edge: Edge, path: str, ctype: str) -> None:
    body = b'--xyz\r\nContent-Disposition: form-data; name="title"\r\n\r\nx\r\n--xyz--\r\n'
    if ctype.startswith("application/x-www"):
        body = b"title=x&csrf_token=nope"
    with httpx.Client(timeout=10) as http:
        resp = http.post(
            edge.gw.url + path,
            content=body,
            headers={"content-type": ctype, "cookie": "sekisho_session=forged-session-token"},
        )
    assert_clean_error(_raw(resp), "ours")


def test_admin_docs_page_is_offline_under_a_strict_csp(edge: Edge) -> None:
    base = edge.gw.url + "/admin/v1"
    with httpx.Client(timeout=10) as http:
        page = http.get(base + "/docs")
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        assert (
            "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
        )
        html = page.text
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
        assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts)
        assert "style=" not in html and "<style" not in html
        urls = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert all(u.startswith("/admin/v1/") for u in urls), urls
        for url in urls:
            asset = http.get(edge.gw.url + url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 100
        assert http.get(base + "/openapi.json").json()["info"]["title"] == "Sekisho admin API"


def test_admin_docs_page_renders_in_a_browser_without_csp_violations(edge: Edge) -> None:
    from playwright import sync_api as playwright

    # Browser tests need Debian's Chromium (.ci/run installs it): missing is a failure.
    assert Path("/usr/bin/chromium").exists(), "/usr/bin/chromium is missing"
    problems: list[str] = []
    outside: list[str] = []
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on(
                "request",
                lambda r: outside.append(r.url) if not r.url.startswith(edge.gw.url) else None,
            )
            page.goto(edge.gw.url + "/admin/v1/docs")
            page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
            assert "Sekisho admin API" in page.inner_text(".swagger-ui .info .title")
            page.wait_for_selector(".opblock", timeout=20_000)
        finally:
            browser.close()
    csp = [p for p in problems if "Content Security Policy" in p or "Refused" in p]
    assert not csp, csp
    assert not outside, outside


def test_models_by_alias(edge: Edge) -> None:
    auth = {"authorization": f"Bearer {edge.key}"}
    with httpx.Client(timeout=10) as http:
        listed = [
            m["id"] for m in http.get(edge.gw.url + "/v1/models", headers=auth).json()["data"]
        ]
        one = http.get(edge.gw.url + f"/v1/models/{listed[0]}", headers=auth)
        assert one.status_code == 200
        assert one.json() == {
            "id": listed[0],
            "object": "model",
            "created": 0,
            "owned_by": "sekisho",
        }
        missing = http.get(edge.gw.url + "/v1/models/gpt-4o", headers=auth)
        assert_clean_error(_raw(missing), "ours", 404)
        assert missing.json()["error"]["code"] == "model_not_found"
        gated = http.get(edge.gw.url + "/v1/models/chat-cn", headers=auth)
        assert gated.status_code == 404  # not the tenant's: indistinguishable from unknown
        anon = http.get(edge.gw.url + f"/v1/models/{listed[0]}")
        assert_clean_error(_raw(anon), "ours", 401)


ORIGIN = "https://app.example"


@pytest.fixture(scope="module")
def cors_gw(
    simulator: SimulatorServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningGateway, str]]:
    state = tmp_path_factory.mktemp("cors")
    settings = gateway_settings(
        simulator.url, state, sqlite_url(state), cors={"allowed_origins": [ORIGIN]}
    )
    db = migrated(settings.database_url)
    _, key = make_tenant(db, settings, "browser")
    gw = start_gateway(settings, db)
    yield gw, key
    gw.stop()
    db.dispose()


def test_cors_is_off_by_default(edge: Edge) -> None:
    with httpx.Client(timeout=10) as http:
        pre = http.options(
            edge.gw.url + "/v1/chat/completions",
            headers={"origin": ORIGIN, "access-control-request-method": "POST"},
        )
        assert pre.status_code == 405
        got = http.get(
            edge.gw.url + "/v1/models",
            headers={"origin": ORIGIN, "authorization": f"Bearer {edge.key}"},
        )
    assert "access-control-allow-origin" not in pre.headers
    assert "access-control-allow-origin" not in got.headers


def test_cors_when_configured(cors_gw: tuple[RunningGateway, str]) -> None:
    gw, key = cors_gw
    url = gw.url + "/v1/chat/completions"
    with httpx.Client(timeout=10) as http:
        pre = http.options(
            url,
            headers={
                "origin": ORIGIN,
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type",
            },
        )
        assert pre.status_code == 204
        assert pre.headers["access-control-allow-origin"] == ORIGIN
        assert pre.headers["access-control-allow-methods"] == "POST"
        assert "authorization" in pre.headers["access-control-allow-headers"]
        assert "access-control-allow-credentials" not in pre.headers
        other = http.options(
            url, headers={"origin": "https://evil.example", "access-control-request-method": "POST"}
        )
        assert_clean_error(_raw(other), "ours", 403)
        assert "access-control-allow-origin" not in other.headers
        resp = http.post(
            url,
            json={"model": "chat-large", "messages": [{"role": "user", "content": "hi"}]},
            headers={"origin": ORIGIN, "authorization": f"Bearer {key}"},
        )
        assert resp.status_code == 200
        assert resp.headers["access-control-allow-origin"] == ORIGIN
        assert "x-request-id" in resp.headers["access-control-expose-headers"]
        admin = http.options(
            gw.url + "/admin/v1/aliases",
            headers={"origin": ORIGIN, "access-control-request-method": "GET"},
        )
        assert "access-control-allow-origin" not in admin.headers  # the admin API stays same-origin


def test_bad_query_parameter_is_invalid_request_naming_it(edge: Edge) -> None:
    from sekisho.actor import Actor
    from sekisho.admin.tokens import create_token
    from sekisho.tenancy import service

    actor = Actor.system("tests")
    with edge.db.begin() as session:
        user = service.create_user(session, "audit@edge.example", "auditor", None, actor)
        _, token = create_token(session, user, actor)
    with httpx.Client(timeout=10) as http:
        resp = http.get(
            edge.gw.url + "/admin/v1/ledger/platform/entries?limit=lots",
            headers={"authorization": f"Bearer {token}"},
        )
    assert_clean_error(_raw(resp), "ours", 400)
    assert resp.json()["error"]["param"] == "limit"
