"""DT001 dead-conv-taps on small hand-built models, against execution (see
``tests/rules/_conv_models.py`` for the oracle)."""
from __future__ import annotations

import copy

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import analyzer
from tests.rules._conv_models import (
    F,
    _input_feeds,
    assert_agrees_with_execution,
    conv,
    dead_taps_by_execution,
    ints,
    lint,
    make_model,
    only_finding,
    pooled_conv,
    run_model,
    taps,
    vi,
    weight,
    with_initializer,
)

# --- DT001: pooled maps ------------------------------------------------------------------


def test_global_average_pool_then_dilated_conv():
    m = pooled_conv(dilations=[3, 3], pads=[3, 3, 3, 3])
    f = only_finding(m)
    assert f.rule == "DT001" and f.name == "dead-conv-taps" and f.severity == "warning"
    assert f.op_type == "Conv" and f.graph == "main" and f.node_index == 1
    d = f.details
    assert d["weight"] == "W" and d["weight_source"] == "initializer"
    assert d["kernel_shape"] == [3, 3] and d["input_spatial_shape"] == [1, 1]
    assert d["live_taps"] == [[1, 1]]
    assert d["effective_kernel_shape"] == [1, 1]
    assert d["effective_pads"] == [0, 0, 0, 0]
    assert d["cause"] == {"node": "pool", "op_type": "GlobalAveragePool"}
    assert d["pad_node"] is None
    assert_agrees_with_execution(m, f, "conv", (2, 4, 3, 3))


def test_reduce_mean_with_axes_input():
    nodes = [
        helper.make_node("ReduceMean", ["x", "axes"], ["p"], name="mean", keepdims=1),
        conv("p", "W", "y", dilations=[3, 3], pads=[3, 3, 3, 3]),
    ]
    m = make_model(nodes, [vi("x", [1, 4, 6, 5])], ["y"], [ints("axes", [-1, -2]), weight("W", (2, 4, 3, 3))], opset=18)
    f = only_finding(m)
    assert f.details["input_spatial_shape"] == [1, 1]
    assert f.details["cause"] == {"node": "mean", "op_type": "ReduceMean"}
    assert_agrees_with_execution(m, f, "conv", (2, 4, 3, 3))


def test_reduce_mean_keepdims_0_then_unsqueeze():
    nodes = [
        helper.make_node("ReduceMean", ["x", "axes"], ["r"], name="mean", keepdims=0),
        helper.make_node("Unsqueeze", ["r", "axes_u"], ["p"], name="unsq"),
        conv("p", "W", "y", dilations=[5, 5], pads=[5, 5, 5, 5]),
    ]
    m = make_model(nodes, [vi("x", [1, 4, 6, 6])], ["y"], [ints("axes", [2, 3]), ints("axes_u", [2, 3]), weight("W", (2, 4, 3, 3))], opset=18)
    f = only_finding(m)
    assert f.details["input_spatial_shape"] == [1, 1]
    assert_agrees_with_execution(m, f, "conv", (2, 4, 3, 3))


def test_sigmoid_between_pool_and_conv_keeps_the_pool_as_cause():
    nodes = [
        helper.make_node("GlobalMaxPool", ["x"], ["p"], name="gmp"),
        helper.make_node("Sigmoid", ["p"], ["s"], name="sig"),
        conv("s", "W", "y", pads=[1, 1, 1, 1]),
    ]
    m = make_model(nodes, [vi("x", [1, 4, 5, 5])], ["y"], [weight("W", (2, 4, 3, 3))])
    f = only_finding(m)
    assert f.details["cause"] == {"node": "gmp", "op_type": "GlobalMaxPool"}
    assert_agrees_with_execution(m, f, "conv", (2, 4, 3, 3))


# --- DT001: Pad nodes (exporter invariance) ----------------------------------------------


def _pad_then_conv(mode="constant", value=0.0, pads=2, spatial=4, value_input=True, pool=False, dil=3):
    inputs = ["x0" if pool else "x", "pads"]
    inits = [ints("pads", [0, 0, pads, pads, 0, 0, pads, pads]), weight("W", (2, 3, 3, 3))]
    if value_input:
        inputs.append("value")
        inits.append(numpy_helper.from_array(np.array(value, np.float32), "value"))
    nodes = [helper.make_node("Pad", inputs, ["padded"], name="pad", mode=mode), conv("padded", "W", "y", dilations=[dil, dil])]
    if pool:
        nodes.insert(0, helper.make_node("GlobalAveragePool", ["x"], ["x0"], name="pool"))
    return make_model(nodes, [vi("x", [1, 3, spatial, spatial])], ["y"], inits)


def _folded_conv(pads=2, spatial=4, pool=False, dil=3):
    nodes = [conv("x0" if pool else "x", "W", "y", dilations=[dil, dil], pads=[pads] * 4)]
    if pool:
        nodes.insert(0, helper.make_node("GlobalAveragePool", ["x"], ["x0"], name="pool"))
    return make_model(nodes, [vi("x", [1, 3, spatial, spatial])], ["y"], [weight("W", (2, 3, 3, 3))])


@pytest.mark.parametrize("value_input", [True, False], ids=["value-0", "no-value"])
@pytest.mark.parametrize("pool, pads, spatial", [(False, 2, 4), (True, 3, 6)], ids=["4x4", "pooled"])
def test_zero_pad_node_equals_folded_pads(value_input, pool, pads, spatial):
    with_pad = _pad_then_conv(pads=pads, spatial=spatial, value_input=value_input, pool=pool)
    folded = _folded_conv(pads=pads, spatial=spatial, pool=pool)
    a = only_finding(with_pad)
    b = only_finding(folded)
    for key in ("dead_weights", "dead_taps", "live_taps", "total_weights", "input_spatial_shape", "pads", "effective_kernel_shape"):
        assert a.details[key] == b.details[key], key
    assert a.details["pad_node"] == "pad" and b.details["pad_node"] is None
    assert a.details["cause"] == b.details["cause"]
    assert_agrees_with_execution(with_pad, a, "conv", (2, 3, 3, 3))
    assert_agrees_with_execution(folded, b, "conv", (2, 3, 3, 3))


