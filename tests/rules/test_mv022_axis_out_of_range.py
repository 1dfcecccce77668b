"""MV022 axis-out-of-range: onnxruntime refuses every bad case (load or run)."""
import numpy as np
import pytest
from onnx import numpy_helper as nh

from tests.rules._invalid_models_attrs import T, findings, ort_rejects, unary

CODE = "MV022"


def _i64(name, v):
    return nh.from_array(np.array(v, np.int64), name)


BAD = {
    "softmax": lambda: unary("Softmax", {"axis": 5}),
    "softmax-negative": lambda: unary("Softmax", {"axis": -3}),
    "logsoftmax": lambda: unary("LogSoftmax", {"axis": 2}),
    "concat": lambda: unary("Concat", {"axis": 2}),
    "flatten": lambda: unary("Flatten", {"axis": 3}),
    "gather": lambda: unary("Gather", {"axis": 2}, extra_inits=[_i64("i", [0])]),
    "argmax": lambda: unary("ArgMax", {"axis": 2}, out_dtype=T.INT64),
    "reducesum-attr": lambda: unary("ReduceSum", {"axes": [5]}, opset=11),
    "reducemean-input": lambda: unary("ReduceMean", {}, extra_inits=[_i64("ax", [4])], opset=18),
    "unsqueeze": lambda: unary("Unsqueeze", {}, extra_inits=[_i64("ax", [4])], opset=13),
    "unsqueeze-repeated": lambda: unary("Unsqueeze", {}, extra_inits=[_i64("ax", [0, 0])], opset=13),
    "split": lambda: unary("Split", {"axis": 2}, opset=13),
    "cumsum": lambda: unary("CumSum", {}, extra_inits=[_i64("ax", 2)], opset=13),
    "layernorm": lambda: unary("LayerNormalization", {"axis": 5}, extra_inits=[nh.from_array(np.ones(3, np.float32), "s")]),
    "transpose-repeated": lambda: unary("Transpose", {"perm": [0, 0]}),
    "transpose-length": lambda: unary("Transpose", {"perm": [0]}),
    "squeeze": lambda: unary("Squeeze", {}, xshape=(1, 3), extra_inits=[_i64("ax", [3])], opset=13),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_axis_out_of_range_found_and_refused(case):
    m = BAD[case]()
    assert ort_rejects(m) is not None
    got = findings(m, CODE)
    assert len(got) == 1 and got[0].node == "n" and got[0].details["rank"] == 2


GOOD = [
    lambda: unary("Softmax", {"axis": -2}),
    lambda: unary("Flatten", {"axis": 2}),
    lambda: unary("Concat", {"axis": -1}),
    lambda: unary("Transpose", {"perm": [1, 0]}),
    lambda: unary("Unsqueeze", {}, extra_inits=[_i64("ax", [-1, 0])], opset=13),
    lambda: unary("ReduceSum", {"axes": [-1, 0]}, opset=11),
]


@pytest.mark.parametrize("i", range(len(GOOD)))
def test_axes_in_range_are_quiet(i):
    m = GOOD[i]()
    assert ort_rejects(m) is None
    assert findings(m, CODE) == []
