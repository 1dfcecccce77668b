"""WS003 unused-graph-input: a main-graph input that no node reads.

## What it does
Reports an input of the main graph that no node reads (in the main graph or in a body that
captures it) and that is not itself a graph output.  Inputs that are also initializers (the
IR < 4 style) are WS001's; inputs of If/Loop/Scan bodies are positional and not looked at.
The waste is nothing stored and nothing computed (0 weights, 0 MACs): the cost is in the
interface.

## Why is this bad?
Every caller must build and feed a tensor the model ignores (onnxruntime refuses a run
that does not feed every declared input), and a reader of the model is misled about
what it depends on: an exported ``mask`` or ``token_type_ids`` that nothing uses often
means the export dropped a code path.

## Example
```
graph(x, mask) -> (y):  y = Relu(x)          # 'mask' is never read
```

## How to fix
`onnxlint fix` removes the input.  **This changes the model's interface**: callers must
then stop feeding that name (onnxruntime rejects a feed of an unknown input name).  The
outputs, for the inputs that remain, are unchanged.

## Details
``tensor``, ``graph``, ``input_index``, ``dtype``, ``shape`` (as declared; symbols as text).
"""
from __future__ import annotations

CODE = "WS003"
NAME = "unused-graph-input"
SEVERITY = "warning"


def check(model, options=None):
    import sys

    from rules._waste_graph import shown, tensor_finding

    rule = sys.modules[__name__]
    G = model.graph.nx
    sub = model.graph.subgraphs["main"]
    outputs = set(sub.output_keys)
    for index, key in enumerate(sub.input_keys):
        attrs = G.nodes[key]
        if attrs.get("role") != "input" or G.succ[key] or key in outputs:
            continue
        v = model.value(key[2])
        shape = None if v.shape is None else [d if d is None or isinstance(d, int) else str(d) for d in v.shape]
        yield tensor_finding(
            rule, "main", key[2],
            f"graph input {shown(key[2])} is never read: every caller must feed it for nothing",
            {"input_index": index, "dtype": v.dtype, "shape": shape},
            {"weights": 0, "bytes": 0, "macs": 0},
        )  # fmt: skip


def fix_findings(rewriter, findings) -> None:
    """Remove each unused input from the main graph's inputs (an interface change)."""
    from analyzer.fix.records import Change, Refused

    rw = rewriter
    g = rw.model.graph
    for f in findings:
        name = f.details.get("tensor", f.node)
        try:
            if rw.readers.get(name, 0):
                raise Refused(f"the name {name!r} is also read elsewhere (a body defining its own {name!r})")
            idx = [i for i, vi in enumerate(g.input) if vi.name == name]
            if not idx or name in rw.init_index:
                raise Refused(f"{name!r} is not a plain graph input")
            for i in reversed(idx):
                del g.input[i]
            rw.graph_inputs.discard(name)
            rw.changes.append(Change(CODE, f.node, "", "fixed", before={"input": name}, after={"graph_input_removed": name},
                                     render=_render))  # fmt: skip
        except Refused as e:
            rw.changes.append(Change(CODE, f.node, "", "refused", str(e)))


def _render(change, esc) -> str:
    return "removed the graph input (the model's interface changes: callers must not feed it)"
