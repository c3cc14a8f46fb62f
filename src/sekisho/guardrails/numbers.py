"""Number-shaped detectors with check digits: payment cards, IBAN, My Number, corporate number.

A candidate must stand alone (not part of an identifier, path, version or a
longer number) and pass its check digit; cards also need a known issuer
prefix and consistent grouping. A 12- or 13-digit number next to words such
as "order" or "注文" is an order number, not personal data.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sekisho.guardrails.checksums import (
    corporate_number_valid,
    iban_valid,
    luhn_valid,
    my_number_valid,
)
from sekisho.guardrails.findings import Hit

T = TypeVar("T")

# Not glued to an identifier, a path, a version number or a longer number.

_NOT_PERSONAL = re.compile(
    r"(?:order|ord|po|sku|invoice|inv|tracking|ticket|ref|serial|account|acct|customer|member|"
    r"id|tel|phone|fax|注文|受注|発注|伝票|請求|追跡|問い合わせ|問合せ|口座|会員|顧客|"
    r"チケット|シリアル|電話|品番|型番)"
    r"(?:[\s:\uff1a#\uff03.]|number|no|num|is|was|番号|は|が)*$",
    re.IGNORECASE,
)
_MY_NUMBER_WORDS = ("マイナンバー", "個人番号", "my number", "mynumber", "individual number")
_CORPORATE_WORDS = (
    "法人番号",
    "法人",
    "登録番号",
    "適格請求書",
    "corporate number",
    "corporation number",
    "houjin",
    "registration number",
)


def _before(text: str, start: int, width: int = 24) -> str:
    return text[max(0, start - width) : start].lower()


# A run of digit groups ("4111 1111 1111 1111", "03-1234-5678", "123456789018"), not glued
# to an identifier, a path or a version number: groups that are glued are dropped.
_DIGITS = re.compile(r"[0-9]+(?:[ \-][0-9]+)*")
_RUN_TAIL = re.compile(r"(?<![0-9A-Za-z_./#@\-+])\d(?:[ \-]?\d)*[ \-]?$")
_ALNUM = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_BAD_LEFT = _ALNUM | frozenset("_./#@-+")
_BAD_RIGHT = _ALNUM | frozenset("_:/@-")
Group = tuple[int, int, str]  # start, end, separator before


def _left_ok(text: str, i: int) -> bool:
    if i == 0:
        return True
    c = text[i - 1]
    if c in _BAD_LEFT:
        return False
    return not (c == ":" and i >= 2 and (text[i - 2] == ":" or text[i - 2].isdigit()))


def _right_ok(text: str, j: int) -> bool:
    if j >= len(text):
        return True
    c = text[j]
    if c in _BAD_RIGHT:
        return False
    return not (c == "." and j + 1 < len(text) and text[j + 1].isdigit())


@dataclass(frozen=True, slots=True)
class DigitRun:
    groups: list[Group]
    t_prefix: bool  # "T7000012050002": an invoice registration number

    @property
    def start(self) -> int:
        return self.groups[0][0]

    @property
    def end(self) -> int:
        return self.groups[-1][1]


@functools.lru_cache(maxsize=1)  # the card, My Number and corporate checks share one scan
def digit_runs(text: str) -> tuple[DigitRun, ...]:
    """Runs of at least 12 digits' worth of characters (the shortest number detected here)."""
    runs = []
    for m in _DIGITS.finditer(text):
        if m.end() - m.start() < 12:
            continue
        groups = _groups(m.group(), m.start())
        t_prefix = False
        while groups and not _left_ok(text, groups[0][0]):
            g = groups[0][0]
            if text[g - 1] == "T" and _left_ok(text, g - 1):
                t_prefix = True
                break
            groups = groups[1:]
        while groups and not _right_ok(text, groups[-1][1]):
            groups = groups[:-1]
        if groups:
            first = groups[0]
            groups[0] = (first[0], first[1], "")
            runs.append(DigitRun(groups, t_prefix))
    return tuple(runs)


def _tail_hold(text: str) -> int:
    m = _RUN_TAIL.search(text)
    return m.start() if m else len(text)


def _groups(run: str, offset: int) -> list[Group]:
    """(start, end, separator before) of each digit group of a run."""
    out, pos, sep = [], 0, ""
    for part in re.split(r"([ \-])", run):
        if part in (" ", "-"):
            sep = part
        elif part:
            out.append((offset + pos, offset + pos + len(part), sep))
        pos += len(part)
    return out


def _windows(
    groups: list[tuple[int, int, str]],
    layouts: tuple[tuple[int, ...], ...],
    accept: Callable[[int, int], T | None],
) -> list[T]:
    """Accepted spans of consecutive groups fitting one of `layouts`, one kind of separator."""
    found: list[T] = []
    i = 0
    while i < len(groups):
        for layout in layouts:
            window = groups[i : i + len(layout)]
            if (
                len(window) == len(layout)
                and all(g[1] - g[0] == n for g, n in zip(window, layout, strict=True))
                and len({g[2] for g in window[1:]}) <= 1
            ):
                value = accept(window[0][0], window[-1][1])
                if value is not None:
                    found.append(value)
                    i += len(layout) - 1
                    break
        i += 1
    return found


# --- payment cards -----------------------------------------------------------------

_CARD_LAYOUTS = (
    (4, 4, 4, 4, 3),
    (4, 4, 4, 4),
    (4, 6, 5),
    (4, 6, 4),
    *[(n,) for n in range(19, 12, -1)],
)


