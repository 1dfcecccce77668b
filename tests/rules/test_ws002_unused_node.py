"""WS002 unused-node: dead branches, a dead If with its bodies, a dead node inside a body;
each fixed alone and run in onnxruntime (outputs equal, parameters down by the waste)."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

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


def _sinks_by_walk(am) -> set:
    """The graphs with an op none of whose outputs an op of its graph reads (an input, or
    a value one of its bodies captures) nor the graph outputs: a walk over every op."""
    g = am.graph
    out = set()
    for path, sub in g.subgraphs.items():
        read = set()
        reads = [v for k in sub.op_keys for v in g.ops[k].inputs + g._implicit.get(k, [])] + sub.output_keys
        for v in reads:
            p = g._producer.get(v)
            if p is not None and p[1] == path:
                read.add(p)
        if any(k not in read for k in sub.op_keys):
            out.add(path)
    return out


def _shared_by_walk(am) -> set:
    """The graphs where two ops read one value as an input, or two ops of one type have none."""
    g = am.graph
    out = set()
    for path, sub in g.subgraphs.items():
        readers: dict = {}
        for k in sub.op_keys:
            op = g.ops[k]
            if all(v is None for v in op.inputs):
                readers.setdefault((op.domain, op.op_type), set()).add(k)
            for v in op.inputs:
                if v is not None:
                    readers.setdefault(v, set()).add(k)
        if any(len(ks) > 1 for ks in readers.values()):
            out.add(path)
    return out


def _liveness_cases():
    import glob
    import os

    import onnx

    from tests.rules._waste_graph_models import make_model, vi

    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for path in sorted(glob.glob(os.path.join(here, "sample_models", "*.onnx")))[:6]:
        yield os.path.basename(path), onnx.load(path)
    yield "dead-branch", dead_branch()
    yield "clean", conv_relu()
    for dead_if in (False, True):
        for body_dead in (False, True):
            yield f"if-{dead_if}-{body_dead}", if_model(dead_if=dead_if, body_dead=body_dead)
    x = [vi("x", [6, 4])]
    split = lambda outs: helper.make_node("Split", ["x"], outs, name="split", axis=0, num_outputs=len(outs))
    relu = helper.make_node("Relu", ["a"], ["y"], name="relu")
    # one output of a Split read, the other read by nobody: not a sink; both unread: one
    yield "split-half-read", make_model([split(["a", "b"]), relu], x, [vi("y", [3, 4])], opset=18)
    yield "split-unread", make_model([split(["p", "q"]), helper.make_node("Relu", ["x"], ["y"], name="r")], x,
                                     [vi("y", [6, 4])], opset=18)  # fmt: skip
    # an op whose one optional output is left out, one without any output (a sink), and two
    # Constants without inputs (a repeat)
    value = helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])
    nodes = [helper.make_node("Dropout", ["x"], ["y", ""], name="drop"),
             helper.make_node("Constant", [], ["k1"], name="k1", value=value),
             helper.make_node("Constant", [], ["k2"], name="k2", value=value),
             helper.make_node("Add", ["k1", "k2"], ["s"], name="add"), helper.make_node("Mul", ["x", "x"], ["sq"], name="sq"),
             helper.make_node("Relu", ["x"], [""], name="nothing")]  # fmt: skip
    yield "constants", make_model(nodes, x, [vi("y", [6, 4]), vi("s", [1]), vi("sq", [6, 4])])
    # a value read twice by one op only, and a dead cycle (a and b read each other): no sink
    nodes = [helper.make_node("Mul", ["x", "x"], ["y"], name="sq"),
             helper.make_node("Add", ["x", "b"], ["a"], name="ca"), helper.make_node("Neg", ["a"], ["b"], name="cb")]  # fmt: skip
    yield "cycle", make_model(nodes, x, [vi("y", [6, 4])])



def test_liveness_look_agrees_with_a_walk_over_every_op():
    """The sinks and the graphs with values read twice, told from the adjacencies (no op
    visited), are those a walk over every op's inputs gives; where a graph has a sink or a
    cycle, liveness walks it, and findings are those of a walk from the outputs."""
    from types import SimpleNamespace

    from analyzer.graph.build import build_graph
    from analyzer.model import analyze
    from rules._waste_graph import _shared_paths, _sink_paths, dead_ops

    seen_sinks = seen_shared = 0
    for name, m in _liveness_cases():
        # a cyclic graph stops analysis (graph-cycle); liveness only needs the graph
        am = SimpleNamespace(graph=build_graph(m)) if name == "cycle" else analyze(m)
        sinks = _sink_paths(am)
        assert sinks == _sinks_by_walk(am), name
        assert _shared_paths(am) == _shared_by_walk(am) & set(am.graph.subgraphs), name
        seen_sinks += bool(sinks)
        seen_shared += bool(_shared_paths(am))
        if name == "cycle":
            assert sinks == set() and dead_ops(am) == {"main": {("op", "main", 1), ("op", "main", 2)}}
        if name == "split-half-read":
            assert sinks == set() and dead_ops(am) == {}
        if name == "split-unread":
            assert sinks == {"main"} and dead_ops(am) == {"main": {("op", "main", 0)}}
        if name == "constants":
            assert sinks == {"main"} and dead_ops(am) == {"main": {("op", "main", 5)}}
            assert _shared_paths(am) == {"main"}
    assert seen_sinks >= 4 and seen_shared >= 4


def test_empty_adjacencies_of_a_graph_filled_through_networkx():
    """Without the builder's shared empty mapping (plain dicts), the empty ones are found too."""
    from analyzer.graph.core import NO_NEIGHBOUR, OneNeighbour
    from rules._waste_graph import _empty_keys

    assert _empty_keys({"a": {}, "b": {"x": {}}, "c": {}}) == ["a", "c"]
    assert _empty_keys({"a": NO_NEIGHBOUR, "b": OneNeighbour("x", {}), "c": NO_NEIGHBOUR}) == ["a", "c"]
    assert _empty_keys({"b": OneNeighbour("x", {})}) == [] and _empty_keys({}) == []