def test_zero_pad_node_attribute_form_opset_10():
    nodes = [
        helper.make_node("Pad", ["x"], ["padded"], name="pad", mode="constant", pads=[0, 0, 2, 2, 0, 0, 2, 2], value=0.0),
        conv("padded", "W", "y", dilations=[3, 3]),
    ]
    m = make_model(nodes, [vi("x", [1, 3, 4, 4])], ["y"], [weight("W", (2, 3, 3, 3))], opset=10)
    m.ir_version = 5
    f = only_finding(m)
    assert f.details["pad_node"] == "pad"
    folded = only_finding(_folded_conv()).details
    assert (f.details["dead_taps"], f.details["dead_weights"]) == (folded["dead_taps"], folded["dead_weights"])
    assert_agrees_with_execution(m, f, "conv", (2, 3, 3, 3))


@pytest.mark.parametrize(
    "mode, value",
    [("constant", 1.0), ("constant", -0.5), ("reflect", 0.0), ("edge", 0.0)],
    ids=["constant-1", "constant-neg", "reflect", "edge"],
)
def test_pad_that_is_not_zero_padding_does_not_count(mode, value):
    # The conv sees an 8x8 map of real values; counting the Pad as zero padding
    # would wrongly make the outer taps dead (they are dead on the 4x4 map with pads 2).
    m = _pad_then_conv(mode=mode, value=value, value_input=(mode == "constant"))
    assert lint(m, "DT001") == []
    assert_agrees_with_execution(m, None, "conv", (2, 3, 3, 3))


def test_pad_on_channel_axis_is_never_a_false_positive():
    # Pads the channel axis (3 -> 4) too.  The analyzer does not fold such a Pad
    # (documented: only spatial-only Pads are folded); whatever it reports must
    # still be dead by execution.
    nodes = [
        helper.make_node("Pad", ["x", "pads"], ["padded"], name="pad", mode="constant"),
        conv("padded", "W", "y", dilations=[3, 3]),
    ]
    m = make_model(nodes, [vi("x", [1, 3, 4, 4])], ["y"], [ints("pads", [0, 1, 2, 2, 0, 0, 2, 2]), weight("W", (2, 4, 3, 3))])
    found = lint(m, "DT001")
    truth = dead_taps_by_execution(m, "conv", (2, 4, 3, 3))
    assert truth  # the zero border is still there
    assert {tuple(t) for f in found for t in f.details["dead_taps"]} <= truth


@pytest.mark.parametrize("axes", [[2, 3], [-2, -1]])
def test_zero_pad_with_axes_input_opset_18(axes):
    nodes = [
        helper.make_node("Pad", ["x", "pads", "", "axes"], ["padded"], name="pad", mode="constant"),
        conv("padded", "W", "y", dilations=[3, 3]),
    ]
    m = make_model(nodes, [vi("x", [1, 3, 4, 4])], ["y"], [ints("pads", [2, 2, 2, 2]), ints("axes", axes), weight("W", (2, 3, 3, 3))], opset=18)
    f = only_finding(m)
    assert f.details["pad_node"] == "pad"
    assert f.details["dead_taps"] == only_finding(_folded_conv()).details["dead_taps"]
    assert_agrees_with_execution(m, f, "conv", (2, 3, 3, 3))


def test_zero_pad_plus_conv_pads_add_up():
    # Pad 1 in front, conv pads 2: the taps see a total of 3 on each side.
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"),
        helper.make_node("Pad", ["p", "pads"], ["padded"], name="pad", mode="constant"),
        conv("padded", "W", "y", dilations=[3, 3], pads=[2, 2, 2, 2]),
    ]
    m = make_model(nodes, [vi("x", [1, 3, 5, 5])], ["y"], [ints("pads", [0, 0, 1, 1, 0, 0, 1, 1]), weight("W", (2, 3, 3, 3))])
    f = only_finding(m)
    assert f.details["pads"] == [3, 3, 3, 3]
    assert f.details["input_spatial_shape"] == [1, 1]
    assert f.details["cause"] == {"node": "pool", "op_type": "GlobalAveragePool"}
    assert_agrees_with_execution(m, f, "conv", (2, 3, 3, 3))


# --- DT001: computed weights -----------------------------------------------------------------


def test_weight_from_constant_node():
    w = np.random.default_rng(0).uniform(0.5, 1.5, (2, 4, 3, 3)).astype(np.float32)
    nodes = [
        helper.make_node("Constant", [], ["Wc"], name="wconst", value=numpy_helper.from_array(w, "wval")),
        helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"),
        conv("p", "Wc", "y", dilations=[2, 2], pads=[2, 2, 2, 2]),
    ]
    m = make_model(nodes, [vi("x", [1, 4, 5, 5])], ["y"])
    f = only_finding(m)
    assert f.details["weight"] == "Wc"
    assert "Constant" in f.details["weight_source"] and "wconst" in f.details["weight_source"]
    assert f.details["weight_source"] != "initializer"
    assert_agrees_with_execution(m, f, "conv", (2, 4, 3, 3))


def test_weight_from_dequantize_linear():
    wq = np.random.default_rng(0).integers(1, 100, (2, 4, 3, 3)).astype(np.int8)
    nodes = [
        helper.make_node("DequantizeLinear", ["Wq", "scale", "zp"], ["Wd"], name="dq"),
        helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"),
        conv("p", "Wd", "y", dilations=[3, 3], pads=[3, 3, 3, 3]),
    ]
    inits = [
        numpy_helper.from_array(wq, "Wq"),
        numpy_helper.from_array(np.array(0.02, np.float32), "scale"),
        numpy_helper.from_array(np.array(0, np.int8), "zp"),
    ]
    m = make_model(nodes, [vi("x", [1, 4, 5, 5])], ["y"], inits)
    f = only_finding(m)
    src = f.details["weight_source"]
    assert "DequantizeLinear" in src and "dq" in src and "Wq" in src
    assert_agrees_with_execution(m, f, "conv", (2, 4, 3, 3))
    # And on the real model: set the int8 weights at the reported dead taps to an extreme value.
    feeds = _input_feeds(m)
    base = run_model(m, feeds)[0]
    hit = wq.copy()
    for tap in f.details["dead_taps"]:
        hit[(slice(None), slice(None)) + tuple(tap)] = 127
    np.testing.assert_allclose(run_model(with_initializer(m, "Wq", hit), feeds)[0], base, rtol=1e-6, atol=1e-6)
    live = wq.copy()
    live[(slice(None), slice(None)) + tuple(f.details["live_taps"][0])] = -100
    assert not np.allclose(run_model(with_initializer(m, "Wq", live), feeds)[0], base, atol=1e-3)


