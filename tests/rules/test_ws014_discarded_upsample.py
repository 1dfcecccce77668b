"""WS014 discarded-upsample against execution: the read positions are checked by perturbing
the upsampled values nobody reads, and the exact fix by onnxruntime outputs."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from rules import ws014_discarded_upsample as R
from tests.rules._waste_pool_models import (
    arr,
    assert_fix_proven,
    findings,
    fix_one,
    make,
    rand,
    session,
    vi,
)


def upsample_model(consumer, *, chain=("Relu",), mode="nearest", scale=2, x=(1, 4, 6, 6), ctm=None, opset=17, w_kernel=(1, 1)):
    nodes = [helper.make_node("Resize", ["x", "", "sc"], ["u"], name="up", mode=mode,
                              **({"coordinate_transformation_mode": ctm} if ctm else {}))]
    inits = [arr("sc", [1, 1, scale, scale])]
    cur = "u"
    for i, op in enumerate(chain):
        ins = [cur] if op != "Add" else [cur, "bias"]
        if op == "Add":
            inits.append(rand("bias", (x[1], 1, 1), seed=3))
        nodes.append(helper.make_node(op, ins, [f"e{i}"], name=f"ew{i}"))
        cur = f"e{i}"
    kind, attrs = consumer
    if kind == "Conv":
        inits.append(rand("W", (3, x[1], *w_kernel)))
        nodes.append(helper.make_node("Conv", [cur, "W"], ["y"], name="cons", **attrs))
    elif kind == "Slice":
        st, en, ax, sp = attrs
        inits += [arr("st", st, np.int64), arr("en", en, np.int64), arr("ax", ax, np.int64), arr("sp", sp, np.int64)]
        nodes.append(helper.make_node("Slice", [cur, "st", "en", "ax", "sp"], ["y"], name="cons"))
    else:
        nodes.append(helper.make_node(kind, [cur], ["y"], name="cons", **attrs))
    return make(nodes, [vi("x", list(x))], inits=inits, opset=opset)


def one(m):
    found = findings(m, "WS014")
    assert [f.node for f in found] == ["up"], [f.message for f in found]
    return found[0]


def test_nearest_2x_then_stride_2_1x1_conv_is_the_conv_on_the_original_map():
    m = upsample_model(("Conv", {"strides": [2, 2]}))
    f = one(m)
    d = f.details
    assert d["exact_rewrite"] and d["read_positions_per_axis"] == [6, 6]
    assert d["unread_elements"] == 4 * (144 - 36) and d["read_elements"] == 4 * 36
    assert f.waste == {"weights": 4, "bytes": 16, "macs": 4 * 108}  # the scales go; the Relu's work on unread values
    fixed = assert_fix_proven(m, f, R.fix_findings)
    assert [n.op_type for n in fixed.graph.node] == ["Relu", "Conv"]


def test_unread_positions_really_are_never_read():
    """Overwrite the upsampled values the finding says are unread: the output does not move."""
    m = upsample_model(("Conv", {"strides": [2, 2]}), chain=())
    f = one(m)
    # expose u as an input of the consumer alone
    cons = make([helper.make_node("Conv", ["u", "W"], ["y"], strides=[2, 2])], [vi("u", [1, 4, 12, 12])],
                inits=[i for i in m.graph.initializer if i.name == "W"])
    s = session(cons)
    u = np.random.default_rng(0).standard_normal((1, 4, 12, 12)).astype(np.float32)
    base = s.run(None, {"u": u})[0]
    mask = np.ones((12, 12), bool)
    mask[::2, ::2] = False  # the read positions: 6 x 6
    assert int(mask.sum()) * 4 == f.details["unread_elements"]
    u2 = u.copy()
    u2[:, :, mask] = 1e6
    assert np.array_equal(s.run(None, {"u": u2})[0], base)
    u3 = u.copy()
    u3[:, :, 0, 0] += 1e3
    assert not np.array_equal(s.run(None, {"u": u3})[0], base)


@pytest.mark.parametrize("ctm", ["asymmetric", "half_pixel", "pytorch_half_pixel", "tf_half_pixel_for_nn", "align_corners"])
def test_coordinate_modes_with_an_exact_rewrite(ctm):
    m = upsample_model(("Conv", {"strides": [2, 2]}), ctm=ctm, chain=("Add", "Sigmoid"))
    f = one(m)
    assert f.details["exact_rewrite"], f.details["why_not"]
    assert_fix_proven(m, f, R.fix_findings)


@pytest.mark.parametrize("start", [0, 1])
def test_slice_step_2_becomes_identity(start):
    """[0::2] and (half_pixel: copy i sits at 2i and 2i + 1) [1::2] both read each original value once."""
    m = upsample_model(("Slice", ([start, start], [100, 100], [2, 3], [2, 2])))
    f = one(m)
    assert f.details["exact_rewrite"]
    assert f.waste["weights"] == 4 + 8  # scales + the Slice's four 2-element parameters
    fixed = assert_fix_proven(m, f, R.fix_findings)
    assert [n.op_type for n in fixed.graph.node] == ["Relu", "Identity"]


def test_maxpool_kernel_1_stride_2():
    m = upsample_model(("MaxPool", {"kernel_shape": [1, 1], "strides": [2, 2]}))
    assert_fix_proven(m, one(m), R.fix_findings)


@pytest.mark.parametrize("kw, why", [
    ({"consumer": ("Conv", {"strides": [2, 2]}), "mode": "linear"}, "mode"),
    ({"consumer": ("Conv", {"strides": [2, 2]}), "scale": 3}, "not the original positions"),
    ({"consumer": ("Conv", {"strides": [4, 4]})}, "not the original positions"),
])  # fmt: skip
def test_reported_but_not_rewritable(kw, why):
    m = upsample_model(**kw)
    f = one(m)
    assert not f.details["exact_rewrite"] and f.waste["weights"] == 0
    if why:
        assert why in f.details["why_not"]
    _, changes = fix_one(m, f, R.fix_findings)
    assert [c.status for c in changes] == ["refused"]


@pytest.mark.parametrize("kw", [
    {"consumer": ("Conv", {"strides": [1, 1]})},
    {"consumer": ("Conv", {"strides": [2, 2], "pads": [1, 1, 1, 1]}), "w_kernel": (3, 3)},
    {"consumer": ("Conv", {"strides": [2, 2]}), "w_kernel": (2, 2)},
    {"consumer": ("MaxPool", {"kernel_shape": [2, 2], "strides": [2, 2]})},
    {"consumer": ("Slice", ([0], [5], [2], [1]))},
])  # fmt: skip
def test_clean_twins_give_nothing(kw):
    assert findings(upsample_model(**kw), "WS014") == []


def test_second_reader_of_the_upsampled_map_means_nothing_is_discarded():
    m = upsample_model(("Conv", {"strides": [2, 2]}), chain=())
    m.graph.output.append(vi("u", None))
    assert findings(m, "WS014") == []


def test_onnx_test_graphs_and_samples_are_confirmed_by_execution():
    from tests.rules._waste_pool_models import confirm_fixes_on_corpus

    seen = confirm_fixes_on_corpus("WS014", R.fix_findings)
    assert not any("sample_models" in p for p, _, _ in seen)


@pytest.mark.parametrize("stride, exact", [(2, True), (4, False)])
def test_pytorch_export_upsample_then_strided_1x1_conv(tmp_path, stride, exact):
    import onnx
    import torch

    from analyzer.commands.fix import fix_file
    from tests.rules._waste_pool_models import assert_same_outputs

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.up = torch.nn.Upsample(scale_factor=2, mode="nearest")
            self.conv = torch.nn.Conv2d(4, 3, 1, stride=stride)

        def forward(self, x):
            return self.conv(torch.relu(self.up(x)))

    path, out = tmp_path / "net.onnx", tmp_path / "fixed.onnx"
    torch.manual_seed(0)
    torch.onnx.export(Net().eval(), torch.randn(1, 4, 8, 8), str(path), dynamo=False, opset_version=17)
    m = onnx.load(path)
    (f,) = findings(m, "WS014")
    assert f.details["exact_rewrite"] is exact
    assert f.details["unread_elements"] == 4 * (256 - (16 // stride) ** 2)
    report = fix_file(path, out, codes=("WS014",))
    assert report.count("WS014", "fixed") == int(exact)
    fixed = onnx.load(out)
    assert_same_outputs(m, fixed)
    if exact:
        assert "Resize" not in [n.op_type for n in fixed.graph.node]
        from analyzer.fix.rewrite import count_params

        assert count_params(m)[0] - count_params(fixed)[0] == f.waste["weights"]
