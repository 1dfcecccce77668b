"""MV002 duplicate-name: two initializers, or two nodes, with one name in one graph.

## What it does
In the main graph, every If/Loop/Scan body and every function body, reports:

* ``initializer``: an initializer name used twice (two dense initializers, two
  sparse initializers, or a dense and a sparse one);
* ``node``: a node name (non-empty) used by an earlier node of the same graph.

(The other kinds of duplicate definition -- two nodes producing one tensor, a node
output named like a graph input or initializer, a repeated graph input or function
input -- stop the analysis before any rule runs: error kind
``graph-duplicate-tensor``, exit 2.)

## Why is this bad?
Names of a graph's values are unique (onnx IR.md, "Names Within a Graph": the graph
is in static single-assignment form).  ``onnx.checker`` rejects a repeated
initializer ("w initializer name is not unique", "w sparse initializer name is not
unique across initializers and sparse_initializers"); onnxruntime refuses a repeated
sparse initializer, and a repeated initializer inside a subgraph, and silently
keeps the last one of the main graph.  Node names: onnxruntime refuses to load a
graph (or function body) in which two nodes share a name ("This is an invalid model.
Error: two nodes with same node name (a)."), a case ``onnx.checker`` does not see.

## Example
```
initializer w = [1, 2]
initializer w = [3, 4]          # which one does Add(x, w) read?
Relu 'a' (x) -> t ; Relu 'a' (t) -> y
```

## How to fix
Delete the repeated initializer (keep the one the graph is meant to use) or rename
one and its readers; give every node a unique name (or leave names empty).

## Details
``kind`` (``initializer`` or ``node``), ``name``, ``count`` (how many times the name
is used), for nodes ``first`` (the index of the first node with that name).
"""
from __future__ import annotations

CODE = "MV002"
NAME = "duplicate-name"
SEVERITY = "error"


def check(model, options=None):
    import sys

    from analyzer.io.load import text
    from rules._validity import finding, graph_protos, shown, value_finding, where

    rule = sys.modules[__name__]
    graph = model.graph
    for path, proto in graph_protos(model):
        counts: dict = {}
        for t in proto.initializer:
            name = text(t.name)
            counts[name] = counts.get(name, 0) + 1
        for sp in proto.sparse_initializer:
            name = text(sp.values.name)
            counts[name] = counts.get(name, 0) + 1
        for name, n in counts.items():
            if n > 1 and name:
                yield value_finding(
                    rule, path, name,
                    f"initializer {shown(name)}{where(path)} is defined {n} times: a value name must be unique "
                    "in its graph (onnx.checker rejects this; onnxruntime keeps one of them silently in the "
                    "main graph and refuses the model when it is in a subgraph or sparse)",
                    {"kind": "initializer", "name": name, "count": n},
                )
    # A node whose name an earlier node of its graph has gets the id <op_type>#<index>
    # (analyzer.graph.core), so a graph where every named node's id holds no "#" has no
    # repeated name: only graphs with such a node are counted name by name.  The builder
    # notes each graph where it renamed one (Graph.notes): with no note, no node is read.
    suspect = set()
    for op in graph.all_ops() if graph.notes else ():
        if "#" in op.id and op.proto.name:
            suspect.add(op.graph)
    for path, sub in graph.subgraphs.items():
        if sub is None or path not in suspect:
            continue
        first: dict = {}
        second: dict = {}
        count: dict = {}
        for key in sub.op_keys:
            op = graph.ops[key]
            name = op.name
            if not name:
                continue
            if name not in first:
                first[name] = op
                count[name] = 1
                continue
            count[name] += 1
            second.setdefault(name, op)
        for name, op in second.items():
            n = count[name]
            yield finding(
                rule, op=op, details={"kind": "node", "name": name, "count": n, "first": first[name].index},
                message=f"{n} nodes{where(path)} are named {shown(name)} (first at index {first[name].index}, "
                f"again at {op.index}): onnxruntime refuses to load a graph with two nodes of one name",
            )