def test_weight_from_graph_input():
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"), conv("p", "W", "y", pads=[1, 1, 1, 1])]
    m = make_model(nodes, [vi("x", [1, 4, 5, 5]), vi("W", [2, 4, 3, 3])], ["y"])
    f = only_finding(m)
    assert f.details["weight_source"] == "graph input"
    assert taps(f, "live_taps") == {(1, 1)}


def test_qlinear_conv_by_execution():
    # x is a static 1x1 map; QLinearConv 3x3 pads 1: only the centre tap reads x.
    rng = np.random.default_rng(0)
    wq = rng.integers(1, 60, (2, 3, 3, 3)).astype(np.int8)
    names = ["x", "xs", "xz", "Wq", "ws", "wz", "ys", "yz"]
    nodes = [helper.make_node("QLinearConv", names, ["y"], name="conv", pads=[1, 1, 1, 1])]
    inits = [
        numpy_helper.from_array(np.array(0.05, np.float32), "xs"),
        numpy_helper.from_array(np.array(3, np.uint8), "xz"),
        numpy_helper.from_array(wq, "Wq"),
        numpy_helper.from_array(np.array(0.01, np.float32), "ws"),
        numpy_helper.from_array(np.array(0, np.int8), "wz"),
        numpy_helper.from_array(np.array(0.5, np.float32), "ys"),
        numpy_helper.from_array(np.array(0, np.uint8), "yz"),
    ]
    m = make_model(nodes, [vi("x", [1, 3, 1, 1], TensorProto.UINT8)], [vi("y", None, TensorProto.UINT8)], inits)
    f = only_finding(m)
    assert f.op_type == "QLinearConv" and f.details["weight"] == "Wq"
    assert f.details["live_taps"] == [[1, 1]]
    feeds = {"x": np.array([40, 50, 60], np.uint8).reshape(1, 3, 1, 1)}
    base = run_model(m, feeds)[0]
    hit = wq.copy()
    for tap in f.details["dead_taps"]:
        hit[(slice(None), slice(None)) + tuple(tap)] = 127
    np.testing.assert_array_equal(run_model(with_initializer(m, "Wq", hit), feeds)[0], base)
    live = wq.copy()
    live[:, :, 1, 1] = -wq[:, :, 1, 1]
    assert not np.array_equal(run_model(with_initializer(m, "Wq", live), feeds)[0], base)


# --- DT001: negatives ------------------------------------------------------------------------


def test_eca_conv1d_over_channels_is_not_flagged():
    # ECA: pool to N x C x 1 x 1, squeeze, transpose to N x 1 x C, Conv1d along C.
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"),
        helper.make_node("Squeeze", ["p", "sq_axes"], ["s"], name="squeeze"),  # 1 x 16 x 1
        helper.make_node("Transpose", ["s"], ["t"], name="transpose", perm=[0, 2, 1]),  # 1 x 1 x 16
        conv("t", "W", "y", pads=[1, 1]),
    ]
    m = make_model(nodes, [vi("x", [1, 16, 4, 4])], ["y"], [ints("sq_axes", [3]), weight("W", (1, 1, 3))])
    assert lint(m, "DT001") == []
    assert_agrees_with_execution(m, None, "conv", (1, 1, 3))


def test_eca_via_reshape_is_not_flagged():
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"),
        helper.make_node("Reshape", ["p", "shape"], ["t"], name="reshape"),  # 1 x 1 x 16
        conv("t", "W", "y", pads=[2, 2]),
    ]
    m = make_model(nodes, [vi("x", [1, 16, 4, 4])], ["y"], [ints("shape", [1, 1, -1]), weight("W", (1, 1, 5))])
    assert lint(m, "DT001") == []
    assert_agrees_with_execution(m, None, "conv", (1, 1, 5))


def test_symbolic_input_without_pooling_gets_only_conditional_findings():
    """Nothing is dead at every size; below the thresholds (H <= 4, W <= 4) taps are:
    info findings with conditions, no warning (tests/test_conditional*.py check the
    thresholds by execution)."""
    m = make_model(
        [conv("x", "W", "y", dilations=[4, 4], pads=[4, 4, 4, 4])],
        [vi("x", [1, 2, "H", "W"])],
        ["y"],
        [weight("W", (2, 2, 3, 3))],
    )
    (fr,) = analyzer.lint(m).files
    assert fr.status == "ok" and fr.findings
    assert all(f.severity == "info" for f in fr.findings)
    assert sorted(tuple((c["input"], c["axis"], c["value"]) for c in f.details["condition"]) for f in fr.findings) == [
        (("x", 2, 4),),
        (("x", 2, 4), ("x", 3, 4)),
        (("x", 3, 4),),
    ]


def test_symbolic_size_that_cannot_be_solved_is_a_note():
    """A map size that shrinks as the input grows (here: a Slice keeping 40 - H rows,
    built from the input's Shape) is not solved for: a note, no finding."""
    m = make_model(
        [
            helper.make_node("Shape", ["x"], ["s"]),
            helper.make_node("Gather", ["s", "i2"], ["h"], axis=0),
            helper.make_node("Sub", ["forty", "h"], ["keep"]),
            helper.make_node("Slice", ["x", "zero", "keep", "i2"], ["sl"]),
            conv("sl", "W", "y", dilations=[4, 4], pads=[4, 4, 4, 4]),
        ],
        [vi("x", [1, 2, "H", 16])],
        ["y"],
        [
            weight("W", (2, 2, 3, 3)),
            numpy_helper.from_array(np.array([2], dtype=np.int64), "i2"),
            numpy_helper.from_array(np.array([0], dtype=np.int64), "zero"),
            numpy_helper.from_array(np.array([40], dtype=np.int64), "forty"),
        ],
    )
    (fr,) = analyzer.lint(m).files
    assert fr.status == "ok"
    assert not any(f.details.get("condition") for f in fr.findings)
    assert any("not checked" in n for n in fr.notes), fr.notes


