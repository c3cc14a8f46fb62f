"""Credentials by shape plus entropy: cloud keys, provider API keys, tokens, private keys, JWTs.

Each rule has a literal marker (`AKIA`, `sk-`, `ghp_`, `-----BEGIN`, ...) that
is looked for with a plain substring test before its regex runs, so text
without any marker costs one pass per marker. A rule whose random part looks
like a word (low entropy) is not a secret: `sk-learn-tutorial` is not a key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import ahocorasick

from sekisho.guardrails.findings import Hit, entropy


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: str
    markers: tuple[str, ...]
    pattern: re.Pattern[str]
    min_entropy: float = 0.0
    group: int = 0  # the part whose entropy is judged
    needs_digit: bool = False  # random key material of this length has a digit
    span_group: int = 0  # the part that is the secret (and gets masked)


_B = r"(?<![A-Za-z0-9_\-])"
_E = r"(?![A-Za-z0-9_\-])"
RULES = (
    _Rule(
        "aws_access_key",
        ("AKIA", "ASIA", "ABIA", "ACCA"),
        re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)([A-Z0-9]{16})(?![A-Z0-9])"),
        2.5,
        1,
    ),
    _Rule(
        "provider_api_key",
        ("sk-",),
        re.compile(
            _B
            + r"sk-(?:proj-|svcacct-|admin-|ant-(?:api|admin)\d\d-)?([A-Za-z0-9_\-]{20,200})"
            + _E
        ),
        3.5,
        1,
        needs_digit=True,
    ),
    _Rule(
        "stripe_key",
        ("sk_live_", "rk_live_", "sk_test_"),
        re.compile(_B + r"[sr]k_(?:live|test)_([A-Za-z0-9]{20,120})" + _E),
        3.5,
        1,
        needs_digit=True,
    ),
    _Rule("google_api_key", ("AIza",), re.compile(_B + r"AIza([A-Za-z0-9_\-]{35})" + _E), 3.5, 1),
    _Rule(
        "github_token",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        re.compile(
            _B + r"(?:gh[pousr]_([A-Za-z0-9]{36,255})|github_pat_([A-Za-z0-9_]{60,120}))" + _E
        ),
        3.5,
    ),
    _Rule(
        "slack_token",
        ("xoxb-", "xoxp-", "xoxa-", "xoxo-", "xoxr-", "xoxs-", "xapp-"),
        re.compile(_B + r"(?:xox[abposr]|xapp)-([A-Za-z0-9\-]{10,250})" + _E),
        3.0,
        1,
    ),
    _Rule(
        "slack_webhook",
        ("hooks.slack.com/",),
        re.compile(r"https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9_/\-]{20,200}"),
    ),
    _Rule(
        "sekisho_key",
        ("sks_", "sko_"),
        re.compile(_B + r"sk[so]_[0-9a-f]{12}_([A-Za-z0-9_\-]{43})" + _E),
        3.5,
        1,
    ),
    _Rule(
        "private_key",
        ("-----BEGIN",),
        re.compile(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
            r"(?:[\s\S]{0,12000}?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s]*)"
        ),
    ),
    _Rule(
        "jwt",
        ("eyJ",),
        re.compile(
            _B + r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.([A-Za-z0-9_\-]{16,})" + _E
        ),
        3.0,
        1,
    ),
    _Rule(
        "assigned_secret",
        ("secret", "token", "password", "passwd", "api_key", "apikey", "api-key", "access"),
        re.compile(
            r"(?i)(?:secret|token|password|passwd|api[_\-]?key|access[_\-]?key|client[_\-]?secret)"
            r"[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+_\-.=]{20,200})(?![A-Za-z0-9/+_\-.=])"
        ),
        4.0,
        1,
        needs_digit=True,
        span_group=1,
    ),
)
_MARKERS = tuple(
    sorted({m for rule in RULES for m in rule.markers if rule.kind != "assigned_secret"})
)
_WORD_TAIL = re.compile(r"[A-Za-z0-9_\-]+$")
_JWT_TAIL = re.compile(r"eyJ[A-Za-z0-9_\-.]*$")
_URL_TAIL = re.compile(r"h[A-Za-z0-9_:/.\-]*$")
_WEBHOOK = "https://hooks.slack.com/"
_ASSIGN_TAIL = re.compile(
    r"(?i)(?:secret|token|password|passwd|api[_\-]?key|access[_\-]?key|client[_\-]?secret)"
    r"[\"']?\s*(?:[:=]\s*[\"']?[A-Za-z0-9/+_\-.=]*)?$"
)
_ASSIGN_REACH = 260
_PEM_OPEN = "-----BEGIN"
_PEM_END = re.compile(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")


def _judged(m: re.Match[str], group: int) -> str:
    if group:
        return m.group(group) or ""
    return next((g for g in m.groups() if g), m.group())


class SecretsDetector:
    check = "secrets"
    max_len = 12_200

    def __init__(self) -> None:
        self._markers = ahocorasick.Automaton()
        for i, rule in enumerate(RULES):
            variants = set(rule.markers)
            if rule.kind == "assigned_secret":  # its pattern matches in any case
                variants |= {v for m in rule.markers for v in (m.upper(), m.capitalize())}
                variants |= {"apiKey", "accessKey", "clientSecret", "ApiKey", "AccessKey"}
            for marker in variants:
                self._markers.add_word(marker, (*self._markers.get(marker, ()), i))
        self._markers.make_automaton()

    def hits(self, text: str) -> list[Hit]:
        out: list[Hit] = []
        present: set[int] = set()
        for _, rules in self._markers.iter(text):  # one pass finds every rule's marker
            present.update(rules)
        for i in sorted(present):
            rule = RULES[i]
            for m in rule.pattern.finditer(text):
                if rule.kind == "private_key" and len(m.group()) < 60:
                    continue
                judged = _judged(m, rule.group)
                if rule.min_entropy and entropy(judged) < rule.min_entropy:
                    continue
                if rule.needs_digit and not any(c.isdigit() for c in judged):
                    continue
                g = rule.span_group
                start, end = m.start(g), m.end(g)
                # The rules go from specific to generic: one value, one finding.
                if not any(h.start < end and start < h.end for h in out):
                    out.append(Hit(start, end, rule.kind))
        return out

    def hold_from(self, text: str) -> int:
        hold = len(text)
        begin = text.rfind(_PEM_OPEN)
        if begin >= 0 and _PEM_END.search(text, begin) is None:
            hold = begin
        for k in range(min(len(_PEM_OPEN) - 1, len(text)), 0, -1):  # "-----BE" at the end
            if text.endswith(_PEM_OPEN[:k]):
                hold = min(hold, len(text) - k)
                break
        m = _WORD_TAIL.search(text)
        if m is not None:
            word = m.group()
            if any(word.startswith(mk) or mk.startswith(word) for mk in _MARKERS):
                hold = min(hold, m.start())
        for tail, marker in ((_JWT_TAIL, ""), (_URL_TAIL, _WEBHOOK)):
            t = tail.search(text)
            if t is not None and (
                not marker or t.group().startswith(marker) or marker.startswith(t.group())
            ):
                hold = min(hold, t.start())
        window = text[-_ASSIGN_REACH:]
        a = _ASSIGN_TAIL.search(window)
        if a is not None:
            hold = min(hold, len(text) - len(window) + a.start())
        return hold
