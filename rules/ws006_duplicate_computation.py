"""WS006 duplicate-computation: two nodes computing the same thing from the same inputs.

## What it does
Numbers values in topological order, in every graph: a node is a duplicate of the first
node with the same domain, op type, attributes and inputs, where an input that is a
duplicate node's output counts as its original's output and a duplicate initializer
(same dtype, shape and bytes, as WS005 finds) counts as its group's first.  These are
common subexpressions.  Duplicates joined by the tensors between them (a duplicated
``Conv -> Relu`` chain) and by weights only they read are one finding, reported at the
component's first node, when it wastes something (MACs, weights, or MACs unknown): a
duplicated shape computation that costs nothing is not reported.  The waste is the
duplicates' MACs and the initializers only they read.

Not considered: nodes with subgraph attributes, random ops (RandomNormal, RandomUniform,
their ``Like`` forms, Bernoulli, Multinomial), Dropout in training mode (or whose mode is
not a known constant), ops outside the ONNX domains (a vendor op may not be
deterministic), dead nodes (WS002's), model-local function bodies.

## Why is this bad?
Every inference computes the same values twice, and a duplicate's weights are stored
twice.  Exporters duplicate work when a module is called twice on the same input or a
shared sub-expression is traced once per use.

## Example
```
a = Conv(x, W);  b = Conv(x, W2)      # W2 has W's bytes
y = Add(Relu(a), Relu(b))            # Conv + Relu computed twice: one finding
```

## How to fix
`onnxlint fix` rewires the readers of each duplicate's outputs to its original's outputs
and removes the duplicates (and the weights only they read).  An output that is a graph
output or is read inside a body becomes an ``Identity`` of the original's output (0 MACs),
so no name the model exposes changes.  Refused inside bodies (only main-graph nodes are
rewritten), when the nodes are not in topological order in the file, or when a reader is
rewritten by another fix.

## Details
``duplicates`` (each ``node``, ``op_type``, ``index``, ``of``: the original, ``of_index``),
``initializers`` (each ``graph``, ``tensor``).
"""
from __future__ import annotations

CODE = "WS006"
NAME = "duplicate-computation"
SEVERITY = "warning"


def check(model, options=None):
    import sys

    from analyzer.analyses.macs import op_macs
    from rules._waste_graph import duplicate_components, finding, init_size, shown
    from rules.ws005_duplicate_initializer import _budget

    rule = sys.modules[__name__]
    graph, G = model.graph, model.graph.nx
    cse = duplicate_components(model, _budget(None))
    for ops, inits in cse["components"]:
        macs = 0
        for k in ops:
            m = op_macs(model, graph.ops[k])
            macs = None if macs is None or m is None else macs + m
        n = nbytes = 0
        for ikey in inits:
            a, b = init_size(G.nodes[ikey]["tensor"])
            n, nbytes = n + a, nbytes + b
        if macs == 0 and n == 0:
            continue
        dups = [graph.ops[k] for k in ops]
        reps = [graph.ops[cse["of"][k]] for k in ops]
        head = dups[0]
        cost = "unknown MACs" if macs is None else f"{macs} MACs"
        what = f"{len(dups)} nodes" if len(dups) > 1 else f"{head.op_type} node"
        yield finding(
            rule, op=head,
            message=(f"{what} starting at {shown(head.id)} compute what {shown(reps[0].id)} already computes "
                     f"(same op, attributes and inputs): {cost} and {n} weights ({nbytes} bytes) spent twice"),
            details={"duplicates": [{"node": d.id, "op_type": d.op_type, "index": d.index, "of": r.id, "of_index": r.index}
                                    for d, r in zip(dups, reps)],
                     "initializers": [{"graph": k[1], "tensor": k[2]} for k in inits]},
            waste={"weights": n, "bytes": nbytes, "macs": macs},
            related=[{"node": r.id, "op_type": r.op_type} for r in reps],
        )  # fmt: skip


def fix_findings(rewriter, findings) -> None:
    """Per finding: readers of each duplicate's outputs read the original's; duplicates removed."""
    from analyzer.fix.records import Change, Refused

    rw = rewriter
    for f in findings:
        try:
            if f.graph != "main":
                raise Refused(f"inside {f.graph}: only main-graph nodes are rewritten")
            plan = _plan(rw, f.details["duplicates"])
            _apply(rw, f, plan)
            w = f.waste or {}
            rw.changes.append(Change(CODE, f.node, f.op_type, "fixed",
                                     before={"duplicates": [d["node"] for d in f.details["duplicates"]]},
                                     after={"kept": [d["of"] for d in f.details["duplicates"]], "identities": plan["identities"]},
                                     params_removed=int(w.get("weights") or 0), bytes_removed=int(w.get("bytes") or 0),
                                     render=_render))  # fmt: skip
        except Refused as e:
            rw.changes.append(Change(CODE, f.node, f.op_type, "refused", str(e)))


def _plan(rw, dups):
    from analyzer.fix.records import Refused

    g = rw.model.graph
    removed = {d["index"] for d in dups}
    main_outputs = {o.name for o in g.output}
    rewire, identities = [], []
    for d in dups:
        node, rep = g.node[d["index"]], g.node[d["of_index"]]
        if d["of_index"] >= d["index"] or d["index"] in rw.removed_nodes or d["of_index"] in rw.removed_nodes:
            raise Refused("the nodes are not in topological order in the file, or another fix removes them")
        if d["index"] in rw.conv_states or d["of_index"] in rw.conv_states:
            raise Refused("another fix rewrites these nodes")
        for pos, out in enumerate(node.output):
            if not out:
                continue
            new = rep.output[pos]
            readers = [(i, j) for i, n in enumerate(g.node) for j, x in enumerate(n.input) if x == out]
            outside = [(i, j) for i, j in readers if i not in removed]
            if any(i <= d["of_index"] or i in rw.conv_states for i, _ in outside):
                raise Refused(f"a reader of {out!r} comes before the original or is rewritten by another fix")
            if out in main_outputs or rw.readers.get(out, 0) - (out in main_outputs) != len(readers):
                identities.append((d["index"], new, out))
            else:
                rewire.extend((i, j, new) for i, j in outside)
    return {"rewire": rewire, "identities": [(i, a, b) for i, a, b in identities], "removed": removed}


def _apply(rw, f, plan):
    from onnx import helper

    g = rw.model.graph
    for i, j, new in plan["rewire"]:
        g.node[i].input[j] = new
    for index, src, dst in plan["identities"]:
        rw.new_nodes.setdefault(index, []).append(helper.make_node("Identity", [src], [dst], name=rw.names.fresh(f"{dst}_dedup")))
    plan["identities"] = [dst for _, _, dst in plan["identities"]]
    rw.removed_nodes.update(plan["removed"])
    for i in f.details.get("initializers", []):
        rw.orphans.append(i["tensor"])


def _render(change, esc) -> str:
    n = len(change.before["duplicates"])
    ids = f" ({len(change.after['identities'])} output(s) kept as Identity)" if change.after["identities"] else ""
    return f"removed {n} duplicate node(s){ids}: {change.params_removed} parameters, {change.bytes_removed} bytes"
