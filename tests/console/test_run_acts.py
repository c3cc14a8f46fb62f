"""Acting runbook steps, without a browser: which step acts, and how an act is kept in a run."""

from __future__ import annotations

from pathlib import Path

from sekisho.console.pages.providers import override_choices
from sekisho.console.pages.run_acts import ACT_LABELS, STEP_ACTS, incident_of
from sekisho.console.pages.runs import markdown_report, runs_from_entries
from sekisho.console.runbooks import GUIDANCE_MAX, load_runbooks, parse_runbook
from tests.support.gateway import gateway_settings

# What the step's title in docs/runbooks/ must say for the act offered in it.
TITLE_WORDS = {
    ("provider-outage", 4): "Fail over",
    ("provider-outage", 7): "internal incident note",
    ("provider-outage", 8): "Customer-facing comms",
    ("provider-outage", 9): "revert any temporary fallback",
    ("tenant-suspension", 2): "Request the suspension",
    ("tenant-suspension", 9): "reinstatement",
}


def test_each_act_sits_on_the_runbook_step_that_says_to_do_it() -> None:
    books = load_runbooks()
    assert set(STEP_ACTS) == set(TITLE_WORDS)
    for (name, number), kinds in STEP_ACTS.items():
        step = next(s for s in books[name].steps if s.number == number)
        assert TITLE_WORDS[(name, number)] in step.title, (name, number, step.title)
        assert set(kinds) <= set(ACT_LABELS)


def _entry(action: str, time: str, **details: object) -> dict[str, object]:
    return {
        "action": action,
        "time": time,
        "actor": {"email": "operator@x.test"},
        "target": {"type": "runbook_run", "id": "run_1"},
        "details": details,
    }


def test_an_act_is_folded_into_its_run_and_its_report() -> None:
    book = load_runbooks()["provider-outage"]
    bodies = [
        _entry("runbook.run.start", "t0", runbook="provider-outage", subject="chat-jp"),
        _entry(
            "runbook.run.act",
            "t1",
            runbook="provider-outage",
            step=4,
            act="incident_open",
            summary="incident inc_a opened (SEV2): Errors",
            result={"incident_id": "inc_a"},
        ),
        _entry(
            "runbook.run.act",
            "t2",
            runbook="provider-outage",
            step=4,
            act="override_set",
            summary="override ovr_b: pin hoshi-osaka on chat-jp",
            result={"override_id": "ovr_b"},
        ),
    ]
    run = runs_from_entries(bodies)["run_1"]
    assert [a.kind for a in run.acts_of(4)] == ["incident_open", "override_set"]
    assert run.acts_of(3) == []
    assert incident_of(run.acts) == "inc_a"
    report = markdown_report(run, book)
    section = report.split("## [ ] 4.", 1)[1].split("## [ ] 5.", 1)[0]
    assert "- Acted t1 by operator@x.test: incident inc_a opened" in section
    assert "- Acted t2 by operator@x.test: override ovr_b: pin hoshi-osaka" in section
    assert "Acted" not in report.split("## [ ] 4.", 1)[0]


def test_the_override_form_offers_the_aliases_routes_first_with_the_fallback_preselected(
    tmp_path: Path,
) -> None:
    matrix = gateway_settings("http://127.0.0.1:9", tmp_path).matrix
    choices = override_choices(matrix, "chat-jp")
    # The sovereign alias's own routes, in route order; the fallback is what a pin needs.
    assert [(c.id, c.label) for c in choices[:2]] == [
        ("kumo-tokyo", "kumo-tokyo (primary)"),
        ("hoshi-osaka", "hoshi-osaka (fallback)"),
    ]
    assert [c.id for c in choices if c.selected] == ["hoshi-osaka"]
    # Every other provider stays pickable (its refusal explains the rule) but says what it is.
    rest = choices[2:]
    assert {c.id for c in rest} == set(matrix.providers) - {"kumo-tokyo", "hoshi-osaka"}
    assert all(c.label == f"{c.id} (not a route of chat-jp)" and not c.selected for c in rest)
    # An alias with no fallback preselects its only route (a drain then says why it cannot).
    alone = [a for a, v in matrix.aliases.items() if len({r.provider for r in v.routes}) == 1]
    for alias in alone:
        assert override_choices(matrix, alias)[0].selected


def test_a_step_keeps_its_commands_apart_and_its_guidance_in_whole_sentences() -> None:
    text = (
        "# Outage\n\n"
        "1. **Look first.** Read the series:\n\n"
        "   ```sh\n   sekisho alerts\n   sekisho report --alias chat-large  # -> the spike\n   ```\n\n"
        "   The `502` column is the spike. " + "More words here. " * 60 + "\n"
        "2. **Then act.** Short.\n"
    )
    first, second = parse_runbook("provider-outage", text).steps
    assert first.commands == ("sekisho alerts", "sekisho report --alias chat-large  # -> the spike")
    assert (
        "```" not in first.guidance
        and "`" not in first.guidance
        and "sekisho" not in first.guidance
    )
    assert first.guidance.startswith(
        "Read the series: (the CLI commands below) The 502 column is the spike."
    )
    assert len(first.guidance) <= GUIDANCE_MAX and first.guidance.endswith(".")
    assert (second.title, second.guidance, second.commands) == ("Then act", "Short.", ())
    # The published runbooks: every fenced command reaches its step, none is left in prose.
    for book in load_runbooks().values():
        for step in book.steps:
            assert "```" not in step.guidance and len(step.guidance) <= GUIDANCE_MAX
    outage = {s.number: s for s in load_runbooks()["provider-outage"].steps}
    assert any(c.startswith("sekisho alias override") for c in outage[4].commands)
