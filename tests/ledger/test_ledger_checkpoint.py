"""C2SP signed-note and tlog-checkpoint: known answers, parsing, refusal, key files."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from sekisho.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    ledger_origin,
    open_checkpoint,
    parse_checkpoint_body,
    sign_checkpoint,
)
from sekisho.ledger.keyfile import KeyFileError, load_or_create_signing_key
from sekisho.ledger.note import NoteError, NoteSigner, NoteVerifier, key_id, open_note, sign_note

# Known answer from the documentation of golang.org/x/mod/sumdb/note (used as data).
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = GO_TEXT + (
    "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXg"
    "KvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
# The example of the C2SP signed-note specification.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6Tf"
    "Xppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)


def test_go_known_answer() -> None:
    signer = NoteSigner.parse(GO_SKEY)
    assert signer.encode() == GO_SKEY
    assert signer.verifier.encode() == GO_VKEY
    assert sign_note(GO_TEXT, [signer]) == GO_NOTE
    opened = open_note(GO_NOTE, [NoteVerifier.parse(GO_VKEY)])
    assert opened.text == GO_TEXT


def test_spec_example_verifies() -> None:
    verifier = NoteVerifier.parse(SPEC_VKEY)
    assert open_note(SPEC_NOTE, [verifier]).text == "This is an example message.\n"


def test_key_id_definition() -> None:
    verifier = NoteVerifier.parse(GO_VKEY)
    digest = hashlib.sha256(b"PeterNeumann\n\x01" + verifier.public_key).digest()
    assert key_id("PeterNeumann", verifier.public_key) == digest[:4] == bytes.fromhex("c74f20a3")


@pytest.mark.parametrize(
    "note",
    [
        GO_NOTE.replace("problem,", "problem;"),  # text altered
        GO_NOTE.replace("x08go", "x08gp"),  # signature altered
        GO_TEXT,  # no signature block
        GO_NOTE[:-1],  # missing final newline
        GO_NOTE.replace("\u2014 ", "- "),  # not an em dash
        GO_NOTE.replace("PeterNeumann x08", "PeterNeumann  x08"),
        GO_NOTE.replace("=\n", "=!\n"),  # bad base64
        "a\x01b\n" + GO_NOTE[len(GO_TEXT) :],  # control character
    ],
)
def test_open_refuses_tampered_or_malformed(note: str) -> None:
    with pytest.raises(NoteError):
        open_note(note, [NoteVerifier.parse(GO_VKEY)])


def test_unknown_signers_are_ignored_but_one_trusted_is_required() -> None:
    other = NoteSigner.generate("other.example/key")
    note = sign_note(GO_TEXT, [other, NoteSigner.parse(GO_SKEY)])
    assert open_note(note, [NoteVerifier.parse(GO_VKEY)]).text == GO_TEXT
    with pytest.raises(NoteError, match="not signed by a trusted key"):
        open_note(sign_note(GO_TEXT, [other]), [NoteVerifier.parse(GO_VKEY)])


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong id
        "PeterNeumann+c74f20a3+AhpcMtBFDIRBPGIawOMqwL6iYuWSamqqPywxODmstWNE",  # wrong algorithm
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space in name
        "PeterNeumann+c74f20a3",
        "PeterNeumann+c74f20a3+!!!",
    ],
)
def test_bad_verifier_keys(vkey: str) -> None:
    with pytest.raises(NoteError):
        NoteVerifier.parse(vkey)


def test_checkpoint_round_trip() -> None:
    signer = NoteSigner.generate("sekisho.local/ledger")
    cp = Checkpoint(ledger_origin("sekisho.local/ledger", "tenant:t1"), 42, bytes(range(32)))
    assert cp.body() == (
        "sekisho.local/ledger/tenant:t1\n42\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
    )
    note = sign_checkpoint(cp, signer)
    assert note.startswith(cp.body() + "\n\u2014 sekisho.local/ledger ")
    assert open_checkpoint(note, [signer.verifier]).checkpoint == cp
    with pytest.raises(CheckpointError):
        open_checkpoint(note, [NoteSigner.generate("sekisho.local/ledger").verifier])


@pytest.mark.parametrize(
    "body",
    [
        "origin\n42\nAAEC\n",  # short root
        "origin\n042\n" + "A" * 43 + "=\n",
        "origin\n-1\n" + "A" * 43 + "=\n",
        "\n1\n" + "A" * 43 + "=\n",
        "origin\n1\n",
        "origin\n1\n" + "A" * 43 + "=",
    ],
)
def test_malformed_checkpoints(body: str) -> None:
    with pytest.raises(CheckpointError):
        parse_checkpoint_body(body)


def test_key_file_created_0600_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "ledger.key"
    first = load_or_create_signing_key(path, "sekisho.local/ledger")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_or_create_signing_key(path, "ignored-once-created")
    assert again.verifier == first.verifier
    assert NoteVerifier.parse(str(first.verifier)) == first.verifier


def test_key_file_with_loose_mode_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.key"
    load_or_create_signing_key(path, "k")
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_or_create_signing_key(path, "k")
    os.chmod(path, 0o600)
    path.write_text("garbage")
    with pytest.raises(KeyFileError):
        load_or_create_signing_key(path, "k")
