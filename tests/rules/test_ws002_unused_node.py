"""WS002 unused-node: dead branches, a dead If with its bodies, a dead node inside a body;
each fixed alone and run in onnxruntime (outputs equal, parameters down by the waste)."""
from __future__ import annotations

import numpy as np
from onnx import helper

from tests.rules._waste_graph_models import (
    conv_relu,
    dead_branch,
    if_model,
    lint,
    prove_each,
    prove_fix_file,
    weight,
)

IF_FEEDS = {"cond": np.array(True), "x": np.ones((2, 4), np.float32)}


def test_dead_branch_one_finding_with_weights_and_macs():
    m = dead_branch()
    (f,) = lint(m, "WS002")
    assert f.node == "dead_conv" and f.op_type == "Conv"
    assert [n["node"] for n in f.details["nodes"]] == ["dead_conv", "dead_sigmoid"]
    assert sorted(i["tensor"] for i in f.details["initializers"]) == ["B2", "W2"]
    # Conv 1x1: 5 out x 64 pixels x 3 in = 960 MACs; Sigmoid 5 x 64 = 320
    assert f.waste == {"weights": 20, "bytes": 80, "macs": 1280}
    assert f.related == [{"node": "dead_sigmoid", "op_type": "Sigmoid"}]
    prove_each(m, "WS002")
    fixed = prove_fix_file(m, "WS002")
    assert [n.name for n in fixed.graph.node] == ["conv", "relu"]


def test_clean_twin_silent():
    assert lint(conv_relu(), "WS002") == []


def test_weight_shared_with_a_live_node_is_not_counted():
    m = conv_relu(extra_nodes=[helper.make_node("Conv", ["x", "W"], ["d"], name="dead_conv")])
    (f,) = lint(m, "WS002")
    assert f.waste["weights"] == 0 and f.details["initializers"] == []
    prove_each(m, "WS002")


def test_two_separate_dead_branches_two_findings_shared_weight_joins_them():
    a = helper.make_node("MatMul", ["x2", "D"], ["a"], name="dead_a")
    b = helper.make_node("MatMul", ["x2", "D"], ["b"], name="dead_b")
    c = helper.make_node("Neg", ["x2"], ["c"], name="dead_c")
    from tests.rules._waste_graph_models import make_model, vi

    m = make_model([helper.make_node("Relu", ["x2"], ["y"], name="relu"), a, b, c], [vi("x2", [2, 4])], [vi("y", [2, 4])],
                   [weight("D", [4, 4])])
    found = lint(m, "WS002")
    assert [[n["node"] for n in f.details["nodes"]] for f in found] == [["dead_a", "dead_b"], ["dead_c"]]
    assert [f.waste["weights"] for f in found] == [16, 0]
    prove_each(m, "WS002")
    prove_fix_file(m, "WS002")


def test_dead_if_is_dead_with_its_bodies():
    m = if_model(dead_if=True, body_dead=True)
    (f,) = lint(m, "WS002")  # the body's own dead node is not reported again
    assert f.node == "if" and f.graph == "main"
    # Wt, We captured from main, Wd inside the then branch: all go with the If
    assert f.waste["weights"] == 8 + 8 + 16
    assert f.waste["macs"] == 8 + 8 + 32
    prove_each(m, "WS002", feeds=IF_FEEDS)


def test_dead_node_inside_a_live_body():
    m = if_model(body_dead=True)
    (f,) = lint(m, "WS002")
    assert f.node == "then_dead" and f.graph == "main/if.then_branch"
    assert f.waste == {"weights": 16, "bytes": 64, "macs": 32}
    prove_each(m, "WS002", feeds=IF_FEEDS)
    prove_each(m, "WS002", feeds={"cond": np.array(False), "x": np.ones((2, 4), np.float32)})
