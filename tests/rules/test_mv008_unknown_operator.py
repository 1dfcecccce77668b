"""MV008 unknown-operator: every malformed model of tests/rules/_invalid_models.py that it owns is
rejected by onnxruntime or onnx.checker (checked here, not assumed) and reported; the
valid near-misses there are not."""
from __future__ import annotations

import pytest

from tests.rules._invalid_models import (
    assert_reported,
    assert_valid_not_reported,
    cases_for,
)

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

    from tests.rules._invalid_models import (
        checker_rejects,
        lint,
        model,
        ort_refuses,
        vi,
    )

    for domain, op in (("com.microsoft", "FooBar"), ("my.dom", "Foo")):
        m = model([helper.make_node(op, ["x"], ["y"], domain=domain)], [vi("x")], [vi("y")],
                  opsets=[helper.make_opsetid(domain, 1)])
        assert not checker_rejects(m) and ort_refuses(m)
        assert [f for f in lint(m, ["MV"]).findings if f.rule.startswith("MV0")] == []


def test_findings_of_several_kinds_come_in_node_order():
    """The rule decides once per (graph, domain, op_type) group; its findings still come in
    the order of the nodes (across kinds and graphs), as a node-by-node walk gives them."""
    from onnx import helper

    import analyzer
    import rules.mv008_unknown_operator as rule
    from tests.rules._invalid_models import if_model

    body = [helper.make_node("Bar", ["x"], ["t"], name="b1"), helper.make_node("Foo", ["t"], ["u"], name="b2")]
    m = if_model(body, [helper.make_tensor_value_info("u", 1, [2])],
                 before=[helper.make_node("Foo", ["x"], ["p"], name="m1")],
                 after=[helper.make_node("Bar", ["p"], ["q"], name="m3"), helper.make_node("Foo", ["q"], ["r"], name="m4")])
    found = list(rule.check(analyzer.analyze(m)))
    walk = [(op.graph, op.id) for op in analyzer.analyze(m).graph.all_ops() if op.op_type in ("Foo", "Bar")]
    assert [(f.graph, f.node) for f in found] == walk
    assert [n for _, n in walk] == ["m1", "m3", "m4", "b1", "b2", "b1", "b2"]


def test_op_groups_partition_the_walk():
    """Every node is in exactly one group, which holds its graph, domain, op type, and the
    schema and opset a per-node lookup gives."""
    import analyzer
    from analyzer.analyses.schema import node_opset, op_schema
    from rules import _validity as v
    from tests.rules._invalid_models import CASES

    for name in ("undefined-input-in-if", "unsorted-in-function", "op-before-its-opset"):
        am = analyzer.analyze(CASES[name][0]())
        groups = v.op_groups(am)
        assert v.op_groups(am) is groups  # made once per model
        walk = list(am.graph.all_ops())
        assert sorted(op.key for g in groups for op in g.ops) == sorted(op.key for op in walk)
        for g in groups:
            assert [op.key for op in g.ops] == [op.key for op in walk if (op.graph, op.domain, op.op_type) == (g.graph, g.domain, g.op_type)]
            assert g.opset == node_opset(am, g.ops[0])
            fresh = op_schema(g.domain, g.op_type, g.opset)
            assert (g.schema is None) == (fresh is None)
        assert [op.key for op in v.ops_in_walk_order(am, groups)] == [op.key for op in walk]


def test_op_groups_of_graphs_of_one_kind_of_node():
    """A graph whose nodes are all of one op type is one group, unless their domains differ:
    the groups are those of a node-by-node walk, body graphs included."""
    import onnx
    from onnx import TensorProto, helper

    import analyzer
    from rules import _validity as v

    x = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])]
    y = lambda n: [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2])]
    body = helper.make_graph([helper.make_node("Neg", ["x"], ["t"], name="b1"), helper.make_node("Neg", ["t"], ["u"], name="b2")],
                             "then", [], y("u"))  # fmt: skip
    other = helper.make_graph([helper.make_node("Abs", ["x"], ["e"], name="e1")], "else", [], y("e"))
    chain = [helper.make_node("Relu", ["x"], ["r0"], name="r0")] + [
        helper.make_node("Relu", [f"r{i}"], [f"r{i + 1}"], name=f"r{i + 1}") for i in range(4)]
    mixed = chain[:2] + [helper.make_node("Relu", ["r1"], ["r2"], name="r2", domain="custom.x")] + chain[3:]
    cond = helper.make_node("If", ["c"], ["z"], name="if", then_branch=body, else_branch=other)
    for nodes, extra in ((chain, []), (mixed, [helper.make_opsetid("custom.x", 1)]), ([cond], [])):
        inputs = x + ([helper.make_tensor_value_info("c", TensorProto.BOOL, [])] if nodes[0].op_type == "If" else [])
        g = helper.make_graph(nodes, "g", inputs, y(nodes[-1].output[0]))
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)] + extra)
        am = analyzer.analyze(onnx.load_from_string(m.SerializeToString()))
        walk = list(am.graph.all_ops())
        expected: dict = {}
        for op in walk:
            expected.setdefault((op.graph, op.domain, op.op_type), []).append(op.key)
        got = [((g.graph, g.domain, g.op_type), [op.key for op in g.ops]) for g in v._make_groups(am)]
        assert got == list(expected.items())
    assert len(got) == 3  # main's If, then's Neg (one group of two), else's Abs
