"""WS014 discarded-upsample: an upsample whose output a strided consumer mostly never reads.

## What it does
Follows every ``Resize`` / ``Upsample`` of the main graph through a chain of element-wise
ops (unary activations, or arithmetic with a constant that does not vary over the spatial
axes; each the only reader of the previous value) to its one consumer: a ``Conv``, a
``MaxPool`` / ``AveragePool`` / ``LpPool`` or a ``Slice``, and computes exactly, per spatial
axis, which upsampled positions that consumer ever reads (every window tap at every output
position, or the Slice's ``starts:ends:steps``).  It reports the upsample when, on some axis,
positions between the first and the last one read are never read: the stride discards what
the upsample made.  Unread positions only at the map's edges (an ordinary strided conv's
border) are not reported.

## Why is this bad?
The upsample computes, and the element-wise ops after it process, values that nothing reads.
In the usual case (nearest upsampling by ``s`` followed by a stride-``s`` 1x1 conv, or a
``[::s]`` slice) the pair is a no-op dressed as two ops: the output equals the consumer
applied to the original map.

## Example
```
u = Resize(x[1, 8, 16, 16], scales=[1, 1, 2, 2], mode="nearest")   # 1 x 8 x 32 x 32
y = Conv(u, W[4, 8, 1, 1], strides=[2, 2])                          # reads rows/cols 0, 2, 4, ...
```
3 of 4 upsampled values are never read; ``y == Conv(x, W)`` exactly.

## How to fix
When it is exact, ``onnxlint fix`` removes the upsample (the element-wise ops then run on the
original map) and sets the consumer's strides to 1 (a ``Slice`` becomes an ``Identity``).
Exact means: ``mode="nearest"``, the consumer is a Conv or pool with a 1-wide kernel on every
spatial axis and no padding, or a Slice over spatial axes only, and on every spatial axis the
positions it reads map (through the Resize's coordinate transformation and nearest rounding,
computed as onnx defines them) to the original positions ``0, 1, ..., n - 1`` in order.
Otherwise (linear or cubic modes, larger kernels, a read pattern that is not the identity)
there is **no safe rewrite** and the finding says so (``details.exact_rewrite`` is false); fix
refuses it.

## Details
``upsample`` (node), ``consumer`` (``{"node", "op_type"}``), ``chain`` (the element-wise ops
in between), ``mode``, ``upsampled_spatial_shape``, ``input_spatial_shape``,
``read_positions_per_axis`` (counts), ``read_elements``, ``unread_elements`` (batch and
channels included), ``exact_rewrite``, ``why_not``, ``removed_initializers`` (what the fix
prunes).

Waste: ``macs`` is the share of the upsample's and the chain's multiply-accumulates (as
``analyzer.analyses.macs`` counts them: one per element for arithmetic and activations, none
for the upsample itself, which moves data) spent on unread values; ``unread_elements`` says how
many values the upsample made for nothing.  ``weights`` /
``bytes`` are the initializers (scales, sizes, roi, Slice parameters) the exact fix removes,
0 when there is no exact fix.
"""
from __future__ import annotations

CODE = "WS014"
NAME = "discarded-upsample"
SEVERITY = "warning"

UPSAMPLES = ("Resize", "Upsample")
_UNARY = {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "Elu", "Selu", "Celu", "HardSigmoid", "HardSwish", "Softplus", "Softsign",
          "Identity", "Neg", "Abs", "Exp", "Log", "Sqrt", "Reciprocal", "Erf", "Gelu", "Mish", "Clip", "Floor", "Ceil",
          "Round", "Sign", "ThresholdedRelu", "Sin", "Cos"}  # fmt: skip
_BINARY = {"Add", "Sub", "Mul", "Div", "PRelu", "Pow", "Max", "Min"}
_CONSUMERS = ("Conv", "MaxPool", "AveragePool", "LpPool", "Slice")
MAX_CHAIN = 64


def _fmt(dims) -> str:
    return "x".join(map(str, dims))


