"""analyzer.graph.build_graph: queries, order, ids, subgraphs, captured values, malformed graphs."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import analyzer
from analyzer.graph.build import GraphError, build_graph

F = TensorProto.FLOAT


def _vi(name, shape, dtype=F):
    return helper.make_tensor_value_info(name, dtype, shape)


def _model(nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def V(name, path="main"):
    return ("value", path, name)


def _diamond():
    """x -> relu -> r;  Sigmoid(r) -> s;  add(r, s) -> y;  Mul(r, r) -> z  (two nodes unnamed)."""
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Sigmoid", ["r"], ["s"]),
        helper.make_node("Add", ["r", "s"], ["y"], name="add"),
        helper.make_node("Mul", ["r", "r"], ["z"]),
    ]
    return _model(nodes, [_vi("x", [1, 2, 4, 4])], [_vi("y", None), _vi("z", None)])


# --- queries ----------------------------------------------------------------------------


def test_producer_and_consumers():
    g = build_graph(_diamond())
    assert g.producer(V("x")) is None
    assert g.producer(V("r")).id == "relu"
    assert g.producer(V("s")).op_type == "Sigmoid"
    users = [(op.id, pos) for op, pos in g.consumers(V("r"))]
    assert users == [("Sigmoid#1", 0), ("add", 0), ("Mul#3", 0), ("Mul#3", 1)]
    assert [(op.id, pos) for op, pos in g.consumers(V("s"))] == [("add", 1)]
    assert g.consumers(V("y")) == []
    add = g.op(("op", "main", 2))
    assert add.inputs == [V("r"), V("s")] and add.outputs == [V("y")]


def test_initializer_queries():
    w = numpy_helper.from_array(np.ones((2, 2, 1, 1), np.float32), "W")
    m = _model(
        [helper.make_node("Conv", ["x", "W"], ["y"], name="c")],
        [_vi("x", [1, 2, 4, 4])],
        [_vi("y", None)],
        [w],
    )
    g = build_graph(m)
    assert g.is_initializer(V("W")) and not g.is_initializer(V("x"))
    assert g.initializer(V("W")).name == "W"
    assert g.producer(V("W")) is None
    assert [op.id for op, _ in g.consumers(V("W"))] == ["c"]


def test_initializer_that_is_also_an_input_counts_as_initializer():
    w = numpy_helper.from_array(np.ones((2, 2, 1, 1), np.float32), "W")
    m = _model(
        [helper.make_node("Conv", ["x", "W"], ["y"], name="c")],
        [_vi("x", [1, 2, 4, 4]), _vi("W", [2, 2, 1, 1])],
        [_vi("y", None)],
        [w],
    )
    g = build_graph(m)
    assert g.is_initializer(V("W"))


def test_omitted_optional_inputs_and_outputs_are_none():
    m = _model(
        [helper.make_node("Clip", ["x", "", "hi"], ["y"], name="clip"), helper.make_node("Dropout", ["y"], ["d", ""], name="drop")],
        [_vi("x", [3]), _vi("hi", [])],
        [_vi("d", None)],
    )
    g = build_graph(m)
    clip = g.op(("op", "main", 0))
    assert clip.inputs == [V("x"), None, V("hi")]
    assert g.op(("op", "main", 1)).outputs == [V("d"), None]


# --- order and ids ------------------------------------------------------------------------


def _check_valid_order(g, path="main"):
    order = g.topological_order(path)
    seen = set()
    for op in order:
        for vkey in op.inputs:
            if vkey is None:
                continue
            prod = g.producer(vkey)
            if prod is not None and prod.graph == path:
                assert prod.key in seen, f"{op.id} comes before its producer {prod.id}"
        seen.add(op.key)
    assert len(order) == len(g.subgraphs[path].op_keys) == len(seen)
    return [op.id for op in order]


def test_topological_order_of_a_shuffled_graph():
    # File order is not topological: the analyzer must not trust it.
    nodes = [
        helper.make_node("Add", ["a", "b"], ["y"], name="n0_add"),
        helper.make_node("Neg", ["x"], ["c"], name="n1_independent"),
        helper.make_node("Sigmoid", ["a"], ["b"], name="n2_sig"),
        helper.make_node("Relu", ["x"], ["a"], name="n3_relu"),
        helper.make_node("Abs", ["c"], ["d"], name="n4_abs"),
    ]
    m = _model(nodes, [_vi("x", [4])], [_vi("y", None), _vi("d", None)])
    order = _check_valid_order(build_graph(m))
    # producers first; among ready nodes the lower file index first (stable)
    assert order == ["n1_independent", "n3_relu", "n2_sig", "n0_add", "n4_abs"]


@pytest.mark.parametrize("seed", range(40))
def test_topological_order_equals_smallest_index_first_kahn(seed):
    # Random DAGs, written in order (the fast path: file order) or shuffled (the heap):
    # both must give what networkx's lexicographic topological sort by index gives.
    import networkx as nx

    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 30))
    nodes = []
    for i in range(n):
        k = int(rng.integers(1, 3))
        srcs = ["x"] + [f"v{j}" for j in range(i)]
        ins = [srcs[int(rng.integers(0, len(srcs)))] for _ in range(k)]
        nodes.append(helper.make_node("Sum", ins, [f"v{i}"], name=f"n{i}"))
    if seed % 2:
        nodes = [nodes[i] for i in rng.permutation(n)]
    m = _model(nodes, [_vi("x", [4])], [_vi(f"v{n - 1}", None)])
    g = build_graph(m)
    order = _check_valid_order(g)
    dg = nx.DiGraph()
    dg.add_nodes_from(range(n))
    for idx, node in enumerate(nodes):
        for name in node.input:
            if name != "x":
                dg.add_edge(next(j for j, p in enumerate(nodes) if name in p.output), idx)
    expected = [nodes[i].name for i in nx.lexicographical_topological_sort(dg)]
    assert order == expected


def test_topological_order_is_stable_across_builds():
    m = _diamond()
    first = _check_valid_order(build_graph(m))
    for _ in range(3):
        again = onnx.load_model_from_string(m.SerializeToString())
        assert _check_valid_order(build_graph(again)) == first
    assert first == ["relu", "Sigmoid#1", "add", "Mul#3"]


def test_unnamed_nodes_get_op_type_and_index():
    g = build_graph(_diamond())
    ids = {op.index: op.id for op in g.all_ops()}
    assert ids == {0: "relu", 1: "Sigmoid#1", 2: "add", 3: "Mul#3"}
    for op in g.all_ops():
        assert op.key == ("op", "main", op.index)
        assert op.name_given == (op.id in ("relu", "add"))


def test_duplicate_names_get_distinct_ids():
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="same"),
        helper.make_node("Relu", ["a"], ["b"], name="same"),
        helper.make_node("Relu", ["b"], ["c"], name="Relu#2"),  # collides with a synthesized id
        helper.make_node("Relu", ["c"], ["y"]),
    ]
    g = build_graph(_model(nodes, [_vi("x", [4])], [_vi("y", None)]))
    ids = [op.id for op in g.all_ops()]
    assert len(set(ids)) == 4
    assert ids[0] == "same"
    assert [op.index for op in g.all_ops()] == [0, 1, 2, 3]


# --- subgraphs and captured values ---------------------------------------------------------


def _if_model(if_name="branch"):
    then_g = helper.make_graph(
        [helper.make_node("Add", ["c", "c"], ["t_out"], name="then_add")],
        "then",
        [],
        [_vi("t_out", None)],
    )
    else_g = helper.make_graph(
        [helper.make_node("Identity", ["c"], ["e_out"])],
        "else",
        [],
        [_vi("e_out", None)],
    )
    nodes = [
        helper.make_node("Relu", ["x"], ["c"], name="outer_relu"),
        helper.make_node("If", ["cond"], ["y"], name=if_name, then_branch=then_g, else_branch=else_g),
    ]
    return _model(nodes, [_vi("x", [1, 3, 8, 8]), _vi("cond", [], TensorProto.BOOL)], [_vi("y", None)])


def test_if_branches_are_subgraphs_with_their_ops():
    g = build_graph(_if_model())
    then_path, else_path = "main/branch.then_branch", "main/branch.else_branch"
    assert {then_path, else_path} <= set(g.subgraphs)
    then_sub = g.subgraphs[then_path]
    assert then_sub.parent == "main" and then_sub.owner == ("op", "main", 1)
    assert [g.op(k).op_type for k in then_sub.op_keys] == ["Add"]
    assert [g.op(k).id for k in g.subgraphs[else_path].op_keys] == ["Identity#0"]
    ops = {(op.graph, op.op_type) for op in g.all_ops()}
    assert ops == {("main", "Relu"), ("main", "If"), (then_path, "Add"), (else_path, "Identity")}
    # main's order does not include the bodies' ops
    assert [op.id for op in g.topological_order()] == ["outer_relu", "branch"]


def test_captured_value_is_wired_with_an_implicit_edge():
    g = build_graph(_if_model())
    add = g.op(("op", "main/branch.then_branch", 0))
    assert add.inputs == [V("c"), V("c")]  # the outer value itself, no copy
    if_key = ("op", "main", 1)
    assert g.nx.has_edge(V("c"), if_key)
    assert g.nx.edges[V("c"), if_key]["kind"] == "implicit"
    assert g.nx.edges[V("c"), add.key]["kind"] == "input"
    # the If explicitly reads only cond
    assert [(op.id, p) for op, p in g.consumers(V("cond"))] == [("branch", 0)]
    assert ("value", "main/branch.then_branch", "c") not in g.nx


def test_unnamed_if_gets_a_synthesized_subgraph_path():
    m = _if_model(if_name="")
    g = build_graph(m)
    assert "main/If#1.then_branch" in g.subgraphs


def _loop_model():
    """Loop carrying v (2x3); its body adds outer initializer b and, inside an If, outer x."""
    inner_if = helper.make_node(
        "If",
        ["cond_in"],
        ["w"],
        name="inner_if",
        then_branch=helper.make_graph([helper.make_node("Add", ["v_in", "x"], ["tw"], name="deep_add")], "t", [], [_vi("tw", None)]),
        else_branch=helper.make_graph([helper.make_node("Identity", ["v_in"], ["ew"], name="deep_id")], "e", [], [_vi("ew", None)]),
    )
    body = helper.make_graph(
        [
            helper.make_node("Add", ["v_in", "b"], ["v_add"], name="body_add"),
            inner_if,
            helper.make_node("Mul", ["v_add", "w"], ["v_out"], name="body_mul"),
            helper.make_node("Identity", ["cond_in"], ["cond_out"], name="body_cond"),
            helper.make_node("ReduceSum", ["v_out"], ["scan_out"], name="body_sum", keepdims=0),
        ],
        "body",
        [_vi("i", [], TensorProto.INT64), _vi("cond_in", [], TensorProto.BOOL), _vi("v_in", None)],
        [_vi("cond_out", [], TensorProto.BOOL), _vi("v_out", None), _vi("scan_out", None)],
    )
    b = numpy_helper.from_array(np.ones((2, 3), np.float32), "b")
    trip = numpy_helper.from_array(np.array(4, np.int64), "trip")
    nodes = [helper.make_node("Loop", ["trip", "", "v0"], ["v_final", "per_iter"], name="loop", body=body)]
    return _model(nodes, [_vi("v0", [2, 3]), _vi("x", [2, 3])], [_vi("v_final", None), _vi("per_iter", None)], [b, trip])


def test_loop_body_and_nested_capture():
    g = build_graph(_loop_model())
    body = "main/loop.body"
    deep = "main/loop.body/inner_if.then_branch"
    assert {body, deep, "main/loop.body/inner_if.else_branch"} <= set(g.subgraphs)
    assert [g.op(k).id for k in g.subgraphs[body].op_keys] == ["body_add", "inner_if", "body_mul", "body_cond", "body_sum"]
    assert g.subgraphs[deep].parent == body
    loop_key = ("op", "main", 0)
    if_key = ("op", body, 1)
    # b: read in the body -> implicit edge to the Loop
    assert g.op(("op", body, 0)).inputs == [V("v_in", body), V("b")]
    assert g.nx.edges[V("b"), loop_key]["kind"] == "implicit"
    # x: read two levels down -> implicit edges to the inner If and to the Loop
    assert g.op(("op", deep, 0)).inputs == [V("v_in", body), V("x")]
    assert g.nx.edges[V("x"), if_key]["kind"] == "implicit"
    assert g.nx.edges[V("x"), loop_key]["kind"] == "implicit"
    # v_in: a body value read inside the If -> implicit edge to the If only
    assert g.nx.edges[V("v_in", body), if_key]["kind"] == "implicit"
    assert not g.nx.has_edge(V("v_in", body), loop_key)
    assert _check_valid_order(g, body) == ["body_add", "inner_if", "body_mul", "body_cond", "body_sum"]


def test_body_order_respects_captured_values_inside_the_body():
    # In the body, the inner If reads (captures) a value produced *later in the file*.
    inner_if = helper.make_node(
        "If",
        ["cond_in"],
        ["w"],
        name="inner_if",
        then_branch=helper.make_graph([helper.make_node("Neg", ["late"], ["tw"])], "t", [], [_vi("tw", None)]),
        else_branch=helper.make_graph([helper.make_node("Abs", ["late"], ["ew"])], "e", [], [_vi("ew", None)]),
    )
    body = helper.make_graph(
        [
            inner_if,
            helper.make_node("Relu", ["v_in"], ["late"], name="producer_of_late"),
            helper.make_node("Add", ["w", "late"], ["v_out"], name="add"),
            helper.make_node("Identity", ["cond_in"], ["cond_out"], name="cond"),
        ],
        "body",
        [_vi("i", [], TensorProto.INT64), _vi("cond_in", [], TensorProto.BOOL), _vi("v_in", None)],
        [_vi("cond_out", [], TensorProto.BOOL), _vi("v_out", None)],
    )
    trip = numpy_helper.from_array(np.array(2, np.int64), "trip")
    m = _model([helper.make_node("Loop", ["trip", "", "v0"], ["v_final"], name="loop", body=body)], [_vi("v0", [5])], [_vi("v_final", None)], [trip])
    g = build_graph(m)
    order = [op.id for op in g.topological_order("main/loop.body")]
    assert order.index("producer_of_late") < order.index("inner_if") < order.index("add")


def test_shapes_propagate_into_if_branches():
    am = analyzer.analyze(_if_model())
    assert am.shape(V("c")) == (1, 3, 8, 8)
    assert am.shape(V("t_out", "main/branch.then_branch")) == (1, 3, 8, 8)
    assert am.shape(V("e_out", "main/branch.else_branch")) == (1, 3, 8, 8)
    assert am.shape(V("y")) == (1, 3, 8, 8)


def test_shapes_propagate_into_loop_body():
    am = analyzer.analyze(_loop_model())
    body = "main/loop.body"
    assert am.shape(V("v_in", body)) == (2, 3)
    assert am.shape(V("v_add", body)) == (2, 3)
    assert am.shape(V("tw", body + "/inner_if.then_branch")) == (2, 3)
    assert am.shape(V("v_out", body)) == (2, 3)
    assert am.shape(V("scan_out", body)) == ()
    assert am.shape(V("v_final")) == (2, 3)
    assert am.shape(V("per_iter")) == (4,)


# --- malformed graphs --------------------------------------------------------------------


def _cycle_model():
    nodes = [
        helper.make_node("Relu", ["b"], ["a"], name="first"),
        helper.make_node("Neg", ["a"], ["b"], name="second"),
        helper.make_node("Abs", ["x"], ["y"], name="fine"),
    ]
    return _model(nodes, [_vi("x", [4])], [_vi("a", None), _vi("y", None)])


def test_cycle_raises_graph_error():
    g = build_graph(_cycle_model())  # building is fine; ordering is not
    with pytest.raises(GraphError) as info:
        g.topological_order()
    assert info.value.kind == "graph-cycle"
    assert "first" in info.value.message and "second" in info.value.message
    assert "fine" not in info.value.message


def test_cycle_in_lint_is_an_error_result():
    (fr,) = analyzer.lint(_cycle_model()).files
    assert fr.status == "error"
    assert fr.error["kind"] == "graph-cycle"


def test_cycle_on_the_command_line(tmp_path, capsys):
    from analyzer.cli import main

    p = tmp_path / "cycle.onnx"
    p.write_bytes(_cycle_model().SerializeToString())
    assert main(["check", str(p)]) == 2
    out, err = capsys.readouterr()
    lines = [line for line in (out + err).splitlines() if str(p) in line]
    assert len(lines) == 1 and "graph-cycle" in lines[0]
    assert "Traceback" not in out + err


def test_self_loop_is_a_cycle():
    m = _model([helper.make_node("Add", ["x", "a"], ["a"], name="selfish")], [_vi("x", [4])], [_vi("a", None)])
    with pytest.raises(GraphError) as info:
        build_graph(m).topological_order()
    assert info.value.kind == "graph-cycle"


def test_undefined_input_is_a_note_not_a_crash():
    m = _model(
        [helper.make_node("Relu", ["ghost"], ["a"], name="haunted"), helper.make_node("Abs", ["x"], ["y"], name="ok")],
        [_vi("x", [4])],
        [_vi("a", None), _vi("y", None)],
    )
    g = build_graph(m)
    assert any("ghost" in n and "haunted" in n for n in g.notes)
    assert g.value_attrs(V("ghost"))["role"] == "missing"
    assert g.producer(V("ghost")) is None
    _check_valid_order(g)
    (fr,) = analyzer.lint(m).files
    assert fr.status == "ok", fr.error
    assert any("ghost" in n for n in fr.notes)


def test_undefined_graph_output_is_a_note():
    m = _model([helper.make_node("Abs", ["x"], ["y"], name="ok")], [_vi("x", [4])], [_vi("y", None), _vi("never", None)])
    g = build_graph(m)
    assert any("never" in n for n in g.notes)
    assert analyzer.lint(m).files[0].status == "ok"


# --- the two ways of filling networkx --------------------------------------------------


def _graph_dump(g):
    """Everything build_graph produces, in order (dict order included)."""
    def attrs(d):
        return [(k, v.SerializeToString() if hasattr(v, "SerializeToString") else v) for k, v in d.items()]

    return (
        [(k, attrs(d)) for k, d in g.nx._node.items()],
        [(k, list(d.items())) for k, d in g.nx._succ.items()],
        [(k, list(d.items())) for k, d in g.nx._pred.items()],
        [(k, o.id, o.index, o.graph, o.inputs, o.outputs, o.op_type, o.domain) for k, o in g.ops.items()],
        [(p, s.owner, s.parent, s.input_keys, s.output_keys, s.initializer_keys, s.op_keys, s.depth) for p, s in g.subgraphs.items()],
        g.notes,
        g._producer,
        g._implicit,
    )


@pytest.mark.parametrize("build", [_diamond, _if_model, _loop_model, _cycle_model], ids=lambda f: f.__name__)
def test_direct_fill_equals_the_networkx_api(build, monkeypatch):
    """build_graph writes a plain DiGraph's dicts directly (fast path); the result must be
    what networkx's own add_node / add_edges_from give, order included."""
    import analyzer.graph.build as graph_module

    m = build()
    direct = _graph_dump(build_graph(m))
    monkeypatch.setattr(graph_module, "_fast_internals", lambda G: False)
    assert _graph_dump(build_graph(m)) == direct


