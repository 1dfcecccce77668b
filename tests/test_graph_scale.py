"""What the graph-scale work (issue 20, part 2) relies on: shared and memoized per-node
data give the same answers as computing them afresh, the shortcuts rules take over nodes
alike still report every bad node, the bench's models build deterministically, and the
transformer decoder export is analyzed with every value's shape known.  Nothing is timed."""
from __future__ import annotations

import os
import sys

import onnx
import pytest
from onnx import TensorProto, helper

import analyzer
from analyzer.analyses.schema import node_opset, op_schema
from analyzer.commands.scan.pool import largest_first
from analyzer.graph.build import build_graph

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import models  # noqa: E402  (bench/models.py)

F = TensorProto.FLOAT
SAMPLES = os.path.join(ROOT, "sample_models")


def _vi(name, shape, dtype=F):
    return helper.make_tensor_value_info(name, dtype, shape)


def _model(nodes, inputs, outputs, inits=(), opset=17, functions=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid("local", 1)],
                          functions=list(functions))
    m.ir_version = 8
    return m


def _nested():
    """An If with two branches, a local function, ops of three types."""
    then = helper.make_graph([helper.make_node("Relu", ["x"], ["t"], name="tr")], "then", [], [_vi("t", None)])
    other = helper.make_graph([helper.make_node("Neg", ["x"], ["e"], name="en")], "else", [], [_vi("e", None)])
    fn = helper.make_function("local", "Twice", ["a"], ["b"], [helper.make_node("Add", ["a", "a"], ["b"])],
                              [helper.make_opsetid("", 13)])
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("ReduceMax", ["r"], ["c0"], keepdims=0, name="rmax"),
        helper.make_node("Cast", ["c0"], ["c"], to=TensorProto.BOOL, name="cast"),
        helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other, name="if"),
        helper.make_node("Twice", ["r"], ["z"], domain="local", name="call"),
    ]
    return _model(nodes, [_vi("x", [2, 3])], [_vi("y", None), _vi("z", None)], functions=[fn])


def _samples():
    return sorted(os.path.join(SAMPLES, n) for n in os.listdir(SAMPLES) if n.endswith(".onnx"))


def test_all_ops_lists_every_graph_in_order_each_time():
    g = build_graph(_nested())
    expected = [g.ops[k] for sub in g.subgraphs.values() for k in sub.op_keys]
    assert [op.key for op in g.all_ops()] == [op.key for op in expected]
    assert {op.graph for op in expected} == set(g.subgraphs)  # main, both branches, the function
    assert list(g.all_ops()) == list(g.all_ops())  # a fresh iterator each call


def test_op_nodes_share_one_attribute_dict_per_type():
    g = build_graph(_nested())
    by_type = {}
    for op in g.all_ops():
        attrs = g.nx.nodes[op.key]
        assert attrs == {"kind": "op", "op_type": op.op_type}
        assert by_type.setdefault(op.op_type, attrs) is attrs
    assert sorted(by_type) == ["Add", "Cast", "If", "Neg", "ReduceMax", "Relu", "Twice"]  # Relu twice, one dict
    values = [a for k, a in g.nx.nodes(data=True) if k[0] == "value"]
    assert len({id(a) for a in values}) == len(values)  # value attributes stay one dict each (shapes add to them)


def test_value_by_name_equals_the_whole_map():
    am = analyzer.analyze(os.path.join(SAMPLES, "drln_attention_dynamo.onnx"))
    names = list(am.values())  # builds the map; a fresh model answers one by one below
    fresh = analyzer.analyze(os.path.join(SAMPLES, "drln_attention_dynamo.onnx"))
    for name in names:
        assert fresh.value(name) == am.value(name) == am.values()[name]
    assert "values" not in fresh._memo  # one-by-one never built the whole map
    with pytest.raises(KeyError):
        fresh.value("no such tensor")
    with pytest.raises(KeyError, match="no graph"):
        fresh.value(names[0], graph="nowhere")


def test_value_of_an_inner_graph_is_not_in_the_outer_one():
    am = analyzer.analyze(_nested())
    body = [p for p in am.graph_paths() if p.endswith("then_branch")][0]
    assert am.value("t", body) == am.values(body)["t"]
    with pytest.raises(KeyError):
        am.value("t")  # defined in the branch, not in main
    with pytest.raises(KeyError):
        am.value("x", body)  # the branch reads main's x: it belongs to main


