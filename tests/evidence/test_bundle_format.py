"""The bundle format on its own: deterministic bytes, round trip, tamper detection."""

from __future__ import annotations

import hashlib
import io
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sekisho.evidence import (
    Bundle,
    BundleError,
    EvidenceFilters,
    EvidenceWindow,
    make_bundle,
    read_bundle,
    verify_bundle,
    write_bundle,
)

START = datetime(2026, 3, 1, tzinfo=UTC)
WINDOW = EvidenceWindow(START, START + timedelta(hours=1))
FILTERS = EvidenceFilters(tenant_id="ten_1")
FILES = {"request_log.jsonl": b'{"a":1}\n{"a":2}\n', "guardrail_events.jsonl": b""}


def _bundle() -> Bundle:
    return make_bundle(FILES, FILTERS, WINDOW, {"purpose": "test"})


def test_same_content_gives_same_bytes(tmp_path: Path) -> None:
    one, two = (
        write_bundle(_bundle(), tmp_path / "a.tar"),
        write_bundle(_bundle(), tmp_path / "b.tar"),
    )
    assert one.read_bytes() == two.read_bytes()
    assert _bundle().sha256 == hashlib.sha256(_bundle().manifest_bytes).hexdigest()


def test_manifest_lists_every_file_with_hash_size_and_records() -> None:
    manifest = _bundle().manifest
    assert manifest["format"] == "sekisho-evidence/1"
    assert manifest["window"] == {
        "from": "2026-03-01T00:00:00.000000Z",
        "to": "2026-03-01T01:00:00.000000Z",
    }
    rows = {f["name"]: f for f in manifest["files"]}
    assert rows["request_log.jsonl"] == {
        "name": "request_log.jsonl",
        "bytes": 16,
        "records": 2,
        "sha256": hashlib.sha256(FILES["request_log.jsonl"]).hexdigest(),
    }


def test_a_plain_tar_reader_sees_the_manifest_first(tmp_path: Path) -> None:
    path = write_bundle(_bundle(), tmp_path / "b.tar")
    with tarfile.open(path) as tar:
        assert tar.getnames() == ["manifest.json", "guardrail_events.jsonl", "request_log.jsonl"]
        assert all(m.uid == 0 and m.mode == 0o644 for m in tar.getmembers())


def test_round_trip_verifies(tmp_path: Path) -> None:
    back = read_bundle(write_bundle(_bundle(), tmp_path / "b.tar"))
    assert verify_bundle(back) == [] and back.sha256 == _bundle().sha256


def _retar(bundle: Bundle, files: dict[str, bytes], path: Path) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in [("manifest.json", bundle.manifest_bytes), *files.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())
    return path


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"request_log.jsonl": b'{"a":1}\n{"a":3}\n'}, "SHA-256 does not match"),
        ({"request_log.jsonl": b'{"a":1}\n'}, "size does not match"),
        ({"extra.jsonl": b"x\n"}, "not listed"),
    ],
)
def test_tampering_is_detected(tmp_path: Path, change: dict[str, bytes], problem: str) -> None:
    bundle = _bundle()
    path = _retar(bundle, {**FILES, **change}, tmp_path / "t.tar")
    assert any(problem in p for p in verify_bundle(read_bundle(path)))


def test_missing_file_is_detected(tmp_path: Path) -> None:
    bundle = _bundle()
    path = _retar(bundle, {"request_log.jsonl": FILES["request_log.jsonl"]}, tmp_path / "m.tar")
    assert verify_bundle(read_bundle(path)) == [
        "guardrail_events.jsonl: listed in the manifest but missing"
    ]


def test_bad_inputs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BundleError):
        EvidenceFilters()
    with pytest.raises(BundleError):
        EvidenceWindow(START, START)
    with pytest.raises(BundleError):
        make_bundle({"../x": b""}, FILTERS, WINDOW)
    (tmp_path / "junk.tar").write_bytes(b"not a tar")
    with pytest.raises(BundleError):
        read_bundle(tmp_path / "junk.tar")