def test_readers_share_the_value_key_and_input_lists_are_exact():
    g = build_graph(_diamond())
    (relu,) = [op for op in g.ops.values() if op.op_type == "Relu"]
    readers = [op for op in g.ops.values() if op.op_type in ("Sigmoid", "Add", "Mul")]
    r = relu.outputs[0]
    for op in readers:
        assert all(k is r for k in op.inputs if k == r)
        assert len(op.inputs) == len(op.proto.input)


# --- compact adjacency ------------------------------------------------------------------


@pytest.mark.parametrize("build", [_diamond, _if_model, _loop_model], ids=lambda f: f.__name__)
def test_compact_adjacency_answers_networkx_as_dicts_do(build):
    """Nodes with one neighbour or none in a direction hold a read-only mapping instead of
    a dict; networkx's views, queries and algorithms must answer as on a dict-built copy."""
    import networkx as nx

    from analyzer.graph.core import NO_NEIGHBOUR, OneNeighbour

    G = build_graph(build()).nx
    kinds = {type(a) for adj in (G._succ, G._pred) for a in adj.values()}
    assert OneNeighbour in kinds and type(NO_NEIGHBOUR) in kinds  # both forms are used here
    plain = nx.DiGraph()
    plain.add_nodes_from(G.nodes(data=True))
    plain.add_edges_from(G.edges(data=True))
    assert list(plain.edges(data=True)) == list(G.edges(data=True))
    assert {(u, v): d for u, v, d in plain.in_edges(data=True)} == {(u, v): d for u, v, d in G.in_edges(data=True)}
    for n in G:
        assert dict(G.succ[n]) == dict(plain.succ[n]) and dict(G.pred[n]) == dict(plain.pred[n])
        assert dict(G.succ[n].items()) == dict(plain.succ[n].items())
        assert list(G.succ[n].values()) == list(plain.succ[n].values())
        assert bool(G.succ[n]) == bool(plain.succ[n]) and len(G.pred[n]) == len(plain.pred[n])
        assert set(G.successors(n)) == set(plain.successors(n)) and G.in_degree(n) == plain.in_degree(n)
        assert nx.descendants(G, n) == nx.descendants(plain, n)
    for u, v in plain.edges:
        assert G.has_edge(u, v) and G.edges[u, v] is G.succ[u][v] is G.pred[v][u]
        assert not G.has_edge(v, u)
        assert G.succ[u].get(("nope",), 7) == 7 and ("nope",) not in G.succ[u]
    assert nx.is_directed_acyclic_graph(G)
    assert list(nx.topological_sort(G)) == list(nx.topological_sort(plain))
    assert nx.utils.graphs_equal(G.copy(), plain)


