"""Evidence bundles: a window of request log (and guardrail events), content-hashed.

A bundle is one deterministic, uncompressed POSIX tar file::

    manifest.json             format, filters, window, and each file's SHA-256, size, records
    request_log.jsonl         one row per line, keys sorted, ordered by (ts, id)
    guardrail_events.jsonl    same, when that table exists (else empty)

The bundle's hash is the SHA-256 of `manifest.json`; that hash is what the
ledger records. The same window exported twice gives the same bytes.
Verify offline with `tar -xf` and `sha256sum`, or `sekisho evidence verify`.
"""

from sekisho.evidence.bundle import (
    Bundle,
    BundleError,
    EvidenceFilters,
    EvidenceWindow,
    make_bundle,
    read_bundle,
    verify_bundle,
    write_bundle,
)
from sekisho.evidence.collect import build_bundle, collect_bundle
from sekisho.evidence.record import ledger_entry_for, record_bundle

__all__ = [
    "Bundle",
    "BundleError",
    "EvidenceFilters",
    "EvidenceWindow",
    "build_bundle",
    "collect_bundle",
    "ledger_entry_for",
    "make_bundle",
    "read_bundle",
    "record_bundle",
    "verify_bundle",
    "write_bundle",
]
