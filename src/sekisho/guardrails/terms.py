"""Blocked terms: a tenant's word list matched with Aho-Corasick over case-folded text.

Terms in Latin script match whole words only (`ass` does not match `class`);
terms in Japanese or Chinese script match anywhere, as those languages do not
separate words with spaces.
"""

from __future__ import annotations

from collections.abc import Iterable

import ahocorasick

from sekisho.guardrails.findings import Hit


def _wordish(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


class BlockedTermsDetector:
    check = "blocked_terms"

    def __init__(self, terms: Iterable[str]) -> None:
        self.terms = tuple(sorted({t.casefold().strip() for t in terms if t.strip()}))
        self.max_len = max((len(t) for t in self.terms), default=0)
        self._auto = ahocorasick.Automaton()
        for term in self.terms:
            self._auto.add_word(term, term)
        self._prefixes = {t[:k] for t in self.terms for k in range(1, len(t))}
        if self.terms:
            self._auto.make_automaton()

    def hits(self, text: str) -> list[Hit]:
        if not self.terms:
            return []
        folded = text.casefold()
        if len(folded) != len(text):  # rare (e.g. "ß" -> "ss"): fall back to lower()
            folded = text.lower()
            if len(folded) != len(text):
                return []
        out = []
        for end, term in self._auto.iter(folded):
            start = end + 1 - len(term)
            if _wordish(term[0]) and start > 0 and _wordish(folded[start - 1]):
                continue
            if _wordish(term[-1]) and end + 1 < len(folded) and _wordish(folded[end + 1]):
                continue
            out.append(Hit(start, end + 1, "term"))
        return out

    def hold_from(self, text: str) -> int:
        folded = text.casefold()
        n = len(folded)
        for k in range(min(self.max_len, n), 0, -1):
            tail = folded[n - k :]
            # A whole term at the very end may still grow into a longer word.
            if tail in self._prefixes or (tail in self.terms and _wordish(tail[-1])):
                return len(text) - k
        return len(text)
