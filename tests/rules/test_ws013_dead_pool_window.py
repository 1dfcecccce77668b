"""WS013 dead-pool-window against execution: dead window positions are proven by perturbing
the padding-free input (nothing to perturb: they read padding) and, above all, by the fix,
whose smaller pool must give onnxruntime's outputs of the original."""
from __future__ import annotations

import numpy as np
import pytest

from rules import ws013_dead_pool_window as R
from tests.rules._waste_pool_models import (
    assert_fix_proven,
    assert_same_outputs,
    feeds_for,
    findings,
    fix_one,
    pool_model,
    run,
    session,
)


def one(model):
    found = findings(model, "WS013")
    assert [f.node for f in found] == ["pool"], [f.message for f in found]
    return found[0]


def test_maxpool_5x5_on_2x2_has_16_dead_positions_and_a_3x3_rewrite():
    m = pool_model("MaxPool", [1, 3, 2, 2], kernel_shape=[5, 5], pads=[2, 2, 2, 2])
    f = one(m)
    assert f.severity == "warning" and f.rule == "WS013" and f.name == "dead-pool-window"
    d = f.details
    assert d["dead_taps"] == 16 and d["total_taps"] == 25
    assert d["live_taps_per_axis"] == [[1, 2, 3], [1, 2, 3]]
    assert d["effective_kernel_shape"] == [3, 3] and d["effective_pads"] == [1, 1, 1, 1]
    # 1 x 3 x 2 x 2 outputs, 16 dead positions each; op_macs counts 25 per output
    assert f.waste == {"weights": 0, "bytes": 0, "macs": 12 * 16}
    fixed = assert_fix_proven(m, f, R.fix_findings)
    (node,) = fixed.graph.node
    assert list(node.attribute[0].ints) == [3, 3] or any(a.name == "kernel_shape" and list(a.ints) == [3, 3] for a in node.attribute)


@pytest.mark.parametrize("op, shape, attrs", [
    ("MaxPool", [1, 2, 1, 2], {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1}),
    ("MaxPool", [1, 2, 1], {"kernel_shape": [3], "dilations": [2], "pads": [2, 2]}),
    ("MaxPool", [1, 2, 2, 3], {"kernel_shape": [5, 5], "strides": [2, 1], "pads": [2, 2, 2, 2]}),
    ("AveragePool", [1, 2, 2, 3], {"kernel_shape": [5, 5], "pads": [2, 2, 2, 2], "count_include_pad": 0}),
    ("LpPool", [1, 2, 2, 3], {"kernel_shape": [5, 5], "pads": [2, 2, 2, 2], "p": 2}),
    ("MaxPool", [1, 2, 2, 3], {"kernel_shape": [4, 4], "auto_pad": "SAME_UPPER", "strides": [1, 1]}),
])  # fmt: skip
def test_exact_rewrites_are_proven_by_execution(op, shape, attrs):
    m = pool_model(op, shape, **attrs)
    found = findings(m, "WS013")
    assert found, "expected dead window positions"
    for f in found:
        assert f.details["exact_rewrite"] in ("smaller-kernel", "global"), f.message
        assert_fix_proven(m, f, R.fix_findings)


def test_dead_positions_are_really_padding_by_execution():
    """Perturb every input value: the max over the live window alone equals the original output."""
    m = pool_model("MaxPool", [1, 1, 3, 3], kernel_shape=[7, 7], pads=[3, 3, 3, 3])
    f = one(m)
    live = f.details["live_taps_per_axis"]
    assert live == [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5]]
    x = np.random.default_rng(0).standard_normal((1, 1, 3, 3)).astype(np.float32)
    (y,) = run(m, {"x": x})
    # by hand: a 5x5 window with pads 2 over the same input
    pad = np.pad(x[0, 0], 2, constant_values=-np.inf)
    ref = np.array([[pad[i:i + 5, j:j + 5].max() for j in range(3)] for i in range(3)])
    assert np.array_equal(y[0, 0], ref)


def test_pads_not_smaller_than_the_new_kernel_are_refused_because_onnxruntime_refuses_them():
    m = pool_model("MaxPool", [1, 2, 4], kernel_shape=[5], dilations=[3], pads=[6, 6], strides=[3])
    f = one(m)
    assert f.details["live_taps_per_axis"] == [[1, 2, 3]] and f.details["effective_pads"] == [3, 3]
    _, changes = fix_one(m, f, R.fix_findings)
    assert [c.status for c in changes] == ["refused"] and "not smaller than the kernel" in changes[0].reason
    smaller = pool_model("MaxPool", [1, 2, 4], kernel_shape=[3], dilations=[3], pads=[3, 3], strides=[3])
    with pytest.raises(Exception, match="Pad should be smaller than kernel|pool_attributes"):
        session(smaller)


