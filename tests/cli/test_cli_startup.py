"""The CLI starts fast: `sekisho --help` imports no heavy module, and lazy loading changes no help text."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import pytest

from sekisho.cli.main import COMMANDS, build_parser, parser_for
from tests.support.cli import SEKISHO

HEAVY = (
    "sqlalchemy",
    "starlette",
    "fastapi",
    "openai",
    "uvicorn",
    "aiohttp",
    "pydantic",
    "alembic",
    "yaml",
)


def _imported_by(*argv: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "sekisho.cli.main", *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def test_help_imports_no_heavy_module() -> None:
    imported = _imported_by("--help")
    heavy = sorted(n for n in imported if n.split(".")[0] in HEAVY)
    assert not heavy, heavy


def test_help_is_quick() -> None:
    best = min(_timed_help() for _ in range(3))
    print(f"\nsekisho --help: {best * 1000:.0f} ms (best of 3)")
    assert best < 1.0


def _timed_help() -> float:
    started = time.monotonic()
    proc = subprocess.run([SEKISHO, "--help"], capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0 and "COMMAND" in proc.stdout
    return elapsed


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _tree(parser: argparse.ArgumentParser, path: str = "sekisho") -> dict[str, str]:
    """Every parser's help text in the tree, by command path."""
    found = {path: parser.format_help()}
    for name, sub in _subparsers(parser).items():
        found.update(_tree(sub, f"{path} {name}"))
    return found


def test_commands_table_matches_what_the_modules_register() -> None:
    full = build_parser()
    registered = _subparsers(full)
    assert list(registered) == list(COMMANDS), "add new commands to COMMANDS in cli/main.py"
    helps = {
        a.dest: a.help
        for a in next(
            a for a in full._actions if isinstance(a, argparse._SubParsersAction)
        )._choices_actions
    }
    assert helps == {name: help_text for name, (help_text, _) in COMMANDS.items()}


def test_top_level_help_is_unchanged_by_lazy_loading() -> None:
    assert parser_for(["--help"]).format_help() == build_parser().format_help()


@pytest.mark.parametrize("command", list(COMMANDS))
def test_each_command_tree_is_unchanged_by_lazy_loading(command: str) -> None:
    full = _tree(_subparsers(build_parser())[command], f"sekisho {command}")
    lazy = _tree(_subparsers(parser_for([command]))[command], f"sekisho {command}")
    assert lazy == full
