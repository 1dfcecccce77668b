"""Sizes a hostile file can declare (dims of 2**40 on every axis) flow through every rule
and every output format as figures or as 'unknown', never as a crash: Python's integers
would grow to thousands of digits, which neither str() nor JSON accept."""
from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from analyzer.cli import FORMATS, main

BIG = 1 << 40


def _model():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [BIG, 4, BIG, BIG])
    w = numpy_helper.from_array(np.zeros((4, 4, 3, 3), np.float32), "w")  # zero channels, too
    unused = TensorProto(name="unused", data_type=TensorProto.FLOAT, dims=[BIG] * 5)  # dims only, no data
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[9, 9, 9, 9], dilations=[9, 9]),
        helper.make_node("MaxPool", ["c"], ["p"], name="pool", kernel_shape=[3, 3], pads=[2, 2, 2, 2]),
        helper.make_node("Identity", ["p"], ["q"], name="id"),
        helper.make_node("Mul", ["q", "one"], ["y"], name="mul"),
    ]
    one = numpy_helper.from_array(np.ones((1,), np.float32), "one")
    g = helper.make_graph(nodes, "g", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          initializer=[w, one, unused])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


@pytest.mark.parametrize("fmt", FORMATS)  # every format, the new ones too
def test_astronomical_sizes_never_crash(tmp_path, capsys, fmt):
    path = tmp_path / "huge.onnx"
    path.write_bytes(_model().SerializeToString())
    rc = main(["check", str(path), "--isolated", "--format", fmt])
    out, err = capsys.readouterr()
    assert rc in (0, 1), err
    assert "internal" not in out + err and "Traceback" not in out + err
    if fmt == "json":
        (fr,) = json.loads(out)["files"]
        assert fr["status"] == "ok"
        for f in fr["findings"]:
            for v in (f.get("waste") or {}).values():
                assert v is None or 0 <= v <= 1 << 63
