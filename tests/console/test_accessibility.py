"""Every console page: axe-core finds no serious or critical violation, and every control is
reachable with the keyboard. Screenshots of each page are saved as artifacts."""

from __future__ import annotations

import re

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.console.conftest import ConsoleEnv

INTERACTIVE = "a[href], button, input:not([type=hidden]), select, textarea"


def axe_problems(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


# A control's identity that survives an htmx re-render (the overview replaces its tiles while
# the check runs): tag, then id, name, href, label or text, then its rank among equals.
_KEYS = """(sel) => {
  const seen = new Map();
  const key = (e) => {
    const base = [e.tagName, e.id || e.getAttribute('name') || e.getAttribute('href')
      || e.getAttribute('aria-label') || (e.textContent || '').trim().slice(0, 60)].join('|');
    const n = (seen.get(base) || 0) + 1; seen.set(base, n);
    return base + '#' + n;
  };
  const out = new Map();
  for (const e of document.querySelectorAll(sel)) {
    const k = key(e), r = e.getBoundingClientRect(), s = getComputedStyle(e);
    const shown = !e.disabled && s.visibility !== 'hidden' && s.display !== 'none'
      && (r.width > 0 || r.height > 0 || e.classList.contains('skip'));
    out.set(e, [k, shown]);
  }
  return out;
}"""


def unreachable_by_tab(page: Page) -> list[str]:
    """Visible controls that pressing Tab from the top of the page never focuses."""
    total = page.evaluate(
        f"""(sel) => {{
          window.__keys = {_KEYS};
          window.__sel = sel;
          window.__reached = new Set();
          document.addEventListener('focusin', (e) => {{
            const found = window.__keys(window.__sel).get(e.target);
            if (found) {{ window.__reached.add(found[0]); }}
          }});
          if (document.activeElement) {{ document.activeElement.blur(); }}
          return [...window.__keys(sel).values()].filter(([, shown]) => shown).length;
        }}""",
        INTERACTIVE,
    )
    for _ in range(total + 3):
        page.keyboard.press("Tab")
    return list(
        page.evaluate(
            """() => [...window.__keys(window.__sel).values()]
                 .filter(([k, shown]) => shown && !window.__reached.has(k)).map(([k]) => k)"""
        )
    )


@pytest.fixture(scope="module")
def pages(console_env: ConsoleEnv) -> dict[str, str]:
    """One of each page worth checking, with the data it needs."""
    env = console_env
    with httpx.Client(base_url=env.url, timeout=15) as http:
        http.post(
            "/v1/chat/completions",
            headers={"authorization": f"Bearer {env.keys['acme']}"},
            json={"model": "chat-large", "messages": [{"role": "user", "content": "hi"}]},
        )
    admin = env.sign_in("admin")
    admin.goto("/console/incidents")
    admin.get_by_label("Title (customers see it)").fill("Slow answers on chat-fast")
    admin.get_by_label("chat-fast").check()
    admin.get_by_role("button", name="Open incident").click()
    expect(admin.get_by_role("status")).to_contain_text("Incident opened")
    incident = admin.url.split("?")[0].removeprefix(env.url)
    admin.goto("/console/aliases/chat-large")
    admin.get_by_role("link", name="list recent failed requests").click()
    admin.goto("/console/runs")
    admin.get_by_label("Alias").select_option("chat-fast")
    admin.get_by_role("button", name=re.compile("Start managed-provider outage")).click()
    expect(admin.locator("#h-step")).to_be_visible()
    run = admin.url.split("?")[0].removeprefix(env.url)
    admin.goto("/console/ledger")
    proof = admin.get_by_role("link", name=re.compile("proof of")).first.get_attribute("href")
    admin.context.close()
    env.contexts.remove(admin.context)

    def request_page() -> str:
        from sqlalchemy import select

        from sekisho.store.models import RequestLog

        with env.db.read() as session:
            rid = session.scalars(select(RequestLog.id).limit(1)).first()
        assert rid is not None
        return f"/console/requests/{rid}"

    return {
        "overview": "/console/",
        "alias": "/console/aliases/chat-large",
        "requests": "/console/aliases/chat-large/requests?from=0&to=600000",
        "request": request_page(),
        "providers": "/console/providers",
        "tenants": "/console/tenants",
        "tenant": f"/console/tenants/{env.tenants['acme']}",
        "incidents": "/console/incidents",
        "incident": incident,
        "evidence": "/console/evidence",
        "ledger": "/console/ledger",
        "ledger-verify": "/console/ledger/verify",
        "ledger-proof": proof or "/console/ledger",
        "people": "/console/people",
        "runs": "/console/runs",
        "run-step-acts": f"{run}?step=4",  # the step's forms: open an incident, fail over
        "run-step-update": f"{run}?step=8",
        "me": "/console/me",
    }


def test_sign_in_page_is_accessible(console_env: ConsoleEnv) -> None:
    page = console_env.context().new_page()
    page.goto("/console/sign-in")
    assert axe_problems(page) == []
    assert unreachable_by_tab(page) == []


PAGES = (
    "overview",
    "alias",
    "requests",
    "request",
    "providers",
    "tenants",
    "tenant",
    "incidents",
    "incident",
    "evidence",
    "ledger",
    "ledger-verify",
    "ledger-proof",
    "people",
    "runs",
    "run-step-acts",
    "run-step-update",
    "me",
)


@pytest.fixture(scope="module")
def admin_page(console_env: ConsoleEnv) -> Page:
    """One signed-in admin tab that visits every page in turn."""
    return console_env.sign_in("admin")


def test_every_page_is_listed(pages: dict[str, str]) -> None:
    assert set(pages) == set(PAGES)


@pytest.mark.parametrize("name", PAGES)
def test_page_is_accessible_and_keyboard_reachable(
    console_env: ConsoleEnv, pages: dict[str, str], admin_page: Page, name: str
) -> None:
    page = admin_page
    page.goto(pages[name])
    expect(page.locator("main h1")).to_be_visible()
    if name == "alias":
        expect(page.locator("#charts")).to_have_attribute("data-ready", "1")
    problems = axe_problems(page) + [f"not reachable by Tab: {h}" for h in unreachable_by_tab(page)]
    console_env.shot(page, f"page-{name}")
    assert problems == []


def test_sign_offs_page_is_accessible_and_keyboard_reachable(console_env: ConsoleEnv) -> None:
    owner = console_env.sign_in("billing_owner")
    owner.goto("/console/sign-offs")
    expect(owner.locator("main h1")).to_be_visible()
    problems = axe_problems(owner) + unreachable_by_tab(owner)
    console_env.shot(owner, "page-sign-offs")
    assert problems == []
