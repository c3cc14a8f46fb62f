"""Options every command shares; light enough for `sekisho --help` to import."""

from __future__ import annotations

import argparse


def add_operator_option(parser: argparse.ArgumentParser) -> None:
    """`--as EMAIL` on every command (the common parent parser)."""
    parser.add_argument(
        "--as",
        dest="operator",
        metavar="EMAIL",
        help="the platform user this command acts as (default: $SEKISHO_OPERATOR)",
    )
