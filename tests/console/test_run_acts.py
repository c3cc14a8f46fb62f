"""Acting runbook steps, without a browser: which step acts, and how an act is kept in a run."""

from __future__ import annotations

from sekisho.console.pages.run_acts import ACT_LABELS, STEP_ACTS, incident_of
from sekisho.console.pages.runs import markdown_report, runs_from_entries
from sekisho.console.runbooks import load_runbooks

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
