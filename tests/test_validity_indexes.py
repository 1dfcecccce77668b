"""The per-model indexes the rules share (rules/_validity.py, rules/_waste_graph.py; not one rule's, so beside tests/rules/): each
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


def _odd_model():
    """Nodes of one kind with different arities, omitted inputs and outputs, nodes without
    input (Constant, a Clip whose inputs are all omitted) in the main graph and a body."""
    import onnx
    from onnx import TensorProto, helper

    def vi(n):
        return helper.make_tensor_value_info(n, TensorProto.FLOAT, [2])

    const = lambda name, out, v: helper.make_node("Constant", [], [out], name=name, value=helper.make_tensor(out, TensorProto.FLOAT, [], [v]))  # noqa: E731
    body = helper.make_graph([const("bc1", "k1", 1.0), const("bc2", "k2", 2.0), helper.make_node("Add", ["k1", "k2"], ["bo"], name="ba")],
                             "then", [], [vi("bo")])  # fmt: skip
    other = helper.make_graph([helper.make_node("Clip", ["x"], ["eo"], name="ec")], "else", [], [vi("eo")])
    nodes = [
        const("c1", "lo", 0.0), const("c2", "hi", 6.0),
        helper.make_node("Clip", ["x", "lo", "hi"], ["a"], name="clip3"),
        helper.make_node("Clip", ["a", "", "hi"], ["b"], name="clip_no_min"),
        helper.make_node("Clip", ["b"], ["c"], name="clip1"),
        helper.make_node("Clip", ["", "", ""], ["d"], name="clip_none"),
        helper.make_node("Dropout", ["c"], ["e", ""], name="drop_no_mask"),
        helper.make_node("Dropout", ["e"], ["f"], name="drop1"),
        helper.make_node("If", ["cond"], ["g"], name="if", then_branch=body, else_branch=other),
        helper.make_node("Sum", ["f", "g", "d"], ["y"], name="sum"),
    ]
    g = helper.make_graph(nodes, "g", [vi("x"), helper.make_tensor_value_info("cond", TensorProto.BOOL, [])], [vi("y")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    return onnx.load_from_string(m.SerializeToString())


def _arity_models():
    import analyzer

    return [analyzer.analyze(_odd_model())] + [_analyzed(name) for name in _CASES]


def test_op_groups_note_each_odd_node():
    """A group's odd nodes are exactly those whose arity is not its first node's or that
    omit an input or output, in file order; the counts read off them are the walk's."""
    from rules import _validity as v

    for am in _arity_models():
        for g in v.op_groups(am):
            first = g.ops[0]
            assert (g.n_in, g.n_out) == (len(first.inputs), len(first.outputs))
            odd = [op for op in g.ops if (len(op.inputs), len(op.outputs)) != (g.n_in, g.n_out) or None in op.inputs or None in op.outputs]
            assert [op.key for op in g.odd] == [op.key for op in odd]
            assert v.input_counts(g) == {len(op.inputs) for op in g.ops}
            assert v.count_without_inputs(g) == sum(1 for op in g.ops if all(x is None for x in op.inputs))
    groups = {(g.graph, g.op_type): g for g in v.op_groups(_arity_models()[0])}
    assert [op.id for op in groups[("main", "Clip")].odd] == ["clip_no_min", "clip1", "clip_none"]
    assert [op.id for op in groups[("main", "Dropout")].odd] == ["drop_no_mask", "drop1"]
    assert v.count_without_inputs(groups[("main", "Constant")]) == 2
    assert v.count_without_inputs(groups[("main", "Clip")]) == 1


def test_shared_paths_are_those_of_the_adjacencies():
    """WS006's graphs where an op may repeat another: a value two ops of the graph read, or
    two ops of one kind without any input (found from the predecessor adjacency: no
    predecessor, or only what the op's bodies capture)."""
    from rules import _waste_graph as wg

    seen = set()
    for am in _arity_models():
        graph = am.graph
        want = set()
        for key, readers in graph.nx._succ.items():
            if key[0] != "value":
                continue
            by_graph: dict = {}
            for reader, data in readers.items():
                if data.get("kind") == "input":
                    by_graph[reader[1]] = by_graph.get(reader[1], 0) + 1
            want |= {p for p, n in by_graph.items() if n > 1}
        bare: dict = {}
        for k, preds in graph.nx._pred.items():
            if k[0] == "op" and all(d.get("kind") == "implicit" for d in preds.values()):
                op = graph.ops[k]
                t = (k[1], op.domain, op.op_type)
                bare[t] = bare.get(t, 0) + 1
        want |= {t[0] for t, n in bare.items() if n > 1}
        got = wg._shared_paths(am)
        wanted = set(wg._paths(am))
        if got >= wanted:  # (found every graph early: the rest is not looked for)
            assert want >= wanted
        else:
            assert got == want
        seen |= got
    assert "main" in seen and any(p.endswith("then_branch") for p in seen)
