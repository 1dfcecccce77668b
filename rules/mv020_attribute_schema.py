"""MV020 attribute-schema: a node's attributes break the operator's schema or the AttributeProto rules.

## What it does
For every node of every graph (main graph, If/Loop/Scan bodies at any depth, model-local
functions), checks its attributes against the AttributeProto rules and against the
operator's schema (``onnx.defs``) at the opset the model (or the function) imports:

* an attribute that appears twice on one node, or has an empty name;
* an attribute with more than one value field set (``i`` and ``f``...), or whose
  ``type`` disagrees with the field that holds its value;
* in a function body, an attribute that refers to the caller's attribute
  (``ref_attr_name``) and also carries a value of its own;
* an attribute the schema does not define (``Relu(foo=1)``);
* an attribute of another type than the schema's (``Softmax(axis=1.0)``, a FLOAT where
  an INT is expected);
* a required attribute that is missing (``Cast`` without ``to``).

Ops onnx has no schema for (custom domains, unknown ops) only get the structural
checks.  Attribute references inside functions are not checked against the schema
(their value comes from the call).

## Why is this bad?
The ONNX IR spec (docs/IR.md, "Attributes"): "Each node must have ... attribute names
unique"; an AttributeProto holds exactly one value, of the type its ``type`` field names
("Exactly one of the value fields must be set, matching the type"), and for a
reference "ref_attr_name is the attribute name in parent function. In this case, this
AttributeProto does not contain data" (onnx.proto; neither the checker nor onnxruntime
refuses a reference with data: onnxruntime silently picks one of the two values).  Every operator
spec lists its attributes, their types and which are required.  ``onnx.checker`` fails
with "Attribute 'axis' appeared multiple times", "type field and data field mismatch in
attribute axis", "Unrecognized attribute: foo for operator Relu", "Mismatched attribute
type", "Required attribute 'to' is missing";
onnxruntime refuses to load the same models ("INVALID_GRAPH : This is an invalid model.
In Node ...").

## Example
```
y = Softmax(x, axis=1.0)      # axis is an INT attribute
y = Cast(x)                   # 'to' is required
```

## How to fix
Re-export the model; or repair the node: remove the extra or unknown attribute, set the
attribute with the schema's type (``onnx.helper.make_attribute("axis", 1)``), add the
required attribute.

## Details
``node``, ``op_type``, ``graph``, ``attribute``, ``problem`` (``duplicate``,
``empty-name``, ``several-values``, ``type-field-mismatch``, ``ref-with-value``,
``unknown``, ``wrong-type``, ``missing-required``), ``expected_type``, ``actual_type``,
``opset``.
"""
from __future__ import annotations

CODE = "MV020"
NAME = "attribute-schema"
SEVERITY = "error"

# AttributeProto value field -> the type it belongs to
_FIELDS_SINGULAR = (("f", 1), ("i", 2), ("s", 3), ("t", 4), ("g", 5), ("sparse_tensor", 11), ("tp", 13))
_FIELDS_REPEATED = (("floats", 6), ("ints", 7), ("strings", 8), ("tensors", 9), ("graphs", 10), ("sparse_tensors", 12), ("type_protos", 14))


_FIELD_TYPE = dict(_FIELDS_SINGULAR + _FIELDS_REPEATED)
_FIELD_ORDER = {f: i for i, (f, _) in enumerate(_FIELDS_SINGULAR + _FIELDS_REPEATED)}


def value_fields(a) -> list:
    """``[(field, type code)]`` of the value fields set on AttributeProto ``a`` (singular
    ones, then repeated ones, each in the order above).  One ListFields call (the fields
    with presence, repeated ones when non-empty) instead of fourteen probes per attribute."""
    out = [(fd.name, _FIELD_TYPE[fd.name]) for fd, _ in a.ListFields() if fd.name in _FIELD_TYPE]
    if len(out) > 1:
        out.sort(key=lambda ft: _FIELD_ORDER[ft[0]])
    return out


