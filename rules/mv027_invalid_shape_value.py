"""MV027 invalid-shape-value: a constant shape or count input that no runtime can honour.

## What it does
Checks the integer inputs and attributes that give a size, in every graph:

* ``Reshape``'s ``shape`` (a constant): more than one ``-1``, a value below ``-1``, a
  product of the given dims that overflows int64, or (when the data's size is known and
  static) a product that cannot equal the data's element count (with ``-1``: that does not
  divide it; ``0`` copies the input's dim unless ``allowzero`` is set);
* ``Expand``'s ``shape``, ``ConstantOfShape``'s input, ``Tile``'s ``repeats``: a negative
  value, or an element count that overflows int64;
* ``Scan``'s ``num_scan_inputs``: not between 1 and the number of inputs (Scan-9 and later:
  the scan inputs follow the state variables, so at most ``len(inputs)``).

## Why is this bad?
The operator specs define no output for these values (Reshape: "At most one dimension of the
new shape can be -1", and the total number of elements must match; Tile: "repeats ... a 1D
tensor of non-negative integers"; Expand and ConstantOfShape: dims must be non-negative).
onnxruntime refuses such a model when it loads it ("[ShapeInferenceError] Dimension product
overflow in Reshape", "Scan ... narrow: value -7 cannot be represented") or fails on every run.

## Example
```
y = Reshape(x[4], shape=[2**62, 2**62, 4])     # 2**126 elements from 4
s = Scan(x, body=..., num_scan_inputs=-7)
```

## How to fix
Give the shape the data really has (one ``-1`` at most, non-negative dims whose product is the
element count), and a ``num_scan_inputs`` that counts the scan inputs.

## Details
``kind`` (``reshape-several-inferred``, ``reshape-negative``, ``reshape-count``,
``overflow``, ``negative``, ``scan-inputs``), ``values`` (the constant, at most 8 listed),
``input_elements`` (Reshape with a static input).
"""
from __future__ import annotations

CODE = "MV027"
NAME = "invalid-shape-value"
SEVERITY = "error"

INT64_MAX = (1 << 63) - 1
_SIZE_INPUTS = {"Expand": 1, "ConstantOfShape": 0, "Tile": 1}


def check(model, options=None):
    import sys

    from rules import _validity as v
    from rules import _validity_attrs as va

    rule = sys.modules[__name__]
    found = []
    for grp in v.op_groups(model):  # only the kinds of node checked here are visited
        if grp.domain != "" or (grp.op_type not in _SIZE_INPUTS and grp.op_type not in ("Reshape", "Scan")):
            continue
        for op in grp.ops:
            try:
                if op.op_type == "Reshape":
                    found.extend(_reshape(model, rule, va, op))
                elif op.op_type in _SIZE_INPUTS:
                    found.extend(_sizes(model, rule, va, op, _SIZE_INPUTS[op.op_type]))
                elif op.op_type == "Scan":
                    found.extend(_scan(rule, va, op))
            except Exception:  # noqa: BLE001, S112 - one odd node must not stop the rule
                continue
    yield from v.in_walk_order(model, found)


def _product(values):
    p = 1
    for v in values:
        p *= v
        if p > INT64_MAX:
            return None
    return p


def _reshape(model, rule, va, op):
    shape = va.input_ints(model, op, 1)
    if shape is None:
        return
    shown = va.fmt_list(shape)
    if sum(1 for v in shape if v == -1) > 1:
        yield va.node_finding(rule, op, f"shape {shown} has more than one -1", {"kind": "reshape-several-inferred", "values": shape[:8]})
        return
    if any(v < -1 for v in shape):
        yield va.node_finding(rule, op, f"shape {shown} has a value below -1", {"kind": "reshape-negative", "values": shape[:8]})
        return
    data = va.input_static_shape(model, op, 0)
    allowzero = int(op.attrs.get("allowzero") or 0)
    given = []
    for i, v in enumerate(shape):
        if v == 0 and not allowzero:
            if data is None or i >= len(data):
                return  # copies a dim we do not know
            given.append(data[i])
        elif v != -1:
            given.append(v)
    product = _product(given)
    if product is None:
        yield va.node_finding(rule, op, f"shape {shown}: the element count overflows int64", {"kind": "overflow", "values": shape[:8]})
        return
    if data is None:
        return
    count = _product(data)
    if count is None:
        return
    ok = (count % product == 0) if (-1 in shape and product) else (count == product)
    if -1 in shape and product == 0:
        ok = count == 0
    if not ok:
        yield va.node_finding(rule, op, f"shape {shown} cannot hold the {count} elements of its input {va.fmt_list(data)}",
                              {"kind": "reshape-count", "values": shape[:8], "input_elements": count})  # fmt: skip


def _sizes(model, rule, va, op, index):
    values = va.input_ints(model, op, index)
    if values is None:
        return
    shown = va.fmt_list(values)
    what = "repeats" if op.op_type == "Tile" else "shape"
    if any(v < 0 for v in values):
        yield va.node_finding(rule, op, f"{what} {shown} has a negative value", {"kind": "negative", "values": values[:8]})
    elif _product(values) is None:
        yield va.node_finding(rule, op, f"{what} {shown}: the element count overflows int64", {"kind": "overflow", "values": values[:8]})


def _scan(rule, va, op):
    n = op.attrs.get("num_scan_inputs")
    if not isinstance(n, int):
        return
    if not 1 <= n <= len(op.inputs):
        yield va.node_finding(rule, op, f"num_scan_inputs {n} is not between 1 and its {len(op.inputs)} input(s)",
                              {"kind": "scan-inputs", "values": [n]})  # fmt: skip
