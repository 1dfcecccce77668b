"""MV022 axis-out-of-range: an axis, axes or perm that does not fit the input's rank.

## What it does
For ops whose spec documents the accepted range of an axis, compares the ``axis`` /
``axes`` attribute (or constant ``axes`` input, for the opsets that moved it there) with
the rank analysis knows for the input:

| ops | range |
| --- | --- |
| Concat, Gather, GatherElements, ScatterElements, Split, ArgMax, ArgMin, CumSum, LayerNormalization, TopK, Compress, Softmax / LogSoftmax / Hardmax (opset >= 11), Squeeze, Reduce* (``axes``), Slice (constant ``axes``) | ``[-r, r-1]`` |
| Flatten | ``[-r, r]`` |
| Unsqueeze | ``[-r', r'-1]`` with ``r' = r + len(axes)``, no repeats |
| Transpose ``perm`` | a permutation of ``0 .. r-1`` |

``axes`` lists must not repeat an axis (Squeeze, Unsqueeze, Reduce*).  Ranks come from
graph inputs, initializers and shape propagation; declared ``value_info`` is not trusted,
and nodes in function bodies are skipped (their ranks depend on the call).

## Why is this bad?
Each operator spec states the range ("axis: ... Accepted range is [-r, r-1] where r =
rank(inputs)"), and onnxruntime refuses such models when it loads them ("'axis' must be
in [-2 , 1]. Its actual value is: 5", "axis must be in [-rank, rank-1]", "Invalid value(3)
for attribute 'axis'", "Attribute perm for Transpose has repeated value: 0", "Unexpected
axis value: 4. Expected range [-3, 3)", "Axis 0 is referred to more than once") or when
it runs the node (CumSum, LayerNormalization, a Transpose perm of the wrong length).

## Example
```
y = Softmax(x[2, 3], axis=5)
y = Transpose(x[2, 3], perm=[0, 0])
```

## How to fix
Use an axis inside the range (a negative axis counts from the end), a perm listing each
axis once; re-export the model if the exporter produced it.

## Details
``node``, ``op_type``, ``graph``, ``attribute`` (or ``input``), ``value``, ``rank``,
``range`` (``[low, high]``), ``problem`` (``out-of-range``, ``repeated``,
``not-a-permutation``).
"""
from __future__ import annotations

CODE = "MV022"
NAME = "axis-out-of-range"
SEVERITY = "error"

_REDUCE = {
    "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
    "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
}  # fmt: skip
# op -> (since which opset ``axes`` is an input, its index); before it, an attribute
_AXES_INPUT = {"Squeeze": (13, 1), "Unsqueeze": (13, 1), "ReduceSum": (13, 1), "Slice": (10, 3)}
for _r in _REDUCE - {"ReduceSum"}:
    _AXES_INPUT[_r] = (18, 1)
# single ``axis`` attributes with the range [-r, r-1]: op -> minimal opset checked
_NO_REPEAT = {"Unsqueeze"}
_AXIS_RANK = {
    "Concat": 1, "Gather": 1, "GatherElements": 1, "ScatterElements": 1, "Split": 1, "ArgMax": 1, "ArgMin": 1,
    "LayerNormalization": 1, "TopK": 1, "Compress": 1, "Softmax": 11, "LogSoftmax": 11, "Hardmax": 11,
}  # fmt: skip


def check(model, options=None):
    import sys

    from rules import _validity as v
    from rules import _validity_attrs as va

    rule = sys.modules[__name__]
    # the op types _check_op looks at; the nodes of any other kind are not visited
    handled = set(_AXIS_RANK) | set(_REDUCE) | {"Flatten", "CumSum", "Transpose", "Squeeze", "Unsqueeze", "Slice"}
    found = []
    for grp in v.op_groups(model):
        if grp.op_type not in handled or grp.domain != "" or grp.graph.startswith("function:") or grp.opset is None:
            continue
        opset = grp.opset
        for op in grp.ops:
            try:
                found.extend(_check_op(rule, va, model, op, opset))  # what came before a failure is kept
            except Exception:
                continue
    yield from v.in_walk_order(model, found)


