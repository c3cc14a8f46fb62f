"""Docs are tested: every setting, error code and CLI command is documented."""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import BaseModel

from sekisho.cli.main import build_parser
from sekisho.errors import ERROR_TABLE
from sekisho.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"
INTERNAL_FIELDS = {"config_path", "matrix", "secrets"}


def _setting_names(model: type[BaseModel], prefix: str = "") -> list[str]:
    names: list[str] = []
    for name, field in model.model_fields.items():
        if not prefix and name in INTERNAL_FIELDS:
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += _setting_names(annotation, f"{prefix}{name}.")
        else:
            names.append(prefix + name)
    return names


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [n for n in _setting_names(Settings) if f"`{n}`" not in text
               and f"`{n}.*`" not in text]
    assert not missing, f"undocumented settings: {missing}"


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
