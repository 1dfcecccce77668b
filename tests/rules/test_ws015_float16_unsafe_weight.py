"""WS015 float16-unsafe-weight against execution: the flagged model's outputs break when its
weights go through float16 (inf/NaN or a large relative error), the clean twin's do not."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.rules._waste_pool_models import (
    arr,
    feeds_for,
    findings,
    float16_cast_model,
    float16_rounded,
    make,
    rand,
    relative_change,
    run,
    session,
    vi,
)  # fmt: skip


def scaled_matmul(scale_value):
    """y = (x @ W) * s: a huge ``s`` overflows in float16."""
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"], name="mm"), helper.make_node("Mul", ["h", "s"], ["y"], name="scale")]
    return make(nodes, [vi("x", [2, 8])], inits=[rand("W", (8, 4)), arr("s", [scale_value])])


def layer_norm_like(eps):
    """y = x / sqrt(mean(x*x) * 0 + eps) ... written as x / (var + eps) with a zero-variance channel."""
    nodes = [
        helper.make_node("Mul", ["x", "x"], ["sq"], name="sq"),
        helper.make_node("ReduceMean", ["sq"], ["var"], name="mean", axes=[1], keepdims=1),
        helper.make_node("Mul", ["var", "zero"], ["v0"], name="kill"),
        helper.make_node("Add", ["v0", "eps"], ["den"], name="add_eps"),
        helper.make_node("Div", ["x", "den"], ["q"], name="div"),
        helper.make_node("Mul", ["q", "g"], ["y"], name="gain"),
    ]
    return make(nodes, [vi("x", [2, 8])], inits=[arr("zero", [0.0]), arr("eps", [eps]), arr("g", [eps])], opset=17)


def only(m):
    found = findings(m, "WS015")
    assert len(found) == 1, [f.message for f in found]
    return found[0]


def outputs_change(m):
    feeds = feeds_for(session(m), seed=0)
    ref = run(m, feeds)
    return relative_change(ref, run(float16_rounded(m), feeds)), relative_change(ref, run(float16_cast_model(m), feeds))


def test_overflowing_scale_is_flagged_and_breaks_in_float16():
    m = scaled_matmul(1e5)
    f = only(m)
    assert f.severity == "warning" and f.waste == {}
    assert f.details["initializer"] == "s" and f.details["overflow"] == 1 and f.details["underflow"] == 0
    assert f.details["max_abs"] == pytest.approx(1e5)
    assert f.node == "scale" and f.op_type == "Mul"
    rounded, cast = outputs_change(m)
    assert rounded == float("inf") and cast == float("inf")


def test_flushed_epsilon_is_flagged_and_breaks_in_float16():
    m = layer_norm_like(1e-9)
    found = findings(m, "WS015")
    assert sorted(f.details["initializer"] for f in found) == ["eps", "g"]
    assert all(f.details["underflow"] == 1 and f.details["overflow"] == 0 for f in found)
    rounded, cast = outputs_change(m)
    assert rounded > 0.5 and cast > 0.5  # 0 / 0 = NaN, or x / 0 = inf


@pytest.mark.parametrize("m", [scaled_matmul(6e4), layer_norm_like(1e-3)], ids=["scale-6e4", "eps-1e-3"])
def test_clean_twins_give_nothing_and_survive_float16(m):
    assert findings(m, "WS015") == []
    rounded, cast = outputs_change(m)
    assert rounded < 1e-2 and cast < 1e-2


def test_boundaries_follow_numpys_float16_cast():
    m = make([helper.make_node("Mul", ["x", "w"], ["y"], name="mul")], [vi("x", [4])],
             inits=[arr("w", [65504.0, 65519.0, 65520.0, 0.0])])  # fmt: skip
    f = only(m)
    assert f.details["overflow"] == 1 and f.details["underflow"] == 0
    with np.errstate(over="ignore"):
        assert np.isinf(np.float16(65520.0)) and not np.isinf(np.float16(65519.0))
    m = make([helper.make_node("Mul", ["x", "w"], ["y"], name="mul")], [vi("x", [4])],
             inits=[arr("w", [2.0**-20, 2.0**-24, 2.0**-25, 0.0])])  # fmt: skip
    f = only(m)
    assert f.details["overflow"] == 0 and f.details["underflow"] == 1 and f.details["subnormal"] == 2


def test_tiny_values_next_to_large_ones_are_negligible_by_execution():
    """A BatchNorm-like scale with a few 1e-9 entries among normal ones: not flagged, and
    float16 indeed changes the output no more than its ordinary rounding."""
    w = np.random.default_rng(0).uniform(0.5, 1.5, 16).astype(np.float32)
    w[[3, 7]] = [1e-9, -3e-9]
    m = make([helper.make_node("Mul", ["x", "w"], ["y"], name="mul")], [vi("x", [2, 16])], inits=[arr("w", w)])
    assert findings(m, "WS015") == []
    rounded, cast = outputs_change(m)
    assert rounded < 1e-3 and cast < 1e-3


def test_onnx_test_graphs_and_samples_are_confirmed_by_execution():
    """Every WS015 finding on the onnx wheel's test graphs and the samples breaks the outputs
    when the weights go through float16 (there is none today)."""
    from tests.rules._waste_pool_models import corpus_findings

    for path, model, f in corpus_findings("WS015"):
        try:
            rounded, _ = outputs_change(model)
        except NotImplementedError:
            continue
        assert rounded > 1e-2, (path, f.message)


def test_option_min_abs_flags_the_subnormal_range(tmp_path):
    import analyzer

    m = make([helper.make_node("Mul", ["x", "w"], ["y"], name="mul")], [vi("x", [2])], inits=[arr("w", [1e-6, 2e-6])])
    assert findings(m, "WS015") == []
    from analyzer.linter.registry import all_rules
    from analyzer.linter.runner import lint_file

    rules = [r for r in all_rules() if r.CODE == "WS015"]
    fr = lint_file(m, rules, options={"WS015": {"min-abs": 2.0**-14}})
    assert [f.details["underflow"] for f in fr.findings] == [2]
    fr = lint_file(scaled_matmul(1e5), rules, options={"WS015": {"min-abs": 0}})
    assert [f.details["overflow"] for f in fr.findings] == [1]
    assert analyzer  # imported for the API check above


def test_float64_initializer_is_checked():
    from onnx import TensorProto

    m = make([helper.make_node("Mul", ["x", "w"], ["y"], name="mul")], [vi("x", [2], TensorProto.DOUBLE)],
             inits=[arr("w", [1e6, 1.0], np.float64)])  # fmt: skip
    f = only(m)
    assert f.details["dtype"] == "float64" and f.details["overflow"] == 1