def _attr_int(op, name):
    from analyzer.io.proto import AttributeProto

    for a in op.proto.attribute:
        if a.name == name and not a.ref_attr_name and a.type == AttributeProto.INT:
            return int(a.i)
    return None


def _check_op(rule, va, model, op, opset):
    t = op.op_type
    r = va.input_rank(model, op, 0)
    if t in _AXIS_RANK and opset >= _AXIS_RANK[t]:
        if r is None:
            return
        axis = _attr_int(op, "axis")  # defaults (0, 1, -1) are checked by nobody: -1 and 0 always fit
        if axis is not None:
            yield from _range(rule, va, op, "axis", axis, r, -r, r - 1)
        return
    if t == "Flatten":
        axis = _attr_int(op, "axis")
        if r is not None and axis is not None:
            yield from _range(rule, va, op, "axis", axis, r, -r, r)
        return
    if t == "CumSum":
        v = va.input_ints(model, op, 1)
        if r is not None and v is not None and len(v) == 1:
            yield from _range(rule, va, op, "axis", v[0], r, -r, r - 1, source="input")
        return
    if t == "Transpose":
        perm = va.ints_attr(op, "perm")
        if not isinstance(perm, list):
            return
        if len(set(perm)) != len(perm):
            dup = sorted({p for p in perm if perm.count(p) > 1})
            yield va.node_finding(rule, op, f"perm {va.fmt_list(perm)} repeats {va.fmt_list(dup)}; perm must list each axis once",
                                  {"attribute": "perm", "value": perm, "rank": r, "problem": "repeated"})
            return
        if r is not None and (len(perm) != r or sorted(perm) != list(range(r))):
            yield va.node_finding(rule, op, f"perm {va.fmt_list(perm)} is not a permutation of the input's {r} axes",
                                  {"attribute": "perm", "value": perm, "rank": r, "range": [0, r - 1], "problem": "not-a-permutation"})
        return
    if t in _REDUCE or t in ("Squeeze", "Unsqueeze", "Slice"):
        since, idx = _AXES_INPUT.get(t, (10**9, None))
        if opset >= since:
            axes, source = va.input_ints(model, op, idx), "input"
        else:
            axes, source = va.ints_attr(op, "axes"), "attribute"
        if not isinstance(axes, list) or not axes:
            return
        if t in _NO_REPEAT and len(set(axes)) != len(axes):
            yield va.node_finding(rule, op, f"axes {va.fmt_list(axes)} repeat an axis", {source: "axes", "value": axes, "rank": r, "problem": "repeated"})
            return
        if r is None:
            return
        rr = r + len(axes) if t == "Unsqueeze" else r
        bad = [a for a in axes if not -rr <= a <= rr - 1]
        if bad:
            yield _finding(rule, va, op, "axes", axes, r, -rr, rr - 1, source)
            return
        if t in _NO_REPEAT and len({a % rr for a in axes}) != len(axes):
            yield va.node_finding(rule, op, f"axes {va.fmt_list(axes)} refer to one axis twice", {source: "axes", "value": axes, "rank": r, "problem": "repeated"})


def _range(rule, va, op, name, value, r, lo, hi, source="attribute"):
    if not lo <= value <= hi:
        yield _finding(rule, va, op, name, value, r, lo, hi, source)


def _finding(rule, va, op, name, value, r, lo, hi, source):
    shown_v = va.fmt_list(value) if isinstance(value, list) else value
    return va.node_finding(
        rule, op, f"{name} {shown_v} is outside [{lo}, {hi}] for an input of rank {r}",
        {source: name, "value": value, "rank": r, "range": [lo, hi], "problem": "out-of-range"},
    )
