"""Tenants from the console: a suspension as two acts in two browser contexts, key revoke."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from tests.console.conftest import ConsoleEnv


def chat_status(env: ConsoleEnv, key: str, alias: str = "chat-large") -> tuple[int, str]:
    resp = httpx.post(
        env.url + "/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": alias, "messages": [{"role": "user", "content": "hi"}]},
        timeout=15,
    )
    code = resp.json().get("error", {}).get("code", "") if resp.status_code >= 400 else ""
    return resp.status_code, code


def test_suspension_needs_the_owners_sign_off_in_their_own_session(
    console_env: ConsoleEnv,
) -> None:
    env = console_env
    assert chat_status(env, env.keys["acme"]) == (200, "")
    operator = env.sign_in("operator")
    operator.get_by_role("link", name="Tenants").click()
    operator.get_by_label("Search by name or id").fill("acm")
    operator.get_by_role("button", name="Search").click()
    expect(operator.locator("#tenants tbody tr")).to_have_count(1)
    env.shot(operator, "tenants")
    operator.get_by_role("link", name="acme").click()
    expect(operator.locator("#tenant-state")).to_contain_text("active")
    tenant_url = operator.url

    # The suspension runbook's step 2 requests the suspension from inside the step.
    operator.get_by_role("link", name="Runbooks").click()
    operator.get_by_label("Tenant", exact=True).select_option(env.tenants["acme"])
    operator.get_by_role("button", name=re.compile("Start tenant suspension")).click()
    run_url = operator.url.split("?")[0]
    operator.goto(run_url + "?step=2")
    step = operator.locator("#act-suspension-request")
    step.get_by_label("Reason").select_option("non_payment")
    step.get_by_label("Note for the owner").fill("Invoices 2026-09 and 2026-10 unpaid")
    step.get_by_role("button", name="Request the suspension").click()
    expect(operator.get_by_role("status")).to_contain_text("Done")
    evidence = operator.locator("#step-evidence")
    expect(evidence).to_contain_text("waiting for a billing_owner to sign off")
    found = re.search(r"suspension request (\S+) for acme", evidence.inner_text())
    assert found is not None
    request_id = found.group(1)
    env.shot(operator, "runbook-step-suspension-request")
    report = operator.request.get(run_url + "/report.md").text()
    assert f"suspension request {request_id} for acme" in report

    # An auditor may read the run but not act: the step's action is disabled, with the reason.
    auditor = env.sign_in("auditor")
    auditor.goto(run_url + "?step=2")
    expect(auditor.locator("#act-suspension-request").get_by_role("button")).to_be_disabled()
    expect(auditor.locator("#blocked-suspension-request")).to_contain_text(
        "Your role (auditor) may not request the suspension"
    )

    operator.goto(tenant_url)
    expect(operator.locator("#pending")).to_contain_text("billing_owner")
    env.shot(operator, "tenant-pending")
    # Nothing has happened yet: the key still works.
    assert chat_status(env, env.keys["acme"]) == (200, "")

    # A legal owner (another browser context) is not shown a non-payment request.
    legal = env.sign_in("legal_owner")
    expect(legal).to_have_url(re.compile("/console/sign-offs"))
    expect(legal.locator("#no-requests")).to_be_visible()

    # The billing owner, in their own session, reads the request and signs it off.
    billing = env.sign_in("billing_owner")
    expect(billing).to_have_url(re.compile("/console/sign-offs"))
    request = billing.locator("section.panel").filter(has_text="acme")
    expect(request).to_contain_text("Invoices 2026-09 and 2026-10 unpaid")
    expect(request).to_contain_text(env.people["operator"])
    env.shot(billing, "sign-offs")
    # ...and a forged sign-off from the legal owner's session is refused by the admin API.
    assert request.get_attribute("id") == f"req-{request_id}"
    csrf = legal.locator('input[name="csrf_token"]').first.get_attribute("value")
    forged = legal.request.post(
        f"/console/sign-offs/{request_id}/sign-off", form={"csrf_token": csrf or ""}
    )
    assert forged.status == 403 and "billing" in forged.text()
    request.get_by_role("button", name="Sign off suspension of acme").click()
    expect(billing.get_by_role("status")).to_contain_text("Signed off and executed")
    expect(billing.locator("#no-requests")).to_be_visible()

    assert chat_status(env, env.keys["acme"]) == (403, "tenant_suspended")
    operator.reload()
    expect(operator.locator("#tenant-state")).to_contain_text("suspended")
    expect(operator.locator("#history")).to_contain_text(env.people["billing_owner"])
    env.shot(operator, "tenant-suspended")

    # Reinstatement: the same two acts.
    operator.get_by_label("Note for reinstatement").fill("Paid in full")
    operator.get_by_role("button", name="Request reinstatement").click()
    expect(operator.get_by_role("status")).to_contain_text("Request recorded")
    billing.reload()
    billing.get_by_role("button", name="Sign off reinstatement of acme").click()
    expect(billing.get_by_role("status")).to_contain_text("Signed off and executed")
    assert chat_status(env, env.keys["acme"]) == (200, "")


def test_key_revoke_from_the_tenant_page(console_env: ConsoleEnv) -> None:
    env = console_env
    assert chat_status(env, env.keys["sakura"], "chat-jp")[0] == 200
    page = env.sign_in("operator")
    page.goto(f"/console/tenants/{env.tenants['sakura']}")
    keys = page.locator("#keys tbody tr")
    expect(keys).to_have_count(1)
    keys.get_by_role("button", name=re.compile("Revoke")).click()
    expect(page.get_by_role("status")).to_contain_text("Key revoked")
    expect(page.locator("#keys tbody tr").first).to_contain_text("revoked")
    assert chat_status(env, env.keys["sakura"], "chat-jp") == (401, "invalid_api_key")