def test_symbolic_input_with_global_pool_is_flagged():
    m = make_model(
        [helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"), conv("p", "W", "y", dilations=[4, 4], pads=[4, 4, 4, 4])],
        [vi("x", ["N", 2, "H", "W"])],
        ["y"],
        [weight("W", (2, 2, 3, 3))],
    )
    f = only_finding(m)
    assert taps(f, "live_taps") == {(1, 1)}


def test_plain_conv_stack_is_clean():
    m = make_model(
        [conv("x", "W1", "a", name="c1", pads=[1, 1, 1, 1]), helper.make_node("Relu", ["a"], ["r"]), conv("r", "W2", "y", name="c2", pads=[1, 1, 1, 1])],
        [vi("x", [1, 2, 8, 8])],
        ["y"],
        [weight("W1", (2, 2, 3, 3)), weight("W2", (2, 2, 3, 3), seed=1)],  # distinct: equal ones are WS005's
    )
    assert lint(m) == []


# --- DT001: ranks, groups, pads ----------------------------------------------------------------


def test_conv1d_after_pool():
    m = make_model(
        [helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"), conv("p", "W", "y", dilations=[2], pads=[4, 4])],
        [vi("x", [1, 3, 7])],
        ["y"],
        [weight("W", (2, 3, 5))],
    )
    f = only_finding(m)
    assert f.details["kernel_shape"] == [5] and f.details["live_taps"] == [[2]]
    assert_agrees_with_execution(m, f, "conv", (2, 3, 5))


def test_conv1d_partial():
    # n=3, k=5, dilation 2, pads 4: tap j reads o - 4 + 2j for o in 0..2 -> taps 1..3 live.
    m = make_model([conv("x", "W", "y", dilations=[2], pads=[4, 4])], [vi("x", [1, 2, 3])], ["y"], [weight("W", (2, 2, 5))])
    f = only_finding(m)
    assert f.details["cause"] is None
    assert_agrees_with_execution(m, f, "conv", (2, 2, 5))


def test_conv3d_after_pool():
    m = make_model(
        [helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"), conv("p", "W", "y", pads=[1] * 6)],
        [vi("x", [1, 2, 3, 4, 4])],
        ["y"],
        [weight("W", (2, 2, 3, 3, 3))],
    )
    f = only_finding(m)
    assert f.details["live_taps"] == [[1, 1, 1]]
    assert len(f.details["dead_taps"]) == 26
    assert_agrees_with_execution(m, f, "conv", (2, 2, 3, 3, 3))


def test_conv3d_anisotropic():
    # depth 2, dilation 2, pads 2: tap j reads o - 2 + 2j for o in {0, 1} -> only j=1;
    # H/W 5 with pad 1: every tap live.  So 18 of 27 taps are dead.
    m = make_model([conv("x", "W", "y", pads=[2, 1, 1, 2, 1, 1], dilations=[2, 1, 1])], [vi("x", [1, 1, 2, 5, 5])], ["y"], [weight("W", (1, 1, 3, 3, 3))])
    f = only_finding(m)
    assert f.details["live_taps_per_axis"] == [[1], [0, 1, 2], [0, 1, 2]]
    assert len(f.details["dead_taps"]) == 18
    assert_agrees_with_execution(m, f, "conv", (1, 1, 3, 3, 3))


@pytest.mark.parametrize("channels, out_ch, group", [(4, 4, 4), (4, 6, 2)], ids=["depthwise", "group2"])
def test_grouped_conv(channels, out_ch, group):
    m = pooled_conv(channels=channels, out_ch=out_ch, group=group, pads=[1, 1, 1, 1])
    f = only_finding(m)
    assert f.details["group"] == group
    assert f.details["dead_weights"] == out_ch * (channels // group) * 8
    assert f.details["total_weights"] == out_ch * (channels // group) * 9
    assert_agrees_with_execution(m, f, "conv", (out_ch, channels // group, 3, 3))


def test_asymmetric_pads():
    # H: pads (4, 0), W: pads (0, 4), dilation 2 on a 3x3 input.
    m = make_model([conv("x", "W", "y", dilations=[2, 2], pads=[4, 0, 0, 4])], [vi("x", [1, 2, 3, 3])], ["y"], [weight("W", (2, 2, 3, 3))])
    f = only_finding(m)
    assert f.details["pads"] == [4, 0, 0, 4]
    truth = assert_agrees_with_execution(m, f, "conv", (2, 2, 3, 3))
    assert len(truth) == 5  # rows {1, 2} x cols {0, 1} live


@pytest.mark.parametrize("kernel, live", [(3, {(1, 1)}), (2, {(0, 0)}), (4, {(1, 1)})])
def test_auto_pad_same_upper_on_1x1(kernel, live):
    m = pooled_conv(kernel=(kernel, kernel), auto_pad="SAME_UPPER")
    f = only_finding(m)
    assert taps(f, "live_taps") == live
    assert_agrees_with_execution(m, f, "conv", (2, 4, kernel, kernel))


def test_auto_pad_same_lower_even_kernel_on_1x1():
    m = pooled_conv(kernel=(2, 2), auto_pad="SAME_LOWER")
    f = only_finding(m)
    assert taps(f, "live_taps") == {(1, 1)}
    assert_agrees_with_execution(m, f, "conv", (2, 4, 2, 2))


def test_auto_pad_valid_has_no_dead_taps():
    m = make_model([conv("x", "W", "y", auto_pad="VALID")], [vi("x", [1, 2, 3, 3])], ["y"], [weight("W", (2, 2, 3, 3))])
    assert lint(m, "DT001") == []


def test_conv_transpose_pads_crop_edge_taps():
    # n=2, k=3, stride 2, pads 2: output 1; tap j writes 2i - 2 + j -> taps 0 and 2 live, 1 dead.
    m = make_model(
        [helper.make_node("ConvTranspose", ["x", "W"], ["y"], name="conv", strides=[2, 2], pads=[2, 2, 2, 2])],
        [vi("x", [1, 3, 2, 2])],
        ["y"],
        [weight("W", (3, 2, 3, 3))],
    )
    f = only_finding(m)
    assert f.op_type == "ConvTranspose" and f.details["transpose"] is True
    assert taps(f, "live_taps") == {(0, 0), (0, 2), (2, 0), (2, 2)}
    assert f.details["live_taps_contiguous"] is False
    assert_agrees_with_execution(m, f, "conv", (3, 2, 3, 3))


def test_conv_transpose_on_1x1_with_pads():
    m = make_model(
        [
            helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"),
            helper.make_node("ConvTranspose", ["p", "W"], ["y"], name="conv", pads=[1, 1, 1, 1], group=2),
        ],
        [vi("x", [1, 4, 5, 5])],
        ["y"],
        [weight("W", (4, 3, 3, 3))],
    )
    f = only_finding(m)
    assert taps(f, "live_taps") == {(1, 1)}
    assert_agrees_with_execution(m, f, "conv", (4, 3, 3, 3))


def test_conv_transpose_without_crop_is_clean():
    m = make_model(
        [helper.make_node("ConvTranspose", ["x", "W"], ["y"], name="conv", strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1])],
        [vi("x", [1, 2, 3, 3])],
        ["y"],
        [weight("W", (2, 2, 3, 3))],
    )
    assert lint(m, "DT001") == []
    assert_agrees_with_execution(m, None, "conv", (2, 2, 3, 3))


def test_strided_conv_is_the_cause():
    # down: 8x8 -> 2x2 (3x3, stride 4, all taps live); conv: 3x3 dilation 3 pads 3 on 2x2.
    m = make_model(
        [conv("x", "Wd", "d", name="down", strides=[4, 4]), helper.make_node("Relu", ["d"], ["r"], name="relu"), conv("r", "W", "y", dilations=[3, 3], pads=[3, 3, 3, 3])],
        [vi("x", [1, 2, 8, 8])],
        ["y"],
        [weight("Wd", (2, 2, 3, 3)), weight("W", (2, 2, 3, 3), seed=1)],
    )
    f = only_finding(m)
    assert f.details["input_spatial_shape"] == [2, 2]
    assert f.details["cause"] == {"node": "down", "op_type": "Conv"}
    assert_agrees_with_execution(m, f, "conv", (2, 2, 3, 3))
    assert dead_taps_by_execution(m, "down", (2, 2, 3, 3)) == set()


def test_maxpool_is_the_cause():
    m = make_model(
        [helper.make_node("MaxPool", ["x"], ["p"], name="mp", kernel_shape=[4, 4], strides=[4, 4]), conv("p", "W", "y", dilations=[4, 4], pads=[4, 4, 4, 4])],
        [vi("x", [1, 2, 8, 8])],
        ["y"],
        [weight("W", (2, 2, 3, 3))],
    )
    f = only_finding(m)
    assert f.details["cause"] == {"node": "mp", "op_type": "MaxPool"}
    assert_agrees_with_execution(m, f, "conv", (2, 2, 3, 3))


def test_aspp_dilation_36_on_28x28_centre_only():
    m = make_model([conv("x", "W", "y", dilations=[36, 36], pads=[36] * 4)], [vi("x", [1, 1, 28, 28])], ["y"], [weight("W", (2, 1, 3, 3))])
    f = only_finding(m)
    assert f.details["live_taps"] == [[1, 1]]
    assert f.details["dead_weights"] == 2 * 8
    assert_agrees_with_execution(m, f, "conv", (2, 1, 3, 3))


def test_aspp_dilation_24_on_28x28_is_clean():
    m = make_model([conv("x", "W", "y", dilations=[24, 24], pads=[24] * 4)], [vi("x", [1, 1, 28, 28])], ["y"], [weight("W", (2, 1, 3, 3))])
    assert lint(m, "DT001") == []
    assert_agrees_with_execution(m, None, "conv", (2, 1, 3, 3))


def test_7x7_on_3x3_with_pad_3():
    m = make_model([conv("x", "W", "y", pads=[3, 3, 3, 3])], [vi("x", [1, 2, 3, 3])], ["y"], [weight("W", (2, 2, 7, 7))])
    f = only_finding(m)
    truth = assert_agrees_with_execution(m, f, "conv", (2, 2, 7, 7))
    assert len(truth) == 49 - 25
    assert f.details["effective_kernel_shape"] == [5, 5]
    assert f.details["effective_pads"] == [2, 2, 2, 2]


@pytest.mark.parametrize("stride", [2, 3])
def test_strided_conv_with_big_pads(stride):
    m = make_model(
        [conv("x", "W", "y", strides=[stride, stride], pads=[3, 1, 2, 4], dilations=[2, 1])],
        [vi("x", [1, 1, 4, 5])],
        ["y"],
        [weight("W", (1, 1, 5, 7))],
    )
    found = lint(m, "DT001")
    assert_agrees_with_execution(m, found[0] if found else None, "conv", (1, 1, 5, 7))


def test_effective_kernel_reproduces_the_output():
    # The "How to fix" advice: keep only the live taps, use the effective pads.
    m = make_model([conv("x", "W", "y", pads=[3, 3, 3, 3])], [vi("x", [1, 2, 3, 3])], ["y"], [weight("W", (2, 2, 7, 7))])
    d = only_finding(m).details
    per_axis = d["live_taps_per_axis"]
    w = numpy_helper.to_array(m.graph.initializer[0])
    small = w[:, :, per_axis[0][0] : per_axis[0][-1] + 1, per_axis[1][0] : per_axis[1][-1] + 1]
    assert list(small.shape[2:]) == d["effective_kernel_shape"]
    m2 = make_model([conv("x", "W", "y", pads=d["effective_pads"], dilations=d["effective_dilations"])], [vi("x", [1, 2, 3, 3])], ["y"], [numpy_helper.from_array(np.ascontiguousarray(small), "W")])
    feeds = _input_feeds(m)
    np.testing.assert_allclose(run_model(m2, feeds)[0], run_model(m, feeds)[0], rtol=1e-5, atol=1e-5)


def test_conv_in_if_branch_is_checked():
    then_g = helper.make_graph([conv("p", "W", "ty", name="inner_conv", pads=[1, 1, 1, 1])], "t", [], [vi("ty", None)])
    else_g = helper.make_graph([helper.make_node("Identity", ["p"], ["ey"])], "e", [], [vi("ey", None)])
    m = make_model(
        [helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"), helper.make_node("If", ["c"], ["y"], name="if", then_branch=then_g, else_branch=else_g)],
        [vi("x", [1, 2, 4, 4]), vi("c", [], TensorProto.BOOL)],
        ["y"],
        [weight("W", (2, 2, 3, 3))],
    )
    (f,) = lint(m, "DT001")
    assert f.node == "inner_conv" and f.graph == "main/if.then_branch"
    assert taps(f, "live_taps") == {(1, 1)}



# --- DT001 end to end: random shrink-then-conv chains against execution -------------------


def _random_shrink(rng, spatial):
    """A random op that changes the spatial size: (nodes, inits, name of its output)."""
    kind = rng.choice(["MaxPool", "AveragePool", "Conv", "Slice", "SpaceToDepth", "Resize"])
    if kind in ("MaxPool", "AveragePool"):
        k = [int(rng.integers(1, 4)) for _ in range(2)]
        s = [int(rng.integers(1, 4)) for _ in range(2)]
        pads = [int(rng.integers(0, kk)) for kk in k] * 2
        attrs = dict(kernel_shape=k, strides=s, pads=pads, ceil_mode=int(rng.integers(0, 2)))
        if kind == "MaxPool" and rng.integers(0, 2):
            attrs["dilations"] = [int(rng.integers(1, 3)) for _ in range(2)]
            attrs["pads"] = [0, 0, 0, 0]
        return [helper.make_node(kind, ["x"], ["s"], name="shrink", **attrs)], [], attrs
    if kind == "Conv":
        attrs = dict(strides=[int(rng.integers(2, 4))] * 2, pads=[int(rng.integers(0, 2))] * 4)
        return [helper.make_node("Conv", ["x", "Ws"], ["s"], name="shrink", **attrs)], [weight("Ws", (3, 3, 3, 3), seed=5)], attrs
    if kind == "Slice":
        starts = [int(rng.integers(0, 3)), int(rng.integers(-3, 0))]
        ends = [int(rng.integers(-2, 100)), -100]
        steps = [int(rng.integers(1, 4)), -int(rng.integers(1, 3))]
        inits = [ints("st", starts), ints("en", ends), ints("ax", [2, 3]), ints("sp", steps)]
        return [helper.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["s"], name="shrink")], inits, dict(starts=starts, ends=ends, steps=steps)
    if kind == "SpaceToDepth":
        # 3 channels -> 12; a 1x1 conv brings it back to 3
        return (
            [helper.make_node("Slice", ["x", "z", "even", "ax"], ["xe"], name="even"), helper.make_node("SpaceToDepth", ["xe"], ["s0"], name="shrink", blocksize=2), conv("s0", "W12", "s", name="mix")],
            [ints("z", [0, 0]), ints("even", [spatial[0] // 2 * 2, spatial[1] // 2 * 2]), ints("ax", [2, 3]), weight("W12", (3, 12, 1, 1), seed=6)],
            {},
        )
    scales = numpy_helper.from_array(np.array([1, 1, 0.5, 1 / 3], np.float32), "scales")
    return [helper.make_node("Resize", ["x", "", "scales"], ["s"], name="shrink", mode="nearest")], [scales], dict(scales=[0.5, 1 / 3])


def _random_case(seed):
    rng = np.random.default_rng(seed)
    spatial = [int(rng.integers(3, 13)), int(rng.integers(3, 13))]
    nodes, inits, shrink = _random_shrink(rng, spatial)
    k = [int(rng.integers(1, 6)), int(rng.integers(1, 6))]
    attrs = dict(
        kernel_shape=k,
        dilations=[int(rng.integers(1, 5)) for _ in range(2)],
        strides=[int(rng.integers(1, 4)) for _ in range(2)],
        pads=[int(rng.integers(0, 9)) for _ in range(4)],
    )
    nodes = nodes + [conv("s", "W", "y", **attrs)]
    m = make_model(nodes, [vi("x", [1, 3, *spatial])], ["y"], inits + [weight("W", (2, 3, *k))], opset=17)
    return m, (2, 3, *k), dict(spatial=spatial, shrink=shrink, conv=attrs)


def test_random_shrink_then_conv_matches_execution():
    ran = 0
    for seed in range(120):
        m, wshape, desc = _random_case(seed)
        # The runtime decides what the conv's input really is.
        probe = copy.deepcopy(m)
        probe.graph.output.append(vi("s", None))
        try:
            feeds = _input_feeds(m)
            y, s = run_model(probe, feeds)
        except Exception:
            continue  # a configuration the runtime refuses (e.g. kernel larger than the padded map)
        if y.size == 0 or s.size == 0:
            continue
        ran += 1
        am = analyzer.analyze(m)
        assert am.shape(am.graph.main_value("s")) == s.shape, (seed, desc)
        found = lint(m, "DT001")
        truth = dead_taps_by_execution(m, "conv", wshape, feeds)
        got = {tuple(t) for f in found for t in f.details["dead_taps"]}
        assert got == truth, (seed, desc, sorted(got), sorted(truth))
        if found:
            (f,) = found
            if list(s.shape[2:]) != desc["spatial"]:
                assert f.details["cause"]["node"] in ("shrink", "even"), (seed, desc, f.details["cause"])
            else:
                assert f.details["cause"] is None, (seed, desc, f.details["cause"])
    assert ran >= 60, ran



def _function_model(calls):
    """A local function Block (Constant weight -> 3x3 pad-1 conv) called on the given inputs."""
    w = np.random.default_rng(0).uniform(0.5, 1.5, (2, 2, 3, 3)).astype(np.float32)
    fn = helper.make_function(
        "local",
        "Block",
        ["fx"],
        ["fy"],
        [
            helper.make_node("Constant", [], ["fw"], value=numpy_helper.from_array(w, "wv")),
            helper.make_node("Conv", ["fx", "fw"], ["fy"], name="fconv", pads=[1, 1, 1, 1]),
        ],
        [helper.make_opsetid("", 17)],
    )
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool")]
    outs = []
    for i, src in enumerate(calls):
        nodes.append(helper.make_node("Block", [src], [f"y{i}"], name=f"call{i}", domain="local"))
        outs.append(vi(f"y{i}", None))
    graph = helper.make_graph(nodes, "g", [vi("x", [1, 2, 8, 8])], outs)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("local", 1)], functions=[fn])
    m.ir_version = 8
    return m, w


def _function_weight_taps_matter(m, w, taps_to_check):
    """Run the model with the function's constant weight perturbed at ``taps_to_check``."""
    feeds = _input_feeds(m)
    base = run_model(m, feeds)
    m2 = copy.deepcopy(m)
    w2 = w.copy()
    for tap in taps_to_check:
        w2[(slice(None), slice(None)) + tuple(tap)] += 100.0
    m2.functions[0].node[0].attribute[0].t.CopyFrom(numpy_helper.from_array(w2, "wv"))
    return any(not np.allclose(a, b, atol=1e-3) for a, b in zip(run_model(m2, feeds), base))


def test_function_called_only_on_pooled_map_is_flagged():
    m, w = _function_model(["p"])
    (f,) = lint(m, "DT001")
    assert f.graph == "function:local:Block" and taps(f, "live_taps") == {(1, 1)}
    assert not _function_weight_taps_matter(m, w, f.details["dead_taps"])


@pytest.mark.parametrize("calls", [["x", "p"], ["p", "x"]], ids=["big-call-first", "small-call-first"])
def test_function_called_on_two_sizes_reports_only_truly_dead_taps(calls):
    # The same function (and the same Constant weight) runs on the 8x8 input and
    # on the pooled 1x1 map: on 8x8 every tap is live, so no tap of the weight is dead.
    m, w = _function_model(calls)
    found = lint(m, "DT001")
    for f in found:
        assert not _function_weight_taps_matter(m, w, f.details["dead_taps"]), (
            f"{f.node} in {f.graph}: reported dead taps {f.details['dead_taps']} change the output"
        )


def test_huge_declared_kernel_does_not_hang():
    # 123 bytes on disk: a 1000x1000x1000 weight declared by dims only, every tap live
    # except the last plane on the first axis.  Listing a few thousand dead taps
    # must not walk a billion live ones first.
    import signal

    w = TensorProto(name="W", data_type=F, dims=[1, 1, 1000, 1000, 1000])
    m = make_model(
        [conv("x", "W", "y", pads=[0, 0, 0, 1, 0, 0])],
        [vi("x", [1, 1, 999, 1000, 1000])],
        ["y"],
        [w],
    )

    def _timeout(signum, frame):
        raise TimeoutError("DT001 took more than 10 s on a 1000^3 kernel")

    old = signal.signal(signal.SIGALRM, _timeout)
    signal.setitimer(signal.ITIMER_REAL, 10)
    try:
        (fr,) = analyzer.lint(m, select=["DT001"]).files
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert fr.status == "ok", fr.error
    (f,) = fr.findings
    assert f.details["dead_weights"] == 1000 * 1000
    assert f.details["dead_taps_truncated"] is True
    assert all(t[0] == 999 for t in f.details["dead_taps"])


# --- onnxruntime's own conv ops (com.microsoft, com.microsoft.nchwc) and stored dtypes -------

MS = "com.microsoft"


def _ms_model(nodes, inputs, outputs, inits=(), domains=(MS,)):
    m = make_model(nodes, inputs, outputs, inits)
    for d in domains:
        m.opset_import.append(helper.make_opsetid(d, 1))
    return m


def test_qdq_weight_dead_bytes_in_the_stored_dtype():
    """A 4x16x3x3 int8 weight (576 bytes) behind DequantizeLinear: 512 weights dead, 512 bytes."""
    wq = np.random.default_rng(0).integers(-100, 100, (4, 16, 3, 3)).astype(np.int8)
    nodes = [
        helper.make_node("DequantizeLinear", ["Wq", "scale", "zp"], ["Wd"], name="dq"),
        helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"),
        conv("p", "Wd", "y", dilations=[3, 3], pads=[3, 3, 3, 3]),
    ]
    inits = [numpy_helper.from_array(wq, "Wq"), numpy_helper.from_array(np.array(0.02, np.float32), "scale"),
             numpy_helper.from_array(np.array(0, np.int8), "zp")]  # fmt: skip
    m = make_model(nodes, [vi("x", [1, 16, 5, 5])], ["y"], inits)
    f = only_finding(m)
    assert wq.nbytes == 576
    assert f.details["dead_weights"] == 512 and f.details["dead_bytes"] == 512
    assert f.waste["bytes"] == 512
    assert_agrees_with_execution(m, f, "conv", (4, 16, 3, 3))


def test_float16_weight_behind_cast_counts_two_bytes():
    w16 = np.random.default_rng(0).uniform(0.5, 1.5, (2, 4, 3, 3)).astype(np.float16)
    nodes = [
        helper.make_node("Cast", ["W16"], ["W"], name="cast", to=TensorProto.FLOAT),
        helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"),
        conv("p", "W", "y", pads=[1, 1, 1, 1]),
    ]
    m = make_model(nodes, [vi("x", [1, 4, 5, 5])], ["y"], [numpy_helper.from_array(w16, "W16")])
    f = only_finding(m)
    assert f.details["dead_weights"] == 64 and f.details["dead_bytes"] == 128


def test_fused_conv_by_execution():
    """com.microsoft FusedConv (Conv + activation, what onnxruntime's extended level writes)."""
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"),
             helper.make_node("FusedConv", ["p", "W", "B"], ["y"], name="conv", domain=MS, activation="Relu",
                              dilations=[5, 5], pads=[5, 5, 5, 5])]  # fmt: skip
    m = _ms_model(nodes, [vi("x", [1, 4, 6, 6])], ["y"], [weight("W", (3, 4, 3, 3)), weight("B", (3,), seed=1)])
    f = only_finding(m)
    assert f.op_type == "FusedConv" and f.details["live_taps"] == [[1, 1]]
    assert f.details["dead_weights"] == 3 * 4 * 8 and f.details["dead_bytes"] == 4 * 3 * 4 * 8
    assert f.details["cause"]["op_type"] == "GlobalAveragePool"
    assert_agrees_with_execution(m, f, "conv", (3, 4, 3, 3))


def test_fused_conv_after_a_fused_conv_keeps_its_shapes():
    """The size after a FusedConv is known: a conv downstream of it is checked."""
    nodes = [helper.make_node("FusedConv", ["x", "W1"], ["a"], name="fused", domain=MS, activation="Relu", strides=[4, 4]),
             conv("a", "W2", "y", dilations=[2, 2], pads=[2, 2, 2, 2])]  # fmt: skip
    m = _ms_model(nodes, [vi("x", [1, 4, 4, 4])], ["y"], [weight("W1", (4, 4, 3, 3)), weight("W2", (2, 4, 3, 3))])
    f = only_finding(m)
    assert f.details["input_spatial_shape"] == [1, 1]
    assert f.details["cause"] == {"node": "fused", "op_type": "FusedConv"}
    assert_agrees_with_execution(m, f, "conv", (2, 4, 3, 3))


def test_channels_last_qlinear_conv_by_execution():
    """com.microsoft QLinearConv with channels_last: input [N, H, W, C], spatial axes 1..2."""
    rng = np.random.default_rng(0)
    wq = rng.integers(1, 60, (2, 3, 3, 3)).astype(np.int8)
    names = ["x", "xs", "xz", "Wq", "ws", "wz", "ys", "yz"]
    nodes = [helper.make_node("QLinearConv", names, ["y"], name="conv", domain=MS, channels_last=1, pads=[1, 1, 1, 1])]
    inits = [numpy_helper.from_array(np.array(0.05, np.float32), "xs"), numpy_helper.from_array(np.array(3, np.uint8), "xz"),
             numpy_helper.from_array(wq, "Wq"), numpy_helper.from_array(np.array(0.01, np.float32), "ws"),
             numpy_helper.from_array(np.array(0, np.int8), "wz"), numpy_helper.from_array(np.array(0.5, np.float32), "ys"),
             numpy_helper.from_array(np.array(0, np.uint8), "yz")]  # fmt: skip
    # 1 row x 5 columns x 3 channels: along H only the middle kernel row reads data
    m = _ms_model(nodes, [vi("x", [1, 1, 5, 3], TensorProto.UINT8)], [vi("y", None, TensorProto.UINT8)], inits)
    f = only_finding(m)
    assert f.op_type == "QLinearConv" and f.details["input_spatial_shape"] == [1, 5]
    assert sorted(map(tuple, f.details["live_taps"])) == [(1, 0), (1, 1), (1, 2)]
    assert f.details["dead_bytes"] == f.details["dead_weights"] == 2 * 3 * 6
    feeds = {"x": np.random.default_rng(3).integers(0, 255, (1, 1, 5, 3)).astype(np.uint8)}
    base = run_model(m, feeds)[0]
    hit = wq.copy()
    for tap in f.details["dead_taps"]:
        hit[(slice(None), slice(None)) + tuple(tap)] = 127
    np.testing.assert_array_equal(run_model(with_initializer(m, "Wq", hit), feeds)[0], base)
    live = wq.copy()
    live[:, :, 1, :] = -wq[:, :, 1, :]
    assert not np.array_equal(run_model(with_initializer(m, "Wq", live), feeds)[0], base)


def test_nhwc_conv_spatial_axes_are_between_batch_and_channels():
    """NhwcConv (no CPU kernel in onnxruntime): a [1, 1, 1, 8] input is a 1x1 map of 8 channels."""
    nodes = [helper.make_node("NhwcConv", ["x", "W"], ["y"], name="conv", domain=MS, pads=[1, 1, 1, 1])]
    m = _ms_model(nodes, [vi("x", [1, 1, 1, 8])], ["y"], [weight("W", (2, 8, 3, 3))])
    f = only_finding(m)
    assert f.details["input_spatial_shape"] == [1, 1] and f.details["live_taps"] == [[1, 1]]
    assert f.details["dead_weights"] == 2 * 8 * 8
    # the same weights on an 8x8 map with one channel would be a shape error, not a finding
    nodes = [helper.make_node("NhwcConv", ["x", "W"], ["y"], name="conv", domain=MS, pads=[1, 1, 1, 1])]
    assert lint(_ms_model(nodes, [vi("x", [1, 8, 8, 8])], ["y"], [weight("W", (2, 8, 3, 3))]), "DT001") == []


def test_nchwc_conv_counts_logical_channels_and_is_confirmed_by_execution(tmp_path):
    """onnxruntime's "all" level turns convs into com.microsoft.nchwc.Conv with weights padded
    to the CPU's block size: the finding counts the model's weights, not the padding."""
    import onnxruntime as ort

    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"), conv("p", "W", "c", dilations=[3, 3], pads=[3, 3, 3, 3]),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]  # fmt: skip
    plain = make_model(nodes, [vi("x", [1, 4, 6, 6])], ["y"], [weight("W", (2, 4, 3, 3))])
    import onnx

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.optimized_model_filepath = str(tmp_path / "all.onnx")
    so.log_severity_level = 3
    ort.InferenceSession(plain.SerializeToString(), so, providers=["CPUExecutionProvider"])
    opt = onnx.load(so.optimized_model_filepath)
    convs = [n for n in opt.graph.node if n.op_type == "Conv"]
    if not convs or convs[0].domain != "com.microsoft.nchwc":
        pytest.skip("onnxruntime wrote no NCHWc conv on this CPU")
    (f,) = lint(opt, "DT001")
    assert f.node == convs[0].name and f.details["live_taps"] == [[1, 1]]
    assert f.details["dead_weights"] == 2 * 4 * 8 and f.details["total_weights"] == 2 * 4 * 9
    stored = {t.name: t for t in opt.graph.initializer}[convs[0].input[1]]
    assert stored.dims[0] > 2  # padded to the block size
    # by execution: the stored weight is [O/B, I, kH, kW, B] in memory; dead taps change nothing
    arr = numpy_helper.to_array(stored).copy()
    o, i, kh, kw = arr.shape
    view = arr.reshape(i, kh, kw, o).transpose(3, 0, 1, 2)
    feeds = _input_feeds(plain)
    base = run_model(opt, feeds)[0]
    for tap in f.details["dead_taps"]:
        view[(slice(None), slice(None)) + tuple(tap)] = 1e3
    hit = with_initializer(opt, stored.name, arr)
    np.testing.assert_array_equal(run_model(hit, feeds)[0], base)
    view[:, :, 1, 1] = 1e3
    assert not np.array_equal(run_model(with_initializer(opt, stored.name, arr), feeds)[0], base)
