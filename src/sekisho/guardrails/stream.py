"""Masking text that arrives in chunks. Pure.

A value split across chunks (`"4111 11"` + `"11 1111 1111 1111"`) must still
be masked, so the masker holds back the end of the text that could be the
start of an unfinished match, and only that: each detector says from where
(`hold_from`), e.g. the trailing run of digits for cards, the trailing word
for an e-mail local part, an opened `-----BEGIN` block for a private key.
Text that cannot start a match is released at once. The hold never exceeds
the longest match of the enabled checks, since a match longer than that
cannot exist.

Already released text is kept (a little of it) as left context, so context
words and boundaries are judged as they would be on the whole text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sekisho.guardrails.findings import Finding, findings
from sekisho.guardrails.normalize import normalize
from sekisho.guardrails.pipeline import mask_text
from sekisho.guardrails.policy import Check

CONTEXT = 64


@dataclass(frozen=True, slots=True)
class StreamDetection:
    check: Check
    finding: Finding  # span in the whole text of this stream so far
    value: str  # in memory only, to hash it


@dataclass(slots=True)
class StreamMasker:
    """Feed chunks in, get the text that is safe to send out."""

    checks: Sequence[Check]
    enforce: bool = True  # False (monitor mode): report, but send every chunk as it came
    detected: list[StreamDetection] = field(default_factory=list)
    blocked: Check | None = None
    _ctx: str = ""
    _pending: str = ""
    _offset: int = 0  # position of _ctx[0] in the whole text
    _max: int = 0

    def __post_init__(self) -> None:
        self._max = max((c.detector.max_len for c in self.checks), default=0)

    @property
    def held(self) -> int:
        """Characters received but not yet released."""
        return len(self._pending)

    def feed(self, chunk: str) -> str:
        return self._advance(chunk, final=False)

    def finish(self) -> str:
        """The stream ended: release (masked) whatever was held."""
        return self._advance("", final=True)

    def _advance(self, chunk: str, *, final: bool) -> str:
        if self.blocked is not None:
            return ""
        if not self.checks:
            return chunk
        buf = self._ctx + self._pending + chunk
        base = len(self._ctx)
        norm = normalize(buf)
        found = [(c, f) for c in self.checks for f in findings(c.detector, norm)]
        if final:
            cut = len(buf)
        else:
            n = len(norm.text)
            hold = min(c.detector.hold_from(norm.text) for c in self.checks)
            cut = max(norm.original_index(max(hold, n - self._max)), base)
            moved = True
            while moved:  # a match that reaches into the held part is held whole
                moved = False
                for _, f in found:
                    if base <= f.start < cut < f.end:
                        cut, moved = f.start, True
        released: list[tuple[Check, Finding]] = []
        for check, f in found:
            if base < f.end <= cut:
                released.append(
                    (check, Finding(f.check, f.kind, max(f.start, base), f.end, f.score))
                )
        masks: list[Finding] = []
        for check, f in sorted(released, key=lambda cf: cf[1].start):
            value = buf[f.start : f.end]
            whole = Finding(f.check, f.kind, self._offset + f.start, self._offset + f.end, f.score)
            self.detected.append(StreamDetection(check, whole, value))
            action = check.spec.action
            if action == "block" and self.enforce and self.blocked is None:
                self.blocked = check
                cut = min(cut, f.start)
            elif action == "mask":
                masks.append(Finding(f.check, f.kind, f.start - base, f.end - base, f.score))
        region = buf[base:cut]
        if self.blocked is not None:
            masks = [m for m in masks if m.end <= len(region)]
        out = mask_text(region, masks) if self.enforce else region
        self._pending = buf[cut:]
        kept = buf[:cut]
        self._offset += max(0, len(kept) - CONTEXT)
        self._ctx = kept[-CONTEXT:]
        if not self.enforce:
            return chunk if not final else ""
        return out
