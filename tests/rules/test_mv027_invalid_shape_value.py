"""MV027 invalid-shape-value: each malformed model is refused by onnxruntime (at load or on
its run: checked here, not assumed) and reported; the valid near misses are not."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import analyzer

F, I64 = TensorProto.FLOAT, TensorProto.INT64


def _model(node, x_shape, consts, opset=17):
    inits = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in consts.items()]
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", F, x_shape)],
                          [helper.make_tensor_value_info("y", F, None)], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _reshape(shape, x_shape=(2, 3), **attrs):
    return _model(helper.make_node("Reshape", ["x", "s"], ["y"], name="r", **attrs), list(x_shape), {"s": shape})


def _scan(n):
    body = helper.make_graph([helper.make_node("Identity", ["s"], ["t"])], "body",
                             [helper.make_tensor_value_info("s", F, [4])], [helper.make_tensor_value_info("t", F, [4])])
    return _model(helper.make_node("Scan", ["x"], ["y"], name="scan", body=body, num_scan_inputs=n), [3, 4], {})


BAD = {
    "reshape-two-inferred": (lambda: _reshape([-1, -1]), "reshape-several-inferred"),
    "reshape-below-minus-one": (lambda: _reshape([-2, 3]), "reshape-negative"),
    "reshape-overflow": (lambda: _reshape([1 << 62, 1 << 62, 4]), "overflow"),
    "reshape-count": (lambda: _reshape([4]), "reshape-count"),
    "reshape-count-inferred": (lambda: _reshape([4, -1]), "reshape-count"),
    "tile-negative": (lambda: _model(helper.make_node("Tile", ["x", "r"], ["y"], name="t"), [2, 3], {"r": [1, -2]}), "negative"),
    "expand-negative": (lambda: _model(helper.make_node("Expand", ["x", "s"], ["y"], name="e"), [2, 3], {"s": [-1, 3]}), "negative"),
    "scan-inputs-negative": (lambda: _scan(-7), "scan-inputs"),
    "scan-inputs-too-many": (lambda: _scan(3), "scan-inputs"),
}

VALID = {
    "reshape-inferred": lambda: _reshape([3, -1]),
    "reshape-copy-dim": lambda: _reshape([0, 3]),
    "reshape-allowzero-empty": lambda: _reshape([0, 4], x_shape=(0, 2), allowzero=1),
    "tile-zero": lambda: _model(helper.make_node("Tile", ["x", "r"], ["y"], name="t"), [2, 3], {"r": [0, 2]}),
    "expand-broadcast": lambda: _model(helper.make_node("Expand", ["x", "s"], ["y"], name="e"), [2, 3], {"s": [4, 2, 3]}),
    "scan-one-input": lambda: _scan(1),
}


def _ort_refuses(m) -> bool:
    try:
        s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        x = s.get_inputs()[0]
        s.run(None, {x.name: np.zeros([d if isinstance(d, int) else 1 for d in x.shape], np.float32)})
    except Exception:
        return True
    return False


@pytest.mark.parametrize("case", sorted(BAD))
def test_reports_what_onnxruntime_refuses(case):
    build, kind = BAD[case]
    m = build()
    assert _ort_refuses(m), "ground truth: onnxruntime must refuse this model"
    (fr,) = analyzer.lint(m, select=["MV027"]).files
    assert [f.details["kind"] for f in fr.findings] == [kind]
    assert fr.findings[0].severity == "error"


@pytest.mark.parametrize("case", sorted(VALID))
def test_silent_on_what_onnxruntime_runs(case):
    m = VALID[case]()
    assert not _ort_refuses(m)
    (fr,) = analyzer.lint(m, select=["MV027"]).files
    assert fr.findings == []
