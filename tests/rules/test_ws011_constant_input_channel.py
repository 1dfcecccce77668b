"""WS011 constant-input-channel: an all-zero channel upstream reaches a conv as a constant;
the fix folds it into the bias and onnxruntime proves it (1e-5 relative, parameters down
by exactly the waste).  Padded consumers get only channels whose constant is 0."""
from __future__ import annotations

import numpy as np
import pytest

from tests.rules._waste_weight_models import (
    constant_channels,
    conv_chain,
    fix_one,
    lint,
    onnx_test_graphs,
    prove_each,
    prove_fix_file,
    torch_resnet_block,
)  # fmt: skip


@pytest.mark.parametrize("middle", [("bn", "relu"), ("relu",), ("mul", "add", "sigmoid"), ()])
def test_unpadded_consumer_folds_every_constant_channel(middle):
    m = conv_chain(zero=(1, 3), middle=middle)
    last = f"t{len(middle)}"
    assert {1, 3} <= constant_channels(m, last)  # by execution: the channels reach conv2 as constants
    (f,) = prove_each(m, "WS011")
    d = f.details
    assert (f.node, d["producer"], d["channels"], d["private"]) == ("conv2", "conv1", [1, 3], True)
    assert d["consumer_weights"] == 2 * 6 * 9
    per_op = {"bn": 8, "mul": 2, "add": 2, "relu": 0, "sigmoid": 0}
    assert d["upstream_params"] == 2 * 36 + 2 + sum(per_op[o] for o in middle)
    prove_fix_file(m, "WS011")


def test_padded_consumer_only_zero_constants():
    # bias1[1] < 0 -> Relu gives exactly 0: foldable under padding; bias1[3] > 0: not
    b1 = np.linspace(-1, 1, 8).astype(np.float32)
    b1[1], b1[3] = -0.5, 0.7
    m = conv_chain(zero=(1, 3), bias1=b1, middle=("relu",), pads2=(1, 1, 1, 1))
    (f,) = prove_each(m, "WS011")
    assert f.details["channels"] == [1] and f.details["padded"] and f.details["constants"] == [0.0]
    # channel 3 (constant 0.7) under zero padding: folding it would be wrong, and it is not reported
    m2 = conv_chain(zero=(3,), bias1=b1, middle=("relu",), pads2=(1, 1, 1, 1))
    assert lint(m2, "WS011") == []


def test_consumer_without_bias_gets_one():
    m = conv_chain(zero=(1, 3), middle=("bn", "relu"), consumer_bias=False)
    (f,) = prove_each(m, "WS011")
    assert f.details["added_params"] == 6


def test_shared_chain_is_reported_but_not_rewritten():
    m = conv_chain(zero=(1, 3), middle=("relu",), extra_reader=True)
    (f,) = lint(m, "WS011")
    assert not f.details["private"] and f.waste["weights"] == 2 * 6 * 9
    _, _, change = fix_one(m, "WS011", 0)
    assert change.status == "refused"


def test_clean_twins():
    assert lint(conv_chain(zero=()), "WS011") == []
    # padded consumer, Sigmoid of a zero channel (0.5 everywhere): not exactly foldable
    assert lint(conv_chain(zero=(1,), bias1=np.zeros(8, np.float32), middle=("sigmoid",), pads2=(1, 1, 1, 1)), "WS011") == []


def test_fix_with_ws012_in_one_run():
    """Both rules in one ``fix`` run: the second refuses what the first rewrote, outputs stay equal."""
    import os
    import tempfile

    import onnx

    from analyzer.commands.fix import fix_file
    from tests.rules._waste_weight_models import assert_same_outputs

    m = torch_resnet_block(prune=(2, 5))
    with tempfile.TemporaryDirectory() as tmp:
        src, out = os.path.join(tmp, "m.onnx"), os.path.join(tmp, "f.onnx")
        onnx.save(m, src)
        rep = fix_file(src, out, codes=("WS011", "WS012"))
        fixed = onnx.load(out)
    assert any(c.status == "fixed" for c in rep.changes)
    assert rep.params_before - rep.params_after == sum(c.params_removed for c in rep.changes if c.status == "fixed")
    assert_same_outputs(m, fixed)


def test_torch_pruned_block():
    m = torch_resnet_block(prune=(2, 5))
    (f,) = prove_each(m, "WS011")
    assert f.details["channels"] == [2, 5] and f.details["private"]
    prove_fix_file(m, "WS011")
    assert lint(torch_resnet_block(), "WS011") == []


def test_no_finding_on_samples_and_onnx_test_graphs():
    import glob
    import pathlib

    repo = pathlib.Path(__file__).resolve().parents[2]
    for p in sorted(glob.glob(str(repo / "sample_models/*.onnx"))) + onnx_test_graphs():
        assert lint(p, "WS011") == [], p
