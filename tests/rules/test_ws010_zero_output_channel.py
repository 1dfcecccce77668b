"""WS010 zero-output-channel: all-zero output channels, confirmed by running the op
(the channel is one constant on every position and input) and silent on clean twins."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

from tests.rules._waste_weight_models import (
    arr,
    constant_channels,
    conv_chain,
    init,
    lint,
    make_model,
    onnx_test_graphs,
    torch_resnet_block,
    vi,
)  # fmt: skip


def test_conv_zero_filters_are_constant_channels():
    m = conv_chain(zero=(1, 3))
    (f,) = lint(m, "WS010")
    assert (f.node, f.op_type) == ("conv1", "Conv")
    d = f.details
    assert d["channels"] == [1, 3] and d["total_channels"] == 8 and d["weights_per_channel"] == 36
    # the chain ends in a conv that absorbs both channels: WS011's fix removes them end to end,
    # so their 72 zero weights (288 bytes, 2 x 100 x 36 MACs) count in WS011's finding only
    assert d["claimed_by_ws011"] == [1, 3] and f.waste == {"weights": 0, "bytes": 0, "macs": 0}
    (g,) = lint(m, "WS011")
    assert g.details["upstream_params"] >= 72
    b1 = onnx.numpy_helper.to_array(next(t for t in m.graph.initializer if t.name == "b1"))
    assert d["bias"] == pytest.approx([float(b1[1]), float(b1[3])])
    # by execution: exactly the reported channels are constant (their bias)
    assert constant_channels(m, "t0") == {1, 3}


def test_clean_twin_and_nearly_zero_filter():
    assert lint(conv_chain(zero=()), "WS010") == []
    m = conv_chain(zero=())
    w = onnx.numpy_helper.to_array(m.graph.initializer[0]).copy()
    w[2] = 0
    w[2, 0, 0, 0] = 1e-30  # one tiny weight: not zero
    m.graph.initializer[0].CopyFrom(onnx.numpy_helper.from_array(w, "W1"))
    assert lint(m, "WS010") == []


def test_conv_transpose_channel_axis_is_dim1_per_group():
    # W[C_in=4, M/g=3, 2, 2], group 2: output channel 4 = group 1, j 1 -> W[2:4, 1]
    w = arr((4, 3, 2, 2), 0)
    w[2:4, 1] = 0
    w[0:2, 2] = 0  # output channel 2 (group 0, j 2)
    w[0, 1] = 0  # only half of output channel 1: not zero
    m = make_model([helper.make_node("ConvTranspose", ["x", "W", "B"], ["y"], name="ct", group=2, strides=[2, 2])],
                   [vi("x", [1, 4, 5, 5])], [vi("y", None)], [init("W", w), init("B", arr(6, 1))])  # fmt: skip
    (f,) = lint(m, "WS010")
    assert f.details["channels"] == [2, 4] and f.details["weights_per_channel"] == 2 * 4
    assert f.waste["weights"] == 16 and f.waste["bytes"] == 64
    assert constant_channels(m, "y") == {2, 4}


@pytest.mark.parametrize("trans_b", [0, 1])
def test_gemm_columns_follow_trans_b(trans_b):
    b = arr((5, 8), 0)
    b[:, [0, 6]] = 0
    w = b.T.copy() if trans_b else b
    m = make_model([helper.make_node("Gemm", ["x", "W", "C"], ["y"], name="gemm", transB=trans_b)],
                   [vi("x", [3, 5])], [vi("y", None)], [init("W", w), init("C", arr(8, 1))])  # fmt: skip
    (f,) = lint(m, "WS010")
    assert f.details["channels"] == [0, 6] and f.waste["weights"] == 10
    assert f.waste["macs"] == (3 * 8 * 5 + 3 * 8) * 2 // 8
    assert constant_channels(m, "y") == {0, 6}


def test_matmul_constant_b_columns():
    b = arr((2, 5, 8), 0)
    b[..., 3] = 0
    m = make_model([helper.make_node("MatMul", ["x", "B"], ["y"], name="mm")], [vi("x", [2, 3, 5])], [vi("y", None)],
                   [init("B", b)])  # fmt: skip
    (f,) = lint(m, "WS010")
    assert f.details["channels"] == [3] and f.waste["weights"] == 10 and f.waste["macs"] == 2 * 3 * 5
    assert constant_channels(m, "y", axis=2) == {3}
    b[0, 0, 3] = 1.0  # zero in one batch only: the column is not constant
    m2 = make_model(m.graph.node, [vi("x", [2, 3, 5])], [vi("y", None)], [init("B", b)])
    assert lint(m2, "WS010") == []


def test_qdq_weight_at_zero_point_is_zero_in_stored_bytes():
    q = np.random.default_rng(0).integers(-100, 100, (8, 4, 3, 3)).astype(np.int8)
    zp = np.array([3, -2, 0, 1, 5, 0, 0, 7], np.int8)
    q[2] = zp[2]
    q[5] = zp[5]
    q[7, 0, 0, 0] = zp[7] + 1
    q[7, 1:] = zp[7]
    q[7, 0, 1:] = zp[7]
    q[7, 0, 0, 1:] = zp[7]  # channel 7: one element off the zero point
    nodes = [helper.make_node("DequantizeLinear", ["Wq", "s", "zp"], ["W"], axis=0, name="dq"),
             helper.make_node("Conv", ["x", "W"], ["y"], name="qconv")]  # fmt: skip
    m = make_model(nodes, [vi("x", [1, 4, 6, 6])], [vi("y", None)],
                   [init("Wq", q), init("s", np.full(8, 0.05, np.float32)), init("zp", zp)], opset=13)  # fmt: skip
    (f,) = lint(m, "WS010")
    assert f.details["channels"] == [2, 5] and f.details["quantized"] and f.details["stored_dtype"] == "int8"
    assert f.waste["weights"] == 72 and f.waste["bytes"] == 72  # int8: one byte each
    assert constant_channels(m, "y") == {2, 5}


def test_budget_records_not_checked():
    import analyzer

    m = conv_chain(zero=(1,))
    am = analyzer.analyze(m)
    from rules import ws010_zero_output_channel as rule

    assert list(rule.check(am, {"max-weight-elements": 100})) == []
    assert any(u.kind == "weight-too-large" and u.source == "WS010" for u in am.unchecked)


def test_torch_pruned_filters():
    m = torch_resnet_block(prune=(2, 5))
    found = lint(m, "WS010")
    assert len(found) == 1 and found[0].details["channels"] == [2, 5]
    conv_out = next(n for n in m.graph.node if n.op_type == "Conv").output[0]
    assert constant_channels(m, conv_out) == {2, 5}
    assert lint(torch_resnet_block(), "WS010") == []


def test_no_finding_on_samples_and_onnx_test_graphs():
    import glob

    repo = __import__("pathlib").Path(__file__).resolve().parents[2]
    for p in sorted(glob.glob(str(repo / "sample_models/*.onnx"))) + onnx_test_graphs():
        assert lint(p, "WS010") == [], p


def test_no_fix_hook():
    from analyzer.linter.registry import get_rule

    assert not hasattr(get_rule("WS010"), "fix_findings")
    assert "No safe automatic rewrite" in get_rule("WS010").__doc__
