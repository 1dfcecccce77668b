"""MV026 node-arity: a node with more or fewer inputs or outputs than its operator's schema allows.

## What it does
For every node whose operator onnx knows at the model's (or function's) opset, in every
graph: the number of inputs must lie in the schema's ``[min_input, max_input]``, the
number of outputs in ``[min_output, max_output]``, and a required (non-optional) input
or output must not be left out with an empty name.

## Why is this bad?
Each operator spec lists its inputs and outputs ("Inputs (2 - 3)", optional ones marked
"(optional)"); the IR spec says an omitted optional input is the empty string, which is
allowed only for optional parameters.  ``onnx.checker`` fails with "Node () has input
size 1 not in range [min=2, max=2]" and "Input 0 is marked single but has an empty
string in the graph"; onnxruntime refuses to load the model ("INVALID_GRAPH : This is an
invalid model. In Node, ... Error Node () has input size 1 not in range").

## Example
```
y = Add(a)              # Add takes exactly 2 inputs
y = Conv("", W)         # X is required
```

## How to fix
Give the node the inputs its operator needs (``Add(a, b)``), drop extra ones, or use
the operator of the intended arity; re-export the model.

## Details
``node``, ``op_type``, ``graph``, ``problem`` (``inputs``, ``outputs``,
``empty-required-input``, ``empty-required-output``), ``count``, ``range``, ``index``,
``parameter``, ``opset``.
"""
from __future__ import annotations

CODE = "MV026"
NAME = "node-arity"
SEVERITY = "error"


def check(model, options=None):
    import sys

    from rules import _validity as v
    from rules import _validity_attrs as va

    rule = sys.modules[__name__]
    found = []
    for grp in v.op_groups(model):
        schema = grp.schema
        if schema is None:
            continue
        lo_in, hi_in, lo_out, hi_out = schema.min_input, schema.max_input, schema.min_output, schema.max_output
        # a node of the group's arity that omits nothing (all but its odd ones) is fine
        # exactly when that arity is: then only the odd ones are looked at
        fine = lo_in <= grp.n_in <= hi_in and lo_out <= grp.n_out <= hi_out
        for op in grp.odd if fine else grp.ops:
            ins, outs = op.inputs, op.outputs  # as written, None where the name is empty
            if lo_in <= len(ins) <= hi_in and lo_out <= len(outs) <= hi_out and None not in ins and None not in outs:
                continue  # the common case, without reading the proto
            found.extend(_check_node(rule, va, op, schema, grp.opset))
    yield from v.in_walk_order(model, found)


def _check_node(rule, va, op, schema, opset):
    ins, outs = op.inputs, op.outputs
    for kind, names, lo, hi, params in (
        ("input", ins, schema.min_input, schema.max_input, schema.inputs),
        ("output", outs, schema.min_output, schema.max_output, schema.outputs),
    ):
        n = len(names)
        if not lo <= n <= hi:
            rng = f"{lo}" if lo == hi else f"{lo} to {hi if hi < 2**31 - 1 else 'any number'}"
            yield va.node_finding(
                rule, op, f"{n} {kind}s; {op.op_type}-{schema.since_version} takes {rng}",
                {"problem": kind + "s", "count": n, "range": [lo, hi], "opset": opset},
            )
            continue
        for i, name in enumerate(names):
            if name is not None:
                continue
            p = params[i] if i < len(params) else (params[-1] if params and params[-1].option == "variadic" else None)
            if p is not None and p.option == "single":
                yield va.node_finding(
                    rule, op, f"{kind} {i} ({p.name}) is required but left empty",
                    {"problem": f"empty-required-{kind}", "index": i, "parameter": p.name, "opset": opset},
                )