def test_compact_adjacency_is_read_only_and_pickles():
    import pickle

    from analyzer.graph.core import NO_NEIGHBOUR, OneNeighbour

    g = build_graph(_diamond())
    G = g.nx
    assert type(G._pred[V("r")]) is OneNeighbour and G._succ[V("y")] is NO_NEIGHBOUR
    with pytest.raises(TypeError):
        G.add_edge(V("y"), ("op", "main", 0))  # y has no successor: the shared empty mapping
    with pytest.raises(TypeError):
        G.add_edge(("op", "main", 0), V("x"))  # relu has one successor
    assert G._succ[V("y")] is NO_NEIGHBOUR and len(G._succ[("op", "main", 0)]) == 1  # unchanged
    again = pickle.loads(pickle.dumps(G))
    assert again._succ[V("y")] is NO_NEIGHBOUR
    assert list(again.edges(data=True)) == list(G.edges(data=True))


def test_ops_read_their_proto_from_the_graph_on_demand():
    m = _loop_model()
    g = build_graph(m)
    for op in g.all_ops():
        sub = g.subgraphs[op.graph]
        container = sub.function.node if sub.function is not None else sub.proto.node
        assert op.proto == container[op.index]
        assert op.name == op.proto.name and op.op_type == op.proto.op_type
    assert "_nodes" not in repr(g.ops[("op", "main", 0)])