def test_average_pool_count_include_pad_has_no_safe_rewrite():
    m = pool_model("AveragePool", [1, 2, 2, 2], kernel_shape=[5, 5], pads=[2, 2, 2, 2], count_include_pad=1)
    f = one(m)
    assert f.details["exact_rewrite"] is None and "divisor" in f.details["why_not"]
    _, changes = fix_one(m, f, R.fix_findings)
    assert [c.status for c in changes] == ["refused"] and "divisor" in changes[0].reason
    # and the reason is real: the smaller kernel really changes the values
    smaller = pool_model("AveragePool", [1, 2, 2, 2], kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1)
    feeds = feeds_for(session(m))
    assert not np.allclose(run(m, feeds)[0], run(smaller, feeds)[0])


def test_global_pool_in_disguise_is_info_and_becomes_the_global_op():
    m = pool_model("MaxPool", [1, 3, 4, 5], kernel_shape=[4, 5])
    f = one(m)
    assert f.severity == "info" and f.details["global_pool"] and f.details["exact_rewrite"] == "global"
    assert f.waste == {"weights": 0, "bytes": 0, "macs": 0}
    fixed = assert_fix_proven(m, f, R.fix_findings)
    assert [n.op_type for n in fixed.graph.node] == ["GlobalMaxPool"]
    for op in ("AveragePool", "LpPool"):
        m = pool_model(op, [1, 3, 4, 5], kernel_shape=[4, 5])
        f = one(m)
        fixed = assert_fix_proven(m, f, R.fix_findings)
        assert fixed.graph.node[0].op_type == "Global" + op


def test_padded_global_window_with_count_include_pad_is_refused():
    m = pool_model("AveragePool", [1, 2, 3, 3], kernel_shape=[5, 5], pads=[1, 1, 1, 1], count_include_pad=1)
    f = one(m)
    assert f.details["global_pool"] and f.details["exact_rewrite"] is None


@pytest.mark.parametrize("op, shape, attrs", [
    ("MaxPool", [1, 2, 8, 8], {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}),
    ("MaxPool", [1, 2, 8, 8], {"kernel_shape": [2, 2], "strides": [2, 2]}),
    ("AveragePool", [1, 2, 7, 7], {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1}),
    ("MaxPool", [1, 2, 1, 1], {"kernel_shape": [1, 1]}),
])  # fmt: skip
def test_clean_twins_give_nothing(op, shape, attrs):
    assert findings(pool_model(op, shape, **attrs), "WS013") == []


def test_fix_cli_writes_a_checked_model(tmp_path):
    import onnx

    from analyzer.commands.fix import fix_file

    m = pool_model("MaxPool", [1, 3, 2, 2], kernel_shape=[5, 5], pads=[2, 2, 2, 2])
    src, out = tmp_path / "m.onnx", tmp_path / "fixed.onnx"
    onnx.save(m, src)
    report = fix_file(src, out, codes=("WS013",))
    assert report.count("WS013", "fixed") == 1
    assert_same_outputs(m, onnx.load(out))


def test_onnx_test_graphs_and_samples_are_confirmed_by_execution():
    """Each finding on the onnx wheel's test graphs and the samples, fixed alone, keeps
    onnxruntime's outputs.  Known today: the global average pools of inception v1/v2, resnet50,
    shufflenet (7x7 windows on 7x7 maps, inception v1's on a 6x6 map with ceil_mode) and torch's
    MaxPool1d tests (a 4-wide window on a 4-long input)."""
    from tests.rules._waste_pool_models import confirm_fixes_on_corpus

    seen = confirm_fixes_on_corpus("WS013", R.fix_findings)
    assert all(status in ("fixed", "refused", "skipped") for _, _, status in seen)
    assert not any("sample_models" in p for p, _, _ in seen)


def test_maxpool_whose_indices_are_read_is_refused():
    from onnx import helper

    from tests.rules._waste_pool_models import make, vi

    node = helper.make_node("MaxPool", ["x"], ["y", "idx"], name="pool", kernel_shape=[5, 5], pads=[2, 2, 2, 2])
    m = make([node], [vi("x", [1, 2, 2, 2])], outputs=("y", "idx"))
    f = one(m)
    assert f.details["exact_rewrite"] is None and "Indices" in f.details["why_not"]
    _, changes = fix_one(m, f, R.fix_findings)
    assert [c.status for c in changes] == ["refused"]
