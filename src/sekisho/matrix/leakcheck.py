"""The leak check of customer-facing text: nothing that names a provider (Rule 1). Pure.

Customer text (incident titles and updates, alias descriptions, everything
on the status page) may speak of aliases only. `find_leaks` refuses:

- every identity string of the matrix (provider ids, names, regions, base-URL
  hosts, upstream model names) anywhere in the text's skeleton (letters and
  digits only), so spacing and punctuation do not hide it (`Kumo Tokyo`,
  `k.u.m.o-tokyo`, `kumotokyobased`);
- every distinctive **word** of those (`Atlas` of `atlas-useast`, `opus` of
  `meridian-opus`, `kumo` of the host `api.kumo-cloud.example`), as a word of
  the text, split or glued (`A t l a s`, `AtlasCloud`); generic words
  (`ai`, `cloud`, `models`, ...) and the words of alias names are not
  distinctive and stay allowed;
- the **places** each region names (`us-east-1` -> "US East", "Virginia";
  `ap-northeast-1` -> "Tokyo", "Japan East"; table in
  `sekisho.matrix.regions`).

Before comparing, text is NFKC-normalized (full-width forms), stripped of
format characters (zero-width spaces), mapped through a small confusables
table (Cyrillic and Greek look-alikes of Latin letters: `Atlas` spelled
with Cyrillic a), case-folded, and also read percent-decoded and HTML-unescaped.

It is deliberately conservative: a refusal asks the operator to rephrase,
while a leak cannot be taken back.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from sekisho.matrix.regions import places_for

__all__ = ["CONFUSABLES", "IdentityTerms", "find_leaks", "leaks_in", "skeleton", "terms_for"]

# Look-alikes of Latin letters (from Unicode's confusables: common Cyrillic, Greek and Latin
# ones), written as escapes so the source shows what they are. Latin letter -> look-alikes.
_LOOK_ALIKES: dict[str, str] = {
    "a": "\u0410\u0430\u0391\u03b1",  # Cyrillic Capital A, Cyrillic Small A, Greek Capital Alpha, Greek Small Alpha
    "b": "\u0412\u0432\u0392",  # Cyrillic Capital Ve, Cyrillic Small Ve, Greek Capital Beta
    "c": "\u0421\u0441",  # Cyrillic Capital Es, Cyrillic Small Es
    "d": "\u0501\u0111",  # Cyrillic Small Komi De, Latin Small D With Stroke
    "e": "\u0415\u0435\u0451\u0395\u03b5",  # Cyrillic Capital Ie, Cyrillic Small Ie, Cyrillic Small Io, Greek Capital Epsilon, Greek Small Epsilon
    "g": "\u0261",  # Latin Small Script G
    "h": "\u041d\u04ba\u043d\u04bb\u0397\u0127",  # Cyrillic Capital En, Cyrillic Capital Shha, Cyrillic Small En, Cyrillic Small Shha, Greek Capital Eta, Latin Small H With Stroke
    "i": "\u0406\u0456\u0457\u0399\u03b9\u0131",  # Cyrillic Capital Byelorussian-Ukrainian I, Cyrillic Small Byelorussian-Ukrainian I, Cyrillic Small Yi, Greek Capital Iota, Greek Small Iota, Latin Small Dotless I
    "j": "\u0408\u0458",  # Cyrillic Capital Je, Cyrillic Small Je
    "k": "\u041a\u043a\u039a\u03ba",  # Cyrillic Capital Ka, Cyrillic Small Ka, Greek Capital Kappa, Greek Small Kappa
    "l": "\u04c0\u04cf\u0142",  # Cyrillic Palochka, Cyrillic Small Palochka, Latin Small L With Stroke
    "m": "\u041c\u043c\u039c",  # Cyrillic Capital Em, Cyrillic Small Em, Greek Capital Mu
    "n": "\u039d",  # Greek Capital Nu
    "o": "\u041e\u043e\u039f\u03bf\u00f8",  # Cyrillic Capital O, Cyrillic Small O, Greek Capital Omicron, Greek Small Omicron, Latin Small O With Stroke
    "p": "\u0420\u0440\u03a1\u03c1",  # Cyrillic Capital Er, Cyrillic Small Er, Greek Capital Rho, Greek Small Rho
    "q": "\u051a\u051b",  # Cyrillic Capital Qa, Cyrillic Small Qa
    "s": "\u0405\u0455\u03c2",  # Cyrillic Capital Dze, Cyrillic Small Dze, Greek Small Final Sigma
    "t": "\u0422\u0442\u03a4\u03c4",  # Cyrillic Capital Te, Cyrillic Small Te, Greek Capital Tau, Greek Small Tau
    "u": "\u03c5",  # Greek Small Upsilon
    "v": "\u03bd",  # Greek Small Nu
    "w": "\u051c\u051d\u03c9",  # Cyrillic Capital We, Cyrillic Small We, Greek Small Omega
    "x": "\u0425\u0445\u03a7\u03c7",  # Cyrillic Capital Ha, Cyrillic Small Ha, Greek Capital Chi, Greek Small Chi
    "y": "\u0423\u04ae\u0443\u04af\u03a5",  # Cyrillic Capital U, Cyrillic Capital Straight U, Cyrillic Small U, Cyrillic Small Straight U, Greek Capital Upsilon
    "z": "\u0396",  # Greek Capital Zeta
}
CONFUSABLES: dict[str, str] = {c: latin for latin, cs in _LOOK_ALIKES.items() for c in cs}
_CONFUSABLE_TABLE = str.maketrans(CONFUSABLES)

# Words too generic to identify a provider (they also occur in ordinary status text).
GENERIC_WORDS = frozenset(
    [
        "ai",
        "api",
        "apis",
        "app",
        "cloud",
        "clouds",
        "co",
        "com",
        "corp",
        "dev",
        "example",
        "gateway",
        "gmbh",
        "inc",
        "internal",
        "io",
        "lab",
        "labs",
        "large",
        "llc",
        "llm",
        "llms",
        "local",
        "localhost",
        "ltd",
        "medium",
        "mini",
        "model",
        "models",
        "net",
        "org",
        "platform",
        "prod",
        "provider",
        "providers",
        "region",
        "service",
        "services",
        "small",
        "staging",
        "svc",
        "the",
        "and",
        "of",
        "for",
        "www",
        "east",
        "west",
        "north",
        "south",
        "central",
        "chat",
        "v1",
        "v2",
        "v3",
        "us",
        "eu",
        "jp",
        "cn",
        "ap",
        "sa",
    ]
)
_MIN_WORD = 3  # shorter words (ai, 8b) are not distinctive on their own
_IN_WORD = 5  # words at least this long are found inside longer words too
_BLOCK = "\x00"  # stands where an alias name was: never part of a match


class _MatrixLike(Protocol):
    @property
    def providers(self) -> Any: ...

    @property
    def aliases(self) -> Any: ...


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return text.translate(_CONFUSABLE_TABLE).casefold()


def skeleton(text: str) -> str:
    """Case-folded letters and digits only, after NFKC and confusable mapping."""
    return "".join(ch for ch in _fold(text) if ch.isalnum())


def _word_tokens(text: str) -> list[str]:
    """The text's words: runs of letters and digits, folded."""
    return [t for t in re.split(r"[\W_]+", _fold(text)) if t]


