"""MV023 input-type-not-allowed: onnxruntime refuses each model at load time."""
import numpy as np
from onnx import helper as h
from onnx import numpy_helper as nh

from tests.rules._invalid_models_attrs import T, checker_rejects, conv, findings, model, ort_rejects, out, vi

CODE = "MV023"


def test_type_variable_bound_twice():
    m = model([h.make_node("Add", ["x", "z"], ["y"], name="n")], [vi("x", T.FLOAT, [2, 3]), vi("z", T.INT64, [2, 3])], [out("y", T.FLOAT, 2)])
    assert "bound to different types" in (ort_rejects(m) or "")
    assert "inconsistent type" in (checker_rejects(m) or "")
    got = findings(m, CODE)
    assert [(f.node, f.details["problem"], f.details["other_dtype"], f.details["dtype"]) for f in got] == [("n", "bound-twice", "tensor(float)", "tensor(int64)")]


def test_initializer_of_another_type():
    m = model([h.make_node("Add", ["x", "z"], ["y"], name="n")], [vi("x", T.FLOAT, [2, 3])], [out("y", T.FLOAT, 2)], [nh.from_array(np.ones((2, 3)), "z")])
    assert ort_rejects(m) is not None
    assert [f.details["problem"] for f in findings(m, CODE)] == ["bound-twice"]


def test_type_outside_the_constraint():
    n = h.make_node("Softmax", ["x"], ["y"], name="n")
    m = model([n], [vi("x", T.INT32, [2, 3])], [out("y", T.INT32, 2)])
    assert ort_rejects(m) is not None
    assert checker_rejects(m) is not None
    got = findings(m, CODE)
    assert [(f.details["problem"], f.details["dtype"]) for f in got] == [("not-allowed", "tensor(int32)")]


def test_concrete_type_parameter():
    # Reshape's shape input is tensor(int64), not a type variable
    m = model([h.make_node("Reshape", ["x", "s"], ["y"], name="n")], [vi("x", T.FLOAT, [2, 3])], [out("y", T.FLOAT, 1)], [nh.from_array(np.array([6], np.int32), "s")])
    assert ort_rejects(m) is not None
    assert [f.details["input_index"] for f in findings(m, CODE)] == [1]


def test_valid_types_are_quiet():
    for m in (conv(), model([h.make_node("Add", ["x", "x"], ["y"])], [vi("x", T.INT64, [2])], [out("y", T.INT64, 1)])):
        assert ort_rejects(m) is None
        assert findings(m, CODE) == []
