"""Run a runbook's command blocks, in document order, as an operator would type them.

The conventions (documented in docs/runbooks/README.md):

- Every fenced ```sh block is commands, run in order; anything else (```text, prose) is not.
  One command per line; `\\` continues a line; blank lines and `# ...` lines are skipped.
- `export NAME=VALUE` sets NAME for the following commands, as in a shell session.
- A trailing `# -> NAME` on a command captures the last line of its stdout as `$NAME` for
  the following commands (the CLI prints created ids and secrets as its last line).
- Each command runs in `bash -c` with `set -euo pipefail`: a command that exits non-zero,
  or a placeholder used before the step that creates it, fails the run.
- A block belongs to the numbered step (`7. **...**`) above it; the test may run a hook
  before a step (to wait on state, or to inject a fault into the simulator: test setup,
  never a runbook command).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

FENCE = re.compile(r"^([ \t]*)```(\w*)[^\n]*\n(.*?)^[ \t]*```", re.S | re.M)
STEP = re.compile(r"^(\d+)\.\s", re.M)
CAPTURE = re.compile(r"\s+#\s*->\s*\$?([A-Z][A-Z0-9_]*)\s*$")
EXPORT = re.compile(r"^export\s+([A-Z][A-Z0-9_]*)=(.*)$")


@dataclass(frozen=True)
class Command:
    step: int  # the numbered step of the runbook it belongs to (0: before any)
    line: int  # 1-based line in the document
    text: str  # the command as a shell line, capture comment removed
    capture: str | None = None


class RunbookFailed(AssertionError):
    """A command of the runbook did not run as written."""


def parse(markdown: str) -> list[Command]:
    """The commands of every ```sh block, in document order."""
    steps = [(m.start(), int(m.group(1))) for m in STEP.finditer(markdown)]
    commands: list[Command] = []
    for block in FENCE.finditer(markdown):
        if block.group(2) != "sh":
            continue
        step = max((n for pos, n in steps if pos < block.start()), default=0)
        first = markdown.count("\n", 0, block.start(3)) + 1
        pending: list[str] = []
        start = first
        for offset, raw in enumerate(block.group(3).splitlines()):
            line = raw.strip()
            if not pending:
                start = first + offset
                if not line or line.startswith("#"):
                    continue
            if line.endswith("\\"):
                pending.append(line[:-1].strip())
                continue
            pending.append(line)
            text = " ".join(pending)
            pending = []
            capture = None
            m = CAPTURE.search(text)
            if m:
                capture, text = m.group(1), text[: m.start()]
            commands.append(Command(step, start, text, capture))
        if pending:
            raise RunbookFailed(f"line {start}: a `\\` continuation runs off the block")
    return commands


@dataclass
class Transcript:
    env: dict[str, str]
    outputs: list[tuple[Command, str]] = field(default_factory=list)

    def output_of(self, fragment: str) -> str:
        """The stdout of the (last) command containing `fragment`."""
        found = [out for cmd, out in self.outputs if fragment in cmd.text]
        assert found, f"no command containing {fragment!r} ran"
        return found[-1]


def run(
    commands: list[Command],
    *,
    env: Mapping[str, str],
    cwd: Path,
    before_step: Mapping[int, Callable[[Transcript], None]] | None = None,
    timeout: float = 20,
) -> Transcript:
    """Run the commands in order; raise RunbookFailed at the first that does not run."""
    transcript = Transcript(dict(env))
    hooks = dict(before_step or {})
    done: set[int] = set()
    for cmd in commands:
        for step in sorted(hooks):
            if step <= cmd.step and step not in done:
                done.add(step)
                hooks[step](transcript)
        where = f"line {cmd.line} (step {cmd.step}): {cmd.text}"
        m = EXPORT.match(cmd.text)
        if m:
            values = shlex.split(m.group(2))
            if len(values) != 1:
                raise RunbookFailed(f"{where}\n  export takes one value")
            transcript.env[m.group(1)] = values[0]
            transcript.outputs.append((cmd, ""))
            continue
        print(f"$ {cmd.text}", flush=True)  # shown by pytest when the test fails
        started = time.monotonic()
        try:
            proc = subprocess.run(
                ["bash", "-c", "set -euo pipefail\n" + cmd.text],
                cwd=cwd,
                env=transcript.env,
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise RunbookFailed(f"{where}\n  did not finish in {timeout:.0f}s") from exc
        if proc.returncode != 0:
            raise RunbookFailed(
                f"{where}\n  exit {proc.returncode}\n  stdout: {proc.stdout.strip()[-800:]}"
                f"\n  stderr: {proc.stderr.strip()[-800:]}"
            )
        print(f"  ({time.monotonic() - started:.1f}s) {proc.stdout.strip()[-300:]}", flush=True)
        transcript.outputs.append((cmd, proc.stdout))
        if cmd.capture:
            lines = proc.stdout.strip().splitlines()
            if not lines:
                raise RunbookFailed(f"{where}\n  printed nothing to capture as ${cmd.capture}")
            transcript.env[cmd.capture] = lines[-1].strip()
    for step in sorted(set(hooks) - done):
        hooks[step](transcript)
    return transcript
