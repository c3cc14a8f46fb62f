"""serve, migrate, matrix check, simulator, demo."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sekisho.cli.context import CliContext, CommandError
from sekisho.matrix import load_matrix_file
from sekisho.settings import environment


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("serve", parents=[common], help="run the gateway")
    p.add_argument("--host", help="bind address (default: listen.host of the config)")
    p.add_argument("--port", type=int, help="bind port (default: listen.port of the config)")
    p.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N",
        help="processes on the one port, each a replica (default 1; at most 64)",
    )
    p.set_defaults(handler=serve)

    p = sub.add_parser("migrate", parents=[common], help="bring the database schema up to date")
    p.set_defaults(handler=migrate_cmd)

    p = sub.add_parser("matrix", help="provider matrix tools")
    msub = p.add_subparsers(dest="matrix_command", metavar="ACTION")
    msub.required = True
    c = msub.add_parser("check", parents=[common], help="validate a matrix or config file")
    c.add_argument("file", type=Path, help="a matrix file, or a config file holding the matrix")
    c.set_defaults(handler=matrix_check)

    p = sub.add_parser("simulator", parents=[common], help="run the provider simulator")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9100)
    p.set_defaults(handler=simulator)

    p = sub.add_parser("demo", parents=[common], help="one-command demo on 127.0.0.1:8080")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--state-dir", default=".sekisho", help="where the demo keeps its SQLite file")
    p.add_argument("--no-serve", action="store_true", help="prepare everything, then exit")
    p.set_defaults(handler=demo)


def matrix_check(ctx: CliContext) -> int:
    check = load_matrix_file(ctx.args.file, environment())
    for problem in check.problems:
        print(str(problem))
    if not check.ok:
        print(f"{ctx.args.file}: invalid ({len(check.errors)} error(s))")
        return 2
    assert check.matrix is not None
    m = check.matrix
    print(
        f"{ctx.args.file}: valid ({len(m.providers)} providers, {len(m.aliases)} aliases, "
        f"{len(check.warnings)} warning(s)); sha256 {m.content_hash}"
    )
    return 0


def migrate_cmd(ctx: CliContext) -> int:
    from sekisho.store.migrate import migrate

    try:
        revision = migrate(ctx.db)
    except Exception as exc:
        raise CommandError(f"migration failed: {exc}") from exc
    print(f"database at revision {revision}")
    return 0


def serve(ctx: CliContext) -> int:
    from sekisho.serve import ServeError, run_server

    settings = ctx.settings
    try:
        return run_server(
            settings,
            host=ctx.args.host or settings.listen.host,
            port=ctx.args.port if ctx.args.port is not None else settings.listen.port,
            workers=ctx.args.workers,
        )
    except ServeError as exc:
        raise CommandError(str(exc)) from exc


def _workers(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers from 1 to 64")
    return int(text)


def simulator(ctx: CliContext) -> int:
    from sekisho.simulator import run_simulator

    run_simulator(ctx.args.host, ctx.args.port)
    return 0


def demo(ctx: CliContext) -> int:
    from sekisho.demo import run_demo
    from sekisho.serve import ServeError

    try:
        return run_demo(Path(ctx.args.state_dir), port=ctx.args.port, serve=not ctx.args.no_serve)
    except ServeError as exc:
        raise CommandError(str(exc)) from exc