@pytest.mark.parametrize("build", [_nested, lambda: onnx.load(os.path.join(SAMPLES, "conv_stack_legacy.onnx"))])
def test_memoized_schema_walks_equal_fresh_lookups(build):
    from rules import _validity as v
    from rules import _validity_attrs as va

    am = analyzer.analyze(build())
    got = list(va.nodes_with_schema(am))
    assert [op.key for op, _, _ in got] == [op.key for op in am.graph.all_ops()]
    for op, schema, opset in got:
        fresh = op_schema(op.domain, op.op_type, node_opset(am, op))
        assert opset == node_opset(am, op)
        assert (schema is None) == (fresh is None) and (schema is None or schema.since_version == fresh.since_version)
    assert list(va.nodes_with_schema(am)) == got  # the memo answers the second walk alike
    expected = []
    for op in am.graph.all_ops():
        if op.domain in v.ONNX_DOMAINS:
            version = v.opsets_for_path(am, op.graph).get(op.domain)
            schema = v.schema_at(op.op_type, op.domain, version) if version and version >= 1 else None
            if schema is not None:
                expected.append((op.key, version, schema.since_version))
    assert [(op.key, ver, s.since_version) for op, ver, s in v.ops_with_schema(am)] == expected
    if build is _nested:  # the function body binds to its own import (opset 13), main to 17
        versions = {op.graph.split(":")[0].split("/")[0]: ver for op, ver, _ in v.ops_with_schema(am)}
        assert versions == {"main": 17, "function": 13}


def test_nodes_alike_each_get_their_own_type_finding():
    """MV023 skips nodes whose schema and input dtypes match a clean one; a node alike in
    schema but not in dtypes is still checked, and two bad nodes alike both report."""
    nodes = [helper.make_node("Add", ["a", "a"], [f"ok{i}"], name=f"ok{i}") for i in range(3)]
    nodes += [helper.make_node("Add", ["a", "i"], [f"bad{i}"], name=f"bad{i}") for i in range(2)]
    m = _model(nodes, [_vi("a", [2]), _vi("i", [2], TensorProto.INT64)], [_vi(f"bad{i}", None) for i in range(2)] + [_vi(f"ok{i}", None) for i in range(3)])
    found = [f for f in analyzer.lint(m, select=["MV023"]).files[0].findings]
    assert sorted(f.node for f in found) == ["bad0", "bad1"]
    assert all(f.details["problem"] == "bound-twice" for f in found)


def test_node_arity_shortcut_still_sees_empty_required_inputs():
    nodes = [helper.make_node("Relu", ["x"], [f"r{i}"], name=f"r{i}") for i in range(3)]
    nodes.append(helper.make_node("Add", ["x", ""], ["y"], name="holey"))
    m = _model(nodes, [_vi("x", [2])], [_vi("y", None)] + [_vi(f"r{i}", None) for i in range(3)])
    found = analyzer.lint(m, select=["MV026"]).files[0].findings
    assert [(f.node, f.details["problem"]) for f in found] == [("holey", "empty-required-input")]


def test_duplicate_computations_found_when_alike_ops_differ_in_attributes():
    """The duplicate-computation walk (WS002/WS006) reads attributes only for ops alike in
    type and inputs: the first of three Transposes differs (perm), the third repeats the
    second."""
    nodes = [
        helper.make_node("Transpose", ["x"], ["t0"], perm=[0, 1], name="t0"),
        helper.make_node("Transpose", ["x"], ["t1"], perm=[1, 0], name="t1"),
        helper.make_node("Transpose", ["x"], ["t2"], perm=[1, 0], name="t2"),
        helper.make_node("Concat", ["t0", "t1", "t2"], ["y"], axis=0, name="cat"),
    ]
    from rules._waste_graph import duplicate_components

    am = analyzer.analyze(_model(nodes, [_vi("x", [2, 2])], [_vi("y", None)]))
    assert duplicate_components(am)["of"] == {("op", "main", 2): ("op", "main", 1)}


