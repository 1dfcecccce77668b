"""WS003 unused-graph-input: an input nothing reads; the fix removes it (interface change),
proven by running the fixed model on the remaining inputs."""
from __future__ import annotations

from onnx import TensorProto

from tests.rules._waste_graph_models import (
    conv_relu,
    if_model,
    lint,
    prove_each,
    prove_fix_file,
    vi,
)


def test_unused_input_found_and_removed():
    m = conv_relu(extra_inputs=[vi("mask", [1, 8], TensorProto.INT64)])
    (f,) = lint(m, "WS003")
    assert f.node == "mask" and f.details["input_index"] == 1 and f.details["dtype"] == "int64"
    assert f.details["shape"] == [1, 8]
    assert f.waste == {"weights": 0, "bytes": 0, "macs": 0}
    prove_each(m, "WS003")
    fixed = prove_fix_file(m, "WS003")
    assert [i.name for i in fixed.graph.input] == ["x"]


def test_clean_twin_silent():
    assert lint(conv_relu(), "WS003") == []


def test_input_read_only_inside_a_body_is_used():
    assert lint(if_model(), "WS003") == []


def test_input_passed_straight_to_an_output_is_used():
    m = conv_relu(extra_inputs=[vi("p", [1, 4, 8, 8])], outputs=("y", "p"))
    assert lint(m, "WS003") == []
