"""Provider matrix: model, validation and loading."""

from sekisho.matrix.load import load_matrix_file
from sekisho.matrix.model import Alias, Matrix, Provider, Route
from sekisho.matrix.validate import MatrixCheck, Problem, validate_matrix

__all__ = [
    "Alias",
    "Matrix",
    "MatrixCheck",
    "Problem",
    "Provider",
    "Route",
    "load_matrix_file",
    "validate_matrix",
]
