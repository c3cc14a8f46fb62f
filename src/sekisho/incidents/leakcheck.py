"""The leak check of customer-facing text: no provider id, name, region or host. Pure.

Customer text (incident titles and updates, the status page) may speak of
aliases only. `find_leaks` compares a *skeleton* of the text with a skeleton
of every identity string of the matrix (`Matrix.identity_strings()`):

- Unicode is NFKC-normalized and case-folded (fullwidth `KUMO` and `Kumo` are both `kumo`);
- every character that is not a letter or digit is dropped, so punctuation,
  spaces, hyphens, dots, zero-width characters and line breaks in between do
  not hide a name (`Kumo Tokyo`, `kumo_tokyo`, `k.u.m.o-tokyo`);
- the text is also checked percent-decoded and HTML-unescaped (URLs, `%2D`);
- matching is by substring, so a name inside a longer word or URL is found.

It is deliberately conservative: a refusal asks the operator to rephrase,
while a leak cannot be taken back.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Iterable
from urllib.parse import unquote

__all__ = ["find_leaks", "skeleton"]


def skeleton(text: str) -> str:
    """Case-folded letters and digits only, after NFKC normalization."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def _views(text: str) -> set[str]:
    views = {text}
    for _ in range(2):  # doubly encoded text too
        views |= {unquote(v) for v in views} | {html.unescape(v) for v in views}
    return {skeleton(v) for v in views}


def find_leaks(text: str, identities: Iterable[str]) -> list[str]:
    """The identity strings that `text` reveals (empty: the text may be published)."""
    views = _views(text)
    found = {
        ident
        for ident in identities
        if (needle := skeleton(ident)) and any(needle in v for v in views)
    }
    return sorted(found)
