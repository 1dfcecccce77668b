"""A declaration is never inference (issue 17, item 5).

* onnx's fallback runs on a copy without the file's ``value_info`` and output shapes, so
  it cannot repeat them; a size only the file claims is labelled ``value_info`` and is
  not what rules read (``AnalyzedModel.info``/``shape`` give the proven info);
* SH001 compares every declaration with what we proved, whatever dims stay unknown
  (an unnamed dynamic batch dim no longer hides a contradicted output);
* a node our own shape function finds invalid is not handed to onnx's fallback.

The models here are also cases of the runtime harness (``BUILDERS``): onnxruntime shows
what the declarations claim is false.
"""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import analyzer
from analyzer.model import analyze
from tests import runtime_shapes as rs

F = TensorProto.FLOAT
I64 = TensorProto.INT64


def _model(nodes, inputs, outputs, value_info=(), inits=(), opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits), value_info=list(value_info))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def vi(name, shape, dtype=F):
    return helper.make_tensor_value_info(name, dtype, shape)


def unnamed_batch_contradicted():
    """x: [?, 3, 8, 8] (an unnamed batch dim); Conv to 4 channels, Relu; the value_info of
    the conv's output and the graph output both contradict what the graph proves."""
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    m = _model(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1, 1, 1, 1]), helper.make_node("Relu", ["y"], ["z"], name="relu")],
        [vi("x", [None, 3, 8, 8])],
        [vi("z", [None, 5, 8, 8])],
        value_info=[vi("y", [None, 4, 7, 8])],
        inits=[w],
    )
    return m, None


def onehot_declared():
    """OneHot with the depth fed at run time, its output declared [3, 2, 3] (axis 0):
    onnxruntime gives [1, 2, 3] or [5, 2, 3] at depths 1 and 5."""
    m = _model(
        [helper.make_node("OneHot", ["idx", "depth", "vals"], ["y"], name="onehot", axis=0)],
        [vi("idx", [2, 3], I64), vi("depth", [], I64)],
        [vi("y", [3, 2, 3])],
        inits=[numpy_helper.from_array(np.array([0.0, 1.0], np.float32), "vals")],
        opset=11,
    )
    idx = np.zeros((2, 3), np.int64)
    return m, [{"idx": idx, "depth": np.array(d, np.int64)} for d in (1, 5)]


def expand_empty_declared():
    """Expand of an empty tensor to a shape fed at run time, declared with a static 0
    where the size is the fed one (onnxruntime gives [3, 0] and [1, 0] for shapes [3, 0]
    and [1, 0])."""
    m = _model(
        [helper.make_node("Expand", ["x", "s"], ["y"], name="expand")],
        [vi("x", [1, 0]), vi("s", [2], I64)],
        [vi("y", [0, 0])],
        opset=13,
    )
    return m, [{"x": np.zeros((1, 0), np.float32), "s": np.array(v, np.int64)} for v in ([3, 0], [1, 0])]


def batch_declared_static():
    """x: [?, 3, 4, 4]; value_info declares the Relu's output [1, 3, 4, 4]: the batch
    size 1 is only the file's claim (onnxruntime gives 2 for a batch of 2)."""
    m = _model([helper.make_node("Relu", ["x"], ["y"], name="relu"), helper.make_node("Neg", ["y"], ["z"], name="neg")],
               [vi("x", [None, 3, 4, 4])], [vi("z", [None, 3, 4, 4])], value_info=[vi("y", [1, 3, 4, 4])])  # fmt: skip
    return m, [{"x": np.ones((n, 3, 4, 4), np.float32)} for n in (1, 2)]


BUILDERS = {
    "unnamed_batch_contradicted": unnamed_batch_contradicted,
    "onehot_declared_3_2_3": onehot_declared,
    "expand_empty_declared_0": expand_empty_declared,
    "batch_declared_static": batch_declared_static,
}


# --- SH001 with an unnamed dynamic dim ---------------------------------------------------------


