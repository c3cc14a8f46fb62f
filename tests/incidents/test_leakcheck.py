"""The leak check refuses every provider id, name, region and host, however it is dressed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sekisho.matrix import Matrix
from sekisho.matrix.leakcheck import find_leaks, skeleton
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


# --- Words, places, look-alikes and model names, against the demo matrix (issue 10 item 9) ---

from pathlib import Path  # noqa: E402

import yaml  # noqa: E402

from sekisho.matrix.leakcheck import leaks_in  # noqa: E402
from sekisho.matrix.regions import REGION_PLACES  # noqa: E402
from sekisho.matrix.validate import validate_matrix  # noqa: E402
from sekisho.settings import settings_from_document  # noqa: E402
from tests.support.gateway import gateway_settings  # noqa: E402

DEMO = gateway_settings("https://sim.internal.example", Path("/tmp")).matrix


@pytest.mark.parametrize(
    "text",
    [
        "Atlas is down",  # one word of the provider atlas-useast / "Atlas Models US"
        "problems in US East",  # a place us-east-1 names
        "our Tokyo provider",  # a place ap-northeast-1 names (and a word of kumo-tokyo)
        "Latency in Japan East",
        "Northern Virginia is slow",
        "\u0410tl\u0430s is down",  # Cyrillic capital and small a
        "\u0391\u03c4l\u03b1s",  # Greek capital alpha, tau, alpha... look-alikes
        "\uff21\uff54\uff4c\uff41\uff53 outage",  # full-width
        "A t l a s is down",
        "AtlasCloud hiccup",
        "at\u200blas errors",  # zero-width space inside the word
        "Meridian returns errors",
        "the opus model is slow",  # upstream model meridian-opus
        "atlas-large is degraded",  # an upstream model name
        "hoshi-70b timeouts",
        "Beijing region",
        "osaka fallback",
        "Hoshi is slow",
        "requests to sim.internal.example fail",  # the base-URL host
        "%41tlas",  # percent-encoded
    ],
)
def test_demo_matrix_refuses(text: str) -> None:
    assert leaks_in(text, DEMO), text


@pytest.mark.parametrize(
    "text",
    [
        "chat-large is degraded; we are working on it.",
        "Elevated error rates on chat-jp and chat-fast since 10:05 UTC.",
        "Some requests to chat-cn fail. Next update in 30 minutes.",
        "Requests are served again; we keep monitoring.",
        "Japan-sovereign chat",
        "General-purpose large model",
        "We had a problem at last night's deploy",  # 'at last' is not 'atlas'
        "Because a storage node failed, requests queued",  # 'becaUSE ASTorage' is not 'US East'
    ],
)
def test_demo_matrix_allows_alias_text(text: str) -> None:
    assert leaks_in(text, DEMO) == [], text


def test_leak_names_what_it_reveals() -> None:
    assert "us-east-1" in leaks_in("problems in US East", DEMO)
    assert "ap-northeast-1" in leaks_in("our Tokyo provider", DEMO)


def test_every_place_of_a_used_region_is_refused() -> None:
    for provider in DEMO.providers.values():
        for place in REGION_PLACES.get(provider.region, ()):
            assert provider.region in leaks_in(f"issues around {place} today", DEMO), place


def test_matrix_check_refuses_a_description_that_names_a_provider(tmp_path: Path) -> None:
    from sekisho.demo import DEMO_SECRETS, demo_document

    doc = demo_document("http://127.0.0.1:9", tmp_path, 0)
    doc["aliases"][0]["description"] = "Served from our Virginia provider"  # type: ignore[index]
    check = validate_matrix(doc, DEMO_SECRETS)
    assert not check.ok
    [problem] = check.errors
    assert problem.location == "aliases[0].description" and "us-east-1" in problem.message
    doc["aliases"][0]["description"] = "\u0410tlas-backed"  # type: ignore[index]
    assert not validate_matrix(doc, DEMO_SECRETS).ok
    doc["aliases"][0]["description"] = "General-purpose large model"  # type: ignore[index]
    assert validate_matrix(doc, DEMO_SECRETS).ok
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert settings_from_document(doc, DEMO_SECRETS).matrix.aliases["chat-large"].description
