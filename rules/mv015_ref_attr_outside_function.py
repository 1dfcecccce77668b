"""MV015 ref-attr-outside-function: a node outside any function body has an attribute that refers to a function attribute.

## What it does
Reports an attribute with ``ref_attr_name`` set on a node of the main graph or of an
If/Loop/Scan body that is not inside a model-local function.

## Why is this bad?
onnx.proto (AttributeProto.ref_attr_name): a reference to an attribute of the
enclosing function, which the call site binds; the comment states it may only be
used in a function body and is invalid in the main graph.  Outside a function there
is nothing to bind: onnxruntime and onnx.checker silently use whatever value the
attribute happens to hold (its type's default, 0 for a float), so the node computes
something its author did not write.  Severity warning, not error: both tools accept the
model, so a CI gate that fails only on errors agrees with them, while ``--fail-on warning``
(the default) still stops it.

## Example
```
y = LeakyRelu(x) with alpha -> ref_attr_name "alpha"      # in the main graph
```

## How to fix
Give the attribute its value (``onnx.helper.make_attribute``), or move the node into
a model-local function that declares the attribute.

## Details
``attribute``, ``ref_attr_name``.
"""
from __future__ import annotations

CODE = "MV015"
NAME = "ref-attr-outside-function"
# warning, not error: onnx.checker and onnxruntime both accept such a model (the spec forbids it)
SEVERITY = "warning"


def check(model, options=None):
    import sys

    from analyzer.io.load import text
    from rules._validity import attributed_ops, finding, function_of_path, shown, where

    rule = sys.modules[__name__]
    in_fn: dict = {}
    for op in attributed_ops(model):  # a node without attributes has no reference
        if op.graph not in in_fn:
            in_fn[op.graph] = function_of_path(model, op.graph) is not None
        if in_fn[op.graph]:
            continue
        for a in op.proto.attribute:
            if a.ref_attr_name:
                attr, ref = text(a.name), text(a.ref_attr_name)
                yield finding(rule, op=op, details={"attribute": attr, "ref_attr_name": ref},
                              message=f"node {shown(op.id)}{where(op.graph)}: attribute {shown(attr)} refers to "
                              f"function attribute {shown(ref)}, but the node is not in a function: nothing binds it")