def card_brand(digits: str) -> str | None:
    """The issuer of a card number by its prefix (IIN), or None if no issuer uses it."""
    n = len(digits)
    two, four = int(digits[:2]), int(digits[:4])
    if digits[0] == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= two <= 55 or 2221 <= four <= 2720) and n == 16:
        return "mastercard"
    if two in (34, 37) and n == 15:
        return "amex"
    if 3528 <= four <= 3589 and 16 <= n <= 19:
        return "jcb"
    if (digits.startswith(("6011", "65")) or 644 <= int(digits[:3]) <= 649) and n in (16, 19):
        return "discover"
    if (two in (36, 38, 39) or 300 <= int(digits[:3]) <= 305) and 14 <= n <= 19:
        return "diners"
    if two == 62 and 16 <= n <= 19:
        return "unionpay"
    return None


def _cards_in_run(text: str, groups: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    def accept(start: int, end: int) -> tuple[int, int, str] | None:
        digits = text[start:end].replace(" ", "").replace("-", "")
        brand = card_brand(digits)
        return (start, end, brand) if brand and luhn_valid(digits) else None

    return _windows(groups, _CARD_LAYOUTS, accept)


def _candidate_cards(text: str) -> list[tuple[int, int, str]]:
    out = []
    for run in digit_runs(text):
        out += _cards_in_run(text, run.groups)
    return out


class PaymentCardDetector:
    check = "payment_card"
    max_len = 23

    def hits(self, text: str) -> list[Hit]:
        return [Hit(s, e, brand) for s, e, brand in _candidate_cards(text)]

    def hold_from(self, text: str) -> int:
        return _tail_hold(text)


# --- Japanese My Number and corporate number --------------------------------------


_IBAN_BEFORE = re.compile(r"(?:\b[A-Z]{2}\d{2}|\b[A-Z0-9]{4}) $")


class MyNumberDetector:
    check = "jp_my_number"
    max_len = 14

    def hits(self, text: str) -> list[Hit]:
        out = []
        for run in digit_runs(text):
            if run.t_prefix:
                continue
            groups = run.groups
            cards = _cards_in_run(text, groups)  # groups of a card are the card's
            if _IBAN_BEFORE.search(text, max(0, run.start - 6), run.start):
                # The digits of an IBAN ("DE89 3704 0044 0532 ...") are the IBAN's.
                lo = max(0, run.start - 10)
                cards += [(lo + h.start, lo + h.end, h.kind) for h in _ibans(text[lo : run.end])]
            free = [g for g in groups if not any(c[0] <= g[0] < c[1] for c in cards)]

            def accept(start: int, end: int) -> Hit | None:
                digits = text[start:end].replace(" ", "").replace("-", "")
                if not my_number_valid(digits):
                    return None
                before = _before(text, start)
                named = any(w in before for w in _MY_NUMBER_WORDS)
                if not named and _NOT_PERSONAL.search(before):
                    return None
                return Hit(start, end, "my_number", 0.95 if named else 0.7)

            out += _windows(free, ((12,), (4, 4, 4)), accept)
        return out

    def hold_from(self, text: str) -> int:
        return _tail_hold(text)


class CorporateNumberDetector:
    check = "jp_corporate_number"
    max_len = 19

    def hits(self, text: str) -> list[Hit]:
        out = []
        for run in digit_runs(text):
            if [g[1] - g[0] for g in run.groups] not in ([13], [1, 4, 4, 4]):
                continue
            if len({g[2] for g in run.groups[1:]}) > 1:
                continue
            digits = text[run.start : run.end].replace(" ", "").replace("-", "")
            if not corporate_number_valid(digits):
                continue
            start = run.start - 1 if run.t_prefix else run.start
            named = any(w in _before(text, start, 32) for w in _CORPORATE_WORDS)
            # Thirteen bare digits are as often a millisecond timestamp: ask for a sign.
            if run.t_prefix or named:
                kind = "invoice_registration" if run.t_prefix else "corporate_number"
                out.append(Hit(start, run.end, kind, 0.95))
        return out

    def hold_from(self, text: str) -> int:
        m = re.search(r"(?<![0-9A-Za-z_./#@\-+])T?\d(?:[ \-]?\d)*[ \-]?$|(?<![0-9A-Za-z])T$", text)
        return m.start() if m else len(text)


# --- IBAN -------------------------------------------------------------------------

_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}")
_IBAN_TAIL = re.compile(r"[A-Z]{1,2}$|[A-Z]{2}\d[\dA-Z ]*$")
_WORDISH = _ALNUM | frozenset("_")


def _ibans(text: str) -> list[Hit]:
    out = []
    pos = 0
    while (m := _IBAN.search(text, pos)) is not None:
        raw, start = m.group(), m.start()
        pos = start + 1
        if start > 0 and text[start - 1] in _WORDISH:
            continue
        # Grouped by fours, or not grouped at all: the longest valid prefix that ends a word.
        for end in range(len(raw), 14, -1):
            after = start + end
            if raw[end - 1] == " " or (after < len(text) and text[after] in _WORDISH):
                continue
            if iban_valid(raw[:end]):
                out.append(Hit(start, after, "iban_" + raw[:2].lower()))
                pos = after
                break
    return out


class IbanDetector:
    check = "iban"
    max_len = 42

    def hits(self, text: str) -> list[Hit]:
        return _ibans(text)

    def hold_from(self, text: str) -> int:
        m = _IBAN_TAIL.search(text)
        return m.start() if m else len(text)
