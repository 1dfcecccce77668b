"""MV014 experimental-operator: an operator that onnx marks experimental at the node's opset.

## What it does
For every node of an ONNX domain (main graph, bodies, function bodies) whose schema,
at the node's opset version, has support level EXPERIMENTAL in onnx's registry
(with onnx 1.23: ``Upsample`` before opset 7, ``FlexAttention`` of ``ai.onnx.preview``).

## Why is this bad?
An experimental operator's definition may change or disappear, and runtimes need
not implement it: onnxruntime has no kernel for ``Upsample``-1 ("Could not find an
implementation for Upsample(1)"), although ``onnx.checker`` accepts the model.  A
warning, not an error: the model is valid ONNX, but not portable.

## Example
```
opset_import: [("", 6)]
y = Upsample(x, height_scale=2, width_scale=2)
```

## How to fix
Use the stable replacement (``Upsample`` at opset 7-9, or ``Resize``), or raise the
opset and re-export.

## Details
``domain``, ``opset``, ``since`` (the schema's since_version).
"""
from __future__ import annotations

CODE = "MV014"
NAME = "experimental-operator"
SEVERITY = "warning"


def check(model, options=None):
    import sys

    from rules._validity import finding, ops_of_groups_where, shown, where

    rule = sys.modules[__name__]
    # decided per (graph, domain, op_type): the schema is the group's
    for op, g in ops_of_groups_where(model, lambda schema: schema.support_level == type(schema).SupportType.EXPERIMENTAL):
        version, schema = g.version, g.onnx_schema
        yield finding(rule, op=op, details={"domain": op.domain, "opset": version, "since": int(schema.since_version)},
                      message=f"node {shown(op.id)}{where(op.graph)}: operator {shown(op.op_type)} is experimental at "
                      f"opset {version}: its definition may change and runtimes need not implement it")
