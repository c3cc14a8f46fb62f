"""The leak check refuses every provider id, name, region and host, however it is dressed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sekisho.incidents.leakcheck import find_leaks, skeleton
from sekisho.matrix import Matrix
from sekisho.matrix.model import Alias, Provider, Route

MATRIX = Matrix(
    providers={
        "kumo-tokyo": Provider(
            "kumo-tokyo",
            "openai",
            "https://api.kumo-cloud.example/v1",
            "K",
            "ap-northeast-1",
            name="Kumo Cloud Tokyo",
        ),
        "hoshi": Provider(
            "hoshi", "anthropic", "http://10.1.2.3:8443/v1", "H", "eu-west-1", name="Hoshi AI"
        ),
    },
    aliases={"chat-jp": Alias("chat-jp", Route("kumo-tokyo", "m"), (Route("hoshi", "n"),))},
)
IDS = MATRIX.identity_strings()


@pytest.mark.parametrize(
    "text, leaked",
    [
        ("kumo-tokyo is returning errors", "kumo-tokyo"),
        ("KUMO-TOKYO is down", "kumo-tokyo"),
        ("Kumo Tokyo is down", "kumo-tokyo"),  # punctuation replaced by a space
        ("kumo_tokyo / kumo.tokyo", "kumo-tokyo"),
        ("k-u-m-o t.o.k.y.o", "kumo-tokyo"),  # punctuation inside the word
        (
            "\uff4b\uff55\uff4d\uff4f\uff0d\uff54\uff4f\uff4b\uff59\uff4f outage",
            "kumo-tokyo",
        ),  # fullwidth forms (NFKC)
        ("kumo\u200b-tokyo", "kumo-tokyo"),  # zero-width space
        ("our kumotokyobased route", "kumo-tokyo"),  # inside a longer word
        ("Kumo Cloud Tokyo maintenance", "Kumo Cloud Tokyo"),
        ("see https://api.kumo-cloud.example/status", "api.kumo-cloud.example"),
        ("https://api%2Ekumo-cloud%2Eexample/", "api.kumo-cloud.example"),  # percent-encoded
        ("api&#46;kumo-cloud&#46;example", "api.kumo-cloud.example"),  # HTML entities
        ("region AP-NORTHEAST-1 degraded", "ap-northeast-1"),
        ("ap northeast 1", "ap-northeast-1"),
        ("requests to 10.1.2.3 time out", "10.1.2.3"),
        ("the HOSHI fallback", "hoshi"),
        ("hoshi-ai", "Hoshi AI"),
        ("Hoshi\nAI", "Hoshi AI"),  # a line break in between
        ("Eu-West-1", "eu-west-1"),
    ],
)
def test_refuses_identity(text: str, leaked: str) -> None:
    assert leaked in find_leaks(text, IDS)


@pytest.mark.parametrize(
    "text",
    [
        "Some requests to chat-jp fail; we are working on it.",
        "Elevated error rates on chat-jp since 10:05 UTC. Next update in 30 minutes.",
        "Requests are served again; we keep monitoring.",
        "ETA 12:30 UTC",
    ],
)
def test_allows_alias_only_text(text: str) -> None:
    assert find_leaks(text, IDS) == []


def test_skeleton_drops_everything_but_letters_and_digits() -> None:
    assert skeleton("  \uff2bumo-Tokyo!\u200b ") == "kumotokyo"


@given(st.text(max_size=40), st.text(max_size=40), st.sampled_from(IDS))
def test_any_identity_anywhere_is_found(before: str, after: str, ident: str) -> None:
    assert ident in find_leaks(before + ident.upper() + after, IDS)
