"""MV013 subgraph-shadowing: a node inside an If/Loop/Scan body writes a name that an enclosing graph already defines.

## What it does
For every If/Loop/Scan body (nested, and inside function bodies), reports a node
output whose name is a value of an enclosing graph (its graph input, initializer or
node output).  One finding per name and body.

Not reported, because onnx.checker and onnxruntime both accept them: a body's
*inputs* and *initializers* named like an outer value (they hide it inside the body).

## Why is this bad?
onnx IR.md ("Names Within a Graph"): names in a subgraph must be distinct from the
names visible in the outer scopes -- the graph as a whole is in static single
assignment form.  ``onnx.checker`` rejects it ("Graph must be in single static
assignment (SSA) form, however 't' has been used as output names multiple times"),
onnxruntime refuses to load it ("This is an invalid model ... In Node ... If").  A
reader cannot tell which of the two values a later reference means.

## Example
```
t = Relu(x)
y = If(c) then_branch { t = Relu(x) -> (t) }     # 't' again, inside the body
```

## How to fix
Rename the body's value (and its readers and the body's outputs); exporters that
inline functions into bodies often need a unique-name pass.

## Details
``tensor``, ``outer_graph`` (the enclosing graph that defines it), ``outer_role``
(``input``, ``initializer`` or ``output``).
"""
from __future__ import annotations

CODE = "MV013"
NAME = "subgraph-shadowing"
SEVERITY = "error"


def check(model, options=None):
    import sys

    from rules._validity import finding, shown, where

    rule = sys.modules[__name__]
    graph = model.graph
    nodes = graph.nx._node
    subs = graph.subgraphs
    for path, sub in subs.items():
        if sub is None or sub.parent is None:
            continue
        ancestors = []
        p = sub.parent
        while p is not None and subs.get(p) is not None:
            ancestors.append(p)
            p = subs[p].parent
        reported = set()
        for key in sub.op_keys:
            op = graph.ops[key]
            for vkey in op.outputs:
                if vkey is None or vkey[2] in reported:
                    continue
                name = vkey[2]
                for anc in ancestors:
                    attrs = nodes.get(("value", anc, name))
                    if attrs is None or attrs.get("role") == "missing":
                        continue
                    reported.add(name)
                    role = attrs.get("role")
                    as_what = {"output": "a node output", "input": "an input", "initializer": "an initializer"}.get(role, role)
                    yield finding(rule, op=op, details={"tensor": name, "outer_graph": anc, "outer_role": role},
                                  message=f"node {shown(op.id)}{where(path)} writes {shown(name)}, which graph "
                                  f"{shown(anc)} already defines (as {as_what}): "
                                  "names must be unique across a graph and its bodies; onnxruntime refuses the model")
                    break
