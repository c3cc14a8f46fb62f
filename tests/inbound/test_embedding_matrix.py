"""Alias `kind` in the matrix: chat (default) or embedding, and what an embedding alias may route to."""

from __future__ import annotations

from typing import Any

from sekisho.matrix.validate import validate_matrix

ENV = {"K": "x"}


def doc(**alias: Any) -> dict[str, Any]:
    return {
        "providers": [
            {"id": "oa", "kind": "openai", "base_url": "http://h/v1", "api_key_env": "K"},
            {"id": "an", "kind": "anthropic", "base_url": "http://h/v1", "api_key_env": "K"},
        ],
        "aliases": [{"name": "a", "route": {"provider": "oa", "model": "m"}, **alias}],
    }


def test_kind_defaults_to_chat_and_embedding_is_accepted() -> None:
    check = validate_matrix(doc(), ENV)
    assert check.ok and check.matrix is not None and check.matrix.aliases["a"].kind == "chat"
    check = validate_matrix(doc(kind="embedding"), ENV)
    assert check.ok and check.matrix is not None and check.matrix.aliases["a"].kind == "embedding"


def test_unknown_kind_is_refused() -> None:
    check = validate_matrix(doc(kind="image"), ENV)
    assert [p.location for p in check.errors] == ["aliases[0].kind"]


def test_embedding_alias_cannot_route_to_an_anthropic_provider() -> None:
    check = validate_matrix(
        doc(kind="embedding", fallbacks=[{"provider": "an", "model": "m"}]), ENV
    )
    assert [p.location for p in check.errors] == ["aliases[0].fallbacks[0].provider"]
    assert "serves no embeddings" in check.errors[0].message


def test_chat_probes_never_ask_an_embedding_model() -> None:
    from sekisho.observe.probes import probe_model

    raw = doc(kind="embedding")
    raw["aliases"].append({"name": "chat", "route": {"provider": "oa", "model": "chat-m"}})
    check = validate_matrix(raw, ENV)
    assert check.matrix is not None
    assert probe_model(check.matrix, "oa") == "chat-m"  # not the embedding alias's "m"
