"""MV004 output-not-produced: a graph or function output that nothing in that graph produces.

## What it does
Reports a graph output (non-empty name) that is not produced in its graph:

* main graph: not a node output, a graph input or an initializer of the main graph;
* If/Loop/Scan body: not a node output, an input or an initializer *of the body*
  (a value of an enclosing graph does not count: the body must produce it itself);
* model-local function: not an output of a node of the function body (a function
  input passed straight through does not count).

Empty output names are MV003's.

## Why is this bad?
A graph's outputs are values the graph computes (onnx IR.md, "Graphs"); one that
nothing produces has no value to return.  ``onnx.checker`` rejects
such a graph ("Graph output 'zz' is not an output of any node in graph"), also when
a body lists an enclosing value as its output; onnxruntime refuses to load it
(``Graph::InitializeStateFromModelFileGraphProto``), and for a function it fails
while building the function's schema ("ONNX Schema F: failed validating the check").
The function cases are ones ``onnx.checker`` misses.

## Example
```
graph(x) -> (y, zz):  y = Relu(x)          # nothing produces 'zz'
If then_branch -> (x):  (no node)          # 'x' belongs to the outer graph
```

## How to fix
Remove the output, correct its name, or add the node that computes it (inside a
body or a function, an ``Identity`` that copies the outer value or the input).

## Details
``tensor``, ``graph``, ``output_index``, ``kind`` (``missing``, ``outer-value`` or
``function-input``).
"""
from __future__ import annotations

CODE = "MV004"
NAME = "output-not-produced"
SEVERITY = "error"


def check(model, options=None):
    import sys

    from analyzer.io.load import text
    from rules._validity import shown, value_finding, where

    rule = sys.modules[__name__]
    graph = model.graph
    nodes = graph.nx._node
    for path, sub in graph.subgraphs.items():
        if sub is None:
            continue
        fn = sub.function
        names = [text(n) for n in fn.output] if fn is not None else [text(vi.name) for vi in sub.proto.output]
        for index, (name, vkey) in enumerate(zip(names, sub.output_keys)):
            if not name:
                continue
            attrs = nodes.get(vkey) or {}
            if attrs.get("role") == "missing":
                kind, why = "missing", "nothing defines it"
            elif vkey[1] != path:
                kind, why = "outer-value", f"it is a value of the enclosing graph {shown(vkey[1])}, not produced in the body"
            elif fn is not None and graph.producer(vkey) is None:
                kind, why = "function-input", "it is a function input: a function output must be computed by a node of the body"
            else:
                continue
            what = "function output" if fn is not None else "graph output"
            yield value_finding(
                rule, path, name,
                f"{what} {index} {shown(name)}{where(path)} is not produced: {why}; "
                "onnxruntime refuses to load the model",
                {"output_index": index, "kind": kind},
            )
