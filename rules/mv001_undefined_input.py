"""MV001 undefined-input: a node reads a tensor that nothing defines.

## What it does
Reports every node input (non-empty name) that is not a graph input, an initializer,
a node output of the same graph, or (inside an If/Loop/Scan body) a value of an
enclosing graph; in a model-local function, not a function input or a node output
of the body.  Checked in the main graph, every subgraph (nested) and every function
body.  One finding per undefined name and graph, at its first reader.

## Why is this bad?
The IR spec (onnx IR.md, "Graphs" and "Names Within a Graph") requires every node
input to name a graph input, an initializer or an output of another node (in a
subgraph, also of an enclosing graph): a name defined nowhere has no value.  onnxruntime refuses to load such a model ("Invalid model.
Node input 'q' is not a graph input, initializer, or output of a previous node.");
``onnx.checker.check_model`` rejects it ("Nodes in a graph must be topologically
sorted, however input 'q' of node ... is not output of any previous nodes").

## Example
```
x -> Add(x, q) -> y        # 'q' is defined nowhere
```

## How to fix
Supply the missing tensor (an initializer, a graph input, or the node that computes
it), or correct the input's name (often a typo or an exporter that renamed the
producer's output).  An optional input that is left out is written as the empty
name "", which is not an error.

## Details
``tensor``, ``readers`` (how many nodes of the graph read it).
"""
from __future__ import annotations

CODE = "MV001"
NAME = "undefined-input"
SEVERITY = "error"


def check(model, options=None):
    import sys

    from rules._validity import finding, has_missing_values, input_reads, shown, where

    rule = sys.modules[__name__]
    if not has_missing_values(model):
        return  # the common case, without walking every input
    # value key -> [first reader, readers], from the walk over every input that MV005 shares
    first = input_reads(model).missing
    for vkey, (op, readers) in first.items():
        name = vkey[2]
        more = f" (and {readers - 1} more node(s))" if readers > 1 else ""
        yield finding(
            rule, op=op, details={"tensor": name, "readers": readers},
            message=f"node {shown(op.id)}{where(op.graph)} reads {shown(name)}{more}, which is not a graph input, "
            f"an initializer or the output of any node: onnxruntime refuses to load the model",
        )
