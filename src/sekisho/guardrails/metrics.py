"""Guardrail series for /metrics: by stage, check and action; never a value, never a tenant."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sekisho.observe.metrics import Exposition

if TYPE_CHECKING:
    from sekisho.guardrails.guard import ChatGuard


def exposition(guard: ChatGuard) -> str:
    st = guard.stats
    out = Exposition()
    out.family(
        "sekisho_guardrail_findings_total",
        "counter",
        "Guardrail findings by stage, check and configured action.",
        [
            ({"stage": s, "check": c, "action": a}, n)
            for (s, c, a), n in sorted(st.findings.items())
        ],
    )
    out.family(
        "sekisho_guardrail_blocks_total",
        "counter",
        "Requests and responses blocked by a guardrail, by stage and check.",
        [({"stage": s, "check": c}, n) for (s, c), n in sorted(st.blocks.items())],
    )
    out.family(
        "sekisho_guardrail_errors_total",
        "counter",
        "Guardrail checks that failed or ran out of time, by stage, check and reason.",
        [({"stage": s, "check": c, "reason": r}, n) for (s, c, r), n in sorted(st.errors.items())],
    )
    out.family(
        "sekisho_guardrail_checked_total",
        "counter",
        "Texts checked by a guardrail stage.",
        [({"stage": s}, n) for s, n in sorted(st.checked.items())],
    )
    writer = guard.writer
    if writer is not None:
        ws = writer.stats
        for name, help_text, value in (
            ("submitted", "Guardrail events handed to the writer.", ws.submitted),
            ("written", "Guardrail events written to the store.", ws.written),
            ("dropped", "Guardrail events dropped because the queue was full.", ws.dropped),
            ("failed", "Guardrail events the store refused after every retry.", ws.failed),
        ):
            out.family(
                f"sekisho_guardrail_events_{name}_total", "counter", help_text, [({}, value)]
            )
        out.family(
            "sekisho_guardrail_events_queue_depth",
            "gauge",
            "Guardrail events waiting to be written.",
            [({}, writer.depth)],
        )
    return out.render()
