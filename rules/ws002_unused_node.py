"""WS002 unused-node: nodes none of whose outputs reaches a graph output.

## What it does
Marks, in every graph (the main graph and each If/Loop/Scan body, judged within its own
graph), the nodes from which a graph output can be reached; the others are dead.  ONNX
ops have no side effects, so a dead node changes nothing: an If or Loop whose outputs
are unused is dead as a whole, with its bodies.  Dead nodes joined by the tensors
between them (and by weights only they read) form one finding, reported at the
component's first node.  The waste is the MACs of every removed op (bodies included,
counted once) and the initializers that only the removed nodes read (in any graph,
including those captured by or inside a removed body).

## Why is this bad?
onnxruntime prunes some dead nodes when it optimises, but the weights stay in the file and
in memory, and other runtimes or converters may execute them.  Dead branches are usually
left by graph surgery (a head cut off, an auxiliary output dropped) and hide real bugs: a
value computed and never used may be one the model was meant to use.

## Example
```
graph(x) -> (y):  y = Relu(x);  a = Conv(x, W);  b = Sigmoid(a)    # a, b read by nobody
```
One finding at ``Conv``: 2 nodes, W's weights, Conv + Sigmoid MACs.

## How to fix
`onnxlint fix` removes the component's nodes and the initializers that become unused
(main graph and bodies; dead nodes of model-local functions are not looked at).

## Details
``nodes`` (each ``node``, ``op_type``, ``graph``, ``index``), ``initializers`` (each ``graph``,
``tensor``).  Ownership: an initializer nobody reads at all is WS001's; one read only by
dead nodes is this rule's; duplicate initializers and duplicate nodes (WS005, WS006) are
judged among live nodes only, so no weight is counted twice.
"""
from __future__ import annotations

CODE = "WS002"
NAME = "unused-node"
SEVERITY = "warning"


def check(model, options=None):
    import sys

    from analyzer.analyses.macs import op_macs
    from rules._waste_graph import (
        dead_components,
        finding,
        init_size,
        nested_ops,
        shown,
    )

    rule = sys.modules[__name__]
    graph, G = model.graph, model.graph.nx
    for ops, inits in dead_components(model):
        ops_ = [graph.ops[k] for k in ops]
        macs = 0
        for k in ops:
            for o in [k] + nested_ops(model, k):
                m = op_macs(model, graph.ops[o])
                macs = None if macs is None or m is None else macs + m
        n = nbytes = 0
        for ikey in inits:
            a, b = init_size(G.nodes[ikey]["tensor"])
            n, nbytes = n + a, nbytes + b
        head = ops_[0]
        what = f"{len(ops_)} node(s)" if len(ops_) > 1 else f"{head.op_type} node"
        cost = "unknown MACs" if macs is None else f"{macs} MACs"
        yield finding(
            rule, op=head,
            message=(f"{what} starting at {shown(head.id)} compute values that reach no graph output: "
                     f"{cost} and {n} weights ({nbytes} bytes) only they read"),
            details={"nodes": [{"node": o.id, "op_type": o.op_type, "graph": o.graph, "index": o.index} for o in ops_],
                     "initializers": [{"graph": k[1], "tensor": k[2]} for k in inits]},
            waste={"weights": n, "bytes": nbytes, "macs": macs},
            related=[{"node": o.id, "op_type": o.op_type} for o in ops_[1:]],
        )  # fmt: skip


def fix_findings(rewriter, findings) -> None:
    """Remove each finding's nodes and the initializers only they read."""
    from analyzer.fix.records import Change
    from rules._waste_graph import graph_proto, remove_in_graph

    rw = rewriter
    body_nodes: dict = {}
    body_inits: dict = {}
    for f in findings:
        nodes = f.details.get("nodes", [])
        for n in nodes:
            if n["graph"] == "main":
                rw.removed_nodes.add(n["index"])
            else:
                body_nodes.setdefault(n["graph"], []).append(n["index"])
        for i in f.details.get("initializers", []):
            if i["graph"] == "main":
                rw.orphans.append(i["tensor"])
            else:
                body_inits.setdefault(i["graph"], []).append(i["tensor"])
        w = f.waste or {}
        rw.changes.append(Change(CODE, f.node, f.op_type, "fixed",
                                 before={"nodes": [n["node"] for n in nodes]},
                                 after={"removed_initializers": [i["tensor"] for i in f.details.get("initializers", [])]},
                                 params_removed=int(w.get("weights") or 0), bytes_removed=int(w.get("bytes") or 0),
                                 render=_render))  # fmt: skip
    for path in sorted(set(body_nodes) | set(body_inits)):
        remove_in_graph(graph_proto(rw.am, path), body_nodes.get(path, ()), body_inits.get(path, ()))


def _render(change, esc) -> str:
    return (f"removed {len(change.before['nodes'])} dead node(s) and {len(change.after['removed_initializers'])} "
            f"initializer(s): {change.params_removed} parameters, {change.bytes_removed} bytes")
