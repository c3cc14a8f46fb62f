"""Runbooks as checklists, read from the same Markdown the docs publish (`docs/runbooks/`).

A step is a numbered item whose text starts in bold (`1. **Confirm the spike.**`);
the bold part is the step's title, the rest of the item its guidance. Pure
parsing; the location of the docs is found once, next to the package source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

RUNBOOKS = {"provider-outage": "alias", "tenant-suspension": "tenant"}
_STEP = re.compile(r"^(\d+)\.\s+\*\*(.+?)\*\*(.*?)(?=^\d+\.\s+\*\*|^#|\Z)", re.S | re.M)
_TITLE = re.compile(r"^#\s+(.+)$", re.M)


@dataclass(frozen=True, slots=True)
class Step:
    number: int
    title: str
    guidance: str  # the prose, whole sentences
    commands: tuple[str, ...] = ()  # the step's shell examples, as the docs write them


@dataclass(frozen=True, slots=True)
class Runbook:
    name: str
    title: str
    subject: str  # what a run is started from: "alias" | "tenant"
    steps: tuple[Step, ...]


_FENCE = re.compile(r"```[a-z]*\n(.*?)```", re.S)
GUIDANCE_MAX = 600


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("`", "")).strip()


def _sentences(text: str, limit: int = GUIDANCE_MAX) -> str:
    """At most `limit` characters of whole sentences (a long one is cut at a word, with …)."""
    if len(text) <= limit:
        return text
    cut = text.rfind(". ", 0, limit)
    if cut > 0:
        return text[: cut + 1]
    return text[: text.rfind(" ", 0, limit)] + " …"


def _step(number: str, title: str, rest: str) -> Step:
    commands = tuple(
        line.strip()
        for block in _FENCE.findall(rest)
        for line in block.splitlines()
        if line.strip()
    )
    prose = _FENCE.sub(" (the CLI commands below) ", rest)
    return Step(int(number), _flat(title).rstrip("."), _sentences(_flat(prose)), commands)


def parse_runbook(name: str, text: str) -> Runbook:
    """The checklist of one runbook's Markdown (pure)."""
    title = _TITLE.search(text)
    body = text.split("\n## In the console", 1)[0]
    steps = tuple(_step(m.group(1), m.group(2), m.group(3)) for m in _STEP.finditer(body))
    return Runbook(name, title.group(1).strip() if title else name, RUNBOOKS[name], steps)


def runbooks_dir() -> Path | None:
    """`docs/runbooks` of the source checkout the package runs from, if present."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "docs" / "runbooks"
        if candidate.is_dir():
            return candidate
    return None


def load_runbooks(folder: Path | None = None) -> dict[str, Runbook]:
    folder = folder or runbooks_dir()
    if folder is None:
        return {}
    out: dict[str, Runbook] = {}
    for name in RUNBOOKS:
        path = folder / f"{name}.md"
        if path.is_file():
            out[name] = parse_runbook(name, path.read_text(encoding="utf-8"))
    return out
