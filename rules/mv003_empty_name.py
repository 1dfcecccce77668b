"""MV003 empty-name: a graph, initializer, graph input or output, or function input or output without a name.

## What it does
Reports an empty ``name`` where the format requires one:

* ``graph``: the main graph or an If/Loop/Scan body without a name;
* ``initializer``: an initializer (dense, or a sparse one's ``values``) without a name;
* ``input`` / ``output``: a graph input or output (main graph or body) without a name;
* ``function-input`` / ``function-output``: a model-local function's input or output
  written as "".

Empty names that *are* allowed are not reported: an omitted optional node input or
output (""), a ``value_info`` entry's name (onnx.checker and onnxruntime both accept
it), a node's name.

## Why is this bad?
``onnx.checker`` enforces these fields ("Field 'name' of 'graph' is required to be
non-empty", "Field 'name' of 'value_info' is required to be non-empty", "Field 'name'
of 'init' is required but missing").  onnxruntime refuses to load a body without a
name, a graph output without a name, a sparse initializer without a name and a
function whose input or output is "" ("ONNX Schema F: failed validating the check:
!(it.GetName().empty())").  A value without a name cannot be referred to: an
initializer named "" is never read, a graph input "" can never be fed.

## Example
```
graph "" (x) -> (y)         # the graph has no name
initializer "" = [1, 2]
```

## How to fix
Name them: ``model.graph.name = "main_graph"``; give each initializer, input and
output the name its readers use.

## Details
``kind`` (one of the kinds above), ``index`` (position in its list).
"""
from __future__ import annotations

CODE = "MV003"
NAME = "empty-name"
SEVERITY = "error"


def check(model, options=None):
    import sys

    from analyzer.io.load import text
    from rules._validity import finding, graph_protos, shown, where

    rule = sys.modules[__name__]
    graph = model.graph

    def at(path, kind, index, message):
        return finding(rule, graph=path, node=f"<{kind} {index}>" if index is not None else f"<{kind}>",
                       message=message, details={"kind": kind, "index": index, "graph": path})

    for path, proto in graph_protos(model):
        if not text(proto.name):
            what = "the main graph" if path == "main" else f"graph {shown(path)}"
            yield at(path, "graph", None, f"{what} has no name (GraphProto.name is required; onnx.checker rejects it"
                     + ("" if path == "main" else ", and onnxruntime refuses a subgraph without one") + ")")
        lists = (
            ("initializer", [t.name for t in proto.initializer] + [sp.values.name for sp in proto.sparse_initializer]),
            ("input", [vi.name for vi in proto.input]),
            ("output", [vi.name for vi in proto.output]),
        )
        for kind, names in lists:
            for index, name in enumerate(names):
                if not text(name):
                    yield at(path, kind, index, f"{kind} {index}{where(path)} has an empty name: it can never be "
                             "referred to (onnx.checker requires the name)")
    for path, sub in graph.subgraphs.items():
        fn = sub.function if sub is not None else None
        if fn is None:
            continue
        for kind, names in (("function-input", fn.input), ("function-output", fn.output)):
            for index, name in enumerate(names):
                if not text(name):
                    yield at(path, kind, index, f"{kind.replace('-', ' ')} {index} of {shown(path)} is written as \"\": "
                             "onnxruntime refuses to load the function")