def check(model, options=None):
    import sys

    from analyzer.analyses.schema import ATTR_TYPE_NAMES
    from analyzer.io.load import shown, text

    from rules import _validity as v
    from rules import _validity_attrs as va

    rule = sys.modules[__name__]
    found = []
    # A node without attributes can only miss a required one: only the kinds of node
    # whose schema requires one are walked whole; of the others, the nodes with attributes.
    whole = set()
    for grp in v.op_groups(model):
        schema = grp.schema
        if schema is not None and any(required for _, required in schema.attributes.values()):
            whole.add(id(grp))
            for op in grp.ops:
                found.extend(_check_node(rule, va, op, schema, grp.opset, ATTR_TYPE_NAMES, shown, text))
    index = v.op_group_index(model)
    for op in v.attributed_ops(model):
        grp = index[(op.graph, op.domain, op.op_type)]
        if id(grp) not in whole:
            found.extend(_check_node(rule, va, op, grp.schema, grp.opset, ATTR_TYPE_NAMES, shown, text))
    yield from v.in_walk_order(model, found)


def _check_node(rule, va, op, schema, opset, ATTR_TYPE_NAMES, shown, text):
    in_fn = va.in_function(op)
    seen = set()
    for a in op.proto.attribute:
        name = text(a.name)
        shown_name = shown(name)
        base = {"attribute": name, "opset": opset}
        if not name:
            yield va.node_finding(rule, op, "an attribute has an empty name", {**base, "problem": "empty-name"})
            continue
        if name in seen:
            yield va.node_finding(rule, op, f"attribute {shown_name} appears more than once (the IR requires unique attribute names)", {**base, "problem": "duplicate"})
            continue
        seen.add(name)
        fields = value_fields(a)
        if len(fields) > 1:
            yield va.node_finding(
                rule, op, f"attribute {shown_name} has {len(fields)} value fields set ({', '.join(f for f, _ in fields)}); an attribute holds exactly one value",
                {**base, "problem": "several-values", "fields": [f for f, _ in fields]},
            )
            continue
        if fields and a.HasField("type") and a.type != fields[0][1]:
            yield va.node_finding(
                rule, op,
                f"attribute {shown_name} is declared {ATTR_TYPE_NAMES.get(a.type, a.type)} but its value is in field {fields[0][0]} ({ATTR_TYPE_NAMES[fields[0][1]]})",
                {**base, "problem": "type-field-mismatch", "declared_type": ATTR_TYPE_NAMES.get(a.type, int(a.type)), "field": fields[0][0]},
            )
            continue
        if a.ref_attr_name:
            if in_fn and fields:
                yield va.node_finding(
                    rule, op, f"attribute {shown_name} refers to the caller's attribute {shown(text(a.ref_attr_name))} and also has a value of its own",
                    {**base, "problem": "ref-with-value"},
                )
            continue  # a reference outside a function: the structure rules' business
        if schema is None:
            continue
        spec = schema.attributes.get(name)
        if spec is None:
            if name.startswith("__"):
                continue  # onnx's internal attributes
            yield va.node_finding(
                rule, op, f"attribute {shown_name} is not defined by {op.op_type}-{schema.since_version} (opset {opset})",
                {**base, "problem": "unknown", "known_attributes": sorted(schema.attributes)},
            )
            continue
        actual = a.type if a.HasField("type") and a.type else (fields[0][1] if fields else 0)
        if actual and actual != spec[0]:
            yield va.node_finding(
                rule, op,
                f"attribute {shown_name} is {ATTR_TYPE_NAMES.get(actual, actual)}, {op.op_type}-{schema.since_version} defines it as {ATTR_TYPE_NAMES.get(spec[0], spec[0])}",
                {**base, "problem": "wrong-type", "expected_type": ATTR_TYPE_NAMES.get(spec[0]), "actual_type": ATTR_TYPE_NAMES.get(actual, int(actual))},
            )
    if schema is None:
        return
    for name, (atype, required) in schema.attributes.items():
        if required and name not in seen:
            yield va.node_finding(
                rule, op, f"required attribute {shown(name)} ({ATTR_TYPE_NAMES.get(atype, atype)}) is missing ({op.op_type}-{schema.since_version})",
                {"attribute": name, "opset": opset, "problem": "missing-required", "expected_type": ATTR_TYPE_NAMES.get(atype)},
            )
