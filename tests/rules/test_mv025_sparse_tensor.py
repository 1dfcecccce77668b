"""MV025 sparse-tensor: onnx's checker refuses every case; onnxruntime the sizes and ranges."""
import numpy as np
import pytest
from onnx import helper as h
from onnx import numpy_helper as nh

from tests.rules._invalid_models_attrs import T, checker_rejects, findings, model, ort_rejects, out

CODE = "MV025"


def sparse_model(vals, idx, dims, vdims=None):
    v = nh.from_array(np.array(vals, np.float32), "s")
    if vdims is not None:
        del v.dims[:]
        v.dims.extend(vdims)
    i = nh.from_array(np.array(idx, np.int64), "")
    sp = h.make_sparse_tensor(v, i, dims)
    return model([h.make_node("Identity", ["s"], ["y"], name="id")], [], [out("y", T.FLOAT, len(dims))], sparse=[sp])


# case -> (model, problem, onnxruntime refuses it too)
BAD = {
    "indices-size": (lambda: sparse_model([1, 2], [1, 4, 5], [2, 3]), "indices-shape", True),
    "index-range": (lambda: sparse_model([1, 2], [1, 6], [2, 3]), "index-range", True),
    "negative-index": (lambda: sparse_model([1, 2], [-1, 4], [2, 3]), "index-range", True),
    "unsorted": (lambda: sparse_model([1, 2], [4, 1], [2, 3]), "unsorted", False),
    "duplicate": (lambda: sparse_model([1, 2], [4, 4], [2, 3]), "unsorted", False),
    "2d-range": (lambda: sparse_model([1, 2], [[0, 1], [1, 3]], [2, 3]), "index-range", True),
    "2d-unsorted": (lambda: sparse_model([1, 2], [[1, 1], [0, 1]], [2, 3]), "unsorted", False),
    "values-rank": (lambda: sparse_model([[1, 2]], [1, 4], [2, 3]), "values-rank", True),
    "negative-dims": (lambda: sparse_model([1, 2], [1, 4], [-2, 3]), "dims", True),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_sparse_tensor(case):
    build, problem, ort_too = BAD[case]
    m = build()
    assert checker_rejects(m, full_check=False) is not None
    assert (ort_rejects(m) is not None) == ort_too
    got = findings(m, CODE)
    assert [(f.node, f.details["problem"]) for f in got] == [("s", problem)]


@pytest.mark.parametrize("idx", [[1, 4], [[0, 1], [1, 1]]])
def test_valid_sparse_is_quiet(idx):
    m = sparse_model([1, 2], idx, [2, 3])
    assert checker_rejects(m, full_check=False) is None and ort_rejects(m) is None
    assert findings(m, CODE) == []
