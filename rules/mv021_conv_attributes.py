"""MV021 conv-attributes: a convolution or pooling node whose attributes no runtime accepts.

## What it does
For every Conv, ConvTranspose, ConvInteger, QLinearConv, AveragePool, MaxPool and LpPool
(default domain; every graph, subgraphs and functions included), checks:

* ``strides``, ``dilations`` or ``kernel_shape`` with a value <= 0; ``pads`` with a
  negative value;
* ``strides`` / ``dilations`` / ``kernel_shape`` whose length is not the number of
  spatial axes, ``pads`` whose length is not twice that;
* ``auto_pad`` other than ``NOTSET``, ``SAME_UPPER``, ``SAME_LOWER``, ``VALID``; explicit
  ``pads`` together with an ``auto_pad`` other than ``NOTSET``;
* a weight of rank < 3, or of another rank than the input;
* ``kernel_shape`` that disagrees with the weight's spatial dims;
* ``group`` < 1; input channels that are not ``group`` x the weight's channels (Conv),
  not the weight's first dim (ConvTranspose); output channels (the weight's first dim)
  not a multiple of ``group`` (Conv).

Shapes are the ones analysis proves or the file declares for graph inputs and
initializers (a declared ``value_info`` is not trusted); a check whose shapes are
unknown is skipped.  In function bodies only the attribute values are checked.

## Why is this bad?
The operator specs require it ("strides: Stride along each spatial axis", "pads ... the
value represent the number of pixels added ... must be >= 0" via onnx's shape inference,
"pads: ... This attribute cannot be used simultaneously with auto_pad attribute", the
weight "(M x C/group x kW ...)"), and onnxruntime refuses such models: "Attribute
strides must only contain positive values", "Attribute pads must not contain negative
values", "Attribute dilations must only contain positive values", "Attribute pads has
incorrect size", "Number of spatial dimensions in the weight tensor ... does not match",
"Unknown AutoPadType String", "A Conv/ConvTranspose node has both 'auto_pad' and 'pads'
attributes" at load; "kernel_shape is not compatible with W shape", "Input channels C
is not equal to kernel channels * group", "group must be greater than 0" when run.
onnx's checker misses several of these (kernel_shape, group, auto_pad).

## Example
```
y = Conv(x[1, 3, 8, 8], W[4, 3, 3, 3], strides=[0, 0])
y = Conv(x[1, 3, 8, 8], W[4, 3, 3, 3], group=2)      # 3 channels, 3 x 2 expected
```

## How to fix
Re-export the model; or correct the attribute (strides and dilations >= 1, pads >= 0,
one value per spatial axis, ``kernel_shape`` equal to the weight's spatial dims, a
``group`` that matches the weight), or drop ``kernel_shape`` (it is inferred from the
weight).

## Details
``node``, ``op_type``, ``graph``, ``problem`` (``strides``, ``dilations``, ``pads``,
``kernel_shape``, ``length``, ``auto_pad``, ``auto_pad-and-pads``, ``weight-rank``,
``group``, ``channels``), ``attribute``, ``value``, and where shapes are involved
``input_shape`` / ``weight_shape``.
"""
from __future__ import annotations

CODE = "MV021"
NAME = "conv-attributes"
SEVERITY = "error"

# op -> (data input index, weight input index or None)
_OPS = {
    "Conv": (0, 1),
    "ConvTranspose": (0, 1),
    "ConvInteger": (0, 1),
    "QLinearConv": (0, 3),
    "AveragePool": (0, None),
    "MaxPool": (0, None),
    "LpPool": (0, None),
}
_AUTO_PAD = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")


def check(model, options=None):
    import sys

    from rules import _validity as v
    from rules import _validity_attrs as va

    rule = sys.modules[__name__]
    found = []
    for grp in v.op_groups(model):  # only the kinds of node checked here are visited
        if grp.domain != "" or grp.op_type not in _OPS:
            continue
        for op in grp.ops:
            try:
                found.extend(_check_op(rule, va, model, op))  # what came before a failure is kept
            except Exception:  # a malformed node must not stop the other checks
                continue
    yield from v.in_walk_order(model, found)


