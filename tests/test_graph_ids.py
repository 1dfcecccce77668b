"""Node ids when names clash: the graph builder gives each node its name (or
``<op_type>#<index>``) and works the ids out the long way only when two clash; these
pin the ids and messages of the long way, including in a duplicate-tensor error."""
from __future__ import annotations

import pytest
from onnx import TensorProto, helper

from analyzer.graph.build import GraphError, build_graph


def _model(nodes, output="y"):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _relu(i, o, name=None):
    return helper.make_node("Relu", [i], [o], **({"name": name} if name is not None else {}))


def test_clashing_names_and_synthesized_ids():
    nodes = [
        _relu("x", "a"),  # unnamed: Relu#0
        _relu("a", "b", "Relu#0"),  # named like the synthesized id before it: renamed
        _relu("b", "c", "Relu#3"),  # the id the next (unnamed) node would get
        _relu("c", "d"),
        _relu("d", "e", "same"),
        _relu("e", "y", "same"),
    ]
    g = build_graph(_model(nodes))
    assert [op.id for op in g.all_ops()] == ["Relu#0", "Relu#1", "Relu#3", "Relu#3~2", "same", "Relu#5"]
    (note,) = [n for n in g.notes if "share a name" in n]
    assert note.startswith("main: 2 node(s) share a name")
    assert "Relu#1" in note


def test_unique_names_keep_them_and_note_nothing():
    g = build_graph(_model([_relu("x", "a", "first"), _relu("a", "y")]))
    assert [op.id for op in g.all_ops()] == ["first", "Relu#1"]
    assert not [n for n in g.notes if "share a name" in n]


def test_duplicate_tensor_names_the_ids_after_renaming():
    nodes = [
        _relu("x", "a", "n"),
        _relu("a", "b", "n"),  # renamed Relu#1
        _relu("b", "b", "m"),  # defines b again
    ]
    with pytest.raises(GraphError) as err:
        build_graph(_model(nodes, output="b"))
    assert err.value.kind == "graph-duplicate-tensor"
    assert "Relu#1" in err.value.message and "'m'" in err.value.message.replace('"', "'")


def test_duplicate_tensor_names_a_renamed_current_node():
    nodes = [
        _relu("x", "a", "n"),
        _relu("a", "a", "n"),  # renamed Relu#1, and defines a again
    ]
    with pytest.raises(GraphError) as err:
        build_graph(_model(nodes, output="a"))
    assert "Relu#1" in err.value.message
