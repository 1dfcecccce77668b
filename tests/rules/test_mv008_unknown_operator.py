"""MV008 unknown-operator: every malformed model of tests/rules/_invalid_models.py that it owns is
rejected by onnxruntime or onnx.checker (checked here, not assumed) and reported; the
valid near-misses there are not."""
from __future__ import annotations

import pytest

from tests.rules._invalid_models import assert_reported, assert_valid_not_reported, cases_for

CODE = "MV008"


@pytest.mark.parametrize("case", cases_for(CODE))
def test_reports_the_invalid_models(case):
    assert_reported(case)


def test_silent_on_valid_near_misses():
    assert_valid_not_reported([CODE])


def test_not_yet_names_the_first_opset():
    (f,) = assert_reported("op-before-its-opset")
    assert f.details == {"kind": "not-yet", "domain": "", "opset": 17, "since": 20}


def test_runtime_and_custom_domains_are_not_reported():
    """Chosen behaviour: com.microsoft ops (onnxruntime's own) and an imported custom
    domain (onnx.checker accepts it; onnxruntime needs its custom-op library) are not
    validity errors, even an unknown com.microsoft op that this onnxruntime lacks."""
    from onnx import helper

    from tests.rules._invalid_models import checker_rejects, lint, model, ort_refuses, vi

    for domain, op in (("com.microsoft", "FooBar"), ("my.dom", "Foo")):
        m = model([helper.make_node(op, ["x"], ["y"], domain=domain)], [vi("x")], [vi("y")],
                  opsets=[helper.make_opsetid(domain, 1)])
        assert not checker_rejects(m) and ort_refuses(m)
        assert [f for f in lint(m, ["MV"]).findings if f.rule.startswith("MV0")] == []
