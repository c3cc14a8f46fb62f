"""The JSONL export format: writing lines and parsing them back, strictly.

    {"type": "header", "format": "sekisho-ledger-export", "version": 2, "origin": ...,
     "public_key": <note verifier key>, "exported_at": ..., "complete": true|false,
     "ledgers": [names]}
    {"type": "entry", "ledger": ..., "seq": n, "leaf_hash": hex, "body": <exact body as a string>,
     "sig": base64 Ed25519 entry signature | null}
    {"type": "checkpoint", "ledger": ..., "size": n, "root": hex, "created_at": ..., "note": ...}
    {"type": "end", "entries": n, "checkpoints": m, "seal": <signed note>}

A body is the canonical UTF-8 JSON that was hashed; carried as a JSON string
it decodes back to the very same bytes. Every export ends with a fresh signed
checkpoint of each ledger over every entry it holds, and the end line's seal
is a signed note over the SHA-256 of every byte before it and each ledger's
size and root, so a line removed from the end (entry and checkpoint alike)
is caught offline. Version 1 exports (no signatures, no seal) still parse.
Pure: no file access here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sekisho.ledger.entry import StoredEntry
from sekisho.ledger.verify import CheckpointRecord, LedgerData, Problem

__all__ = [
    "EXPORT_FORMAT",
    "ExportHeader",
    "ExportSeal",
    "ParsedExport",
    "checkpoint_line",
    "end_line",
    "entry_line",
    "header_line",
    "parse_export",
]

EXPORT_FORMAT = "sekisho-ledger-export"
EXPORT_VERSION = 2
SEAL_TITLE = "sekisho-ledger-export-seal"
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ExportHeader:
    """First line of an export."""

    origin: str
    public_key: str
    exported_at: str
    complete: bool
    ledgers: tuple[str, ...]


def _line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"


def header_line(header: ExportHeader) -> str:
    return _line(
        {
            "type": "header",
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "origin": header.origin,
            "public_key": header.public_key,
            "exported_at": header.exported_at,
            "complete": header.complete,
            "ledgers": list(header.ledgers),
        }
    )


def entry_line(ledger: str, entry: StoredEntry) -> str:
    leaf = entry.leaf_hash.hex() if entry.leaf_hash is not None else None
    return _line(
        {
            "type": "entry",
            "ledger": ledger,
            "seq": entry.seq,
            "leaf_hash": leaf,
            "body": entry.body.decode("utf-8"),
            "sig": base64.b64encode(entry.sig).decode() if entry.sig else None,
        }
    )


def checkpoint_line(cp: CheckpointRecord) -> str:
    created = cp.created_at.isoformat() if cp.created_at else None
    return _line(
        {
            "type": "checkpoint",
            "ledger": cp.ledger,
            "size": cp.size,
            "root": cp.root.hex(),
            "created_at": created,
            "note": cp.note,
        }
    )


@dataclass(frozen=True)
class ExportSeal:
    """What the end line's signed note states: the bytes before it and each ledger's tree."""

    origin: str
    exported_at: str
    sha256: str
    ledgers: tuple[tuple[str, int, bytes], ...]  # (name, size, root)

    def text(self) -> str:
        lines = [SEAL_TITLE, self.origin, self.exported_at, f"sha256 {self.sha256}"]
        lines += [f"{n} {size} {base64.b64encode(r).decode()}" for n, size, r in self.ledgers]
        return "".join(f"{line}\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> ExportSeal:
        """Parse seal text (signatures already removed); ValueError if malformed."""
        lines = text.split("\n")
        if len(lines) < 5 or lines[0] != SEAL_TITLE or lines[-1] != "":
            raise ValueError("the seal is not a sekisho export seal")
        digest = lines[3].removeprefix("sha256 ")
        if not _HEX64.fullmatch(digest):
            raise ValueError("the seal has no SHA-256 line")
        ledgers = []
        for line in lines[4:-1]:
            parts = line.split(" ")
            if len(parts) != 3 or not parts[1].isdigit():
                raise ValueError(f"the seal has a malformed ledger line {line!r}")
            try:
                root = base64.b64decode(parts[2], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ValueError("the seal has a malformed root") from exc
            ledgers.append((parts[0], int(parts[1]), root))
        return cls(lines[1], lines[2], digest, tuple(ledgers))


def end_line(entries: int, checkpoints: int, seal: str) -> str:
    """The last line; ``seal`` is the signed note of an `ExportSeal`."""
    return _line({"type": "end", "entries": entries, "checkpoints": checkpoints, "seal": seal})


@dataclass
class ParsedExport:
    """An export read back: header, per-ledger data and any line-level problems."""

    header: ExportHeader | None = None
    ledgers: dict[str, LedgerData] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    entries: int = 0
    checkpoints: int = 0
    version: int = EXPORT_VERSION
    seal: str | None = None  # the end line's signed note (version 2)
    sha256: str = ""  # of every byte before the end line


class _LineError(ValueError):
    pass


def parse_export(lines: Iterable[bytes]) -> ParsedExport:
    """Parse export lines (split on b"\\n" only); every malformed line is a numbered problem."""
    out = ParsedExport()
    entries: dict[str, list[StoredEntry]] = {}
    checkpoints: dict[str, list[CheckpointRecord]] = {}
    ended = False
    digest = hashlib.sha256()
    version = EXPORT_VERSION
    for number, line in enumerate(lines, start=1):
        try:
            obj = _object(line)
            if ended:
                raise _LineError("data after the end line")
            kind = obj.get("type")
            if kind != "end":
                digest.update(line + b"\n")
            if number == 1:
                out.header = _header(obj)
                version = out.version = obj["version"]
            elif kind == "entry":
                ledger, stored = _entry(obj, version)
                entries.setdefault(ledger, []).append(stored)
            elif kind == "checkpoint":
                cp = _checkpoint(obj)
                checkpoints.setdefault(cp.ledger, []).append(cp)
            elif kind == "end":
                ended = True
                out.sha256 = digest.hexdigest()
                out.seal = _check_end(
                    obj,
                    sum(map(len, entries.values())),
                    sum(map(len, checkpoints.values())),
                    version,
                )
            else:
                raise _LineError(f"unknown line type {kind!r}")
        except _LineError as exc:
            out.problems.append(Problem(None, None, f"export line {number}: {exc}"))
    if not ended:
        out.problems.append(Problem(None, None, "export has no end line (file truncated)"))
    names = list(out.header.ledgers) if out.header else []
    names += [n for n in [*entries, *checkpoints] if n not in names]
    for name in names:
        out.ledgers[name] = LedgerData(name, entries.get(name, []), checkpoints.get(name, []))
    out.entries = sum(map(len, entries.values()))
    out.checkpoints = sum(map(len, checkpoints.values()))
    return out


def _object(line: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _LineError("not valid UTF-8 (corrupted)") from exc
    except ValueError as exc:
        raise _LineError(f"not valid JSON (corrupted): {exc}") from exc
    if not isinstance(obj, dict):
        raise _LineError("not a JSON object")
    return obj


def _fields(obj: dict[str, Any], **types: type | tuple[type, ...]) -> None:
    if set(obj) != {"type", *types}:
        raise _LineError(f"{obj.get('type')} line has fields {sorted(obj)}")
    for key, want in types.items():
        value = obj[key]
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise _LineError(f"{key} has the wrong type")


def _header(obj: dict[str, Any]) -> ExportHeader:
    if obj.get("type") != "header" or obj.get("format") != EXPORT_FORMAT:
        raise _LineError("first line is not a sekisho ledger export header")
    if obj.get("version") not in (1, EXPORT_VERSION):
        raise _LineError(f"unsupported export version {obj.get('version')!r}")
    _fields(
        obj,
        format=str,
        version=int,
        origin=str,
        public_key=str,
        exported_at=str,
        complete=bool,
        ledgers=list,
    )
    if not all(isinstance(n, str) for n in obj["ledgers"]):
        raise _LineError("ledgers must be names")
    return ExportHeader(
        obj["origin"], obj["public_key"], obj["exported_at"], obj["complete"], tuple(obj["ledgers"])
    )


def _hash(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise _LineError(f"{what} is not a lowercase hex SHA-256")
    return bytes.fromhex(value)


def _entry(obj: dict[str, Any], version: int) -> tuple[str, StoredEntry]:
    if version == 1:
        _fields(obj, ledger=str, seq=int, leaf_hash=str, body=str)
    else:
        _fields(obj, ledger=str, seq=int, leaf_hash=str, body=str, sig=(str, type(None)))
    try:
        body = obj["body"].encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _LineError("body is not valid UTF-8") from exc
    sig = None
    if obj.get("sig") is not None:
        try:
            sig = base64.b64decode(obj["sig"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _LineError("sig is not valid base64") from exc
    leaf = _hash(obj["leaf_hash"], "leaf_hash")
    return obj["ledger"], StoredEntry(obj["seq"], body, leaf, sig=sig)


def _checkpoint(obj: dict[str, Any]) -> CheckpointRecord:
    _fields(obj, ledger=str, size=int, root=str, created_at=(str, type(None)), note=str)
    created = None
    if obj["created_at"] is not None:
        try:
            created = datetime.fromisoformat(obj["created_at"])
        except ValueError as exc:
            raise _LineError("created_at is not ISO 8601") from exc
    return CheckpointRecord(
        obj["ledger"], obj["size"], _hash(obj["root"], "root"), obj["note"], created
    )


def _check_end(obj: dict[str, Any], entries: int, checkpoints: int, version: int) -> str | None:
    if version == 1:
        _fields(obj, entries=int, checkpoints=int)
    else:
        _fields(obj, entries=int, checkpoints=int, seal=str)
    if (obj["entries"], obj["checkpoints"]) != (entries, checkpoints):
        raise _LineError(
            f"end line counts {obj['entries']} entries and {obj['checkpoints']} checkpoints, "
            f"file holds {entries} and {checkpoints} (lines lost or added)"
        )
    seal = obj.get("seal")
    return seal if isinstance(seal, str) else None