def test_unnamed_batch_dim_does_not_hide_contradicted_declarations():
    m, _ = unnamed_batch_contradicted()
    found = analyzer.lint(m, select=["SH001"]).findings
    got = sorted((f.details["tensor"], f.details["kind"], [(d["axis"], d["declared"], d["inferred"]) for d in f.details["dims"]]) for f in found)
    assert got == [("y", "dim", [(2, 7, 8)]), ("z", "dim", [(1, 5, 4)])]
    am = analyze(m)
    assert am.value("z").source == "inferred" and am.value("z").shape == (None, 4, 8, 8)


def test_same_model_with_named_batch_gives_the_same_findings():
    m, _ = unnamed_batch_contradicted()
    for v in (m.graph.input[0], m.graph.output[0], m.graph.value_info[0]):
        v.type.tensor_type.shape.dim[0].dim_param = "N"
    found = analyzer.lint(m, select=["SH001"]).findings
    assert sorted(f.details["tensor"] for f in found) == ["y", "z"]


# --- declared sizes are labelled value_info and never proven ---------------------------------------


def test_declared_batch_is_not_inferred():
    m, feeds = batch_declared_static()
    am = analyze(m)
    y = am.value("y")
    assert y.source == "value_info" and y.shape == (1, 3, 4, 4)  # shown, as the file's claim
    assert am.shape(am.graph.main_value("y")) == (None, 3, 4, 4)  # what rules read
    assert am.shapes.onnx_runs == 0  # ops with shape functions of ours: onnx is not asked
    assert rs.declared_only(m) == []
    # and the claim is false at run time
    r = rs.run_case(rs.Case("batch", "t", m, feeds))
    assert [(d.value, d.runtime) for d in r.wrong_declarations] == [("y", (2, 3, 4, 4))]
    assert r.disagreements == []


def test_onehot_declared_output_is_a_claim():
    m, feeds = onehot_declared()
    am = analyze(m)
    y = am.value("y")
    assert y.source == "value_info" and y.shape == (3, 2, 3)
    proven = am.shape(am.graph.main_value("y"))
    assert proven is None or proven[0] is None  # the depth is fed at run time
    r = rs.run_case(rs.Case("onehot", "t", m, feeds))
    assert r.skipped is None, r.detail
    assert sorted(d.runtime for d in r.wrong_declarations) == [(1, 2, 3), (5, 2, 3)]
    assert r.disagreements == [] and rs.declared_only(m) == []
    assert analyzer.lint(m, select=["SH001"]).findings == []  # a claim we cannot disprove


def test_expand_of_empty_declared_static_zero_is_a_claim():
    m, feeds = expand_empty_declared()
    am = analyze(m)
    y = am.value("y")
    assert y.source == "value_info" and y.shape[0] == 0
    assert am.shape(am.graph.main_value("y"))[0] is None
    r = rs.run_case(rs.Case("expand", "t", m, feeds))
    assert r.skipped is None, r.detail
    assert [d.runtime for d in r.wrong_declarations] == [(3, 0), (1, 0)]  # never 0 on axis 0
    assert r.disagreements == [] and rs.declared_only(m) == []


def _dead_tap_model(declared_input):
    """A 5x5 conv with pads 2 on a 1x1 map: 24 of its 25 taps only read padding.  The map's
    size is either the graph input's (proven) or only a value_info declaration."""
    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((2, 2, 5, 5)).astype(np.float32), "w")
    x_shape = [1, 2, 1, 1] if declared_input else [1, 2, None, None]
    return _model(
        [helper.make_node("Relu", ["x"], ["r"], name="relu"), helper.make_node("Conv", ["r", "w"], ["y"], name="conv", pads=[2, 2, 2, 2])],
        [vi("x", x_shape)],
        [vi("y", [1, 2, 1, 1])],
        value_info=[vi("r", [1, 2, 1, 1])],
        inits=[w],
    )