@pytest.mark.parametrize("build", [_diamond, _if_model, _loop_model, _cycle_model], ids=lambda f: f.__name__)
def test_attributed_ops_are_the_ops_with_attributes_in_walk_order(build):
    g = build_graph(build())
    expected = [op for op in g.all_ops() if len(op.proto.attribute)]
    assert g.attributed_ops() == expected
    if build in (_if_model, _loop_model):
        assert expected  # their control-flow nodes hold bodies


def _kinds_model():
    """Kinds with several arities and omitted inputs and outputs, ops the second pass wires
    (a read before the write, with an omitted input), "ai.onnx" written out, a custom
    domain, an If body and a local function."""
    then = helper.make_graph([helper.make_node("Clip", ["x", "", ""], ["t"], name="bclip")], "then", [], [_vi("t", [4])])
    other = helper.make_graph([helper.make_node("Clip", ["x"], ["e"], name="bclip1")], "else", [], [_vi("e", [4])])
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="r1"),
        helper.make_node("Clip", ["a", "", "hi"], ["b"], name="clip_no_min"),
        helper.make_node("Relu", ["b"], ["c"], name="r2", domain="ai.onnx"),
        helper.make_node("Clip", ["later", "", ""], ["d"], name="clip_late"),  # the second pass wires it and all after
        helper.make_node("Dropout", ["d"], ["e", ""], name="drop_no_mask"),
        helper.make_node("Neg", ["c"], ["later"], name="later"),
        helper.make_node("Dropout", ["e"], ["f", "m"], name="drop2"),
        helper.make_node("Clip", ["f"], ["g"], name="clip1"),
        helper.make_node("If", ["cond"], ["h"], name="if", then_branch=then, else_branch=other),
        helper.make_node("Fn", ["g", "h"], ["y"], name="call", domain="local"),
        helper.make_node("Relu", ["y"], ["z"], name="r3", domain=""),
        helper.make_node("Split", ["z"], ["", "s2"], name="split_omits_0", axis=0),
    ]
    fn = helper.make_function("local", "Fn", ["p", "q"], ["r"], [
        helper.make_node("Add", ["p", "q"], ["s"], name="fadd"),
        helper.make_node("Add", ["s", ""], ["r"], name="fadd_omitted"),
    ], [helper.make_opsetid("", 17)])  # fmt: skip
    m = _model(nodes, [_vi("x", [4]), _vi("hi", []), _vi("cond", [], TensorProto.BOOL)], [_vi("z", [4])])
    m.functions.append(fn)
    m.opset_import.append(helper.make_opsetid("local", 1))
    return m


