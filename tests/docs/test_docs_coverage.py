"""Docs are tested: every setting, error code and CLI command is documented."""

from __future__ import annotations

import argparse
from pathlib import Path

from sekisho.cli.main import build_parser
from sekisho.errors import ERROR_TABLE

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_setting_has_help_text() -> None:
    from sekisho.docgen import settings_reference

    empty = [
        ln
        for ln in settings_reference().splitlines()
        if ln.startswith("| `") and ln.rstrip().endswith("|  |")
    ]
    assert not empty, f"settings without a description: {empty}"


def test_generated_reference_pages_are_current() -> None:
    from sekisho.docgen import PAGES

    stale = [name for name, build in PAGES.items() if (DOCS / name).read_text() != build()]
    assert not stale, f"run `python -m sekisho.docgen`: {stale} are out of date"


def test_every_error_code_is_documented() -> None:
    text = (DOCS / "api.md").read_text()
    missing = [code for code in ERROR_TABLE if f"`{code}`" not in text]
    assert not missing, f"undocumented error codes: {missing}"


def _commands(parser: argparse.ArgumentParser, prefix: str = "sekisho") -> list[str]:
    found: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                path = f"{prefix} {name}"
                children = _commands(sub, path)
                found += children or [path]
    return found


def test_every_cli_command_is_documented() -> None:
    text = (DOCS / "cli.md").read_text()
    missing = [c for c in _commands(build_parser()) if f"`{c}" not in text]
    assert not missing, f"undocumented commands: {missing}"
