"""WS008 inverse-pair: planted round trips found, lossy or partial ones silent, every fix
proven in onnxruntime (outputs equal, parameters down by exactly the reported waste)."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper

import analyzer
from rules.ws008_inverse_pair import holds_every_value
from tests.rules._waste_ops_models import (
    conv_in,
    init,
    make,
    prove_all,
    prove_each,
    prove_on_onnx_test_graphs,
    vi,
)

CODE = "WS008"


def pairs_model():
    conv, w = conv_in("x", "c")
    nodes = [
        conv,
        helper.make_node("Transpose", ["c"], ["t1"], name="to_nhwc", perm=[0, 2, 3, 1]),
        helper.make_node("Transpose", ["t1"], ["t2"], name="to_nchw", perm=[0, 3, 1, 2]),
        helper.make_node("Relu", ["t2"], ["r"]),
        helper.make_node("Flatten", ["r"], ["f"], name="flatten", axis=1),
        helper.make_node("Reshape", ["f", "shp"], ["u"], name="unflatten"),
        helper.make_node("Cast", ["u"], ["d"], name="to_double", to=T.DOUBLE),
        helper.make_node("Cast", ["d"], ["y"], name="to_float", to=T.FLOAT),
    ]
    return make(nodes, [vi("x", [1, 4, 8, 8])], [vi("y", None)], [w, init("shp", np.array([1, 4, 8, 8], np.int64))])


def test_planted_pairs_are_found():
    fs = {f.node: f for f in analyzer.lint(pairs_model(), select=[CODE]).findings}
    assert sorted(fs) == ["flatten", "to_double", "to_nhwc"]
    assert fs["to_nhwc"].details["kind"] == "transpose" and fs["to_nhwc"].related == [{"node": "to_nchw", "op_type": "Transpose"}]
    assert fs["flatten"].waste == {"weights": 4, "bytes": 32, "macs": 0}
    assert fs["to_double"].details["types"] == ["float32", "float64", "float32"]


def test_each_fix_alone_and_all_at_once_keep_the_outputs():
    m = pairs_model()
    prove_each(m, CODE)
    rep, fixed = prove_all(m, CODE)
    assert [n.op_type for n in fixed.graph.node] == ["Conv", "Relu"] and fixed.graph.node[1].output[0] == "y"
    assert rep.params_before - rep.params_after == 4


def test_int_round_trip_and_a_pair_read_twice():
    nodes = [helper.make_node("Neg", ["x"], ["n"]), helper.make_node("Cast", ["n"], ["w"], name="widen", to=T.INT32),
             helper.make_node("Cast", ["w"], ["y"], name="narrow", to=T.INT8),
             helper.make_node("Transpose", ["x"], ["t"], name="tr", perm=[1, 0]),
             helper.make_node("Transpose", ["t"], ["z"], perm=[1, 0]), helper.make_node("Abs", ["t"], ["k"])]  # fmt: skip
    m = make(nodes, [vi("x", [3, 4], T.INT8)], [vi("y", None, T.INT8), vi("z", None, T.INT8), vi("k", None, T.INT8)])
    fs = prove_each(m, CODE, feeds={"x": np.arange(-6, 6, dtype=np.int8).reshape(3, 4)})
    assert [f.node for f in fs] == ["widen"]  # the transposed 't' has another reader


@pytest.mark.parametrize("case", ["lossy_cast", "not_inverse", "other_shape", "interface"])
def test_lossy_or_partial_pairs_are_silent(case):
    if case == "lossy_cast":
        nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Cast", ["r"], ["h"], to=T.FLOAT16),
                 helper.make_node("Cast", ["h"], ["y"], to=T.FLOAT)]  # fmt: skip
        inits = []
    elif case == "not_inverse":
        nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Transpose", ["r"], ["t"], perm=[1, 2, 0]),
                 helper.make_node("Transpose", ["t"], ["y"], perm=[1, 2, 0])]  # fmt: skip
        inits = []
    elif case == "other_shape":
        nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Flatten", ["r"], ["f"]),
                 helper.make_node("Reshape", ["f", "shp"], ["y"])]  # fmt: skip
        inits = [init("shp", np.array([2, 3, 2], np.int64))]
    else:  # graph input -> pair -> graph output: the model's interface
        nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[1, 0, 2]), helper.make_node("Transpose", ["t"], ["y"], perm=[1, 0, 2])]
        inits = []
    m = make(nodes, [vi("x", [2, 2, 3])], [vi("y", None)], inits)
    assert analyzer.lint(m, select=[CODE]).findings == []


def test_which_casts_hold_every_value():
    F16, BF16, F32, F64, I8, U8, I16, I32, I64, B = 10, 16, 1, 11, 3, 2, 5, 6, 7, 9
    yes = [(F32, F64), (F16, F32), (BF16, F32), (F16, F64), (I8, I32), (U8, I16), (I8, F16), (U8, BF16), (I16, F32), (I32, F64), (B, F16), (B, I8)]
    no = [(F32, F16), (F16, BF16), (BF16, F16), (I32, F32), (I64, F64), (I16, F16), (U8, I8), (I8, U8), (F32, I64), (I32, B)]
    assert all(holds_every_value(a, b) for a, b in yes)
    assert not any(holds_every_value(a, b) for a, b in no)


def test_onnx_test_graphs_findings_are_confirmed_by_execution():
    prove_on_onnx_test_graphs(CODE)  # none today; any finding there must survive execution