def check(model, options=None):
    from analyzer.findings import Finding
    from rules._waste_graph import op_types

    if op_types(model).isdisjoint(UPSAMPLES):
        return  # no upsample: no pass over the nodes
    for op in model.graph.all_ops():
        if op.graph != "main" or op.op_type not in UPSAMPLES or op.domain not in ("", "ai.onnx"):
            continue
        found = analyze_upsample(model, op)
        if found is None:
            continue
        d = found
        cons = d["consumer_op"]
        what = "slice" if cons.op_type == "Slice" else f"{cons.op_type} with strides {d['strides']}"
        fix = "same output without the upsample and the stride" if d["exact_rewrite"] else d["why_not"]
        message = (f"{op.op_type} to {_fmt(d['upsampled_spatial_shape'])} is read by {what} '{cons.id}'"
                   f"{' through ' + str(len(d['chain'])) + ' element-wise op(s)' if d['chain'] else ''}: "
                   f"{d['unread_elements']} of {d['unread_elements'] + d['read_elements']} upsampled values are never read; {fix}")  # fmt: skip
        details = {k: v for k, v in d.items() if not k.endswith("_op") and k != "removed"}
        weights = sum(n for _, n, _ in d["removed"]) if d["exact_rewrite"] else 0
        nbytes = sum(b for _, _, b in d["removed"]) if d["exact_rewrite"] else 0
        yield Finding(
            rule=CODE, name=NAME, severity=SEVERITY, node=op.id, node_index=op.index, graph=op.graph,
            op_type=op.op_type, message=message, details=details,
            related=[{"node": c.id, "op_type": c.op_type} for c in d["chain_ops"]] + [{"node": cons.id, "op_type": cons.op_type}],
            waste={"weights": weights, "bytes": nbytes, "macs": _unread_macs(model, [op] + d["chain_ops"], d)},
        )  # fmt: skip


def _unread_macs(model, ops, d):
    """MACs (as :func:`analyzer.analyses.macs.op_macs` counts them) the upsample and the chain
    spend on values nobody reads: each of these ops costs the same per output element, so its
    share is ``unread / total`` of its count (None when a count is unknown)."""
    from analyzer.analyses.macs import op_macs

    total = d["unread_elements"] + d["read_elements"]
    macs = 0
    for op in ops:
        m = op_macs(model, op)
        if m is None:
            return None
        macs += m * d["unread_elements"] // total
    return macs


def _single_reader(model, key):
    """The one op reading ``key`` (None when several, none, or it is a graph output)."""
    if key is None or key in model.graph.subgraphs["main"].output_keys:
        return None
    if any(data.get("kind") != "input" for data in model.graph.nx.succ[key].values()):
        return None  # read by a subgraph too
    users = model.graph.consumers(key)
    ops = {u.key for u, _ in users}
    if len(ops) != 1 or len(users) != 1:
        return None
    return users[0][0]


def _spatially_constant(model, key, rank) -> bool:
    """A constant operand that broadcasts over the spatial axes (size 1 there)."""
    if key is None or (model.constant(key) is None and not model.graph.is_initializer(key)):
        return False
    s = model.shape(key)
    if s is None or len(s) > rank:
        return False
    spatial = tuple(s)[max(0, len(s) - (rank - 2)):] if len(s) > 0 else ()
    return all(d == 1 for d in spatial)


def _chain(model, up):
    """(element-wise ops, consumer, the value the consumer reads) after upsample ``up``."""
    rank = len(model.shape(up.outputs[0]))
    key, chain = up.outputs[0], []
    for _ in range(MAX_CHAIN):
        user = _single_reader(model, key)
        if user is None or user.domain not in ("", "ai.onnx"):
            return None
        if user.op_type in _CONSUMERS:
            return (chain, user, key) if user.inputs and user.inputs[0] == key else None
        if user.op_type in _UNARY:
            if user.inputs[0] != key or any(k is not None and model.constant(k) is None and not model.graph.is_initializer(k)
                                            for k in user.inputs[1:]):  # fmt: skip
                return None
        elif user.op_type in _BINARY:
            if len(user.inputs) != 2 or user.inputs[0] != key and user.op_type == "PRelu":
                return None
            other = user.inputs[1] if user.inputs[0] == key else user.inputs[0]
            if other == key or not _spatially_constant(model, other, rank):
                return None
        else:
            return None
        if len(user.outputs) != 1 or model.shape(user.outputs[0]) != model.shape(key):
            return None
        chain.append(user)
        key = user.outputs[0]
    return None


