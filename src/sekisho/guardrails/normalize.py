"""Text normalisation before detection, with a map back to the original spans. Pure.

Detectors see text after NFKC (full-width digits and letters become ASCII),
with zero-width and other invisible format characters removed and the common
Cyrillic/Greek look-alikes of Latin letters folded, so full-width digits,
a Cyrillic "s" in `sk-...` or a zero-width space inside a card number cannot
slip past a pattern. Every character of the
normalised text remembers the original character it came from, so a finding
is masked in the text the caller actually sent.

Plain ASCII and already-normalised text (the common case) is returned as is,
with an identity map, without a per-character loop.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Zero-width, bidi controls, soft hyphen, word joiner, BOM: invisible, so removed.
_INVISIBLE = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068"
    "\u2069\ufeff"
)
# Look-alikes that NFKC keeps: Cyrillic and Greek letters drawn like Latin ones, dashes.
_LOOKALIKES = (
    "\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0455\u0456\u0458\u0501\u04bb"
    "\u04cf\u051b\u051d\u0410\u0412\u0415\u041a\u041c\u041d\u041e\u0420\u0421"
    "\u0422\u0425\u0423\u0405\u0406\u0408\u03b1\u03bf\u03c1\u03bd\u03c4\u03b9"
    "\u03ba\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1"
    "\u03a4\u03a5\u03a7\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
)
_LATIN = "aeopcyxsijdhlqwABEKMHOPCTXYSIJaopvtikABEZHIKMNOPTYX-------"
_CONFUSABLES = dict(zip(_LOOKALIKES, _LATIN, strict=True))
_SPECIAL = re.compile("[" + _INVISIBLE + "".join(_CONFUSABLES) + "]")
_REMOVED = frozenset(_INVISIBLE)


@dataclass(frozen=True, slots=True)
class Normalized:
    """`text` as detectors see it; `starts[i]`/`ends[i]`: original span of text[i]."""

    original: str
    text: str
    starts: tuple[int, ...] | None = None  # None: identity map
    ends: tuple[int, ...] | None = None

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that normalised span [start, end) came from."""
        if self.starts is None or self.ends is None:
            return start, end
        if start >= end:
            pos = self.starts[start] if start < len(self.starts) else len(self.original)
            return pos, pos
        return self.starts[start], self.ends[end - 1]

    def original_index(self, index: int) -> int:
        """Where normalised position `index` starts in the original text."""
        if self.starts is None:
            return index
        return self.starts[index] if index < len(self.starts) else len(self.original)


def _fold(ch: str) -> str:
    if ch in _REMOVED:
        return ""
    ch = _CONFUSABLES.get(ch, ch)
    return ch if ch.isascii() else unicodedata.normalize("NFKC", ch)


def normalize(text: str) -> Normalized:
    """Normalise `text` for detection, keeping the map back to original positions."""
    if text.isascii() or (
        unicodedata.is_normalized("NFKC", text) and _SPECIAL.search(text) is None
    ):
        return Normalized(text, text)
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for i, ch in enumerate(text):
        folded = _fold(ch)
        for piece in folded:
            out.append(_CONFUSABLES.get(piece, piece))
            starts.append(i)
            ends.append(i + 1)
    return Normalized(text, "".join(out), tuple(starts), tuple(ends))
