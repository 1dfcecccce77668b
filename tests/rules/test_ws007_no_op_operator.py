"""WS007 no-op-operator: planted no-ops found with their waste, clean twins silent, every fix
proven in onnxruntime (outputs equal, parameters down by exactly the reported waste)."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper

import analyzer
from tests.rules._waste_ops_models import (
    conv_in,
    init,
    make,
    prove_all,
    prove_each,
    prove_on_onnx_test_graphs,
    rand,
    vi,
)  # fmt: skip

CODE = "WS007"


def chain_model():
    conv, w = conv_in("x", "c")
    nodes = [
        conv,
        helper.make_node("Reshape", ["c", "shp"], ["r"], name="reshape"),
        helper.make_node("Mul", ["r", "one"], ["m"], name="mul"),
        helper.make_node("Identity", ["m"], ["i"], name="identity"),
        helper.make_node("Add", ["zero", "i"], ["a"], name="add"),
        helper.make_node("Transpose", ["a"], ["t"], name="transpose", perm=[0, 1, 2, 3]),
        helper.make_node("Cast", ["t"], ["k"], name="cast", to=T.FLOAT),
        helper.make_node("Pad", ["k", "pads"], ["p"], name="pad"),
        helper.make_node("Slice", ["p", "st", "en"], ["s"], name="slice"),
        helper.make_node("Concat", ["s"], ["cc"], name="concat", axis=1),
        helper.make_node("Dropout", ["cc"], ["y"], name="dropout"),
    ]
    inits = [w, init("shp", np.array([1, 4, 8, 8], np.int64)), init("one", np.ones(1, np.float32)),
             init("zero", np.zeros((4, 1, 1), np.float32)), init("pads", np.zeros(8, np.int64)),
             init("st", np.array([0], np.int64)), init("en", np.array([100], np.int64))]  # fmt: skip
    return make(nodes, [vi("x", [1, 4, 8, 8])], [vi("y", None)], inits)


def test_planted_no_ops_are_found_with_their_waste():
    fs = {f.node: f for f in analyzer.lint(chain_model(), select=[CODE]).findings}
    assert sorted(fs) == sorted(["reshape", "mul", "identity", "add", "transpose", "cast", "pad", "slice", "concat", "dropout"])
    assert fs["reshape"].waste == {"weights": 4, "bytes": 32, "macs": 0}
    assert fs["mul"].waste == {"weights": 1, "bytes": 4, "macs": 256}
    assert fs["add"].waste == {"weights": 4, "bytes": 16, "macs": 256} and fs["add"].details["data_input"] == 1
    assert fs["slice"].waste["weights"] == 2 and fs["pad"].waste["weights"] == 8
    assert fs["identity"].waste == {"weights": 0, "bytes": 0, "macs": 0}
    assert fs["dropout"].details["graph_output"] is True


def test_each_fix_alone_and_all_at_once_keep_the_outputs():
    m = chain_model()
    prove_each(m, CODE)
    rep, fixed = prove_all(m, CODE)
    assert all(c.status == "fixed" for c in rep.changes) and len(rep.changes) == 10
    assert [n.op_type for n in fixed.graph.node] == ["Conv"]
    assert fixed.graph.node[0].output[0] == "y"  # the graph output keeps its name
    assert rep.params_before - rep.params_after == sum(c.params_removed for c in rep.changes) == 19


def test_clean_twins_are_silent():
    conv, w = conv_in("x", "c")
    nodes = [
        conv,
        helper.make_node("Reshape", ["c", "shp"], ["r"]),  # a real reshape
        helper.make_node("Mul", ["r", "two"], ["m"]),  # by 2
        helper.make_node("Add", ["m", "zero_b"], ["a"]),  # zero that broadcasts to a bigger shape
        helper.make_node("Transpose", ["a"], ["t"], perm=[0, 1, 3, 2, 4]),  # real
        helper.make_node("Cast", ["t"], ["k"], to=T.DOUBLE),  # another type
        helper.make_node("Dropout", ["k", "ratio", "train"], ["d"]),  # training_mode is an input
        helper.make_node("Pad", ["d", "pads"], ["p"]),  # a real pad
        helper.make_node("Slice", ["p", "st", "en", "ax", "step"], ["y"]),  # same shape, reversed
    ]
    inits = [w, init("shp", np.array([1, 4, 8, 8, 1], np.int64)), init("two", np.full(1, 2, np.float32)),
             init("zero_b", np.zeros((2, 1, 1, 1, 1), np.float32)), init("ratio", np.array(0.5, np.float64)),
             init("pads", np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 0], np.int64)), init("st", np.array([-1], np.int64)),
             init("en", np.array([-100], np.int64)), init("ax", np.array([3], np.int64)), init("step", np.array([-1], np.int64))]  # fmt: skip
    m = make(nodes, [vi("x", [1, 4, 8, 8]), vi("train", [], T.BOOL)], [vi("y", None, T.DOUBLE)], inits)
    assert analyzer.lint(m, select=[CODE]).findings == []


def test_interface_identity_is_not_reported_and_a_symbolic_round_trip_is():
    m = make([helper.make_node("Identity", ["x"], ["y"])], [vi("x", [2])], [vi("y", [2])])
    assert analyzer.lint(m, select=[CODE]).findings == []
    # Reshape(x, Shape(x)) is a no-op at every size: the Shape that fed it goes too
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Shape", ["r"], ["s"], name="shape"),
             helper.make_node("Reshape", ["r", "s"], ["y"], name="reshape")]  # fmt: skip
    m = make(nodes, [vi("x", ["N", 3])], [vi("y", None)])
    (f,) = analyzer.lint(m, select=[CODE]).findings
    assert f.node == "reshape" and f.details["pruned_nodes"] == ["shape"]
    prove_each(m, CODE, feeds={"x": rand(5, 3)})
    # bound to one size by --input-shape, a shape-based proof is not reported
    nodes = [helper.make_node("Reshape", ["x", "shp"], ["y"])]
    m = make(nodes, [vi("x", ["N", 3])], [vi("y", None)], [init("shp", np.array([1, 3], np.int64))])
    assert analyzer.lint(m, select=[CODE], input_shapes={"x": [1, 3]}).findings == []


def test_mul_by_one_shared_constant_and_graph_output_rename():
    """Two Muls by one shared constant: neither frees it alone (waste 0 each); the second
    writes a graph output, renamed onto the first's producer."""
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Mul", ["r", "one"], ["m"], name="m1"),
             helper.make_node("Mul", ["one", "m"], ["y"], name="m2"), helper.make_node("Neg", ["m"], ["z"])]  # fmt: skip
    m = make(nodes, [vi("x", [3, 4])], [vi("y", None), vi("z", None)], [init("one", np.ones((1, 4), np.float32))])
    fs = prove_each(m, CODE)
    assert [f.node for f in fs] == ["m1", "m2"] and all(f.waste["weights"] == 0 for f in fs)
    rep, fixed = prove_all(m, CODE)
    assert rep.params_before - rep.params_after == 4  # both fixed: the shared constant goes
    assert [n.op_type for n in fixed.graph.node] == ["Relu", "Neg"]


