"""WS004 unused-function-or-opset: functions nobody calls, opset imports nobody uses; the fix
removes them and onnxruntime gives the same outputs."""
from __future__ import annotations

from onnx import helper

from tests.rules._waste_graph_models import (
    lint,
    make_model,
    prove_each,
    prove_fix_file,
    vi,
)


def _fn(name, op="Relu", calls=None):
    nodes = [helper.make_node(op, ["a"], ["t"])]
    if calls:
        nodes.append(helper.make_node(calls, ["t"], ["b"], domain="local"))
    else:
        nodes.append(helper.make_node("Identity", ["t"], ["b"]))
    return helper.make_function("local", name, ["a"], ["b"], nodes, [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)])


def model(unused=True, extra_opset=True):
    fns = [_fn("Used")]
    if unused:
        fns += [_fn("Outer", calls="Inner"), _fn("Inner", op="Neg"), _fn("Alone", op="Abs")]
    extra = [("local", 1)] + ([("com.microsoft", 1)] if extra_opset else [])
    nodes = [helper.make_node("Used", ["x"], ["y"], domain="local", name="call")]
    return make_model(nodes, [vi("x", [2, 3])], [vi("y", [2, 3])], functions=fns, extra_opsets=extra)


def test_unused_functions_and_opset():
    m = model()
    found = lint(m, "WS004")
    kinds = [(f.details["kind"], f.node) for f in found]
    assert kinds == [("function", "function:local:Alone"), ("function", "function:local:Inner"),
                     ("opset", "opset:com.microsoft")]
    assert [x["name"] for x in found[1].details["functions"]] == ["Inner", "Outer"]  # call each other: one finding
    assert all(f.waste == {"weights": 0, "bytes": 0, "macs": 0} for f in found)
    prove_each(m, "WS004")
    fixed = prove_fix_file(m, "WS004")
    assert [f.name for f in fixed.functions] == ["Used"]
    assert sorted(o.domain for o in fixed.opset_import) == ["", "local"]


def test_clean_twin_silent():
    assert lint(model(unused=False, extra_opset=False), "WS004") == []


def test_default_domain_never_reported():
    m = make_model([helper.make_node("Used", ["x"], ["y"], domain="local")], [vi("x", [2, 3])], [vi("y", [2, 3])],
                   functions=[_fn("Used")], extra_opsets=[("local", 1)])
    assert lint(m, "WS004") == []  # the function body uses "" anyway


def test_function_called_only_from_a_used_function_is_used():
    fns = [_fn("Used", calls="Inner"), _fn("Inner", op="Neg"), _fn("Alone", op="Abs")]
    m = make_model([helper.make_node("Used", ["x"], ["y"], domain="local", name="call")], [vi("x", [2, 3])],
                   [vi("y", [2, 3])], functions=fns, extra_opsets=[("local", 1)])
    assert [f.node for f in lint(m, "WS004")] == ["function:local:Alone"]