def test_rules_do_not_take_declared_sizes_as_proven():
    proven = analyzer.lint(_dead_tap_model(True), select=["DT001"]).findings
    assert [f.rule for f in proven] == ["DT001"]  # the control: with the size proven, found
    claimed = analyzer.lint(_dead_tap_model(False), select=["DT001"]).findings
    assert claimed == []  # the same size only declared: not a proof


# --- invalid by our own shape function: not handed to onnx ------------------------------------


def _einsum(follow):
    """An Einsum whose term has two ellipses; ``follow``: a Relu after it, or an op of a
    vendor domain (no shape function of ours: onnx's fallback is asked about it)."""
    nodes = [helper.make_node("Einsum", ["x"], ["y"], name="einsum", equation="...i...->i")]
    out = "y"
    if follow == "relu":
        nodes.append(helper.make_node("Relu", ["y"], ["z"], name="relu"))
        out = "z"
    elif follow == "vendor":
        nodes.append(helper.make_node("Foo", ["y"], ["z"], name="custom", domain="my"))
        out = "z"
    m = _model(nodes, [vi("x", [2, 3, 4])], [helper.make_tensor_value_info(out, F, None)])
    if follow == "vendor":
        m.opset_import.append(helper.make_opsetid("my", 1))
    return m


@pytest.mark.parametrize("follow", [None, "relu", "vendor"])
def test_invalid_einsum_is_not_handed_to_onnx(follow):
    """onnx's inference does not finish on this term (it waits the sandbox's 30 s); ours
    says it is invalid, so onnx never sees the node."""
    am = analyze(_einsum(follow))
    assert am.shapes.withheld_from_onnx == ["main:einsum"]
    assert any("two ellipses" in n for n in am.notes)
    assert not any("onnx shape inference failed" in n for n in am.notes), am.notes
    # only the vendor op makes onnx run, on a copy without the Einsum (else: its 30 s limit)
    assert am.shapes.onnx_runs == (1 if follow == "vendor" else 0)


def test_onnx_is_asked_only_about_ops_without_a_shape_function():
    """An unnamed batch dim leaves a dim unknown everywhere; ours has the last word on ops
    it has shape functions for, so onnx is never run (it used to be: an onnx import and a
    fork for nothing)."""
    m, _ = unnamed_batch_contradicted()
    am = analyze(m)
    assert am.shapes.onnx_runs == 0 and not am.shapes.used_onnx_fallback


def test_declared_values_found_from_the_graphs_fill_as_the_pass_over_every_node(monkeypatch):
    """fill_from_value_info looks up the values a graph declares when they are few; the
    infos (shown and proven) must be those the pass over every node's dict gives."""
    import analyzer.shapes.fallback as fb
    from analyzer.graph.build import build_graph
    from analyzer.shapes import infer_shapes

    nodes = [helper.make_node("Relu", ["x"], ["r0"])]
    nodes += [helper.make_node("Reshape", [f"r{i}", "shape"], [f"r{i + 1}"]) for i in range(40)]
    m = _model(
        nodes, [vi("x", [2, 3]), vi("shape", [2], I64)], [vi("r40", [None, 6]), vi("never", [1])],
        value_info=[vi("r5", [3, None]), vi("r5", [3, None]), vi("r7", [2, 3], TensorProto.DOUBLE)],
    )

    def infos(declared):
        monkeypatch.setattr(fb, "_declared", declared)
        g = build_graph(m)
        shapes = infer_shapes(g)
        return shapes._proven, [(k, a.get("info"), a.get("proven")) for k, a in g.nx._node.items() if k[0] == "value"]

    few = fb._declared
    assert len(few(build_graph(m))) < len(build_graph(m).nx._node)  # the look-up path is taken here
    proven, got = infos(few)
    assert proven and any(p is not None for _, _, p in got)  # r5 and r40 take declared sizes
    assert (proven, got) == infos(lambda g: g.nx._node.values())
