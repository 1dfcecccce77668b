"""DT002 collapsed-multiscale-branches on small hand-built models and the sample
models, against execution (see ``tests/rules/_conv_models.py``)."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

import analyzer
from tests.rules._conv_models import (
    SAMPLES,
    branches,
    dead_taps_by_execution,
    ints,
    lint,
    vi,
)

# --- DT002 ---------------------------------------------------------------------------------


def test_drln_like_branches_collapse():
    m = branches([3, 5, 7])
    found = lint(m)
    dt2 = [f for f in found if f.rule == "DT002"]
    assert len(dt2) == 1
    d = dt2[0].details
    assert dt2[0].name == "collapsed-multiscale-branches"
    assert [b["node"] for b in d["branches"]] == ["branch0", "branch1", "branch2"]
    assert [b["dilations"] for b in d["branches"]] == [[3, 3], [5, 5], [7, 7]]
    assert d["concat"] == "cat"
    assert d["input"] == "p"
    assert d["effective_kernel_shape"] == [1, 1]
    assert d["merged_out_channels"] == 6
    assert sorted(f.node for f in found if f.rule == "DT001") == ["branch0", "branch1", "branch2"]
    for i in range(3):
        assert dead_taps_by_execution(m, f"branch{i}", (2, 4, 3, 3)) == set(np.ndindex(3, 3)) - {(1, 1)}


def test_drln_like_branches_without_activation():
    (f,) = lint(branches([3, 5, 7], activation=False), "DT002")
    assert f.details["concat"] == "cat" and len(f.details["branches"]) == 3


def test_rcan_like_1x1_convs_do_not_collapse():
    m = branches([1, 1, 1], kernel=1)
    assert lint(m) == []


def test_same_config_repeated_is_not_multiscale():
    # three identical 3x3 dilation 3 branches on the pooled map: DT001 yes, DT002 no
    m = branches([3, 3, 3])
    assert lint(m, "DT002") == []
    assert len(lint(m, "DT001")) == 3


def test_different_effective_kernels_do_not_collapse():
    m = branches([1, 2], spatial=16, pool=False)
    assert lint(m) == []
    for i in range(2):
        assert dead_taps_by_execution(m, f"branch{i}", (2, 4, 3, 3)) == set()


def test_partially_collapsed_branches_are_reported():
    # On a 2x2 map dilation 3 and 5 both leave only the centre tap; dilation 1 keeps all 9.
    m = branches([1, 3, 5], spatial=8, pool=False)
    m.graph.node.insert(0, helper.make_node("MaxPool", ["x"], ["x2"], name="mp", kernel_shape=[4, 4], strides=[4, 4]))
    for n in m.graph.node:
        if n.op_type == "Conv":
            n.input[0] = "x2"
    (f,) = lint(m, "DT002")
    assert [b["node"] for b in f.details["branches"]] == ["branch1", "branch2"]
    assert f.details["concat"] == "cat"
    assert dead_taps_by_execution(m, "branch0", (2, 4, 3, 3)) == set()


def test_branch_behind_a_zero_pad_joins_its_siblings():
    # One exporter writes F.pad + Conv, the other Conv(pads): still the same group.
    m = branches([3, 5])
    (c0,) = [n for n in m.graph.node if n.name == "branch0"]
    c0.input[0] = "p_padded"
    del c0.attribute[:]
    c0.attribute.extend([helper.make_attribute("dilations", [3, 3])])
    m.graph.node.insert(1, helper.make_node("Pad", ["p", "pads"], ["p_padded"], name="pad", mode="constant"))
    m.graph.initializer.append(ints("pads", [0, 0, 3, 3, 0, 0, 3, 3]))
    (f,) = lint(m, "DT002")
    assert [b["node"] for b in f.details["branches"]] == ["branch0", "branch1"]
    assert f.details["input"] == "p"
    assert f.details["branches"][0]["pads"] == [3, 3, 3, 3]


@pytest.mark.parametrize("name", ["drln_attention_legacy.onnx", "drln_attention_dynamo.onnx", "drln_attention_dynamic_dynamo.onnx"])
def test_drln_samples(name):
    found = lint(onnx.load(str(SAMPLES / name)))
    dt1 = [f for f in found if f.rule == "DT001"]
    dt2 = [f for f in found if f.rule == "DT002"]
    assert len(dt1) == 4 and all(f.details["live_taps"] == [[1, 1]] for f in dt1)
    assert sum(f.details["dead_weights"] for f in dt1) == 12288
    assert len(dt2) == 1 and len(dt2[0].details["branches"]) == 3
    assert dt2[0].details["concat"] is not None


@pytest.mark.parametrize("name", ["rcan_attention_dynamo.onnx", "rcan_attention_legacy.onnx", "eca_attention_dynamo.onnx", "conv_stack_dynamo.onnx", "conv_stack_legacy.onnx"])
def test_negative_samples(name):
    assert lint(onnx.load(str(SAMPLES / name))) == []



# --- robustness ------------------------------------------------------------------------------


def test_dt002_branch_with_two_consumers_does_not_crash():
    # branch0's output feeds the Concat and another Relu; the file must still be analyzed.
    m = branches([3, 5, 7], activation=False)
    m.graph.node.append(helper.make_node("Relu", ["b0"], ["extra"], name="extra_relu"))
    m.graph.output.append(vi("extra", None))
    (fr,) = analyzer.lint(m).files
    assert fr.status == "ok", fr.error
    assert len([f for f in fr.findings if f.rule == "DT001"]) == 3
    (f,) = [f for f in fr.findings if f.rule == "DT002"]
    assert len(f.details["branches"]) == 3


def test_dt002_branches_that_are_graph_outputs_do_not_crash():
    m = branches([3, 5], activation=False)
    del m.graph.node[-1]  # no Concat: the branch outputs are the graph's outputs
    del m.graph.output[:]
    m.graph.output.extend([vi("b0", None), vi("b1", None)])
    (fr,) = analyzer.lint(m).files
    assert fr.status == "ok", fr.error
    (f,) = [f for f in fr.findings if f.rule == "DT002"]
    assert f.details["concat"] is None