@dataclass(frozen=True)
class IdentityTerms:
    """What customer text must not contain, each with the identity string it reveals."""

    whole: tuple[tuple[str, str], ...]  # (skeleton, identity): anywhere in the text
    words: tuple[tuple[str, str], ...]  # (word, identity): as a word, split or glued
    phrases: tuple[tuple[tuple[str, ...], str], ...] = ()  # (place tokens, region)
    allowed: tuple[tuple[str, ...], ...] = ()  # alias names, as tokens

    @classmethod
    def build(
        cls,
        identities: Iterable[str],
        *,
        word_sources: Iterable[str] | None = None,
        regions: Iterable[str] = (),
        aliases: Iterable[str] = (),
    ) -> IdentityTerms:
        idents = sorted({i for i in identities if i and i.strip()})
        alias_words = {w for a in aliases for w in _word_tokens(a)}
        whole = tuple((s, i) for i in idents if (s := skeleton(i)))
        words: dict[str, str] = {}
        for source in sorted(set(idents if word_sources is None else word_sources)):
            for word in _word_tokens(source):
                if (
                    len(word) >= _MIN_WORD
                    and word not in GENERIC_WORDS
                    and word not in alias_words
                    and not word.isdigit()
                ):
                    words.setdefault(word, source)
        region_list = sorted(set(regions) | {i for i in idents if places_for(i)})
        phrases = tuple(
            (tuple(toks), region)
            for region in region_list
            for place in places_for(region)
            if (toks := _word_tokens(place))
        )
        allowed = tuple(t for a in sorted(set(aliases)) if (t := tuple(_word_tokens(a))))
        return cls(whole, tuple(sorted(words.items())), phrases, allowed)


