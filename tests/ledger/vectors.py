"""Paths to the public test vectors copied into tests/vectors (with their licences)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
RFC6962 = VECTORS / "rfc6962"
JCS = VECTORS / "jcs" / "testdata"


def proof_cases(kind: str) -> list[tuple[str, dict[str, Any]]]:
    """Every inclusion or consistency case as (relative path, decoded case)."""
    root = RFC6962 / "testdata" / kind
    cases = []
    for path in sorted(root.rglob("*.json")):
        raw = json.loads(path.read_text())
        case = {k: _decode(k, v) for k, v in raw.items()}
        cases.append((str(path.relative_to(root)), case))
    return cases


def _decode(key: str, value: Any) -> Any:
    if key in ("root", "root1", "root2", "leafHash"):
        return base64.b64decode(value)
    if key == "proof":
        return [base64.b64decode(p) for p in value or []]
    return value
