"""E-mail addresses and phone numbers (Japanese formats and international with `+`)."""

from __future__ import annotations

import re

import phonenumbers

from sekisho.guardrails.findings import Hit

_EMAIL = re.compile(
    r"(?<![\w.+%\-])([A-Za-z0-9][A-Za-z0-9._%+\-]{0,63})@"
    r"((?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24})(?![\w\-]|\.\w)"
)
_EMAIL_TAIL = re.compile(r"[A-Za-z0-9._%+\-]+(?:@[A-Za-z0-9.\-]*)?$")
# ssh remotes and the like look like addresses but name no person.
_NOT_MAILBOXES = frozenset({"git", "hg", "svn", "ssh", "root"})


class EmailDetector:
    check = "email"
    max_len = 320

    def hits(self, text: str) -> list[Hit]:
        if "@" not in text:
            return []
        return [
            Hit(m.start(), m.end(), "email")
            for m in _EMAIL.finditer(text)
            if m.group(1).lower() not in _NOT_MAILBOXES
        ]

    def hold_from(self, text: str) -> int:
        m = _EMAIL_TAIL.search(text)
        return m.start() if m else len(text)


# A national number starts with 0 (Japan) or an international one with +.
_PHONE = re.compile(
    r"(?<![0-9A-Za-z_.:/#@\-+])(?:\+\d{1,3}[ \-.]?|\(0\d{1,4}\)[ \-]?|0)"
    r"\d(?:[ \-.()]{0,2}\d){6,13}(?![0-9A-Za-z_:/@\-]|\.\d)"
)
_DATE_LIKE = re.compile(r"^\d{4}[\-./]\d{1,2}[\-./]\d{1,2}|^\d{1,2}[\-./]\d{1,2}[\-./]\d{2,4}$")
_PHONE_TAIL = re.compile(r"(?<![0-9A-Za-z_.:/#@\-+])(?:\+|\(0|0)[\d \-.()]*$|\+$|\($")


class PhoneDetector:
    check = "phone"
    max_len = 24

    def hits(self, text: str) -> list[Hit]:
        out = []
        pos = 0
        while (m := _PHONE.search(text, pos)) is not None:
            pos = m.end()
            raw = m.group()
            # The longest prefix ending at a group boundary that is a valid number.
            ends = [
                i + 1
                for i, ch in enumerate(raw)
                if ch.isdigit() and (i + 1 == len(raw) or not raw[i + 1].isdigit())
            ]
            for end in reversed(ends):
                candidate = raw[:end]
                if _DATE_LIKE.search(candidate):
                    continue
                try:
                    number = phonenumbers.parse(candidate, "JP")
                except phonenumbers.NumberParseException:
                    continue
                if phonenumbers.is_valid_number(number):
                    region = phonenumbers.region_code_for_number(number) or "xx"
                    out.append(Hit(m.start(), m.start() + end, "phone_" + region.lower()))
                    pos = m.start() + end
                    break
        return out

    def hold_from(self, text: str) -> int:
        m = _PHONE_TAIL.search(text)
        return m.start() if m else len(text)