@pytest.mark.parametrize("build", [_kinds_model, _diamond, _if_model, _loop_model, _cycle_model], ids=lambda f: f.__name__)
def test_kinds_noted_while_building_are_those_of_a_walk(build):
    """SubGraph.kinds: per graph, each (domain, op_type) in first-op order with its ops,
    its first op's arity and the ops of another arity or omitting an input or output --
    what a walk over the built ops gives."""
    g = build_graph(build())
    for path, sub in g.subgraphs.items():
        expected: dict = {}
        assert g.graph_ops(path) == [g.ops[k] for k in sub.op_keys]
        for op in sub.op_nodes:
            expected.setdefault((op.domain, op.op_type), []).append(op)
        assert [(d, t) for d, t, *_ in sub.kinds] == list(expected), path
        for d, t, ops, n_in, n_out, odd in sub.kinds:
            assert all(a is b for a, b in zip(ops, expected[(d, t)])) and len(ops) == len(expected[(d, t)])
            assert (n_in, n_out) == (len(ops[0].inputs), len(ops[0].outputs))
            walk_odd = [op for op in ops if (len(op.inputs), len(op.outputs)) != (n_in, n_out) or None in op.inputs or None in op.outputs]
            assert [op.key for op in odd] == [op.key for op in walk_odd], (path, t)
    if build is _kinds_model:
        kinds = {(d, t): (ops, odd) for d, t, ops, _, _, odd in g.subgraphs["main"].kinds}
        assert [op.id for op in kinds[("", "Relu")][0]] == ["r1", "r2", "r3"]  # "ai.onnx" is the default domain
        assert [op.id for op in kinds[("", "Clip")][1]] == ["clip_no_min", "clip_late", "clip1"]  # omitted inputs (one wired in the second pass), arity
        assert [op.id for op in kinds[("", "Dropout")][1]] == ["drop_no_mask"]  # an omitted output (drop2: same arity)
        assert ("local", "Fn") in kinds and not g.subgraphs["main"].wired_in_order
        fn = next(sub for p, sub in g.subgraphs.items() if p.startswith("function:"))
        assert [[op.id for op in odd] for *_, odd in fn.kinds] == [["fadd_omitted"]]


