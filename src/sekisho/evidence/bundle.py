"""The bundle format: building, writing, reading and verifying. No database."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

FORMAT = "sekisho-evidence/1"
MANIFEST = "manifest.json"


class BundleError(Exception):
    """A bundle cannot be built or read; the message says why."""


class BundleExists(BundleError):
    """The target file exists with other bytes; evidence is never overwritten."""


@dataclass(frozen=True, slots=True)
class EvidenceFilters:
    """Whose evidence: one tenant, one alias, or both."""

    tenant_id: str | None = None
    alias: str | None = None

    def __post_init__(self) -> None:
        if self.tenant_id is None and self.alias is None:
            raise BundleError("evidence needs a tenant or an alias")


@dataclass(frozen=True, slots=True)
class EvidenceWindow:
    """The half-open time window [start, end)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise BundleError("window bounds must be timezone-aware")
        if self.end <= self.start:
            raise BundleError("window end must be after its start")


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds: the one time format inside bundles."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def jsonl(rows: list[Mapping[str, Any]]) -> bytes:
    """Rows as JSON lines with sorted keys: identical rows give identical bytes."""
    return b"".join(orjson.dumps(row, option=orjson.OPT_SORT_KEYS) + b"\n" for row in rows)


@dataclass(frozen=True)
class Bundle:
    manifest: dict[str, Any]
    manifest_bytes: bytes
    files: dict[str, bytes]

    @property
    def sha256(self) -> str:
        """The bundle's hash: SHA-256 of its manifest, which hashes every file."""
        return sha256_hex(self.manifest_bytes)

    def tar_bytes(self) -> bytes:
        """The bundle as a deterministic tar: fixed order, owners, modes and times."""
        mtime = int(datetime.fromisoformat(self.manifest["window"]["to"]).timestamp())
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for name, data in [(MANIFEST, self.manifest_bytes), *sorted(self.files.items())]:
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(data), mtime, 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(data))
        return buf.getvalue()


def make_bundle(
    files: Mapping[str, bytes],
    filters: EvidenceFilters,
    window: EvidenceWindow,
    meta: Mapping[str, Any] | None = None,
) -> Bundle:
    """A bundle of the given files (JSONL or anything else) with its manifest.

    Reusable for any evidence (incidents add their own files and `meta`).
    """
    if MANIFEST in files:
        raise BundleError(f"{MANIFEST} is reserved")
    listed = []
    for name in sorted(files):
        if not name or "/" in name or name.startswith("."):
            raise BundleError(f"invalid bundle file name {name!r}")
        data = files[name]
        entry: dict[str, Any] = {"name": name, "sha256": sha256_hex(data), "bytes": len(data)}
        if name.endswith(".jsonl"):
            entry["records"] = data.count(b"\n")
        listed.append(entry)
    manifest = {
        "format": FORMAT,
        "filters": {"tenant": filters.tenant_id, "alias": filters.alias},
        "window": {"from": format_time(window.start), "to": format_time(window.end)},
        "files": listed,
        "meta": dict(meta or {}),
    }
    raw = orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"
    return Bundle(manifest=orjson.loads(raw), manifest_bytes=raw, files=dict(files))


def write_bundle(bundle: Bundle, path: Path | str, *, force: bool = False) -> Path:
    """Write the bundle's tar to `path` atomically; returns the path.

    An existing file is never replaced (BundleExists) unless it already holds
    exactly these bytes (then nothing is written) or ``force`` is set.
    """
    return write_evidence_file(Path(path), bundle.tar_bytes(), force=force)


def write_evidence_file(target: Path, data: bytes, *, force: bool = False) -> Path:
    """Write bundle bytes to ``target`` atomically, never replacing other bytes unless ``force``."""
    if not force and target.exists():
        if target.is_file() and target.read_bytes() == data:
            return target
        raise BundleExists(f"{target} exists; evidence is never overwritten (pass --force)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    try:
        if force:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)  # never replaces: a file that appeared meanwhile wins
            except FileExistsError as exc:
                raise BundleExists(f"{target} exists; evidence is never overwritten") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return target


def unused_path(directory: Path, stem: str, bundle: Bundle) -> Path:
    """``<stem>-<hash prefix>.tar`` in ``directory``: a new bundle gets a new name."""
    return directory / f"{stem}-{bundle.sha256[:12]}.tar"


def read_bundle(path: Path | str) -> Bundle:
    """Read a bundle tar back (without judging it: see `verify_bundle`)."""
    try:
        with tarfile.open(path, mode="r:") as tar:
            contents: dict[str, bytes] = {}
            for member in tar.getmembers():
                if not member.isfile():
                    raise BundleError(f"unexpected tar member {member.name!r}")
                handle = tar.extractfile(member)
                contents[member.name] = handle.read() if handle else b""
    except (OSError, tarfile.TarError) as exc:
        raise BundleError(f"{path}: not a readable bundle: {exc}") from exc
    raw = contents.pop(MANIFEST, None)
    if raw is None:
        raise BundleError(f"{path}: no {MANIFEST}")
    try:
        manifest = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BundleError(f"{path}: {MANIFEST} is not JSON") from exc
    if not isinstance(manifest, dict):
        raise BundleError(f"{path}: {MANIFEST} is not an object")
    return Bundle(manifest=manifest, manifest_bytes=raw, files=contents)


def verify_bundle(bundle: Bundle) -> list[str]:
    """Every way the files disagree with the manifest; empty when the bundle is intact."""
    problems: list[str] = []
    if bundle.manifest.get("format") != FORMAT:
        problems.append(f"unknown format {bundle.manifest.get('format')!r}")
    listed = {f.get("name"): f for f in bundle.manifest.get("files", []) if isinstance(f, dict)}
    for name, entry in sorted(listed.items(), key=lambda kv: str(kv[0])):
        data = bundle.files.get(str(name))
        if data is None:
            problems.append(f"{name}: listed in the manifest but missing")
            continue
        if sha256_hex(data) != entry.get("sha256"):
            problems.append(f"{name}: SHA-256 does not match the manifest")
        if len(data) != entry.get("bytes"):
            problems.append(f"{name}: size does not match the manifest")
        if "records" in entry and data.count(b"\n") != entry["records"]:
            problems.append(f"{name}: record count does not match the manifest")
    for name in sorted(set(bundle.files) - set(listed)):
        problems.append(f"{name}: present but not listed in the manifest")
    return problems
