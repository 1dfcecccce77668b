"""MV009 deprecated-operator: an operator that is deprecated at the opset the node binds to.

## What it does
For every node of an ONNX domain (main graph, bodies, function bodies) whose
operator onnx's registry marks *deprecated* at the node's opset version: ``Upsample``
from opset 10, ``Scatter`` from 11, ``GroupNormalization`` at opsets 18-20 (its scale
and bias had the wrong shape; opset 21 fixed it), ``TreeEnsembleClassifier`` and
``TreeEnsembleRegressor`` from ``ai.onnx.ml`` 5 (the registry is read, so this list
follows the installed onnx).

## Why is this bad?
A deprecated operator has no definition at that opset.  ``onnx.checker`` rejects the
model ("Op registered for Upsample is deprecated in domain_version of 10"), and
onnxruntime refuses ``Upsample``-10 and ``Scatter``-11 ("This is an invalid model");
it still runs ``GroupNormalization``-18 with the old, deprecated semantics, which other
runtimes need not do.

## Example
```
opset_import: [("", 10)]
y = Upsample(x, scales)       # use Resize
```

## How to fix
Use the replacement: ``Resize`` for ``Upsample``, ``ScatterElements`` for ``Scatter``,
``GroupNormalization`` at opset 21 (or ``InstanceNormalization`` plus scale and bias),
``TreeEnsemble`` for the tree ensembles; or keep the opset below the deprecation.
Re-exporting at a newer opset does this.

## Details
``domain``, ``opset``, ``deprecated_since`` (the schema's since_version).
"""
from __future__ import annotations

CODE = "MV009"
NAME = "deprecated-operator"
SEVERITY = "error"


def check(model, options=None):
    import sys

    from rules._validity import finding, ops_of_groups_where, shown, where

    rule = sys.modules[__name__]
    # decided per (graph, domain, op_type): the schema is the group's
    for op, g in ops_of_groups_where(model, lambda schema: schema.deprecated):
        version, schema = g.version, g.onnx_schema
        since = int(schema.since_version)
        yield finding(rule, op=op, details={"domain": op.domain, "opset": version, "deprecated_since": since},
                      message=f"node {shown(op.id)}{where(op.graph)}: operator {shown(op.op_type)} is deprecated at "
                      f"opset {version} (since {since}): onnx.checker rejects it and runtimes need not implement it")