@pytest.mark.parametrize("opset", [11, 13])
def test_dropout_resize_and_opset_variants(opset):
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Dropout", ["r"], ["d", "mask"], name="drop"),
             helper.make_node("Resize", ["d", "", "scales"], ["y"], name="resize", mode="linear")]  # fmt: skip
    inits = [init("scales", np.ones(4, np.float32))]
    if opset == 11:
        inits.append(init("roi", np.zeros(0, np.float32)))
        nodes[2].input[1] = "roi"
    m = make(nodes, [vi("x", [1, 2, 4, 4])], [vi("y", None)], inits, opset=opset)
    fs = prove_each(m, CODE)
    assert sorted(f.node for f in fs) == ["drop", "resize"]


def test_onnx_test_graphs_findings_are_confirmed_by_execution():
    proven = prove_on_onnx_test_graphs(CODE)
    # the zoo models' inference Dropouts and one whole-tensor Slice
    assert len(proven) >= 1


def test_neutral_constant_as_the_first_operand_of_a_non_commutative_op():
    """1 / x, 0 - x and 1 ** x are not x (only x / 1 is); 1 * x is."""
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Div", ["one", "r"], ["a"], name="one_over"),
             helper.make_node("Sub", ["zero", "r"], ["b"], name="zero_minus"),
             helper.make_node("Pow", ["one", "r"], ["c"], name="one_pow"),
             helper.make_node("Div", ["r", "one"], ["d"], name="over_one"),
             helper.make_node("Mul", ["one", "r"], ["e"], name="one_times")]  # fmt: skip
    inits = [init("one", np.ones(1, np.float32)), init("zero", np.zeros(1, np.float32))]
    m = make(nodes, [vi("x", [3, 4])], [vi(n, None) for n in "abcde"], inits)
    found = analyzer.lint(m, select=[CODE]).findings
    assert [(f.node, f.details["data_input"]) for f in found] == [("over_one", 0), ("one_times", 1)]


def _folded_one_model():
    """Mul by a 1 no initializer holds: a Constant int 1 cast to float (folded by analysis)."""
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Constant", [], ["one_i"], value=helper.make_tensor("v", T.INT64, [1], [1])),
             helper.make_node("Cast", ["one_i"], ["one"], to=T.FLOAT),
             helper.make_node("Mul", ["one", "r"], ["y"], name="mul")]  # fmt: skip
    return make(nodes, [vi("x", [3, 4])], [vi("y", None)])


def test_constant_keys_holds_every_value_analysis_knows_and_nothing_when_none_is_known():
    from rules._waste_ops import constant_keys

    for m in (chain_model(), _folded_one_model()):
        am = analyzer.analyze(m)
        known = {k for k, d in am.graph.nx.nodes(data=True) if d.get("kind") == "value" and am.constant(k) is not None}
        assert known and known <= constant_keys(am)
    # the Cast's folded output is known without an initializer: the Mul by it is a no-op
    assert [f.node for f in analyzer.lint(_folded_one_model(), select=[CODE]).findings] == ["mul"]
    # nothing constant (no initializer, no Constant, nothing folded): the set is empty, and an
    # Identity is still found while the Add of two computed values is passed over
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Add", ["r", "x"], ["a"], name="add"),
             helper.make_node("Identity", ["a"], ["y"], name="identity")]  # fmt: skip
    m = make(nodes, [vi("x", [3, 4])], [vi("y", None)])
    assert constant_keys(analyzer.analyze(m)) == frozenset()
    assert [f.node for f in analyzer.lint(m, select=[CODE]).findings] == ["identity"]