def analyze_upsample(model, up):
    """The facts of a discarded upsample (a dict), or None when there is nothing to report."""
    from math import prod

    from rules._waste_pools import MAX_AXIS, only_initializers_of

    if not up.inputs or up.inputs[0] is None or not up.outputs or up.outputs[0] is None:
        return None
    x, u = model.shape(up.inputs[0]), model.shape(up.outputs[0])
    if x is None or u is None or len(x) != len(u) or len(u) < 3:
        return None
    if not all(isinstance(d, int) for d in list(x) + list(u)) or any(d > MAX_AXIS or d < 1 for d in u[2:]):
        return None
    if tuple(x[:2]) != tuple(u[:2]):
        return None  # batch or channels resized too: the spatial analysis alone would not say it
    found = _chain(model, up)
    if found is None:
        return None
    chain, cons, _key = found
    reads = _reads(model, cons, tuple(u[2:]))
    if reads is None:
        return None
    interior_gap = any(r and len(r) < r[-1] - r[0] + 1 for r in reads)
    if not interior_gap:
        return None
    from analyzer.common import COUNT_CAP, element_count

    read = min(element_count(u[:2]) * prod(len(r) for r in reads), COUNT_CAP)
    total = element_count(u)
    mode = str(up.attr("mode", "nearest") or "nearest")
    why = _why_not_exact(model, up, cons, reads, tuple(x[2:]), tuple(u[2:]))
    removed = only_initializers_of(model, [up] + ([cons] if cons.op_type == "Slice" else [])) if why is None else []
    return {
        "upsample": up.id,
        "consumer": {"node": cons.id, "op_type": cons.op_type},
        "consumer_op": cons,
        "chain": [{"node": c.id, "op_type": c.op_type} for c in chain],
        "chain_ops": chain,
        "mode": mode,
        "strides": list(cons.attr("strides", []) or []),
        "input_spatial_shape": list(x[2:]),
        "upsampled_spatial_shape": list(u[2:]),
        "read_positions_per_axis": [len(r) for r in reads],
        "read_elements": read,
        "unread_elements": total - read,
        "exact_rewrite": why is None,
        "why_not": why,
        "removed_initializers": [name for name, _, _ in removed],
        "removed": removed,
    }


def _reads(model, cons, spatial):
    """Per spatial axis, the sorted positions ``cons`` reads of a map of size ``spatial``."""
    from analyzer.geometry import GeometryError, conv_output_size, resolve_conv_pads
    from rules._waste_pools import window_reads

    rank = len(spatial)
    if cons.op_type == "Slice":
        return _slice_reads(model, cons, spatial)
    if cons.op_type == "Conv":
        w = model.shape(cons.inputs[1]) if len(cons.inputs) > 1 else None
        if w is None or len(w) != rank + 2 or not all(isinstance(d, int) for d in w[2:]):
            return None
        kernel = tuple(cons.attr("kernel_shape", None) or w[2:])
    else:
        kernel = tuple(cons.attr("kernel_shape", None) or ())
    y = model.shape(cons.outputs[0]) if cons.outputs and cons.outputs[0] is not None else None
    if len(kernel) != rank or y is None or len(y) != rank + 2 or not all(isinstance(d, int) for d in y[2:]):
        return None
    strides = tuple(cons.attr("strides", None) or [1] * rank)
    dilations = tuple(cons.attr("dilations", None) or [1] * rank)
    try:
        begins, ends = resolve_conv_pads(cons.attr("auto_pad", "NOTSET") or "NOTSET", spatial, kernel, strides, dilations,
                                         cons.attr("pads", None))  # fmt: skip
    except GeometryError:
        return None
    out = []
    for n, k, s, d, b, e, o in zip(spatial, kernel, strides, dilations, begins, ends, y[2:]):
        if b is None or not all(isinstance(v, int) and v >= 0 for v in (k, s, d, b, e)) or k < 1 or s < 1 or d < 1:
            return None
        if cons.op_type == "Conv" and conv_output_size(n, k, s, d, b, e) != o:
            return None
        out.append(window_reads(n, o, k, s, d, b))
    return out


