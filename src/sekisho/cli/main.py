"""`sekisho` — the command line. Builds settings, then calls into the services.

Contract (DESIGN.md): a command that creates something prints its id or
secret as the last line of standard output; a failure exits non-zero with a
one-line reason on standard error. Every command takes `--config FILE`.

Start-up is lazy: the command modules import the services they call (the
store, the HTTP stack), so `main` imports only the modules of the command it
runs. `COMMANDS` names each top-level command, its help line and the modules
that register it; `sekisho --help` is drawn from it without importing any.
tests/cli/test_cli_startup.py checks that it matches what the modules register.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Iterable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sekisho.cli.context import CliContext

from sekisho.cli.options import add_operator_option

Handler = Callable[["CliContext"], int | None]

# Registration order; a module may extend a command an earlier one created.
MODULE_NAMES = (
    "core_cmds",
    "tenancy_cmds",
    "lifecycle_cmds",
    "alias_cmds",
    "ledger_cmds",
    "observe_cmds",
    "incident_cmds",
    "guardrail_cmds",
    "usage_cmds",
)

# Top-level command -> (help line, the modules that register or extend it).
_TENANCY = ("tenancy_cmds", "lifecycle_cmds", "guardrail_cmds", "usage_cmds")
COMMANDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "serve": ("run the gateway", ("core_cmds",)),
    "migrate": ("bring the database schema up to date", ("core_cmds",)),
    "matrix": ("provider matrix tools", ("core_cmds",)),
    "simulator": ("run the provider simulator", ("core_cmds",)),
    "demo": ("one-command demo on 127.0.0.1:8080", ("core_cmds",)),
    "tenant": ("tenants", _TENANCY),
    "user": ("users", _TENANCY),
    "key": ("API keys", _TENANCY),
    "token": ("operator tokens for the admin API", _TENANCY),
    "evidence": ("evidence bundles", _TENANCY),
    "alias": ("alias overrides and routing view", ("alias_cmds",)),
    "ledger": ("the audit ledger: verify, export, prove, checkpoint", ("ledger_cmds",)),
    "report": (
        "request-log series by alias (or tenant, or provider) as a table",
        ("observe_cmds",),
    ),
    "triage": ("upstream or us? probes and live traffic for one alias", ("observe_cmds",)),
    "alerts": ("spike alerts (firing ones by default)", ("observe_cmds",)),
    "probes": ("synthetic probe results (last hour)", ("observe_cmds",)),
    "rollup": ("the request-log rollup behind dashboards", ("observe_cmds",)),
    "incident": ("incidents: timeline, customer updates, resolution", ("incident_cmds",)),
    "notify": ("the notification outbox (e-mail and webhook)", ("observe_cmds",)),
    "usage": ("metered requests and tokens per tenant, key, alias, day", ("usage_cmds",)),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"sekisho: error: {message} (see '{self.prog} --help')\n")


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"sekisho.cli.{name}")


def _parser(modules: Iterable[str]) -> argparse.ArgumentParser:
    """The parser with `modules` registered and every other command as a one-line stub."""
    parser = _Parser(prog="sekisho", description="Sekisho: sovereignty-aware LLM gateway")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", help="config file (default: $SEKISHO_CONFIG)")
    add_operator_option(common)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    wanted = set(modules)
    for name in MODULE_NAMES:
        if name in wanted:
            _module(name).register(sub, common)
    registered = dict(sub.choices)
    # Keep the documented order: re-add the commands in COMMANDS order.
    sub._name_parser_map.clear()
    actions = {a.dest: a for a in sub._choices_actions}
    sub._choices_actions.clear()
    for command, (help_text, _) in COMMANDS.items():
        if command in registered:
            sub._name_parser_map[command] = registered[command]
            sub._choices_actions.append(actions[command])
        else:
            sub.add_parser(command, help=help_text)
    for command, found in registered.items():  # a command COMMANDS does not know yet
        if command not in sub._name_parser_map:
            sub._name_parser_map[command] = found
            sub._choices_actions.append(actions[command])
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree (every module imported): docs and tests use it."""
    return _parser(MODULE_NAMES)


def parser_for(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The parser `argv` needs: only the modules of its command are imported."""
    command = next((a for a in argv if not a.startswith("-")), None)
    if command is None:
        return _parser(())
    if command not in COMMANDS:
        return build_parser()  # unknown: let the full tree answer (maybe a new command)
    return _parser(COMMANDS[command][1])


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = parser_for(args_list).parse_args(args_list)
    handler: Handler = args.handler

    from sekisho.cli.context import CliContext, CommandError
    from sekisho.tenancy.service import ControlPlaneError

    ctx = CliContext(args)
    try:
        return handler(ctx) or 0
    except (CommandError, ControlPlaneError) as exc:
        print(f"sekisho: {exc}", file=sys.stderr)
        code: int = getattr(exc, "code", 1)
        return code
    except KeyboardInterrupt:
        return 130
    finally:
        ctx.close()


if __name__ == "__main__":
    sys.exit(main())
