"""MV021 conv-attributes: every bad case is refused by onnxruntime (load or run)."""
import numpy as np
import pytest
from onnx import helper as h
from onnx import numpy_helper as nh

from tests.rules._invalid_models_attrs import conv, findings, findings_from_file, in_scan_body, ort_rejects

CODE = "MV021"

BAD = {
    "strides0": (lambda: conv({"strides": [0, 0]}), "strides"),
    "negative-pads": (lambda: conv({"pads": [-1, -1, 0, 0]}), "pads"),
    "dilations0": (lambda: conv({"dilations": [0, 1]}), "dilations"),
    "dilations-negative": (lambda: conv({"dilations": [-1, 1]}), "dilations"),
    "kernel-shape": (lambda: conv({"kernel_shape": [5, 5]}), "kernel_shape"),
    "group-not-dividing": (lambda: conv({"group": 2}), "channels"),
    "group0": (lambda: conv({"group": 0}), "group"),
    "rank1-weight": (lambda: conv(wshape=(4,)), "weight-rank"),
    "rank3-weight-rank4-input": (lambda: conv(wshape=(4, 3, 3)), "weight-rank"),
    "weight-channels": (lambda: conv(wshape=(4, 2, 3, 3)), "channels"),
    "pads-length": (lambda: conv({"pads": [1, 1]}), "length"),
    "strides-length": (lambda: conv({"strides": [1, 1, 1]}), "length"),
    "auto-pad-value": (lambda: conv({"auto_pad": "FOO"}), "auto_pad"),
    "auto-pad-and-pads": (lambda: conv({"auto_pad": "SAME_UPPER", "pads": [1, 1, 1, 1]}), "auto_pad-and-pads"),
    "convtranspose-channels": (lambda: conv(op="ConvTranspose", wshape=(4, 3, 3, 3)), "channels"),
    "maxpool-strides0": (lambda: conv({"kernel_shape": [2, 2], "strides": [0, 0]}, op="MaxPool", weight=False), "strides"),
    "averagepool-negative-pads": (lambda: conv({"kernel_shape": [2, 2], "pads": [-1, 0, 0, 0]}, op="AveragePool", weight=False), "pads"),
    "maxpool-kernel0": (lambda: conv({"kernel_shape": [0, 2]}, op="MaxPool", weight=False), "kernel_shape"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_conv_found_and_refused_by_onnxruntime(case):
    build, problem = BAD[case]
    m = build()
    assert ort_rejects(m) is not None
    got = findings(m, CODE)
    assert problem in [f.details["problem"] for f in got]
    assert all(f.node == "conv" and f.severity == "error" for f in got)


@pytest.mark.parametrize("attrs", [{}, {"strides": [2, 2], "pads": [1, 1, 1, 1], "dilations": [2, 2]}, {"kernel_shape": [3, 3]}, {"auto_pad": "SAME_UPPER"}])
def test_valid_convs_are_quiet(attrs):
    m = conv(attrs)
    assert ort_rejects(m) is None
    assert findings(m, CODE) == []


def test_grouped_and_transposed_valid():
    for m in (conv({"group": 3}, wshape=(6, 1, 3, 3)), conv(op="ConvTranspose", wshape=(3, 4, 3, 3)), conv({"kernel_shape": [2, 2]}, op="MaxPool", weight=False)):
        assert ort_rejects(m) is None
        assert findings(m, CODE) == []


def test_bad_conv_inside_a_scan_body(tmp_path):
    inner = h.make_node("Conv", ["xi4", "W"], ["yi"], name="inner", strides=[0, 0])
    unsq = h.make_node("Unsqueeze", ["xi", "ax"], ["xi4"], name="unsq")
    m = in_scan_body(inner, [nh.from_array(np.ones((4, 3, 3, 3), np.float32), "W"), nh.from_array(np.array([0], np.int64), "ax")])
    m.graph.node[0].attribute[0].g.node.insert(0, unsq)
    assert ort_rejects(m) is not None
    got = findings_from_file(m, CODE, tmp_path)
    assert [(f.node, f.graph, f.details["problem"]) for f in got] == [("inner", "main/scan.body", "strides")]
