"""WS001 unused-initializer: an initializer that no node and no graph output reads.

## What it does
Reports a dense initializer of the main graph or of an If/Loop/Scan body that nothing
reads: no node of its graph, no node of a body that captures it, and no graph output.
The waste is its elements and bytes (in its stored dtype); it costs no MACs.

## Why is this bad?
The payload is stored, shipped and loaded into memory (onnxruntime keeps every
initializer) for nothing: it cannot change any output.  Exporters leave such tensors
behind after graph surgery or when a parameter of the module is never used in
``forward``.

## Example
```
graph(x) -> (y):  y = Relu(x)
initializers: W [64, 64]          # nobody reads W: 4096 weights, 16384 bytes
```

## How to fix
`onnxlint fix` removes the initializer.  An initializer of the main graph that is also
listed as a graph input (the IR < 4 style, where it is an input with a default) is removed
with its graph input entry: no node reads it, so no output changes, but the model's
interface does (a caller that still feeds that name gets onnxruntime's "invalid input
name"): the change record says so (``after.graph_input_removed``).  An initializer whose
name is also read in a body that defines a tensor of its own with that name is refused
(removing by name would not be safe).

## Details
``tensor``, ``graph``, ``dtype``, ``shape``, ``graph_input`` (also listed as a graph
input).  Ownership: an initializer read only by dead nodes is WS002's (it goes with them),
not this rule's; initializers inside the body of a dead If/Loop/Scan likewise; sparse
initializers and model-local functions are not looked at.
"""
from __future__ import annotations

CODE = "WS001"
NAME = "unused-initializer"
SEVERITY = "warning"


def check(model, options=None):
    import sys

    from analyzer.model import dtype_name
    from rules._waste_graph import init_size, shown, tensor_finding, unused_initializers, valid_dims

    rule = sys.modules[__name__]
    G = model.graph.nx
    inputs = set(model.graph.subgraphs["main"].input_keys)
    for key in unused_initializers(model):
        t = G.nodes[key]["tensor"]
        if not valid_dims(t):
            continue  # an invalid tensor (MV024): no count to report
        n, nbytes = init_size(t)
        path, name = key[1], key[2]
        where = "" if path == "main" else f" of graph {shown(path)}"
        as_input = key in inputs
        extra = " (also listed as a graph input)" if as_input else ""
        yield tensor_finding(
            rule, path, name,
            f"initializer {shown(name)}{where}{extra} is never read: {n} weights ({nbytes} bytes) stored for nothing",
            {"dtype": dtype_name(t.data_type), "shape": [int(d) for d in t.dims], "graph_input": as_input},
            {"weights": n, "bytes": nbytes, "macs": 0},
        )  # fmt: skip


def fix_findings(rewriter, findings) -> None:
    """Remove each unused initializer (main graph: through the rewriter's pruning; a body's: in place)."""
    from analyzer.fix.records import Change, Refused
    from rules._waste_graph import graph_proto, remove_in_graph

    rw = rewriter
    g = rw.model.graph
    for f in findings:
        name, path = f.details.get("tensor", f.node), f.graph
        try:
            if rw.readers.get(name, 0):
                raise Refused(f"the name {name!r} is also read elsewhere (a body defining its own {name!r})")
            after = {"removed": name}
            if path == "main":
                if name not in rw.init_index:
                    raise Refused(f"{name!r} is not an initializer of the main graph")
                if name in rw.graph_inputs:
                    for i in reversed(range(len(g.input))):
                        if g.input[i].name == name:
                            del g.input[i]
                    rw.graph_inputs.discard(name)
                    after["graph_input_removed"] = name
                rw.orphans.append(name)
            else:
                sub = rw.am.graph.subgraphs.get(path)
                if sub is None or sub.proto is None:
                    raise Refused(f"graph {path!r} not found")
                remove_in_graph(graph_proto(rw.am, path), init_names=[name])
            w = f.waste or {}
            rw.changes.append(Change(CODE, f.node, "", "fixed", before={"tensor": name, "graph": path}, after=after,
                                     params_removed=int(w.get("weights") or 0), bytes_removed=int(w.get("bytes") or 0),
                                     render=_render))  # fmt: skip
        except Refused as e:
            rw.changes.append(Change(CODE, f.node, "", "refused", str(e)))


def _render(change, esc) -> str:
    extra = " and its graph input entry (the model's interface changes)" if change.after.get("graph_input_removed") else ""
    return f"removed unused initializer{extra}: {change.params_removed} parameters, {change.bytes_removed} bytes"
