"""MV020 attribute-schema: ground truth from onnxruntime (it refuses each bad model) and
onnx's checker; valid models get nothing."""
from pathlib import Path

import onnx
import pytest
from onnx import helper as h

from tests.rules._invalid_models_attrs import T, checker_rejects, findings, in_if_branch, model, ort_rejects, out, unary, vi

CODE = "MV020"


def _twice():
    n = h.make_node("Softmax", ["x"], ["y"], name="n", axis=1)
    n.attribute.extend([h.make_attribute("axis", 0)])
    return model([n], [vi("x", T.FLOAT, [2, 3])], [out("y", T.FLOAT, 2)])


def _two_fields():
    n = h.make_node("Softmax", ["x"], ["y"], name="n", axis=1)
    n.attribute[0].f = 2.0
    return model([n], [vi("x", T.FLOAT, [2, 3])], [out("y", T.FLOAT, 2)])


def _type_undefined():
    n = h.make_node("Softmax", ["x"], ["y"], name="n", axis=1)
    n.attribute[0].type = 0
    return model([n], [vi("x", T.FLOAT, [2, 3])], [out("y", T.FLOAT, 2)])


# problem -> (builder, what onnx's checker says)
BAD = {
    "unknown": (lambda: unary("Relu", {"foo": 1}), "Unrecognized attribute: foo"),
    "wrong-type": (lambda: unary("Softmax", {"axis": 1.0}), "Mismatched attribute type"),
    "wrong-type-float": (lambda: unary("LeakyRelu", {"alpha": 1}), "Mismatched attribute type"),
    "missing-required": (lambda: unary("Cast"), "Required attribute 'to' is missing"),
    "duplicate": (_twice, "appeared multiple times"),
    "several-values": (_two_fields, "type field and data field mismatch"),
    "type-field-mismatch": (_type_undefined, "type field and data field mismatch"),
}


@pytest.mark.parametrize("problem", sorted(BAD))
def test_bad_attribute_is_found_and_onnxruntime_refuses(problem):
    build, says = BAD[problem]
    m = build()
    assert ort_rejects(m) is not None
    assert says in (checker_rejects(m, full_check=False) or "")
    got = findings(m, CODE)
    kind = problem.replace("-float", "")
    assert [f.details["problem"] for f in got] == [kind]
    assert got[0].node == "n" and got[0].severity == "error"


def test_inside_an_if_branch():
    m = in_if_branch(h.make_node("Relu", ["x"], ["yi"], name="inner", foo=1))
    assert ort_rejects(m) is not None
    got = findings(m, CODE)
    assert [(f.node, f.graph, f.details["attribute"]) for f in got] == [("inner", "main/if.then_branch", "foo")]


def test_ref_attr_with_a_value_in_a_function():
    body = h.make_node("LeakyRelu", ["a"], ["b"], name="inner")
    ref = body.attribute.add()
    ref.name, ref.ref_attr_name, ref.type, ref.f = "alpha", "alpha", 1, 0.5
    fn = h.make_function("local", "F", ["a"], ["b"], [body], [h.make_opsetid("", 17)], attributes=["alpha"])
    call = h.make_node("F", ["x"], ["y"], name="call", domain="local", alpha=0.2)
    m = model([call], [vi("x", T.FLOAT, [2, 3])], [vi("y", T.FLOAT, [2, 3])])
    m.opset_import.extend([h.make_opsetid("local", 1)])
    m.functions.extend([fn])
    # neither onnx's checker nor onnxruntime refuses it (onnxruntime silently uses one of
    # the two values); the IR forbids it, in onnx.proto's AttributeProto.ref_attr_name:
    proto = (Path(onnx.__file__).parent / "onnx.proto").read_text()
    assert "In this case, this AttributeProto does not contain data" in proto
    got = findings(m, CODE)
    assert [(f.node, f.details["problem"]) for f in got] == [("inner", "ref-with-value")]


def test_plain_ref_attr_in_a_function_is_fine():
    body = h.make_node("LeakyRelu", ["a"], ["b"], name="inner")
    ref = body.attribute.add()
    ref.name, ref.ref_attr_name, ref.type = "alpha", "alpha", 1
    fn = h.make_function("local", "F", ["a"], ["b"], [body], [h.make_opsetid("", 17)], attributes=["alpha"])
    call = h.make_node("F", ["x"], ["y"], name="call", domain="local", alpha=0.2)
    m = model([call], [vi("x", T.FLOAT, [2, 3])], [vi("y", T.FLOAT, [2, 3])])
    m.opset_import.extend([h.make_opsetid("local", 1)])
    m.functions.extend([fn])
    assert ort_rejects(m) is None
    assert findings(m, CODE) == []


@pytest.mark.parametrize("build", [lambda: unary("Softmax", {"axis": 1}), lambda: unary("Cast", {"to": T.FLOAT}), lambda: unary("LeakyRelu", {"alpha": 0.1})])
def test_valid_attributes_are_quiet(build):
    m = build()
    assert ort_rejects(m) is None
    assert findings(m, CODE) == []


def test_custom_domain_ops_only_get_structural_checks():
    n = h.make_node("MyOp", ["x"], ["y"], name="n", domain="custom", anything=3)
    m = model([n], [vi("x", T.FLOAT, [2, 3])], [out("y", T.FLOAT, 2)])
    m.opset_import.extend([h.make_opsetid("custom", 1)])
    assert findings(m, CODE) == []
