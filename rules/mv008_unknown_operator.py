"""MV008 unknown-operator: an operator that its ONNX domain does not define, or not yet at the imported opset.

## What it does
For every node (main graph, bodies, function bodies) in an ONNX domain (``""``/
``ai.onnx``, ``ai.onnx.ml``, ``ai.onnx.preview.training``, ``ai.onnx.preview``), looks
the operator up in onnx's registry at the opset version the node binds to (the
model's import, or in a function body the function's):

* ``unknown``: the domain has no operator of that name (``Foo`` in the default
  domain; a model-local function in an ONNX domain does not count: ONNX domains are
  looked up in the standard operator sets only);
* ``not-yet``: the operator exists, but only from a later opset (``Gelu`` at opset 17:
  it arrived in opset 20).

Not reported: nodes whose domain is not imported (MV006), opsets newer than onnx
knows (MV006), calls of model-local functions, and operators of other domains.

Other domains, chosen with onnxruntime's behaviour in mind: ``com.microsoft``,
``com.microsoft.*``, ``com.ms.*``, ``ai.onnx.contrib``, ``ai.onnx.training``,
``org.pytorch.*`` are runtime domains (onnxruntime's contrib, layout and training
ops, onnxruntime-extensions); their operators are not in onnx's registry and are
legitimate.  A custom domain that is imported but that no local function defines is
also not reported: onnx.checker accepts it, and onnxruntime runs it once the custom
operator library is registered (``SessionOptions.register_custom_ops_library``);
whether that library exists is outside the file.

## Why is this bad?
onnxruntime refuses the model ("This is an invalid model ... No Op registered for
Foo with domain_version of 17") and so does ``onnx.checker``.  An operator used before
its opset is usually a hand-edited opset number or an exporter bug.

## Example
```
opset_import: [("", 17)]
y = Gelu(x)            # Gelu is defined from opset 20
y = Foo(x)             # no such ONNX operator
```

## How to fix
Raise the opset (``onnx.version_converter.convert_version``) for a ``not-yet``
operator, or re-export; for an unknown one, correct the name or move it to the
domain that defines it (a model-local function needs its own, non-ONNX domain).

## Details
``kind`` (``unknown`` or ``not-yet``), ``domain``, ``opset`` (the version the node binds
to), ``since`` (for ``not-yet``: the first opset defining it).
"""
from __future__ import annotations

CODE = "MV008"
NAME = "unknown-operator"
SEVERITY = "error"


def check(model, options=None):
    import sys

    from rules._validity import (
        ONNX_DOMAINS, beyond_known, finding, has_op, in_walk_order, known_max_version, op_groups, schema_at, shown, where,
    )

    rule = sys.modules[__name__]
    first_since: dict = {}
    found = []
    # every node of one (graph, domain, op_type) gets the same verdict: decided once per group
    for grp in op_groups(model):
        domain = grp.domain
        if domain not in ONNX_DOMAINS or grp.onnx_schema is not None:
            continue  # outside onnx's domains, or onnx knows the operator at this opset
        version = grp.version
        if version is None or version < 1 or beyond_known(domain, version):
            continue  # MV006's
        op_type = grp.op_type
        in_domain = "the default domain" if domain == "" else f"domain {shown(domain)}"
        if not has_op(op_type, domain):
            for op in grp.ops:
                found.append(finding(rule, op=op, details={"kind": "unknown", "domain": domain, "opset": version, "since": None},
                                     message=f"node {shown(op.id)}{where(op.graph)}: {in_domain} has no operator {shown(op_type)}: "
                                     "onnxruntime and onnx.checker refuse the model"))
            continue
        if schema_at(op_type, domain, version) is None:
            key = (op_type, domain)
            if key not in first_since:
                newest = known_max_version(domain)
                since = None
                for v in range(1, (newest or version) + 1):
                    if schema_at(op_type, domain, v) is not None:
                        since = v
                        break
                first_since[key] = since
            since = first_since[key]
            later = f" (it is defined from opset {since})" if since else ""
            for op in grp.ops:
                found.append(finding(rule, op=op, details={"kind": "not-yet", "domain": domain, "opset": version, "since": since},
                                     message=f"node {shown(op.id)}{where(op.graph)}: operator {shown(op_type)} does not exist at "
                                     f"opset {version} of {in_domain}{later}: onnxruntime and onnx.checker refuse the model"))
    yield from in_walk_order(model, found)
