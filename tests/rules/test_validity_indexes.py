"""The per-model indexes the rules share (rules/_validity.py, rules/_waste_graph.py): each
must give what the straightforward walk over every node gives, on models with bodies,
functions and several domains."""
from __future__ import annotations

import pytest

# models with If bodies, function bodies, custom and ai.onnx.ml domains, unsorted graphs
_CASES = (
    "undefined-input-in-if", "undefined-input-in-function", "unsorted-main", "unsorted-in-if",
    "body-reads-later-outer-value", "unsorted-in-function", "ml-op-without-ml-opset",
    "custom-domain-without-opset", "function-call-without-opset", "op-before-its-opset", "unknown-op-in-function",
    "functions-mutually-recursive", "duplicate-node-name-in-function",
)


def _analyzed(name):
    import analyzer
    from tests.rules._invalid_models import CASES

    return analyzer.analyze(CASES[name][0]())


@pytest.mark.parametrize("name", _CASES)
def test_op_types_and_domains_are_those_of_the_walk(name):
    from rules import _validity as v
    from rules import _waste_graph as wg

    am = _analyzed(name)
    walk = list(am.graph.all_ops())
    assert walk  # (each case has nodes)
    assert v.op_types(am) == frozenset(op.op_type for op in walk)
    assert wg.op_types(am) == v.op_types(am)
    assert v.op_domains(am) == frozenset(op.domain for op in walk)
    assert v.op_types(am) is v.op_types(am)  # made once per model


def test_the_cases_cover_bodies_functions_and_domains():
    domains, paths = set(), set()
    for name in _CASES:
        am = _analyzed(name)
        domains |= {op.domain for op in am.graph.all_ops()}
        paths |= {op.graph.split(":")[0].split("/")[0] + ("/" if "/" in op.graph else "") for op in am.graph.all_ops()}
    assert {"", "ai.onnx.ml"} < domains and len(domains) >= 3
    assert {"main", "main/", "function"} <= paths


@pytest.mark.parametrize("name", _CASES)
def test_op_groups_are_a_walk_grouped_graph_by_graph(name):
    from rules import _validity as v

    am = _analyzed(name)
    expected: dict = {}
    for op in am.graph.all_ops():
        expected.setdefault((op.graph, op.domain, op.op_type), []).append(op)
    got = [((g.graph, g.domain, g.op_type), g.ops) for g in v.op_groups(am)]
    assert [k for k, _ in got] == list(expected)
    assert all(a == b and all(map(lambda x, y: x is y, a, b)) for (_, a), b in zip(got, expected.values()))


@pytest.mark.parametrize("name", _CASES)
def test_graphs_in_file_order_is_the_comparison_with_the_walk(name):
    """True exactly when each graph's topological order is its nodes in walk order."""
    from analyzer.graph.core import GraphError
    from rules import _validity as v

    am = _analyzed(name)
    graph = am.graph
    walk = list(graph.all_ops())
    want = True
    for path in graph.subgraphs:
        mine = [op for op in walk if op.graph == path]
        try:
            order = graph.topological_order(path)
        except GraphError:
            want = False
            break
        if [id(op) for op in order] != [id(op) for op in mine]:
            want = False
            break
    assert v.graphs_in_file_order(am) is want


def test_graphs_in_file_order_cases_go_both_ways():
    from rules import _validity as v

    got = {name: v.graphs_in_file_order(_analyzed(name)) for name in _CASES}
    assert got["unsorted-main"] is False and got["unsorted-in-if"] is False
    assert got["undefined-input-in-if"] is True


_DTYPES = (1, 2, 3, 6, 7, 9, 10, 11, 16)  # float, uint8, int8, int32, int64, bool, float16, double, bfloat16


@pytest.mark.parametrize("op_type", ["Add", "Relu", "Conv", "Concat", "Sum", "Max", "Where", "Gather", "Cast", "Resize",
                                     "LayerNormalization", "Mod", "BitShift", "Einsum", "Split", "If"])
def test_mv023_one_dtype_fails_at_some_arity_exactly_when_at_the_formal_count(op_type):
    """MV023 skips a group when n inputs of the model's one dtype fail nowhere for n the
    schema's count of formal inputs: then no other count fails either."""
    from analyzer.analyses.schema import op_schema
    from rules.mv023_input_type_not_allowed import _problems

    schema = op_schema("", op_type, 18)
    assert schema is not None and schema.inputs
    n = len(schema.inputs)
    failing = set()
    for dtype in _DTYPES:
        at_formal = bool(_problems(schema, (dtype,) * n))
        for k in range(n + 4):
            if _problems(schema, (dtype,) * k):
                failing.add(dtype)
                assert at_formal, (op_type, dtype, k)
    if op_type in ("Conv", "Relu", "LayerNormalization", "BitShift", "Mod", "Where"):
        assert failing  # (some dtype is refused: the check above is not vacuous)
