"""`sekisho matrix check FILE`: exit 0 valid, 2 invalid, every problem in plain words."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sekisho.cli.main import main

GOOD = {
    "providers": [
        {
            "id": "kumo",
            "kind": "openai",
            "base_url": "http://127.0.0.1:1/v1",
            "api_key_env": "K1",
            "region": "ap-northeast-1",
            "sovereignty": ["jp_sovereign"],
        },
        {
            "id": "hoshi",
            "kind": "anthropic",
            "base_url": "http://127.0.0.1:2/v1",
            "api_key_env": "K2",
            "region": "ap-northeast-3",
            "sovereignty": ["jp_sovereign"],
        },
        {
            "id": "atlas",
            "kind": "openai",
            "base_url": "http://127.0.0.1:3/v1",
            "api_key_env": "K1",
            "region": "us-east-1",
        },
        {
            "id": "longmen",
            "kind": "openai",
            "base_url": "http://127.0.0.1:4/v1",
            "api_key_env": "K1",
            "region": "cn-north-1",
            "china_gated": True,
        },
    ],
    "aliases": [
        {
            "name": "chat-jp",
            "sovereignty": "jp_sovereign",
            "route": {"provider": "kumo", "model": "k"},
            "fallbacks": [{"provider": "hoshi", "model": "h"}],
        },
        {
            "name": "chat-large",
            "route": {"provider": "atlas", "model": "a"},
            "fallbacks": [{"provider": "kumo", "model": "k"}],
        },
        {"name": "chat-cn", "route": {"provider": "longmen", "model": "l"}},
    ],
}


def _write(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "matrix.yaml"
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return path


def _check(
    path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str]:
    monkeypatch.setenv("K1", "x")
    monkeypatch.setenv("K2", "y")
    code = main(["matrix", "check", str(path)])
    out = capsys.readouterr()
    return code, out.out + out.err


def _mutated(**changes: object) -> dict[str, object]:
    doc = yaml.safe_load(yaml.safe_dump(GOOD))
    for path, value in changes.items():
        target = doc
        keys = path.split("__")
        for k in keys[:-1]:
            target = target[int(k)] if k.isdigit() else target[k]
        last = keys[-1]
        if value is None:
            del target[int(last) if last.isdigit() else last]
        elif last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value
    return doc


def test_valid_file_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = _check(_write(tmp_path, GOOD), capsys, monkeypatch)
    assert code == 0, out
    assert "valid (4 providers, 3 aliases, 0 warning(s)); sha256" in out


BAD = [
    (
        "unknown provider",
        _mutated(aliases__1__route__provider="nope"),
        "aliases[1].route.provider: unknown provider 'nope'",
    ),
    ("duplicate alias", _mutated(aliases__2__name="chat-jp"), "duplicate alias 'chat-jp'"),
    ("duplicate provider id", _mutated(providers__1__id="kumo"), "duplicate provider id 'kumo'"),
    (
        "unknown kind",
        _mutated(providers__0__kind="gemini"),
        "providers[0].kind: unknown kind 'gemini'",
    ),
    (
        "China-gated fallback",
        _mutated(aliases__1__fallbacks=[{"provider": "longmen", "model": "l"}]),
        "China-gated provider 'longmen' may never be a fallback",
    ),
    (
        "primary lacks alias sovereignty",
        _mutated(aliases__0__route={"provider": "atlas", "model": "a"}),
        "alias requires jp_sovereign but its primary provider 'atlas' does not satisfy it",
    ),
    (
        "missing secret variable",
        _mutated(providers__1__api_key_env="NOT_SET_ANYWHERE"),
        "providers[1].api_key_env: environment variable NOT_SET_ANYWHERE is not set",
    ),
    ("missing field", _mutated(providers__2__base_url=None), "providers[2].base_url: is required"),
    (
        "wrong type",
        _mutated(providers__0__timeout_s="soon"),
        "providers[0].timeout_s: must be a positive",
    ),
    ("unknown field", _mutated(providers__0__colour="red"), "providers[0].colour: unknown field"),
    ("not a mapping", "- just\n- a list\n", "must be a YAML mapping"),
    ("not YAML", "providers: [\n  {id: x\n", "not valid YAML"),
]


@pytest.mark.parametrize(("case", "doc", "expected"), BAD, ids=[b[0] for b in BAD])
def test_invalid_file_exits_2_with_reason(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    doc: object,
    expected: str,
) -> None:
    code, out = _check(_write(tmp_path, doc), capsys, monkeypatch)
    assert code == 2, out
    assert expected in out
    assert "Traceback" not in out


def test_every_problem_is_reported_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = _mutated(providers__0__kind="gemini", aliases__1__route__provider="nope")
    code, out = _check(_write(tmp_path, doc), capsys, monkeypatch)
    assert code == 2 and "unknown kind" in out and "unknown provider 'nope'" in out


def test_unusable_fallback_is_a_warning_not_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = _mutated(aliases__0__fallbacks=[{"provider": "atlas", "model": "a"}])
    code, out = _check(_write(tmp_path, doc), capsys, monkeypatch)
    assert code == 0
    assert (
        "warning: aliases[0].fallbacks[0].provider" in out and "no request can ever use it" in out
    )


def test_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = _check(tmp_path / "absent.yaml", capsys, monkeypatch)
    assert code == 2 and "cannot read file" in out


def test_real_command_line_never_shows_a_traceback(tmp_path: Path) -> None:
    path = _write(tmp_path, "aliases: 7\n")
    proc = subprocess.run(
        [sys.executable, "-m", "sekisho.cli.main", "matrix", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "providers: must be a non-empty list" in proc.stdout
