"""An upstream outage seen from the console: spike, triage, drill-down, override within sovereignty."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from playwright.sync_api import Page, expect
from sqlalchemy import select

from sekisho.ledger.tables import LedgerEntryRow as LedgerEntry
from sekisho.store.models import RequestLog
from tests.console.conftest import ConsoleEnv


def chat(env: ConsoleEnv, tenant: str, alias: str, n: int) -> list[int]:
    with httpx.Client(base_url=env.url, timeout=15) as http:
        return [
            http.post(
                "/v1/chat/completions",
                headers={"authorization": f"Bearer {env.keys[tenant]}"},
                json={"model": alias, "messages": [{"role": "user", "content": "hi"}]},
            ).status_code
            for _ in range(n)
        ]


def wait_for(what: str, check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return value


def triage_verdict(page: Page, alias: str) -> str:
    return str(page.request.get(f"/admin/v1/aliases/{alias}/triage?window=5m").json()["verdict"])


def sovereign_rows_since(env: ConsoleEnv, since: datetime) -> list[RequestLog]:
    with env.db.read() as session:
        return list(
            session.scalars(
                select(RequestLog).where(
                    RequestLog.tenant_id == env.tenants["sakura"], RequestLog.ts >= since
                )
            )
        )


def guided_run_acting_from_inside_the_steps(env: ConsoleEnv, page: Page) -> None:
    """The outage runbook run: fail over, incident + update, recovery, all from the steps."""
    page.get_by_role("link", name="Runbooks").click()
    page.get_by_label("Alias").select_option("chat-jp")
    page.get_by_role("button", name=re.compile("Start managed-provider outage")).click()
    expect(page.locator("#h-step")).to_contain_text("1. Confirm the 502/429 spike")
    run_url = page.url.split("?")[0]
    run_id = run_url.rsplit("/", 1)[1]
    evidence = page.locator("#step-evidence")

    # Step 4: open the incident, then fail over from inside the step.
    page.goto(run_url + "?step=4")
    expect(page.locator("#step-commands")).to_contain_text("sekisho alias override")
    opening = page.locator("#act-incident-open")
    opening.get_by_label("Internal note (may name providers)").fill("kumo-tokyo returns 503")
    opening.get_by_role("button", name="Open the incident").click()
    expect(page.get_by_role("status")).to_contain_text("Done")
    expect(evidence).to_contain_text(re.compile(r"incident inc_\w+ opened \(SEV2\)"))
    found = re.search(r"incident (inc_\w+) opened", evidence.inner_text())
    assert found is not None
    incident_id = found.group(1)

    # One incident per run: the step now acts on it instead of offering to open another.
    expect(page.locator("#act-incident-open")).to_have_count(0)
    expect(page.locator("#run-incident")).to_contain_text(incident_id)

    # Rule 2 refusal, in the step, in words; nothing changed.
    failover = page.locator("#act-override-set")
    expect(failover.get_by_label(re.compile("^Incident"))).to_have_value(incident_id)
    # The sovereign fallback is preselected; a provider that is no route says so.
    expect(failover.get_by_label("Provider")).to_have_value("hoshi-osaka")
    expect(failover.get_by_label("Provider").locator("option[value=atlas-useast]")).to_have_text(
        "atlas-useast (not a route of chat-jp)"
    )
    failover.get_by_label("Provider").select_option("atlas-useast")
    failover.get_by_label("Reason").fill("kumo-tokyo outage")
    failover.get_by_role("button", name="Fail over (drain or pin)").click()
    refusal = page.locator("#step-refusal")
    expect(refusal).to_contain_text("Refused, nothing was changed")
    expect(refusal).to_contain_text("Rule 2, sovereign failover only")
    expect(evidence).not_to_contain_text("acted: override_set")
    env.shot(page, "runbook-step-refusal")
    assert "acted" not in page.request.get(run_url + "/report.md").text().split("## [ ] 5.")[0]

    failover = page.locator("#act-override-set")
    failover.get_by_label("Provider").select_option("hoshi-osaka")
    failover.get_by_label("Reason").fill("kumo-tokyo outage")
    failover.get_by_role("button", name="Fail over (drain or pin)").click()
    expect(page.get_by_role("status")).to_contain_text("Done")
    expect(evidence).to_contain_text("pin hoshi-osaka on chat-jp until")
    expect(evidence).to_contain_text(f"attached to {incident_id}")
    found = re.search(r"override (ovr_\w+)", evidence.inner_text())
    assert found is not None
    override_id = found.group(1)
    env.shot(page, "runbook-step-failover")

    # The pin holds for sovereign traffic: served by the fallback on the first attempt.
    pinned_from = datetime.now(UTC)
    assert chat(env, "sakura", "chat-jp", 3) == [200, 200, 200]
    rows = wait_for(
        "the request log rows",
        lambda: len(r := sovereign_rows_since(env, pinned_from)) >= 3 and r,
    )
    assert {(r.provider, len(r.attempts)) for r in rows} == {("hoshi-osaka", 1)}
    page.get_by_label("Your note for step 4").fill("pinned to hoshi-osaka")
    page.get_by_role("button", name="Record step 4 with this evidence").click()
    expect(page.locator('#checklist li[data-step="4"]')).to_have_class(re.compile("done"))

    # Step 8: the leak check refuses a provider's name (live, then on publish), in the step.
    page.goto(run_url + "?step=8")
    update = page.get_by_label(re.compile("^Customer update"))
    update.fill("Our Kumo Tokyo provider is down")
    expect(page.locator("#leak-feedback #leak-verdict")).to_have_class("leak-bad")
    page.get_by_role("button", name="Post a customer update").click()
    expect(page.locator("#step-refusal")).to_contain_text("reveals provider identity")
    expect(page.locator("#step-refusal")).to_contain_text("Nothing was published")
    assert "kumo" not in httpx.get(env.url + "/status", timeout=10).text.lower()
    update = page.get_by_label(re.compile("^Customer update"))
    update.fill("Some chat-jp requests fail; we are failing over.")
    expect(page.locator("#leak-feedback #leak-verdict")).to_have_class("leak-ok")
    page.get_by_role("button", name="Post a customer update").click()
    expect(page.get_by_role("status")).to_contain_text("Done")
    expect(evidence).to_contain_text("customer update")
    found = re.search(r"customer update (\S+) on", evidence.inner_text())
    assert found is not None
    update_id = found.group(1)
    wait_for(  # the status page is recomputed at most every status_cache_s
        "the update on /status",
        lambda: "we are failing over" in httpx.get(env.url + "/status", timeout=10).text,
    )

    # Step 9: upstream recovers; resolving from the step reverts the pin.
    env.sim.clear_faults()
    page.goto(run_url + "?step=9")
    page.get_by_label("Final customer update").fill("chat-jp is fully served again.")
    page.get_by_role("button", name="Resolve the incident").click()
    expect(page.get_by_role("status")).to_contain_text("Done")
    expect(evidence).to_contain_text(f"incident {incident_id} resolved")
    expect(evidence).to_contain_text(f"overrides reverted: {override_id}")
    resolved_at = datetime.now(UTC)

    def primary_serves() -> bool:
        chat(env, "sakura", "chat-jp", 1)
        return any(r.provider == "kumo-tokyo" for r in sovereign_rows_since(env, resolved_at))

    wait_for("the primary to serve chat-jp again", primary_serves)
    page.get_by_label("Your note for step 9").fill("kumo-tokyo back")
    page.get_by_role("button", name="Record step 9 with this evidence").click()
    page.goto("/console/providers")
    expect(page.locator("#alias-chat-jp .overrides")).to_have_count(0)
    page.goto(run_url)
    page.get_by_role("button", name=re.compile("Finish the run")).click()

    report = page.request.get(run_url + "/report.md").text()
    for produced in (incident_id, override_id, update_id):
        assert produced in report, produced
    assert "Rule 2" not in report  # a refusal changes nothing, in the ledger neither
    with env.db.read() as session:
        acts = [
            orjson.loads(b)
            for b in session.scalars(select(LedgerEntry.body).order_by(LedgerEntry.seq))
            if b"runbook.run.act" in b and run_id.encode() in b
        ]
    assert [a["details"]["act"] for a in acts] == [
        "incident_open",
        "override_set",
        "incident_update",
        "incident_resolve",
    ]
    assert acts[1]["details"]["result"] == {"override_id": override_id}


def test_outage_spike_triage_drilldown_and_override(console_env: ConsoleEnv) -> None:
    env = console_env
    assert set(chat(env, "sakura", "chat-jp", 6) + chat(env, "acme", "chat-jp", 6)) == {200}
    env.sim.set_fault("kumo-tokyo", status=503)
    env.sim.set_fault("hoshi-osaka", status=503)
    try:
        assert set(chat(env, "sakura", "chat-jp", 12)) == {502}
        page = env.sign_in("operator")
        # The overview tile turns red on its own (htmx polling) once the spike alert fires.
        tile = page.locator('.tile[data-alias="chat-jp"]')
        expect(tile).to_have_class(re.compile("tile-alert"), timeout=25_000)
        expect(tile.locator(".alert-line")).to_have_text("spike alert firing")
        env.shot(page, "overview-outage")

        wait_for("triage to say upstream", lambda: triage_verdict(page, "chat-jp") == "upstream")
        tile.get_by_role("link", name="chat-jp").click()
        expect(page.locator("#triage-verdict")).to_have_text("upstream")
        charts = page.locator("#charts")
        expect(charts).to_have_attribute("data-ready", "1")
        expect(page.locator("#spikes")).to_contain_text("1 spike(s) in this window")
        env.shot(page, "alias-dashboard")

        # Click the bucket with the most 5xx: the requests behind it appear below the chart.
        x, y = page.evaluate(
            """() => {
              const u = document.getElementById('charts')._charts[0];
              const s = u.data[3]; let best = 0;
              for (let i = 0; i < s.length; i++) { if ((s[i] || 0) > (s[best] || 0)) best = i; }
              // Click inside the plot where the chart itself resolves to that bucket: the
              // newest one sits on the right edge, and these 5 s buckets are ~1.5 px apart.
              const xs = [];
              for (let px = 0.25; px < u.over.clientWidth; px += 0.25) {
                if (u.posToIdx(px) === best) xs.push(px);
              }
              return [xs[Math.floor(xs.length / 2)], u.bbox.height / 2 / devicePixelRatio];
            }"""
        )
        page.locator("#chart-codes .u-over").click(position={"x": x, "y": y})
        table = page.locator("#drill-table")
        expect(table).to_be_visible()
        expect(table.locator('tbody tr[data-status="502"]').first).to_be_visible()
        env.shot(page, "alias-drilldown")

        # Every failed request of the window; one that was tried on both sovereign routes.
        page.get_by_role("link", name="list recent failed requests").click()
        failed_over = page.locator('#drill-table tbody tr[data-status="502"][data-attempts="2"]')
        failed_over.first.get_by_role("link").click()
        expect(page.locator("#req-status")).to_contain_text("502 upstream_unavailable")
        attempts = page.locator("#attempts tbody tr")
        expect(attempts).to_have_count(2)
        expect(attempts.nth(0)).to_contain_text("kumo-tokyo")
        expect(attempts.nth(1)).to_contain_text("hoshi-osaka")
        expect(page.locator("#plan")).to_contain_text("kumo-tokyo")
        env.shot(page, "request-detail")

        # Hoshi recovers. Pinning the sovereign alias to a non-sovereign provider is refused
        # with the rule in words; pinning it to the sovereign fallback is applied.
        env.sim.clear_faults("hoshi-osaka")
        # Recovery: sovereign traffic is served again once the fallback's circuit lets it through.
        wait_for("the fallback to recover", lambda: chat(env, "sakura", "chat-jp", 1) == [200])
        page.get_by_role("link", name="Providers").click()
        expect(page.locator('tr[data-provider="kumo-tokyo"]')).to_contain_text("jp_sovereign")
        section = page.locator("#alias-chat-jp")
        section.get_by_label("Override", exact=True).select_option("pin")
        section.get_by_label("Provider for chat-jp").select_option("atlas-useast")
        section.get_by_label("Reason").fill("kumo-tokyo outage")
        section.get_by_role("button", name="Apply to chat-jp").click()
        refusal = page.locator("#refusal")
        expect(refusal).to_contain_text("Rule 2, sovereign failover only")
        expect(refusal).to_contain_text("atlas-useast does not carry jp_sovereign")
        env.shot(page, "providers-refusal")

        section = page.locator("#alias-chat-jp")
        section.get_by_label("Provider for chat-jp").select_option("hoshi-osaka")
        section.get_by_label("Reason").fill("kumo-tokyo outage")
        section.get_by_role("button", name="Apply to chat-jp").click()
        expect(page.get_by_role("status")).to_contain_text("Override set")
        expect(page.locator("#alias-chat-jp .overrides")).to_contain_text("pin")
        env.shot(page, "providers-override")

        # The pin holds for sovereign traffic: served by the fallback on the first attempt.
        pinned_from = datetime.now(UTC)
        assert chat(env, "sakura", "chat-jp", 3) == [200, 200, 200]

        def pinned_rows() -> list[RequestLog]:
            with env.db.read() as session:
                return list(
                    session.scalars(
                        select(RequestLog).where(
                            RequestLog.tenant_id == env.tenants["sakura"],
                            RequestLog.ts >= pinned_from,
                        )
                    )
                )

        rows = wait_for("the request log rows", lambda: len(r := pinned_rows()) >= 3 and r)
        assert {(r.provider, len(r.attempts)) for r in rows} == {("hoshi-osaka", 1)}

        page.locator("#alias-chat-jp").get_by_role("button", name=re.compile("Revert pin")).click()
        expect(page.get_by_role("status")).to_contain_text("Override reverted")
        expect(page.locator("#alias-chat-jp .overrides")).to_have_count(0)

        guided_run_acting_from_inside_the_steps(env, page)
    finally:
        env.sim.clear_faults()


def test_incident_with_live_leak_check_and_resolution(console_env: ConsoleEnv) -> None:
    env = console_env
    page = env.sign_in("operator")
    page.get_by_role("link", name="Incidents").click()
    page.get_by_label("Title (customers see it)").fill("Errors on chat-jp")
    page.get_by_label("Severity").select_option("SEV2")
    page.get_by_label("chat-jp").check()
    page.get_by_label("Internal note (may name providers)").fill("kumo-tokyo returns 503")
    page.get_by_role("button", name="Open incident").click()
    expect(page.get_by_role("status")).to_contain_text("Incident opened")
    incident_id = page.locator("dl.facts dd code").first.inner_text()

    # While typing, the leak check refuses a provider's name, then accepts alias-only words.
    update = page.get_by_role("textbox", name=re.compile("^Customer update"))
    update.fill("Our Kumo Tokyo provider is down")
    expect(page.locator("#leak-feedback #leak-verdict")).to_contain_text("reveals provider")
    expect(page.locator("#leak-feedback #leak-verdict")).to_have_class("leak-bad")
    env.shot(page, "incident-leak-refused")
    update.fill("Requests to chat-jp fail more often than usual; we are working on it.")
    expect(page.locator("#leak-feedback #leak-verdict")).to_have_class("leak-ok")
    page.get_by_role("button", name="Publish update").click()
    expect(page.get_by_role("status")).to_contain_text("Customer update published")
    expect(page.locator("#timeline li.public").last).to_contain_text("fail more often")
    # The page is recomputed at most every status_cache_s: an earlier read may still be served.
    status_page = wait_for(
        "the update on /status",
        lambda: (
            (text := httpx.get(env.url + "/status", timeout=10).text)
            and "fail more often than usual" in text
            and text
        ),
    )
    assert "kumo" not in status_page.lower()

    # A provider name slipped past the live check is still refused on publish, in words.
    page.get_by_role("textbox", name=re.compile("^Customer update")).fill("hoshi-osaka is fine")
    page.get_by_role("button", name="Publish update").click()
    expect(page.locator("#incident-error")).to_contain_text("reveals provider identity")

    page.get_by_label("Internal note (posted to the ops channel)").fill("pinned to hoshi-osaka")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#timeline li.internal").last).to_contain_text("pinned to hoshi-osaka")

    page.get_by_label("Final customer update").fill("chat-jp has recovered.")
    page.get_by_role("button", name="Resolve incident").click()
    expect(page.get_by_role("status")).to_contain_text("Incident resolved")
    impact = page.locator("#impact tbody tr")
    expect(impact).to_have_count(3)
    expect(impact.nth(1)).to_contain_text("during")
    expect(page.locator("#timeline")).to_contain_text("evidence")
    env.shot(page, "incident-resolved")
    assert incident_id.startswith("inc")


def test_guided_outage_runbook_run_resumed_by_another_operator(console_env: ConsoleEnv) -> None:
    env = console_env
    page = env.sign_in("operator")
    page.get_by_role("link", name="Runbooks").click()
    page.get_by_label("Alias").select_option("chat-jp")
    page.get_by_role("button", name=re.compile("Start managed-provider outage")).click()
    expect(page.locator("#h-step")).to_contain_text("1. Confirm the 502/429 spike")
    expect(page.locator("#step-evidence")).to_contain_text("last hour")
    page.get_by_label("Your note for step 1").fill("spike seen on the overview")
    page.get_by_role("button", name="Record step 1 with this evidence").click()
    expect(page.locator('#checklist li[data-step="1"]')).to_have_class(re.compile("done"))
    run_url = page.url

    # Another operator (the admin, in their own browser) resumes the run at step 3.
    other = env.sign_in("admin")
    other.goto(run_url.split("?")[0] + "?step=3")
    expect(other.locator('#checklist li[data-step="1"]')).to_contain_text("spike seen")
    expect(other.locator("#step-evidence")).to_contain_text("triage verdict")
    other.get_by_label("Your note for step 3").fill("upstream: kumo-tokyo")
    other.get_by_role("button", name="Record step 3 with this evidence").click()
    expect(other.locator('#checklist li[data-step="3"]')).to_have_class(re.compile("done"))
    env.shot(other, "runbook-run")
    other.get_by_label("Closing note").fill("contained by pinning to hoshi-osaka")
    other.get_by_role("button", name=re.compile("Finish the run")).click()
    expect(other.get_by_role("button", name=re.compile("Finish the run"))).to_have_count(0)

    with other.expect_download() as report:
        other.get_by_role("link", name="Export as Markdown").click()
    text = report.value.path().read_text()
    assert "## [x] 1. Confirm the 502/429 spike" in text and "spike seen on the overview" in text
    assert "## [x] 3. Upstream or us?" in text and "triage verdict" in text
    assert env.people["admin"] in text and env.people["operator"] in text

    run_id = run_url.split("?")[0].rsplit("/", 1)[1].encode()
    with env.db.read() as session:
        bodies = [
            b
            for b in session.scalars(select(LedgerEntry.body))
            if b"runbook.run." in b and run_id in b
        ]
    assert len(bodies) == 4  # start, two steps, finish
