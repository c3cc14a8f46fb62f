"""Every `sekisho ...` command shown in docs/ parses with the real CLI parser.

Commands are taken from fenced code blocks (lines starting with `sekisho`,
`$ sekisho` or a path ending in `/sekisho`, with `\\` continuations joined,
trailing `# comments` dropped, and only the first command of a `|` pipe).
Synopsis notation is read as meant: `[--json]` is an option that may be
given, `$VAR` a value. A line that elides arguments with `...` is checked
for its command path and option names only.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from sekisho.cli.main import build_parser

DOCS = Path(__file__).resolve().parents[2] / "docs"
FENCE = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", re.S | re.M)
START = re.compile(r"^(?:\$\s+)?(?:\S*/)?sekisho(?:\s|$)")


def _commands(text: str) -> list[str]:
    found = []
    for block in FENCE.findall(text):
        lines = block.replace("\\\n", " ").splitlines()
        for line in lines:
            line = line.strip()
            m = START.match(line)
            if not m:
                continue
            found.append(line[m.start() :])
    return found


def _tokens(line: str) -> list[str]:
    line = re.sub(r"^(?:\$\s+)?(?:\S*/)?sekisho", "", line)
    lexer = shlex.shlex(line, posix=True, punctuation_chars="|")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    tokens: list[str] = []
    for token in lexer:
        if token.startswith("|"):
            break
        tokens.append(token)
    # Synopsis brackets: [--json] -> --json; [--opt X] -> --opt X.
    return [t.removeprefix("[").removesuffix("]") for t in tokens if t not in ("[", "]")]


def _all_docs() -> list[tuple[str, str]]:
    return [
        (f"{p.relative_to(DOCS)}: sekisho {' '.join(_tokens(c))}", c)
        for p in sorted(DOCS.rglob("*.md"))
        for c in _commands(p.read_text())
    ]


def _subparser(
    parser: argparse.ArgumentParser, path: list[str]
) -> tuple[argparse.ArgumentParser, list[str]]:
    """Walk subcommands; return the deepest parser and the tokens left."""
    while path:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or path[0] not in subs[0].choices:
            break
        parser, path = subs[0].choices[path[0]], path[1:]
    return parser, path


def _parse_error(tokens: list[str]) -> str | None:
    parser = build_parser()
    if "..." in tokens:  # an elided synopsis: the command and its option names must exist
        sub, rest = _subparser(parser, [t for t in tokens if t != "..."])
        if sub is parser or any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
            return "no such command"
        known = {o for a in sub._actions for o in a.option_strings}
        unknown = [t for t in rest if t.startswith("--") and t.split("=")[0] not in known]
        return f"unknown options {unknown}" if unknown else None
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(tokens)
    except SystemExit as exc:
        return None if exc.code == 0 else err.getvalue().strip()
    return None


def test_docs_show_commands() -> None:
    shown = _all_docs()
    assert len(shown) > 30
    runbook = (DOCS / "runbooks" / "provider-outage.md").read_text()
    assert {"triage", "report", "incident", "alias"} <= {_tokens(c)[0] for c in _commands(runbook)}


@pytest.mark.parametrize("label, line", _all_docs(), ids=[label for label, _ in _all_docs()])
def test_documented_command_parses(label: str, line: str) -> None:
    problem = _parse_error(_tokens(line))
    assert problem is None, f"{label}\n  {problem}"


def test_the_checker_catches_drift() -> None:
    assert _parse_error(_tokens("sekisho incident opne --title x")) is not None
    assert _parse_error(_tokens("sekisho report --alias a --sinse 1h")) is not None
    assert _parse_error(_tokens("sekisho tenant offboard acme ... --complete")) is None
    assert _parse_error(_tokens("sekisho tenant offboard acme ... --finish")) is not None
    assert _tokens("sekisho key list acme | key rotate KEY") == ["key", "list", "acme"]
    assert _tokens("sekisho tenant show acme [--json]  # comment") == [
        "tenant",
        "show",
        "acme",
        "--json",
    ]
