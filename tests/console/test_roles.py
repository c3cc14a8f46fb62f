"""Each role sees and does in the console exactly what /admin/v1 lets it; auditor and member views."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect
from starlette.routing import BaseRoute, Mount, Route

from sekisho.console.authz import ACTIONS, OPTIONAL_ACTIONS
from sekisho.store.models import PLATFORM_ROLES
from tests.console.conftest import MEMBER, ConsoleEnv
from tests.lifecycle.support import PASSWORD

ROLES = (*PLATFORM_ROLES, "member")


def console_client(env: ConsoleEnv, role: str) -> tuple[httpx.Client, str]:
    """An HTTP client signed in to the console as `role` (through the sign-in form)."""
    http = httpx.Client(base_url=env.url, timeout=15)
    form = http.get("/console/sign-in").text
    nonce = re.search(r'name="nonce" value="([^"]+)"', form)
    assert nonce is not None
    email = MEMBER if role == "member" else env.people[role]
    resp = http.post(
        "/console/sign-in", data={"email": email, "password": PASSWORD, "nonce": nonce.group(1)}
    )
    assert resp.status_code == 303, resp.text
    me = http.get("/console/me").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', me)
    assert csrf is not None
    return http, csrf.group(1)


def console_endpoints(env: ConsoleEnv) -> list[tuple[str, str, str]]:
    """(action, method, path) of every console route that declares an action."""
    out: list[tuple[str, str, str]] = []

    def walk(routes: list[BaseRoute], prefix: str) -> None:
        for r in routes:
            if isinstance(r, Mount):
                inner = r.app  # SecurityHeaders and QueryTally wrap the Starlette app
                while not hasattr(inner, "routes") and hasattr(inner, "app"):
                    inner = inner.app
                walk(list(getattr(inner, "routes", [])), prefix + r.path)
            elif isinstance(r, Route):
                action = getattr(r.endpoint, "action", None)
                if action:
                    for method in sorted((r.methods or set()) - {"HEAD"}):
                        out.append((action, method, prefix + r.path))

    walk(list(env.gw.app.rest.routes), "")
    return out


def fill(path: str, env: ConsoleEnv) -> str:
    values = {
        "alias": "chat-large",
        "ref": env.tenants["sakura"],
        "tenant_id": env.tenants["sakura"],
        "key_id": "key_0000000000000000",
        "request_id": "sreq_00000000",
        "incident_id": "inc_00000000",
        "ledger": "platform",
        "seq": "0",
        "record_id": "evb_00000000",
        "run_id": "run_000000",
        "step": "1",
    }
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], path)


@pytest.fixture(scope="module")
def endpoints(console_env: ConsoleEnv) -> list[tuple[str, str, str]]:
    found = console_endpoints(console_env)
    actions = {a for a, _, _ in found}
    assert {"override_set", "sign_off", "key_revoke", "ledger_verify"} <= actions
    assert actions <= set(ACTIONS) | set(OPTIONAL_ACTIONS)
    return found


@pytest.mark.parametrize("role", ROLES)
def test_console_allows_exactly_what_the_admin_api_allows(
    console_env: ConsoleEnv, endpoints: list[tuple[str, str, str]], role: str
) -> None:
    env = console_env
    checked = 0
    http, csrf = console_client(env, role)
    admin_says: dict[str, bool] = {}
    try:
        for action, method, path in endpoints:
            kwargs = {"data": {"csrf_token": csrf}} if method == "POST" else {}
            page = http.request(method, fill(path, env), **kwargs)
            console_denied = page.status_code == 403 and "Not for your role" in page.text
            if action not in admin_says:
                admin_method, admin_path = {**ACTIONS, **OPTIONAL_ACTIONS}[action]
                api = http.request(
                    admin_method,
                    "/admin/v1" + fill(admin_path, env),
                    headers={"x-csrf-token": csrf},
                    **({"json": {}} if admin_method == "POST" else {}),
                )
                admin_says[action] = (
                    api.status_code == 403 and api.json()["error"]["code"] == "permission_denied"
                )
            assert console_denied == admin_says[action], (role, action, page.status_code)
            assert page.status_code < 500, (role, action, page.text[:300])
            checked += 1
    finally:
        http.close()
    assert checked == len(endpoints)


@pytest.mark.parametrize("role", ["auditor", "member"])
def test_what_an_auditor_and_a_member_see(console_env: ConsoleEnv, role: str) -> None:
    env = console_env
    page = env.sign_in(role)
    nav = page.get_by_role("navigation", name="Console sections")
    if role == "member":
        expect(page).to_have_url(re.compile("/console/me"))
        expect(page.get_by_role("status")).to_contain_text("for platform users")
        expect(nav.get_by_role("link")).to_have_count(0)
        env.shot(page, "member")
        page.goto("/console/ledger")
        expect(page.get_by_role("heading", name="Not for your role")).to_be_visible()
        page.goto("/console/tenants")
        expect(page.get_by_role("heading", name="Not for your role")).to_be_visible()
        return
    expect(nav.get_by_role("link")).to_have_text(
        [
            "Overview",
            "Providers",
            "Tenants",
            "Incidents",
            "Runbooks",
            "Evidence",
            "Ledger",
            "Tokens",
        ]
    )
    page.get_by_role("link", name="Providers").click()
    expect(page.locator("#providers")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Apply to"))).to_have_count(0)
    page.goto(f"/console/tenants/{env.tenants['acme']}")
    expect(page.locator("#keys")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Revoke|Request"))).to_have_count(0)

    page.get_by_role("link", name="Ledger").click()
    expect(page.locator("#entries tbody tr").first).to_be_visible()
    page.get_by_role("link", name="Verify the ledger now").click()
    expect(page.locator("#verify-report")).to_contain_text("Verified")
    env.shot(page, "ledger")
    oldest = page.locator("#entries tbody tr[data-seq]").last.get_attribute("data-action")
    family = (oldest or "").split(".")[0]
    page.get_by_label("Action starts with").fill(family + ".")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#entries tbody tr[data-seq]")
    expect(rows.first).to_contain_text(family + ".")
    rows.get_by_role("link", name=re.compile("proof of")).first.click()
    expect(page.locator("#proof-body")).to_contain_text(f'"action":"{family}.')
    env.shot(page, "ledger-proof")
    with page.expect_download() as download:
        page.goto("/console/ledger")
        page.get_by_role("link", name="Export (JSONL)").click()
    assert download.value.suggested_filename == "sekisho-ledger-export.jsonl"


def test_evidence_window_taken_downloaded_and_verified(console_env: ConsoleEnv) -> None:
    env = console_env
    page = env.sign_in("auditor")
    page.get_by_role("link", name="Evidence").click()
    page.get_by_label("Window of").select_option(f"tenant:{env.tenants['acme']}")
    page.get_by_label("over the last").select_option("24h")
    with page.expect_download() as taken:
        page.get_by_role("button", name="Take and download").click()
    assert taken.value.suggested_filename.endswith(".tar")
    page.reload()
    row = page.locator("#bundles tbody tr[data-id]").first
    expect(row).to_contain_text(env.tenants["acme"])
    row.get_by_role("link", name=re.compile("^Verify")).click()
    expect(row.locator(".verdict-line")).to_contain_text("Verified")
    expect(row.locator(".verdict-line")).to_contain_text("its hash is in the ledger")
    env.shot(page, "evidence")
    with page.expect_download() as again:
        row.get_by_role("link", name=re.compile("^Download")).click()
    assert again.value.path().read_bytes() == taken.value.path().read_bytes()


def test_admin_creates_and_revokes_a_token_and_disables_a_user(console_env: ConsoleEnv) -> None:
    env = console_env
    page = env.sign_in("admin")
    page.get_by_role("link", name="Tokens").click()
    page.get_by_label("Name").fill("ci deploys")
    page.get_by_label("Lifetime in days").fill("7")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_label(re.compile("^Token for")).input_value()
    assert secret.startswith("sko_")
    env.shot(page, "tokens")
    api = httpx.get(
        env.url + "/admin/v1/aliases", headers={"authorization": f"Bearer {secret}"}, timeout=10
    )
    assert api.status_code == 200
    page.goto("/console/people")
    row = page.locator("#tokens tbody tr").filter(has_text="ci deploys")
    row.get_by_role("button", name=re.compile("^Revoke")).click()
    expect(page.get_by_role("status")).to_contain_text("Token revoked")
    api = httpx.get(
        env.url + "/admin/v1/aliases", headers={"authorization": f"Bearer {secret}"}, timeout=10
    )
    assert api.status_code == 401

    security = env.people["security_owner"]
    page.locator(f'#users tr[data-user="{security}"]').get_by_role("button").click()
    expect(page.get_by_role("status")).to_contain_text("User disabled")
    with httpx.Client(base_url=env.url, timeout=10) as client:
        form = client.get("/console/sign-in").text
        nonce = re.search(r'name="nonce" value="([^"]+)"', form)
        assert nonce is not None
        refused = client.post(
            "/console/sign-in",
            data={"email": security, "password": PASSWORD, "nonce": nonce.group(1)},
        )
        assert refused.status_code == 401 and "disabled" in refused.text
    page.locator(f'#users tr[data-user="{security}"]').get_by_role("button").click()
    expect(page.get_by_role("status")).to_contain_text("User enabled")