def test_results_on_the_samples_do_not_depend_on_the_order_rules_run():
    """Memos shared between rules (schema walks, all_ops, values) give each rule the same
    findings whether it runs alone or after all the others."""
    from analyzer.linter.registry import select_rules

    codes = [r.CODE for r in select_rules(None, None)]
    for path in _samples()[:3]:
        together = analyzer.lint(path).files[0].findings
        alone = []
        for code in ("MV008", "MV020", "MV022", "MV023", "MV026", "WS006"):
            assert code in codes
            alone += analyzer.lint(path, select=[code]).files[0].findings
        picked = sorted((f.rule, f.node, f.message) for f in together if f.rule in {"MV008", "MV020", "MV022", "MV023", "MV026", "WS006"})
        assert sorted((f.rule, f.node, f.message) for f in alone) == picked


def test_bench_models_are_deterministic_and_valid():
    a, b = models.branching_dag(200), models.branching_dag(200)
    assert a.SerializeToString() == b.SerializeToString()
    onnx.checker.check_model(a)
    onnx.checker.check_model(models.chain(50))
    reads = [n.input[1] for n in a.graph.node[1:]]
    assert reads[-1] == "v99"  # node 199 reads v[199 // 2]: a long-range edge
    am = analyzer.analyze(a)
    assert all(v.shape == (1, 8, 4, 4) for v in am.values().values())


@pytest.fixture(scope="module")
def decoder_path(tmp_path_factory):
    pytest.importorskip("torch")
    path = tmp_path_factory.mktemp("decoder") / "decoder.onnx"
    proto = models.decoder("legacy", layers=2)
    onnx.save_model(proto, str(path))
    return str(path)


def test_decoder_export_has_dynamic_batch_and_sequence(decoder_path):
    m = onnx.load(decoder_path)
    dims = [d.dim_param or d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "seq"]
    assert sum(n.op_type == "Softmax" for n in m.graph.node) == 2  # one attention per layer
    onnx.checker.check_model(m)


def test_decoder_lints_with_every_value_shape_known(decoder_path):
    r = analyzer.lint(decoder_path)
    assert r.files[0].status == "ok", r.files[0].error
    am = analyzer.analyze(decoder_path)
    unknown = [v.name for v in am.values().values() if v.shape is None or any(d is None for d in v.shape)]
    assert unknown == []
    # batch and sequence stay symbolic where they flow; the logits are [batch, seq, vocab]
    out = am.value("logits")
    assert out.shape[2] == models.DECODER["vocab"] and all(isinstance(d, str) for d in out.shape[:2])


def test_scan_orders_largest_files_first(tmp_path):
    class T:
        def __init__(self, name, size):
            self.display = name
            self.abs_path = str(tmp_path / name)
            with open(self.abs_path, "wb") as f:
                f.write(b"x" * size)

    tasks = [T("a", 10), T("b", 300), T("c", 10), T("d", 50)]
    assert [t.display for t in largest_first(tasks)] == ["b", "d", "a", "c"]
    tasks[0].identity = {"size": 1000, "mtime_ns": 0}  # discovery's stat wins over the file
    assert [t.display for t in largest_first(tasks)][0] == "a"


def test_a_chain_holds_no_dict_and_no_node_proto_per_node():
    """What a million-node chain's memory rests on: every adjacency of a chain is the
    compact one-neighbour (or shared no-neighbour) mapping, its edge attribute dicts are
    one per position, and no op keeps a NodeProto wrapper alive (read on demand)."""
    from analyzer.graph.core import NO_NEIGHBOUR, OneNeighbour

    g = build_graph(models.chain(200))
    G = g.nx
    adjacencies = [a for table in (G._succ, G._pred) for a in table.values()]
    assert {type(a) for a in adjacencies} == {OneNeighbour, type(NO_NEIGHBOUR)}
    assert [k for k, a in G._pred.items() if a is NO_NEIGHBOUR] == [("value", "main", "v0")]
    assert [k for k, a in G._succ.items() if a is NO_NEIGHBOUR] == [("value", "main", "v200")]
    assert len({id(d) for _, _, d in G.edges(data=True)}) == 2  # one input, one output edge dict
    for op in g.all_ops():
        assert not any(isinstance(getattr(op, f), onnx.NodeProto) for f in type(op).__slots__)
        assert op.proto.name == op.id  # still there when asked
