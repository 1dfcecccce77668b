"""WS009 constant-subgraph: planted constant subgraphs found once each with their sizes,
weight decoding and random ops left alone, every fold proven in onnxruntime (outputs
equal, parameters down by exactly the reported waste)."""
from __future__ import annotations

import io

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper

import analyzer
from tests.rules._waste_ops_models import (
    init,
    make,
    prove_all,
    prove_each,
    prove_on_onnx_test_graphs,
    rand,
    run,
    vi,
)

CODE = "WS009"


def folded_model():
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "zero_i"], ["g"], name="gather", axis=0),
        helper.make_node("Unsqueeze", ["g", "ax0"], ["u"], name="unsqueeze"),
        helper.make_node("Concat", ["u", "minus1"], ["shp"], name="concat", axis=0),
        helper.make_node("Reshape", ["x", "shp"], ["flat"]),
        helper.make_node("Transpose", ["W"], ["Wt"], name="transpose_w", perm=[1, 0]),
        helper.make_node("Mul", ["Wt", "half"], ["Wh"], name="scale_w"),
        helper.make_node("MatMul", ["flat", "Wh"], ["mm"]),
        helper.make_node("Cast", ["B16"], ["B32"], name="decode_b", to=T.FLOAT),  # fp16 storage: by design
        helper.make_node("Add", ["mm", "B32"], ["y"]),
    ]
    inits = [init("zero_i", np.array(0, np.int64)), init("ax0", np.array([0], np.int64)),
             init("minus1", np.array([-1], np.int64)), init("W", rand(10, 256)), init("half", np.full(1, 0.5, np.float32)),
             init("B16", rand(1, 10).astype(np.float16))]  # fmt: skip
    return make(nodes, [vi("x", [1, 4, 8, 8])], [vi("y", None)], inits)


def test_each_maximal_subgraph_is_reported_once_at_its_last_node():
    fs = {f.node: f for f in analyzer.lint(folded_model(), select=[CODE]).findings}
    assert sorted(fs) == ["concat", "scale_w"]
    shape = fs["concat"]
    assert shape.details["nodes"] == ["shape", "gather", "unsqueeze", "concat"]
    assert shape.details["results"] == [{"name": "shp", "shape": [2], "dtype": T.INT64, "stored_as": "constant-node"}]
    assert shape.details["bytes_freed"] == 24 and shape.details["bytes_added"] == 16
    assert shape.waste == {"weights": 3, "bytes": 24, "macs": 0}
    w = fs["scale_w"]
    assert w.details["nodes"] == ["transpose_w", "scale_w"] and w.details["results"][0]["stored_as"] == "initializer"
    assert w.waste == {"weights": 1, "bytes": 4, "macs": 2560}  # the 0.5 goes; W's 2560 become Wh's 2560
    assert w.related == [{"node": "transpose_w", "op_type": "Transpose"}]


def test_each_fold_alone_and_all_at_once_keep_the_outputs():
    m = folded_model()
    prove_each(m, CODE)
    rep, fixed = prove_all(m, CODE)
    assert [n.op_type for n in fixed.graph.node] == ["Constant", "Reshape", "MatMul", "Cast", "Add"]
    assert rep.params_before - rep.params_after == 4
    assert {t.name for t in fixed.graph.initializer} == {"Wh", "B16"}


def test_decoding_quantized_random_and_growing_subgraphs():
    nodes = [
        helper.make_node("DequantizeLinear", ["Wq", "sc"], ["Wd"]),
        helper.make_node("Transpose", ["Wd"], ["Wdt"], perm=[1, 0]),  # quantized weights: kept on purpose
        helper.make_node("MatMul", ["x", "Wdt"], ["m"]),
        helper.make_node("RandomNormalLike", ["m"], ["noise"]),
        helper.make_node("ConstantOfShape", ["big"], ["zeros"], name="zeros", value=helper.make_tensor("v", T.FLOAT, [1], [0.0])),
        helper.make_node("Add", ["m", "zeros"], ["y"]),
        helper.make_node("Mul", ["noise", "noise"], ["z"]),
    ]
    inits = [init("Wq", np.ones((50, 3), np.int8)), init("sc", np.array(0.1, np.float32)), init("big", np.array([20, 50], np.int64))]
    m = make(nodes, [vi("x", [20, 3])], [vi("y", None), vi("z", None)], inits)
    (f,) = analyzer.lint(m, select=[CODE]).findings  # only the ConstantOfShape
    assert f.node == "zeros" and f.details["fold"].startswith("folding would store more")
    assert f.waste["weights"] == 0 and f.waste["bytes"] == 0
    prove_each(m, CODE, expect_refused=("zeros",))


def test_budget_option_refuses_the_fold():
    from rules import ws009_constant_subgraph as rule

    big = make([helper.make_node("Transpose", ["W"], ["Wt"], name="t"), helper.make_node("MatMul", ["x", "Wt"], ["y"])],
               [vi("x", [2, 30])], [vi("y", None)], [init("W", rand(20, 30))])  # fmt: skip
    am = analyzer.analyze(big)
    (f,) = rule.check(am, {"max-fold-elements": 100})
    assert "over max-fold-elements 100" in f.details["fold"] and f.waste["weights"] == 0
    (f,) = rule.check(analyzer.analyze(big), {})
    assert f.details["fold"] == "yes"


def test_clean_twin_is_silent():
    nodes = [helper.make_node("Reshape", ["x", "shp"], ["flat"]), helper.make_node("MatMul", ["flat", "W"], ["y"])]
    m = make(nodes, [vi("x", [1, 4, 8, 8])], [vi("y", None)], [init("shp", np.array([1, -1], np.int64)), init("W", rand(256, 10))])
    assert analyzer.lint(m, select=[CODE]).findings == []
    # a symbolic batch: Shape(x) is not constant
    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Reshape", ["x", "s"], ["y"])]
    m = make(nodes, [vi("x", ["N", 4])], [vi("y", None)])
    assert analyzer.lint(m, select=[CODE]).findings == []


def test_pytorch_export_without_constant_folding():
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(48, 5)

        def forward(self, x):
            return self.fc(x.view(x.size(0), -1))

    buf = io.BytesIO()
    torch.onnx.export(Net().eval(), torch.randn(2, 3, 4, 4), buf, dynamo=False, do_constant_folding=False, opset_version=17)
    m = onnx.load_from_string(buf.getvalue())
    fs = analyzer.lint(m, select=[CODE]).findings
    # the tracer turned x.size(0) into a Constant; Unsqueeze, Unsqueeze, Concat still run
    (f,) = fs
    assert f.details["op_types"] == ["Unsqueeze", "Unsqueeze", "Concat"] and f.details["fold"] == "yes"
    prove_each(m, CODE)
    _, fixed = prove_all(m, CODE)
    assert [n.op_type for n in fixed.graph.node] == ["Constant", "Reshape", "Gemm"]
    assert run(fixed)[0]  # runs


def test_onnx_test_graphs_findings_are_confirmed_by_execution():
    prove_on_onnx_test_graphs(CODE)
