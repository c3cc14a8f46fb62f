"""`sekisho` — the command line. Builds settings, then calls into the services.

Contract (DESIGN.md): a command that creates something prints its id or
secret as the last line of standard output; a failure exits non-zero with a
one-line reason on standard error. Every command takes `--config FILE`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from sekisho.cli import (
    alias_cmds,
    core_cmds,
    incident_cmds,
    ledger_cmds,
    lifecycle_cmds,
    observe_cmds,
    tenancy_cmds,
    usage_cmds,
)
from sekisho.cli.context import CliContext, CommandError
from sekisho.tenancy.service import ControlPlaneError

Handler = Callable[[CliContext], int | None]
MODULES = (
    core_cmds,
    tenancy_cmds,
    lifecycle_cmds,
    alias_cmds,
    ledger_cmds,
    observe_cmds,
    incident_cmds,
    usage_cmds,
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"sekisho: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sekisho", description="Sekisho: sovereignty-aware LLM gateway")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", help="config file (default: $SEKISHO_CONFIG)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for module in MODULES:
        module.register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    ctx = CliContext(args)
    try:
        return handler(ctx) or 0
    except (CommandError, ControlPlaneError) as exc:
        print(f"sekisho: {exc}", file=sys.stderr)
        return getattr(exc, "code", 1)
    except KeyboardInterrupt:
        return 130
    finally:
        ctx.close()


if __name__ == "__main__":
    sys.exit(main())
