"""sekisho evidence get | list: recorded bundles (the snapshot a security suspension took, ...).

`export` and `verify` live with the lifecycle commands; this module adds to
the same `evidence` command group.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sekisho.cli.context import CliContext, CommandError
from sekisho.evidence.bundle import BundleError, BundleExists, write_evidence_file
from sekisho.evidence.store import BundleNotFound, bundle_bytes, list_bundles


def register(esub: Any, common: argparse.ArgumentParser) -> None:
    """Add `get` and `list` to the `evidence` subcommands."""
    p = esub.add_parser(
        "get",
        parents=[common],
        help="write a recorded bundle (e.g. a suspension snapshot) to a file; prints its SHA-256",
    )
    p.add_argument("bundle_id", metavar="ID", help="the bundle id (evb_...)")
    p.add_argument("--out", required=True, metavar="PATH", help="the file (tar) to write")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.set_defaults(handler=get_cmd)

    p = esub.add_parser("list", parents=[common], help="recorded bundles, newest first")
    p.add_argument("--tenant", metavar="TENANT", help="tenant id or name")
    p.add_argument(
        "--purpose", choices=("export", "suspension_snapshot", "incident"), help="only these"
    )
    p.set_defaults(handler=list_cmd)


def get_cmd(ctx: CliContext) -> int:
    a = ctx.args
    try:
        with ctx.db.read() as session:
            summary, data = bundle_bytes(session, a.bundle_id)
        write_evidence_file(Path(a.out), data, force=a.force)
    except BundleNotFound as exc:
        raise CommandError(str(exc)) from exc
    except BundleError as exc:
        raise CommandError(str(exc), code=2 if isinstance(exc, BundleExists) else 1) from exc
    print(
        f"wrote {a.out}: {summary.purpose} bundle {summary.id} "
        f"({summary.records} record(s), {summary.window_from} to {summary.window_to})"
    )
    print(summary.sha256)
    return 0


def list_cmd(ctx: CliContext) -> int:
    a = ctx.args
    with ctx.db.read() as session:
        tenant_id = None
        if a.tenant:
            from sekisho.tenancy.service import find_tenant

            tenant_id = find_tenant(session, a.tenant).id
        rows = list_bundles(session, tenant_id=tenant_id, purpose=a.purpose)
    if not rows:
        print("no evidence bundles recorded")
        return 0
    for b in rows:
        scope = b.tenant_id or b.alias or "-"
        kept = "fetchable" if b.fetchable else "file only"
        print(
            f"{b.id}  {b.purpose:<19} {scope:<24} {b.records:>6} rows  "
            f"{b.created_at[:19]}  {kept}  sha256 {b.sha256}"
        )
    return 0
