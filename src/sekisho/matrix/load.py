"""Read a matrix (or a whole config) file from disk into a `MatrixCheck`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from sekisho.matrix.validate import MatrixCheck, Problem, validate_matrix


def load_matrix_file(path: Path, environ: Mapping[str, str]) -> MatrixCheck:
    """Parse and validate a YAML file; every failure becomes a readable `Problem`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return MatrixCheck([Problem(str(path), f"cannot read file: {exc.strerror or exc}")])
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return MatrixCheck([Problem(where, f"not valid YAML: {reason}")])
    if isinstance(doc, Mapping) and isinstance(doc.get("matrix"), str):
        # A config file that points at a separate matrix file.
        return load_matrix_file((path.parent / doc["matrix"]).resolve(), environ)
    return validate_matrix(doc, environ)
