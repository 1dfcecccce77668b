"""MV026 node-arity: onnx's checker and onnxruntime refuse each model."""
from onnx import helper as h

from tests.rules._invalid_models_attrs import T, checker_rejects, findings, model, ort_rejects, out, vi

CODE = "MV026"


def test_too_few_inputs():
    m = model([h.make_node("Add", ["x"], ["y"], name="n")], [vi("x", T.FLOAT, [2])], [out("y", T.FLOAT, 1)])
    assert ort_rejects(m) is not None
    assert "not in range" in (checker_rejects(m) or "")
    assert [(f.node, f.details["problem"], f.details["count"]) for f in findings(m, CODE)] == [("n", "inputs", 1)]


def test_too_many_outputs():
    m = model([h.make_node("Relu", ["x"], ["y", "z"], name="n")], [vi("x", T.FLOAT, [2])], [out("y", T.FLOAT, 1)])
    assert ort_rejects(m) is not None
    assert [f.details["problem"] for f in findings(m, CODE)] == ["outputs"]


def test_required_input_left_empty():
    m = model([h.make_node("Add", ["", "x"], ["y"], name="n")], [vi("x", T.FLOAT, [2])], [out("y", T.FLOAT, 1)])
    assert ort_rejects(m) is not None
    assert "marked single" in (checker_rejects(m) or "")
    assert [f.details["problem"] for f in findings(m, CODE)] == ["empty-required-input"]


def test_omitted_optional_inputs_are_fine():
    m = model([h.make_node("Clip", ["x", "", ""], ["y"], name="n")], [vi("x", T.FLOAT, [2])], [out("y", T.FLOAT, 1)])
    assert ort_rejects(m) is None
    assert findings(m, CODE) == []
