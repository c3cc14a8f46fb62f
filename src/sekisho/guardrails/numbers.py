"""Number-shaped detectors with check digits: payment cards, IBAN, My Number, corporate number.

A candidate must stand alone (not part of an identifier, path, version or a
longer number) and pass its check digit; cards also need a known issuer
prefix and consistent grouping. A 12- or 13-digit number next to words such
as "order" or "注文" is an order number, not personal data.
"""

from __future__ import annotations

import re

from sekisho.guardrails.checksums import (
    corporate_number_valid,
    iban_valid,
    luhn_valid,
    my_number_valid,
)
from sekisho.guardrails.findings import Hit

# Not glued to an identifier, a path, a version number or a longer number.
# Nor one group of a longer run of digit groups ("4111 1111 1111" of a card).
_LEFT = r"(?<![0-9A-Za-z_.:/#@\-+])(?<!\d[ \-])"
_RIGHT = r"(?![0-9A-Za-z_:/@\-]|\.\d|[ \-]\d)"
_DIGITISH_TAIL = re.compile(r"\d[\d \-]*$")

_NOT_PERSONAL = re.compile(
    r"(order|ord|po|sku|invoice|inv|tracking|ticket|ref|serial|account|acct|customer|member|"
    r"id|no\.|tel|phone|fax|注文|受注|発注|伝票|請求|追跡|問い合わせ|問合せ|口座|会員|顧客|"
    r"チケット|シリアル|電話|品番|型番)[\s:\uff1a#\uff03.番号は]*$",
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


def _tail_hold(text: str) -> int:
    m = _DIGITISH_TAIL.search(text)
    return m.start() if m else len(text)


# --- payment cards -----------------------------------------------------------------

_CARD = re.compile(_LEFT + r"\d(?:[ \-]?\d){12,18}" + _RIGHT)
_CARD_GROUPS = {(4, 4, 4, 4), (4, 6, 5), (4, 6, 4), (4, 4, 4, 4, 3), (4, 4, 4, 1)}


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


class PaymentCardDetector:
    check = "payment_card"
    max_len = 23

    def hits(self, text: str) -> list[Hit]:
        out = []
        for m in _CARD.finditer(text):
            raw = m.group()
            seps = {c for c in raw if not c.isdigit()}
            if len(seps) > 1:
                continue
            if seps:
                groups = tuple(len(g) for g in re.split(r"[ \-]", raw))
                if groups not in _CARD_GROUPS:
                    continue
            digits = raw.replace(" ", "").replace("-", "")
            brand = card_brand(digits)
            if brand and luhn_valid(digits):
                out.append(Hit(m.start(), m.end(), brand))
        return out

    def hold_from(self, text: str) -> int:
        return _tail_hold(text)


# --- Japanese My Number and corporate number --------------------------------------

_MY_NUMBER = re.compile(_LEFT + r"(\d{4})([ \-]?)(\d{4})\2(\d{4})" + _RIGHT)
_CORPORATE = re.compile(_LEFT + r"(T[ \-]?)?(\d)([ \-]?)(\d{4})\3(\d{4})\3(\d{4})" + _RIGHT)


class MyNumberDetector:
    check = "jp_my_number"
    max_len = 14

    def hits(self, text: str) -> list[Hit]:
        out = []
        for m in _MY_NUMBER.finditer(text):
            digits = m.group(1) + m.group(3) + m.group(4)
            if not my_number_valid(digits):
                continue
            before = _before(text, m.start())
            named = any(w in before for w in _MY_NUMBER_WORDS)
            if not named and _NOT_PERSONAL.search(before):
                continue
            out.append(Hit(m.start(), m.end(), "my_number", 0.95 if named else 0.7))
        return out

    def hold_from(self, text: str) -> int:
        return _tail_hold(text)


class CorporateNumberDetector:
    check = "jp_corporate_number"
    max_len = 19

    def hits(self, text: str) -> list[Hit]:
        out = []
        for m in _CORPORATE.finditer(text):
            digits = "".join(m.group(i) for i in (2, 4, 5, 6))
            if not corporate_number_valid(digits):
                continue
            invoice = m.group(1) is not None
            named = any(w in _before(text, m.start(), 32) for w in _CORPORATE_WORDS)
            # Thirteen bare digits are as often a millisecond timestamp: ask for a sign.
            if invoice or named:
                kind = "invoice_registration" if invoice else "corporate_number"
                out.append(Hit(m.start(), m.end(), kind, 0.95))
        return out

    def hold_from(self, text: str) -> int:
        m = re.search(r"T?[ \-]?\d[\d \-]*$|T$", text)
        return m.start() if m else len(text)


# --- IBAN -------------------------------------------------------------------------

_IBAN = re.compile(r"(?<![0-9A-Za-z_])([A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30})(?![0-9A-Za-z_])")
_IBAN_TAIL = re.compile(r"[A-Z]{1,2}$|[A-Z]{2}\d[\dA-Z ]*$")


class IbanDetector:
    check = "iban"
    max_len = 42

    def hits(self, text: str) -> list[Hit]:
        out = []
        for m in _IBAN.finditer(text):
            raw = m.group(1)
            compact = raw.replace(" ", "")
            # Grouped by fours, or not grouped at all; take the longest valid prefix.
            for end in range(len(raw), 14, -1):
                candidate = raw[:end].rstrip()
                if candidate != raw[:end]:
                    continue
                if iban_valid(candidate):
                    out.append(Hit(m.start(1), m.start(1) + end, "iban_" + compact[:2].lower()))
                    break
        return out

    def hold_from(self, text: str) -> int:
        m = _IBAN_TAIL.search(text)
        return m.start() if m else len(text)