def _check_op(rule, va, model, op):
    from analyzer.io.load import shown

    x_i, w_i = _OPS[op.op_type]
    fin = lambda msg, **d: va.node_finding(rule, op, msg, d)  # noqa: E731
    lists = {}
    for name in ("strides", "dilations", "pads", "kernel_shape"):
        v = va.ints_attr(op, name)
        if isinstance(v, list):
            lists[name] = v
    for name in ("strides", "dilations", "kernel_shape"):
        v = lists.get(name)
        if v and any(x <= 0 for x in v):
            yield fin(f"{name} {va.fmt_list(v)} has a value <= 0; every value must be >= 1", problem=name, attribute=name, value=v)
    pads = lists.get("pads")
    if pads and any(x < 0 for x in pads):
        yield fin(f"negative pads {va.fmt_list(pads)}; pads must be >= 0", problem="pads", attribute="pads", value=pads)

    auto_pad = None
    for a in op.proto.attribute:
        if a.name == "auto_pad" and not a.ref_attr_name and a.HasField("s"):
            auto_pad = a.s.decode("utf-8", "replace")
    if auto_pad is not None and auto_pad not in _AUTO_PAD:
        yield fin(f"auto_pad {shown(auto_pad)} is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID", problem="auto_pad", attribute="auto_pad", value=auto_pad)
    elif auto_pad not in (None, "NOTSET") and "pads" in lists and op.op_type in ("Conv", "ConvTranspose", "ConvInteger", "QLinearConv"):
        yield fin(f"explicit pads {va.fmt_list(pads)} together with auto_pad {auto_pad}; pads cannot be used with auto_pad", problem="auto_pad-and-pads", attribute="pads", value=pads)

    group = None
    for a in op.proto.attribute:
        if a.name == "group" and not a.ref_attr_name and a.type == 2:
            group = int(a.i)
    if group is not None and group < 1 and op.op_type in ("Conv", "ConvTranspose", "ConvInteger", "QLinearConv"):
        yield fin(f"group {group}; group must be >= 1", problem="group", attribute="group", value=group)
        group = None

    if va.in_function(op):
        return
    x_rank = va.input_rank(model, op, x_i)
    x_shape = va.input_static_shape(model, op, x_i)
    w_info = va.input_info(model, op, w_i) if w_i is not None else None
    w_rank = None if w_info is None or w_info.shape is None else len(w_info.shape)
    w_shape = va.input_static_shape(model, op, w_i) if w_i is not None else None
    if w_rank is not None:
        if w_rank < 3:
            yield fin(f"the weight has rank {w_rank}; a convolution weight has rank >= 3 (M x C/group x k1 x ...)", problem="weight-rank", weight_rank=w_rank)
            return
        if x_rank is not None and x_rank != w_rank:
            yield fin(f"the weight has rank {w_rank} but the input has rank {x_rank}; they must be equal", problem="weight-rank", weight_rank=w_rank, input_rank=x_rank)
            return
    spatial = None
    if x_rank is not None and x_rank >= 2:
        spatial = x_rank - 2
    elif w_rank is not None:
        spatial = w_rank - 2
    if spatial is not None:
        for name in ("strides", "dilations", "kernel_shape"):
            v = lists.get(name)
            if v is not None and len(v) != spatial and (v or name == "kernel_shape"):
                yield fin(f"{name} has {len(v)} values for {spatial} spatial axes", problem="length", attribute=name, value=v, spatial_axes=spatial)
        if pads is not None and len(pads) != 2 * spatial and (pads or spatial):
            yield fin(f"pads has {len(pads)} values; {spatial} spatial axes need {2 * spatial} (begin and end of each)", problem="length", attribute="pads", value=pads, spatial_axes=spatial)
    ks = lists.get("kernel_shape")
    if w_shape is not None and ks is not None and len(ks) == len(w_shape) - 2 and list(w_shape[2:]) != ks:
        yield fin(
            f"kernel_shape {va.fmt_list(ks)} disagrees with the weight's spatial dims {va.fmt_list(w_shape[2:])} (weight {va.fmt_list(w_shape)})",
            problem="kernel_shape", attribute="kernel_shape", value=ks, weight_shape=list(w_shape),
        )
    if w_i is None or w_info is None or w_info.shape is None:
        return
    g = 1 if group is None else group
    c_in = x_shape[1] if x_shape is not None and len(x_shape) >= 2 else None
    if c_in is None:
        xi = va.input_info(model, op, x_i)
        if xi is not None and xi.shape is not None and len(xi.shape) >= 2 and isinstance(xi.shape[1], int):
            c_in = int(xi.shape[1])
    wd = w_info.shape
    w0 = wd[0] if isinstance(wd[0], int) else None
    w1 = wd[1] if isinstance(wd[1], int) else None
    if op.op_type == "ConvTranspose":
        if c_in is not None and w0 is not None and c_in != w0:
            yield fin(f"the input has {c_in} channels but the weight's first dim is {w0}; ConvTranspose's weight is (C x M/group x k...)", problem="channels", input_channels=c_in, weight_shape=_plain(wd), group=g)
        elif w0 is not None and w0 % g:
            yield fin(f"group {g} does not divide the weight's {w0} input channels", problem="group", group=g, weight_shape=_plain(wd))
        return
    if c_in is not None and w1 is not None and c_in != w1 * g:
        yield fin(
            f"the input has {c_in} channels, the weight expects {w1} x group {g} = {w1 * g}",
            problem="channels", input_channels=c_in, weight_shape=_plain(wd), group=g,
        )
    elif w0 is not None and w0 % g:
        yield fin(f"group {g} does not divide the weight's {w0} output channels", problem="group", group=g, weight_shape=_plain(wd))


def _plain(shape):
    return [d if isinstance(d, int) else (None if d is None else str(d)) for d in shape]
