"""ledger verify | export | prove | checkpoint | public-key."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sekisho.cli.context import CliContext
from sekisho.ledger import commands
from sekisho.ledger.entry import PLATFORM_LEDGER
from sekisho.settings import config_path_from_env


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    ledger = sub.add_parser("ledger", help="the audit ledger: verify, export, prove, checkpoint")
    lsub = ledger.add_subparsers(dest="ledger_command", metavar="ACTION")
    lsub.required = True

    p = lsub.add_parser(
        "verify",
        parents=[common],
        help="recompute chains, trees and checkpoint signatures; "
        "with --export, offline (no database, no config)",
    )
    p.add_argument("--export", metavar="FILE", help="verify an export file offline")
    p.add_argument("--public-key", metavar="KEY", help="the checkpoint key you trust")
    p.add_argument(
        "--against",
        metavar="FILE",
        action="append",
        default=[],
        help="another export or checkpoint note to check consistency with (repeatable)",
    )
    p.set_defaults(handler=verify)

    p = lsub.add_parser(
        "export", parents=[common], help="write every entry, checkpoint and the key"
    )
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument(
        "--ledger",
        action="append",
        metavar="NAME",
        help="only this ledger (repeatable; default: all)",
    )
    p.set_defaults(handler=export)

    p = lsub.add_parser(
        "prove", parents=[common], help="inclusion proof of entry SEQ against the latest checkpoint"
    )
    p.add_argument("seq", type=int)
    p.add_argument(
        "--ledger",
        default=PLATFORM_LEDGER,
        metavar="NAME",
        help=f"which ledger (default {PLATFORM_LEDGER}; tenants: tenant:<id>)",
    )
    p.set_defaults(handler=prove)

    p = lsub.add_parser("checkpoint", parents=[common], help="sign checkpoints now")
    p.set_defaults(handler=checkpoint)

    p = lsub.add_parser("public-key", parents=[common], help="print the checkpoint verifier key")
    p.set_defaults(handler=public_key)


def _emit(out: commands.CommandOutput) -> int:
    stream = sys.stdout if out.exit_code == 0 else sys.stderr
    if out.exit_code != 0 and "\n" in out.text:
        print(out.text)  # a verification report: the full story on stdout,
        first_bad = next(
            (ln for ln in out.text.splitlines() if "FAIL" in ln or "error" in ln),
            out.text.splitlines()[-1],
        )
        print(f"sekisho: {first_bad.strip()}", file=sys.stderr)  # and one line on stderr
        return out.exit_code
    print(out.text, file=stream)
    return out.exit_code


def verify(ctx: CliContext) -> int:
    a = ctx.args
    has_config = config_path_from_env(getattr(a, "config", None)) is not None
    settings = None if a.export is not None or not has_config else ctx.settings
    return _emit(
        commands.ledger_verify(
            settings, export=a.export, public_key=a.public_key, against=a.against
        )
    )


def export(ctx: CliContext) -> int:
    return _emit(commands.ledger_export(ctx.settings, ctx.args.out, ctx.args.ledger))


def prove(ctx: CliContext) -> int:
    return _emit(commands.ledger_prove(ctx.settings, ctx.args.seq, ctx.args.ledger))


def checkpoint(ctx: CliContext) -> int:
    return _emit(commands.ledger_checkpoint(ctx.settings))


def public_key(ctx: CliContext) -> int:
    return _emit(commands.ledger_public_key(ctx.settings))
