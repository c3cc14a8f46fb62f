"""Running a policy stage over the texts of a request or response. Pure (clock injected).

Each check runs over every segment (a message content, a text part, tool-call
arguments); normalisation is done once per segment. Prompt-injection is
judged on untrusted segments only (user and tool messages): a system prompt
that says "ignore instructions in documents" is the developer's own.

A check that raises, or that ends past its own `timeout_ms` or the stage's
budget, is an error: `on_error: open` lets the text through unchanged by that
check (and records it), `closed` blocks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sekisho.guardrails.findings import Finding, findings
from sekisho.guardrails.normalize import Normalized, normalize
from sekisho.guardrails.policy import Check

MASK = "[REDACTED:{check}]"
Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Segment:
    path: Path  # where in the JSON body, e.g. ("messages", 2, "content")
    text: str
    untrusted: bool = True

    @property
    def location(self) -> str:
        out = ""
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out


@dataclass(frozen=True, slots=True)
class Detected:
    check: Check
    finding: Finding
    segment: Segment

    @property
    def value(self) -> str:
        """The matched text: in memory only, to hash it; never stored or logged."""
        return self.segment.text[self.finding.start : self.finding.end]


@dataclass(frozen=True, slots=True)
class CheckError:
    check: Check
    reason: str  # "timeout" | "error"


@dataclass(slots=True)
class StageResult:
    detected: list[Detected] = field(default_factory=list)
    errors: list[CheckError] = field(default_factory=list)
    block: Check | None = None  # the first check that blocks (a finding, or a closed error)
    masked: dict[Path, str] = field(default_factory=dict)  # new text per masked segment
    latency_ms: float = 0.0

    @property
    def actions(self) -> dict[str, str]:
        """check -> action taken, for the request log."""
        return {d.check.name: d.check.spec.action for d in self.detected}


def mask_text(text: str, found: Sequence[Finding]) -> str:
    """Replace every span (overlaps merged) with a placeholder naming its check."""
    spans = sorted((f.start, f.end, f.check) for f in found if f.end > f.start)
    if not spans:
        return text
    merged: list[tuple[int, int, str]] = []
    for start, end, check in spans:
        if merged and start <= merged[-1][1]:
            last = merged[-1]
            # The longer match names the placeholder.
            name = check if end - start > last[1] - last[0] else last[2]
            merged[-1] = (last[0], max(last[1], end), name)
        else:
            merged.append((start, end, check))
    out, pos = [], 0
    for start, end, check in merged:
        out.append(text[pos:start])
        out.append(MASK.format(check=check))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def run_stage(
    checks: Sequence[Check],
    segments: Sequence[Segment],
    *,
    budget_ms: float,
    clock: Callable[[], float] = time.perf_counter,
) -> StageResult:
    """Run `checks` over `segments`; never raises for a detector's failure."""
    result = StageResult()
    if not checks or not segments:
        return result
    started = clock()
    norms: dict[int, Normalized] = {}
    to_mask: dict[int, list[Finding]] = {}
    for check in checks:
        t0 = clock()
        reason = "timeout" if (t0 - started) * 1000 > budget_ms else None
        found: list[Detected] = []
        if reason is None:
            try:
                for i, seg in enumerate(segments):
                    if check.name == "prompt_injection" and not seg.untrusted:
                        continue
                    norm = norms.get(i)
                    if norm is None:
                        norm = norms[i] = normalize(seg.text)
                    found.extend(Detected(check, f, seg) for f in findings(check.detector, norm))
            except Exception:
                reason = "error"
            spent = (clock() - t0) * 1000
            limit = check.spec.timeout_ms
            if reason is None and (
                (limit is not None and spent > limit) or (clock() - started) * 1000 > budget_ms
            ):
                reason = "timeout"
        if reason is not None:
            result.errors.append(CheckError(check, reason))
            if check.spec.on_error == "closed" and result.block is None:
                result.block = check
            if reason == "error":
                continue
        result.detected.extend(found)
        if found and check.spec.action == "block" and result.block is None:
            result.block = check
        if check.spec.action == "mask":
            for d in found:
                to_mask.setdefault(segments.index(d.segment), []).append(d.finding)
    for i, found_here in to_mask.items():
        result.masked[segments[i].path] = mask_text(segments[i].text, found_here)
    result.latency_ms = (clock() - started) * 1000
    return result
