"""What a detector reports: a typed span with a score, never a copy of the value."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from sekisho.guardrails.normalize import Normalized

CHECKS = (
    "email",
    "phone",
    "payment_card",
    "iban",
    "jp_my_number",
    "jp_corporate_number",
    "secrets",
    "prompt_injection",
    "blocked_terms",
)

# What each check is called in customer-facing words (the 400 names the category).
CATEGORIES = {
    "email": "personal data (e-mail address)",
    "phone": "personal data (phone number)",
    "payment_card": "personal data (payment card number)",
    "iban": "personal data (bank account number)",
    "jp_my_number": "personal data (My Number)",
    "jp_corporate_number": "business identifier (corporate number)",
    "secrets": "credentials or secrets",
    "prompt_injection": "prompt injection",
    "blocked_terms": "blocked terms",
}


@dataclass(frozen=True, slots=True)
class Hit:
    """A match in normalised coordinates (what detectors return)."""

    start: int
    end: int
    kind: str
    score: float = 1.0


@dataclass(frozen=True, slots=True)
class Finding:
    """A match in the caller's original text."""

    check: str
    kind: str
    start: int
    end: int
    score: float


class Detector(Protocol):
    check: str
    max_len: int  # no match is longer than this (normalised characters)

    def hits(self, text: str) -> list[Hit]:
        """Every match in normalised `text`."""
        ...

    def hold_from(self, text: str) -> int:
        """Earliest index of normalised `text` where an unfinished match may start."""
        ...


def findings(detector: Detector, norm: Normalized) -> list[Finding]:
    """Run one detector over normalised text; spans mapped back to the original."""
    out = []
    for hit in detector.hits(norm.text):
        start, end = norm.original_span(hit.start, hit.end)
        out.append(Finding(detector.check, hit.kind, start, end, hit.score))
    return out


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())
