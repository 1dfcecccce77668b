"""Conditional DT001 on small hand-built graphs, against execution.

Each model has one input ``x`` of shape [1, 2, S, S] (one symbol for both axes), a
size-changing prefix (strided conv, ceil_mode pool, zero Pad, nothing) and a
dilated or padded conv.  For each conditional finding, the onnxruntime oracle
(which knows nothing of the geometry) runs the model with S at the threshold T
and at T + 1: the dead taps at T are exactly the reported ones, and at T + 1 the
conv has fewer dead taps than reported (the condition is tight).
"""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import analyzer

from . import oracle

pytest.importorskip("onnxruntime")

RNG = np.random.default_rng(0)


def _w(name, shape):
    return numpy_helper.from_array(RNG.standard_normal(shape).astype(np.float32), name)


PREFIXES = {
    "none": ([], []),
    "conv-s2": (
        [helper.make_node("Conv", ["x", "w0"], ["p"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])],
        [("w0", (2, 2, 3, 3))],
    ),
    "conv-s3-valid": ([helper.make_node("Conv", ["x", "w0"], ["p"], kernel_shape=[2, 2], strides=[3, 3])], [("w0", (2, 2, 2, 2))]),
    "maxpool-ceil": ([helper.make_node("MaxPool", ["x"], ["p"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)], []),
    "avgpool-s4": ([helper.make_node("AveragePool", ["x"], ["p"], kernel_shape=[4, 4], strides=[4, 4])], []),
    "zero-pad": ([helper.make_node("Pad", ["x", "pads"], ["p"], mode="constant")], [("pads", None)]),
}

CONVS = {
    "d4-same": dict(kernel_shape=[3, 3], dilations=[4, 4], pads=[4, 4, 4, 4]),
    "d3-asym": dict(kernel_shape=[3, 3], dilations=[3, 3], pads=[5, 2, 1, 6]),
    "k5-pad4": dict(kernel_shape=[5, 5], pads=[4, 4, 4, 4]),
    "d2-s2": dict(kernel_shape=[3, 3], dilations=[2, 2], strides=[2, 2], pads=[2, 2, 2, 2]),
    "same-upper-k7-s2": dict(kernel_shape=[7, 7], strides=[2, 2], auto_pad="SAME_UPPER"),
}


def _model(prefix, conv):
    nodes, weights = PREFIXES[prefix]
    inits = []
    for name, shape in weights:
        if name == "pads":
            inits.append(numpy_helper.from_array(np.array([0, 0, 2, 1, 0, 0, 3, 0], dtype=np.int64), "pads"))
        else:
            inits.append(_w(name, shape))
    src = "p" if nodes else "x"
    k = CONVS[conv]["kernel_shape"]
    inits.append(_w("w", (3, 2, *k)))
    body = list(nodes) + [helper.make_node("Conv", [src, "w"], ["y"], name="target", **CONVS[conv])]
    g = helper.make_graph(
        body,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, "S", "S"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


@pytest.mark.parametrize("conv", sorted(CONVS))
@pytest.mark.parametrize("prefix", sorted(PREFIXES))
def test_threshold_is_exact(prefix, conv, tmp_path):
    m = _model(prefix, conv)
    path = tmp_path / "m.onnx"
    onnx.save_model(m, str(path))
    (fr,) = analyzer.lint(str(path), select=["DT001"]).files
    assert fr.status == "ok", fr.error
    mine = [f for f in fr.findings if f.node == "target"]
    conditional = [f for f in mine if f.details.get("condition")]
    definite = [f for f in mine if not f.details.get("condition")]
    if not conditional:
        # then, by execution, no size where the map is at least the kernel kills a tap
        # beyond the always-dead ones: probe a few sizes
        always = {tuple(t) for t in definite[0].details["dead_taps"]} if definite else set()
        k = CONVS[conv]["kernel_shape"][0]
        probed = 0
        for s in range(1, 41):
            try:
                found = oracle.dead_taps_by_execution(path, model=m, dims={"S": s}, nodes=["target"])
            except Exception:  # a size the model cannot run at
                continue
            (ct,) = found.values()
            if min(ct.input_shape[2:]) >= k:
                probed += 1
                assert {tuple(t) for t in ct.dead_taps} == always, (prefix, conv, s)
        assert probed
        return
    for f in conditional:
        (clause,) = f.details["condition"]  # one symbol for both axes
        assert clause["input"] == "x" and clause["symbol"] == "S"
        t = clause["value"]
        reported = {tuple(x) for x in f.details["dead_taps"]}
        assert oracle.dead_tap_set(path, m, {"S": t}, "target") == reported, (prefix, conv, t)
        past = oracle.dead_tap_set(path, m, {"S": t + 1}, "target")
        assert past < reported, (prefix, conv, t + 1, past)


def test_size_of_two_symbols_is_a_note_not_a_guess(tmp_path):
    """A conv whose map size depends on two symbols (H*W reshaped into one axis) is
    not analyzed conditionally: a note says why."""
    g = helper.make_graph(
        [
            helper.make_node("Shape", ["x"], ["s"]),
            helper.make_node("Gather", ["s", "i2"], ["h"], axis=0),
            helper.make_node("Gather", ["s", "i3"], ["w_"], axis=0),
            helper.make_node("Mul", ["h", "w_"], ["hw"]),
            helper.make_node("Concat", ["one2", "hw", "one1"], ["shape"], axis=0),
            helper.make_node("Reshape", ["x", "shape"], ["r"]),
            helper.make_node("Conv", ["r", "w"], ["y"], name="target", kernel_shape=[3, 3], dilations=[9, 9], pads=[9, 9, 9, 9]),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [
            numpy_helper.from_array(np.array([2], dtype=np.int64), "i2"),
            numpy_helper.from_array(np.array([3], dtype=np.int64), "i3"),
            numpy_helper.from_array(np.array([1, 2], dtype=np.int64), "one2"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "one1"),
            _w("w", (3, 2, 3, 3)),
        ],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    (fr,) = analyzer.lint(m, select=["DT001"]).files
    assert fr.status == "ok", fr.error
    # the width axis (1) is static: its dead taps are definite; H*W gives no condition
    assert not any(f.details.get("condition") for f in fr.findings)
    assert any("depends on 2 symbols" in n for n in fr.notes), fr.notes


def test_many_large_symbolic_convs_stay_bounded():
    """A file of many convs with large dilated kernels on a symbolic size: the
    conditional analysis is charged to the model's tap budget; past it, a note."""
    import time

    n = 300
    nodes, inits = [], []
    for i in range(n):
        inits.append(numpy_helper.from_array(np.zeros((1, 1, 61, 61), np.float32), f"w{i}"))
        nodes.append(helper.make_node("Conv", ["x", f"w{i}"], [f"y{i}"], name=f"c{i}", kernel_shape=[61, 61], dilations=[7, 7], pads=[210] * 4))
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, "S", "S"])],
        [helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, None) for i in range(n)],
        inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    start = time.monotonic()
    (fr,) = analyzer.lint(m, select=["DT001"]).files
    assert fr.status == "ok", fr.error
    assert time.monotonic() - start < 120
    assert any("kernel too large to analyze" in note for note in fr.notes), fr.notes
    assert any(f.details.get("condition") for f in fr.findings)  # the first ones were analyzed