def terms_for(matrix: _MatrixLike) -> IdentityTerms:
    """Every identity of a provider matrix: providers, their regions and hosts, upstream models."""
    identities: list[str] = []
    sources: list[str] = []
    regions: list[str] = []
    for p in matrix.providers.values():
        host = urlsplit(p.base_url).hostname or ""
        identities += [p.id, p.name, p.region, host]
        sources += [p.id, p.name, *_host_words(host)]
        regions.append(p.region)
    for alias in matrix.aliases.values():
        for route in alias.routes:
            identities.append(route.model)
            sources.append(route.model)
    return IdentityTerms.build(
        identities, word_sources=sources, regions=regions, aliases=list(matrix.aliases)
    )


def _host_words(host: str) -> list[str]:
    # An IP address names no words; a DNS name's labels but the top-level one do.
    if not host or re.fullmatch(r"[0-9.:]+", host):
        return []
    return host.split(".")[:-1]


def _views(text: str) -> set[str]:
    views = {text}
    for _ in range(2):  # doubly encoded text too
        views |= {unquote(v) for v in views} | {html.unescape(v) for v in views}
    return views


def _blocked(tokens: list[str], allowed: Sequence[tuple[str, ...]]) -> list[str]:
    """Tokens with every alias name replaced by a block (alias names are customer-facing)."""
    out = list(tokens)
    for name in allowed:
        n = len(name)
        for i in range(len(out) - n + 1):
            if tuple(out[i : i + n]) == name:
                out[i : i + n] = [_BLOCK] * n
    return out


def _glued(tokens: list[str], needle: str) -> bool:
    """``needle`` spelled by consecutive tokens (``a t l a s``, ``us east``, ``useast``)."""
    for i in range(len(tokens)):
        joined = ""
        for token in tokens[i:]:
            joined += token
            if joined == needle:
                return True
            if not needle.startswith(joined):
                break
    return False


def _has_word(tokens: list[str], word: str) -> bool:
    if len(word) >= _IN_WORD and any(word in t for t in tokens):
        return True
    return _glued(tokens, word)


def find_leaks(text: str, identities: Iterable[str] | IdentityTerms) -> list[str]:
    """The identity strings that ``text`` reveals (empty: the text may be published).

    ``identities``: `terms_for(matrix)`, or plain identity strings (their
    words and the places of any region among them are checked too).
    """
    terms = identities if isinstance(identities, IdentityTerms) else IdentityTerms.build(identities)
    found: set[str] = set()
    for view in _views(text):
        tokens = _blocked(_word_tokens(view), terms.allowed)
        flat = "".join(t for t in tokens if t != _BLOCK)
        found.update(ident for needle, ident in terms.whole if needle in flat)
        found.update(ident for word, ident in terms.words if _has_word(tokens, word))
        found.update(region for place, region in terms.phrases if _glued(tokens, "".join(place)))
    return sorted(found)


def leaks_in(text: str, matrix: _MatrixLike) -> list[str]:
    """`find_leaks` against everything the matrix knows about its providers."""
    return find_leaks(text, terms_for(matrix))