@pytest.mark.parametrize("build", [_kinds_model, _diamond, _if_model, _loop_model, _cycle_model], ids=lambda f: f.__name__)
def test_out0_is_the_graph_node_dict_of_output_0(build):
    """OpNode.out0 is the very attribute dict networkx holds for the op's output 0 (what the
    shape walk writes the output's info into), None when output 0 is omitted or absent."""
    g = build_graph(build())
    nodes = g.nx.nodes
    seen = 0
    for op in g.all_ops():
        if op.outputs and op.outputs[0] is not None:
            assert op.out0 is nodes[op.outputs[0]], op.id
            seen += 1
        else:
            assert op.out0 is None, op.id
    assert seen
    if build is _kinds_model:
        split = next(op for op in g.all_ops() if op.id == "split_omits_0")
        assert split.out0 is None and split.outputs[1] is not None


def test_a_node_read_before_it_is_written_wires_the_same_edges():
    """Edges are made in the first pass while every name read is already defined; a node
    reading a later node's output hands that node and all after it to the second pass:
    the adjacencies must be those of a graph written in order, edge order included."""
    def build(order):
        nodes = [
            helper.make_node("Relu", ["x"], ["a"], name="a"),
            helper.make_node("Add", ["a", "b"], ["c"], name="c"),
            helper.make_node("Neg", ["x"], ["b"], name="b"),
            helper.make_node("Mul", ["a", "a"], ["y"], name="y"),
        ]
        return build_graph(_model([nodes[i] for i in order], [_vi("x", [4])], [_vi("y", [4])]))

    late, early = build([0, 1, 2, 3]), build([0, 2, 1, 3])
    for g in (late, early):
        G = g.nx
        assert [(u, v, d["positions"]) for u, v, d in G.in_edges(("op", "main", 3), data=True)] == [(V("a"), ("op", "main", 3), (0, 1))]
        assert {g.ops[k].id for k in G.succ[V("a")]} == {"c", "y"}
    c = next(op for op in late.all_ops() if op.id == "c")
    assert c.inputs == [V("a"), V("b")] and late.producer(V("b")).id == "b"
    assert [op.id for op in late.topological_order()] == ["a", "b", "c", "y"]
    # the late read hands "c" and the nodes after it to the second pass: x's readers in node order
    assert [late.ops[k].id for k in late.nx.succ[V("x")]] == ["a", "b"]
    assert [late.ops[k].id for k in late.nx.succ[V("a")]] == ["c", "y"]


