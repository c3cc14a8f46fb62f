"""The ledger's signing key on disk: created on first use, readable by its owner only."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from sekisho.ledger.note import NoteError, NoteSigner

__all__ = ["KeyFileError", "load_or_create_signing_key"]


class KeyFileError(Exception):
    """The signing key file cannot be created or read safely."""


def load_or_create_signing_key(path: str | os.PathLike[str], name: str) -> NoteSigner:
    """Load the Ed25519 signer key at ``path``, creating it (mode 0600) if missing.

    ``name`` is the key name used when the file is created; an existing file
    keeps the name it was created with.
    """
    target = Path(path).expanduser()
    if not target.exists():
        _create(target, NoteSigner.generate(name))
    mode = target.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"{target} is readable by others (mode {oct(mode & 0o777)}); chmod 600 it"
        )
    try:
        return NoteSigner.parse(target.read_text(encoding="ascii"))
    except (NoteError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"{target} is not a signer key: {exc}") from exc


def _create(target: Path, signer: NoteSigner) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # in case a stale temp file had looser bits
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(signer.encode() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        # link() never replaces: if another process won the race, keep its key.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
