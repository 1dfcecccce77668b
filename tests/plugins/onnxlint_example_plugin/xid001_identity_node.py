"""XID001 identity-node: an Identity node, which computes nothing.

## What it does
Reports every Identity node of the default ONNX domain, in every graph (main graph,
control-flow bodies, local functions).

## Why is this bad?
An Identity copies its input to its output: it costs a node, a tensor and (in some
runtimes) a copy, and it hides which tensor a consumer really reads.

## Example
```
y = Identity(x)
z = Relu(y)        # reads x
```

## How to fix
Rewire the Identity's consumers to its input and delete it (onnx-simplifier and
onnxoptimizer's ``eliminate_identity`` do this).

## Details
``input`` and ``output``: the tensor names the node copies from and to.

This file is a complete rule on its own: dropped into ``rules/`` it is a built-in
rule; shipped in a package with an ``onnxlint.rules`` entry point it is a plugin.
"""
from __future__ import annotations

CODE = "XID001"
NAME = "identity-node"
SEVERITY = "warning"


def check(model, options=None):
    from analyzer.findings import Finding

    ops = [op for op in model.graph.ops.values() if op.op_type == "Identity" and op.domain == ""]
    ops.sort(key=lambda op: (op.graph != "main", op.graph, op.index))
    for op in ops:
        src = op.inputs[0][2] if op.inputs and op.inputs[0] else None
        dst = op.outputs[0][2] if op.outputs and op.outputs[0] else None
        yield Finding(
            rule=CODE,
            name=NAME,
            severity=SEVERITY,
            node=op.id,
            node_index=op.index,
            graph=op.graph,
            op_type=op.op_type,
            message=f"Identity copies {src!r} to {dst!r}: it computes nothing",
            details={"input": src, "output": dst},
        )