# --- file order noted while building -----------------------------------------------------


def _self_read_model():
    """Ops in order, then a Split reading one of its own outputs (a cycle), one more op."""
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Split", ["r", "s1"], ["s0", "s1"], name="selfish_split", axis=0),
        helper.make_node("Abs", ["x"], ["y"], name="after"),
    ]
    return _model(nodes, [_vi("x", [4])], [_vi("s0", None), _vi("y", None)])


def test_a_graph_written_in_order_is_noted_and_its_order_is_the_file_order():
    g = build_graph(_diamond())
    sub = g.subgraphs["main"]
    assert sub.wired_in_order
    assert sub.op_nodes == [g.ops[k] for k in sub.op_keys]
    assert g.graph_ops("main") is sub.op_nodes  # the builder's list, not a copy
    order = g.topological_order()
    assert [op.id for op in order] == ["relu", "Sigmoid#1", "add", "Mul#3"]
    assert list(g.all_ops()) == [g.ops[k] for s in g.subgraphs.values() for k in s.op_keys]


def test_an_op_reading_its_own_output_is_not_noted_in_order_and_is_a_cycle():
    g = build_graph(_self_read_model())
    assert not g.subgraphs["main"].wired_in_order
    with pytest.raises(GraphError) as info:
        g.topological_order()
    assert info.value.kind == "graph-cycle" and "selfish_split" in info.value.message


def test_a_value_captured_from_a_later_op_orders_that_op_first():
    """The If comes first in the file, and its branch reads the output of an op after it:
    every op of main reads only earlier values (noted in order), yet the capture must
    put the producer first."""
    then_g = helper.make_graph([helper.make_node("Neg", ["late"], ["t"])], "then", [], [_vi("t", None)])
    else_g = helper.make_graph([helper.make_node("Abs", ["x"], ["e"])], "else", [], [_vi("e", None)])
    nodes = [
        helper.make_node("If", ["cond"], ["y"], name="branch", then_branch=then_g, else_branch=else_g),
        helper.make_node("Relu", ["x"], ["late"], name="producer"),
    ]
    m = _model(nodes, [_vi("x", [4]), _vi("cond", [], TensorProto.BOOL)], [_vi("y", None)])
    g = build_graph(m)
    assert g.subgraphs["main"].wired_in_order
    assert [op.id for op in g.topological_order()] == ["producer", "branch"]
    _check_valid_order(g)


@pytest.mark.parametrize("build", [_self_read_model], ids=lambda f: f.__name__)
def test_direct_fill_equals_the_networkx_api_with_a_self_read(build, monkeypatch):
    test_direct_fill_equals_the_networkx_api(build, monkeypatch)
