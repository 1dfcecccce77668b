"""MV005 unsorted-nodes: a node reads a tensor that a later node computes (nodes not in topological order).

## What it does
In the main graph, every If/Loop/Scan body and every function body, reports a node
that reads a value produced by a node *after* it in the same list; and a node inside
a body that reads a value of an enclosing graph that is produced at or after the
If/Loop/Scan holding the body.  One finding per graph and value, at the first such
reader.  (A real cycle is not this rule's: it stops the analysis, error kind
``graph-cycle``.)

## Why is this bad?
onnx.proto (GraphProto.node): "The nodes in the graph, sorted topologically."; a
FunctionProto's nodes likewise.  ``onnx.checker`` rejects the model ("Nodes in a graph
must be topologically sorted, however input 't' of node ... is not output of any
previous nodes"; "Nodes in a function must be topologically sorted").  onnxruntime
re-sorts the main graph and loads it, but refuses an unsorted If/Loop/Scan body and
fails on an unsorted function body; tools that read nodes in file order (onnx's own
shape inference among them) meet an input that is not defined yet.

## Example
```
y = Relu(t)        # reads t ...
t = Relu(x)        # ... which is computed after it
```

## How to fix
Write the nodes in topological order: ``onnxscript.ir`` (``graph.sort()``), or
onnx-graphsurgeon's ``graph.toposort()``, or re-export.

## Details
``tensor``, ``producer`` (``{"node", "op_type", "index", "graph"}``), ``holder`` (for a
value of an enclosing graph: the If/Loop/Scan in that graph that holds the body,
``{"node", "op_type", "index"}``; else null).
"""
from __future__ import annotations

CODE = "MV005"
NAME = "unsorted-nodes"
SEVERITY = "error"


def check(model, options=None):
    import sys

    from rules._validity import finding, graphs_in_file_order, input_reads, shown, where

    rule = sys.modules[__name__]
    if graphs_in_file_order(model):
        return  # the common case, without walking every input
    graph = model.graph
    subs = graph.subgraphs
    holder_memo: dict = {}

    def holder(path, outer):
        """The op of graph ``outer`` that (through nested bodies) holds graph ``path``."""
        key = (path, outer)
        if key not in holder_memo:
            p, found = path, None
            while p is not None:
                sub = subs.get(p)
                if sub is None:
                    break
                if sub.parent == outer:
                    found = graph.ops.get(sub.owner)
                    break
                p = sub.parent
            holder_memo[key] = found
        return holder_memo[key]

    reported = set()
    # the reads of a value computed at or after the reader in its graph, or in an enclosing
    # graph, from the walk over every input that MV001 shares
    for op, vkey, prod in input_reads(model).late:
        if vkey[1] == op.graph:
            hold = None
            late = prod.index >= op.index
        else:
            hold = holder(op.graph, vkey[1])
            late = hold is not None and prod.index >= hold.index
        if not late or (op.graph, vkey) in reported:
            continue
        reported.add((op.graph, vkey))
        name = vkey[2]
        details = {
            "tensor": name,
            "producer": {"node": prod.id, "op_type": prod.op_type, "index": prod.index, "graph": prod.graph},
            "holder": None if hold is None else {"node": hold.id, "op_type": hold.op_type, "index": hold.index},
        }
        if hold is None:
            msg = (f"node {shown(op.id)} (index {op.index}){where(op.graph)} reads {shown(name)}, which node "
                   f"{shown(prod.id)} computes later (index {prod.index}): nodes must be in topological order")
        else:
            msg = (f"node {shown(op.id)}{where(op.graph)} reads {shown(name)} of graph {shown(vkey[1])}, computed by "
                   f"{shown(prod.id)} (index {prod.index}) after the {hold.op_type} {shown(hold.id)} (index "
                   f"{hold.index}) that holds this body: nodes must be in topological order")
        yield finding(rule, op=op, details=details, message=msg)