def _slice_reads(model, cons, spatial):
    rank = len(spatial) + 2
    ins = list(cons.inputs) + [None] * 5
    if ins[1] is None or ins[2] is None:
        return None
    starts, ends = model.ints(ins[1]), model.ints(ins[2])
    axes = model.ints(ins[3]) if ins[3] is not None else list(range(len(starts or [])))
    steps = model.ints(ins[4]) if ins[4] is not None else [1] * len(starts or [])
    if None in (starts, ends, axes, steps) or not len(starts) == len(ends) == len(axes) == len(steps):
        return None
    reads = [list(range(n)) for n in spatial]
    for st, en, ax, sp in zip(starts, ends, axes, steps):
        ax = ax + rank if ax < 0 else ax
        if not 0 <= ax < rank or sp == 0:
            return None
        if ax < 2:
            return None  # slices batch or channels too
        n = spatial[ax - 2]
        reads[ax - 2] = list(range(n))[slice(st, en, sp)]
        if sp < 0:
            return None  # reversed order: not analyzed
    return reads


# --------------------------------------------------------------------------- exactness


def _why_not_exact(model, up, cons, reads, spatial, upsampled):
    """None when removing the upsample and the stride is exact, else why not."""
    mode = str(up.attr("mode", "nearest") or "nearest")
    if mode != "nearest":
        return f"no safe rewrite: mode {mode!r} mixes neighbours, the read values are not input values"
    if cons.op_type != "Slice":
        k = tuple(cons.attr("kernel_shape", None) or (model.shape(cons.inputs[1])[2:] if cons.op_type == "Conv" else ()))
        if any(v != 1 for v in k):
            return "no safe rewrite: the consumer's kernel is wider than 1, its windows mix upsampled copies"
        pads = cons.attr("pads", None) or []
        if any(pads) or str(cons.attr("auto_pad", "NOTSET") or "NOTSET").startswith("SAME") and any(
                n % s for n, s in zip(upsampled, cons.attr("strides", None) or [1] * len(upsampled))):  # fmt: skip
            return "no safe rewrite: the consumer pads its input"
    try:
        maps = [_nearest_map(model, up, ax, n, m) for ax, (n, m) in enumerate(zip(spatial, upsampled))]
    except _Unknown as e:
        return f"no safe rewrite: {e}"
    for ax, (r, mp, n) in enumerate(zip(reads, maps, spatial)):
        if [mp[i] for i in r] != list(range(n)):
            return f"no safe rewrite: on spatial axis {ax} the read positions are not the original positions 0..{n - 1} in order"
    return None


class _Unknown(Exception):
    pass


def _nearest_map(model, up, ax, n, m):
    """Input index each of the ``m`` output positions of one spatial axis copies (onnx's
    Resize nearest: coordinate transformation, then nearest rounding, clamped)."""
    import numpy as np

    from rules._waste_pools import opset_of

    opset = opset_of(model.model)
    if up.op_type == "Upsample" or opset < 11:
        ctm, nm = "asymmetric", "floor"
    else:
        ctm = str(up.attr("coordinate_transformation_mode", "half_pixel") or "half_pixel")
        nm = str(up.attr("nearest_mode", "round_prefer_floor") or "round_prefer_floor")
        if up.attr("axes", None) is not None or str(up.attr("keep_aspect_ratio_policy", "stretch") or "stretch") != "stretch":
            raise _Unknown("axes / keep_aspect_ratio_policy are not analyzed")
    scale = _scale(model, up, ax + 2, n, m)
    o = np.arange(m, dtype=np.float32)
    s = np.float32(scale)
    if ctm == "half_pixel":
        xo = (o + np.float32(0.5)) / s - np.float32(0.5)
    elif ctm == "pytorch_half_pixel":
        xo = (o + np.float32(0.5)) / s - np.float32(0.5) if m > 1 else np.zeros_like(o)
    elif ctm == "asymmetric":
        xo = o / s
    elif ctm == "tf_half_pixel_for_nn":
        xo = (o + np.float32(0.5)) / s
    elif ctm == "align_corners":
        xo = o * np.float32(n - 1) / np.float32(m - 1) if m > 1 else np.zeros_like(o)
    else:
        raise _Unknown(f"coordinate_transformation_mode {ctm!r} is not analyzed")
    frac = xo - np.floor(xo)
    if nm == "round_prefer_floor":
        idx = np.where(frac == 0.5, np.floor(xo), np.round(xo))
    elif nm == "round_prefer_ceil":
        idx = np.where(frac == 0.5, np.ceil(xo), np.round(xo))
    elif nm == "floor":
        idx = np.floor(xo)
    elif nm == "ceil":
        idx = np.ceil(xo)
    else:
        raise _Unknown(f"nearest_mode {nm!r} is not analyzed")
    return [int(v) for v in np.clip(idx, 0, n - 1)]


def _scale(model, up, axis, n, m):
    """The Resize's scale on ``axis``: from ``scales`` when given, else ``m / n`` (sizes)."""
    if up.op_type == "Upsample" and up.attr("scales", None) is not None:
        scales = up.attr("scales")
    else:
        pos = 1 if up.op_type == "Upsample" or len(up.inputs) == 2 else 2
        key = up.inputs[pos] if len(up.inputs) > pos else None
        v = model.constant(key) if key is not None else None
        scales = None if v is None or v.size == 0 else [float(t) for t in v.reshape(-1)]
    if scales is None:
        return m / n
    if len(scales) <= axis:
        raise _Unknown("scales do not cover the spatial axes")
    return float(scales[axis])


# --------------------------------------------------------------------------- fix


def fix_findings(rw, findings) -> None:
    """One Change per finding: the upsample removed and the consumer's stride set to 1 (a
    Slice made an Identity) when exact; refused otherwise."""
    from analyzer.fix.records import fix_each

    fix_each(rw, CODE, findings, _fix_one)


def _fix_one(rw, f):
    from onnx import NodeProto, helper

    from analyzer.fix.records import Change, Refused
    from rules._waste_pools import replace_node

    up = rw.main_op(f)
    if up is None:
        raise Refused(f"inside {f.graph}: only main-graph nodes are rewritten")
    d = analyze_upsample(rw.am, up)
    if d is None:
        raise Refused("not analyzable")
    if not d["exact_rewrite"]:
        raise Refused(d["why_not"])
    chain, cons = d["chain_ops"], d["consumer_op"]
    touched = [c.index for c in chain] + [cons.index, up.index]
    if any(i in rw.removed_nodes for i in touched):
        raise Refused("a node of the chain was already rewritten by another fix")
    src = up.proto.input[0]
    first = chain[0] if chain else cons
    # the first reader of the upsampled map reads the original map instead
    for op in chain:
        new = NodeProto()
        new.CopyFrom(op.proto)
        if op is first:
            new.input[:] = [src if k == up.outputs[0][2] else k for k in new.input]
        replace_node(rw, op.index, new)
    if cons.op_type == "Slice":
        inp = src if cons is first else cons.proto.input[0]
        new = helper.make_node("Identity", [inp], [cons.proto.output[0]], name=cons.proto.name)
        rw.orphans.extend(k for k in cons.proto.input[1:] if k)
    else:
        new = NodeProto()
        new.CopyFrom(cons.proto)
        if cons is first:
            new.input[0] = src
        rank = len(d["upsampled_spatial_shape"])
        for a in new.attribute:
            if a.name == "strides":
                a.ints[:] = [1] * rank
    replace_node(rw, cons.index, new)
    rw.orphans.append(up.outputs[0][2])
    # the chain's values now have the original size: their declared shapes go
    changed = {c.outputs[0][2] for c in chain}
    g = rw.model.graph
    keep = [vi for vi in g.value_info if vi.name not in changed and vi.name != up.outputs[0][2]]
    if len(keep) != len(g.value_info):
        copies = []
        for vi in keep:
            c = type(vi)()
            c.CopyFrom(vi)
            copies.append(c)
        del g.value_info[:]
        g.value_info.extend(copies)
    rw.changes.append(Change(
        CODE, f.node, f.op_type, "fixed", before={"upsample": up.id, "consumer": cons.id, "strides": d["strides"]},
        after={"upsample": None, "consumer": cons.id}, params_removed=int(f.waste.get("weights") or 0),
        bytes_removed=int(f.waste.get("bytes") or 0), render=_render))  # fmt: skip


def _render(c, esc) -> str:
    return f"{esc(c.before['upsample'])} removed; {esc(c.before['consumer'])} strides {c.before['strides']} -> 1"
