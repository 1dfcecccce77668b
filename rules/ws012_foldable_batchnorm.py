"""WS012 foldable-batchnorm: a BatchNormalization (or constant per-channel Mul / Add) right after a Conv, ConvTranspose, Gemm or MatMul, foldable into its weights.

## What it does
Finds a Conv / ConvTranspose / Gemm / MatMul with a constant float weight whose output goes,
and only goes, into an inference-mode BatchNormalization, or a Mul or Add by a constant that
varies along the output-channel axis only (axis 1 for Conv / ConvTranspose / Gemm and a
rank-2 MatMul, the last axis for MatMul; a scalar counts too).  Consecutive such ops (BN then
Mul then Add...) are folded together, as long as each intermediate tensor has no other
reader.  With ``s = scale / sqrt(var + eps)`` the BN is ``y = s * x + (B - mean * s)``; any
chain of them is ``y = s * x + t`` per channel, and ``s * (W x + b) + t = (s W) x + (s b + t)``.

## Why is this bad?
The folded ops' parameters are stored and loaded for nothing (a BN: 4 x C), and each costs
one multiply-add per output element at run time unless the runtime fuses it on load.  A BN
left in an inference export (training-mode export, constant folding off, a Mul/Add
"scale" layer) is the usual cause.

## Example
```
y = BatchNormalization(Conv(x, W[64,64,3,3], b[64]), scale, B, mean, var)   # 256 BN params
```
becomes ``y = Conv(x, W * s, (b - mean) * s + B)``: 256 parameters and one op gone.

## How to fix
``onnxlint fix --select WS012``: the producer's weight becomes ``W * s`` (per output
channel: Conv ``W[o]``, ConvTranspose ``W[:, o]`` per group, Gemm column ``n`` of B (row
with ``transB``), MatMul ``B[..., n]``), its bias ``s * b + t`` (Gemm: ``C' = s * beta * C +
t`` and ``beta = 1``); the folded ops are removed and the producer writes the last one's
output.  A producer without bias gets one (C new parameters, counted against the waste); a
MatMul has no bias input, so a non-zero ``t`` stays as one Add.  Refused: weights or
parameters that are not initializers, or shared with another node; nodes outside the main
graph; a producer already rewritten by another fix.  The fixed model's outputs equal the
original's within float32 rounding (1e-5 relative).

## Details
``producer`` / ``producer_op_type``, ``folded`` (``{"node", "op_type"}`` per folded op, in
order), ``channels``, ``removed_params`` (initializer elements the fix deletes: the folded
ops' constants no other node reads), ``added_params`` (a new bias), ``weight``, ``bias``.
Waste: ``removed_params - added_params`` weights and their bytes in the stored dtype, and
one MAC per output element of each folded op.  Not reported: a MatMul followed only by an
Add (the export of a Linear layer: nothing to gain), a chain that would add more
parameters than it removes, quantized (DequantizeLinear) weights, anything in a subgraph
or function.
"""
from __future__ import annotations

CODE = "WS012"
NAME = "foldable-batchnorm"
SEVERITY = "warning"
# Reads weight values (within its budget): `check` then costs the weights, not only the graph.
READS_WEIGHTS = True

_PRODUCERS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
_FLOAT = (1, 10, 11)  # float32, float16, float64


def check(model, options=None):
    from itertools import compress
    from operator import attrgetter

    from rules._validity import op_groups

    if not any(g.graph == "main" and g.domain == "" and g.op_type in _PRODUCERS for g in op_groups(model)):
        return  # no producer in the main graph (the per-kind index says so): no pass over its nodes
    order = model.graph.topological_order("main")
    # the producers, in topological order, picked in C-level passes
    for op in compress(order, map(frozenset(_PRODUCERS).__contains__, map(attrgetter("op_type"), order))):
        if op.domain != "":
            continue
        try:
            plan = fold_plan(model, op)
        except Exception:  # noqa: BLE001, S112 - a malformed node must not stop the rule
            continue
        if plan is not None:
            yield _finding(model, plan)


class Plan:
    def __init__(self, op, channels, axis, rank):
        self.op, self.channels, self.axis, self.rank = op, channels, axis, rank
        self.folded = []  # OpNodes
        self.consts = []  # per folded op: [(input position, value key)]
        self.removed = {}  # initializer name -> elements the fix deletes
        self.added = 0  # elements of a new (or grown) bias
        self.macs = 0
        self.dtype = None
        self.s = self.t = None  # per channel: folded ops = s * x + t
        self.new_bias_shape = None  # Gemm: the shape C takes


def _out_channels(model, op):
    """(channels, channel axis, output rank) of a producer, or None."""
    shape = model.shape(op.outputs[0]) if op.outputs and op.outputs[0] is not None else None
    if shape is None or len(shape) < 2:
        return None
    axis = len(shape) - 1 if op.op_type == "MatMul" else 1
    c = shape[axis]
    if not isinstance(c, int) or c <= 0:
        return None
    if op.op_type in ("Conv", "ConvTranspose") and len(shape) < 3:
        return None
    if op.op_type == "Gemm" and len(shape) != 2:
        return None
    return c, axis, len(shape)


def _const_init(model, ww, key):
    """The Weight of a plain float initializer, else None."""
    if key is None or not ww.is_plain_initializer(model, key):
        return None
    w = ww.read_weight(model, key)
    if w is None or w.quantized or w.stored_type not in _FLOAT:
        return None
    return w


def _may_be_const_init(model, ww, key) -> bool:
    """False when :func:`_const_init` surely gives None (raises ``TooLarge`` as it would),
    decided from the initializer's header alone."""
    if key is None or not ww.is_plain_initializer(model, key):
        return False
    proto = model.graph.initializer(key)
    if proto is None or model.graph.producer(key) is not None:
        return True  # read_weight would look further: let it
    ww.check_budget(key, proto)
    return proto.data_type in _FLOAT


def fold_plan(model, op):
    """The :class:`Plan` of what folds into ``op``, or None."""
    import numpy as np

    from analyzer.analyses.macs import op_macs
    from rules import _waste_weights as ww

    got = _out_channels(model, op)
    if got is None or len(op.inputs) < 2 or len(op.outputs) != 1:
        return None
    c, axis, rank = got
    # The weight's values are read last, once something folds: a conv's weight is most
    # of a model's bytes and most convs have nothing to fold.  Here only what tells,
    # without reading, that it is no float initializer (or is over the budget: TooLarge).
    if not _may_be_const_init(model, ww, op.inputs[1]) or ww.init_readers(model, op.inputs[1]) != 1:
        return None
    bias_key = op.inputs[2] if len(op.inputs) > 2 else None
    bias = None
    if bias_key is not None:
        bias = _const_init(model, ww, bias_key)
        if bias is None or ww.init_readers(model, bias_key) != 1:
            return None
    plan = Plan(op, c, axis, rank)
    plan.s, plan.t = np.ones(c), np.zeros(c)
    key = op.outputs[0]
    scales = False
    while True:
        nxt = ww.sole_reader(model, key)
        if nxt is None or nxt.graph != "main" or nxt.domain != "":
            break
        entry = _foldable(model, ww, nxt, key, plan)
        if entry is None:
            break
        scales |= entry
        m = op_macs(model, nxt)
        plan.macs = None if m is None or plan.macs is None else plan.macs + m
        key = nxt.outputs[0]
    if not plan.folded:
        return None
    if op.op_type == "MatMul" and not scales:
        return None  # MatMul + Add is how a Linear layer is exported
    w = _const_init(model, ww, op.inputs[1])
    if w is None:
        return None
    plan.dtype = w.stored_type
    if not (np.all(np.isfinite(plan.s)) and np.all(np.isfinite(plan.t))):
        return None
    shift = bool(np.any(plan.t != 0))
    if op.op_type == "Gemm":
        if bias is not None:
            shape = np.broadcast_shapes(bias.values.shape, (c,))
            if len(shape) > 2 or np.prod(shape) > max(bias.values.size, c):
                return None
            plan.new_bias_shape = shape
            plan.added = int(np.prod(shape)) - bias.values.size
        elif shift:
            plan.new_bias_shape, plan.added = (c,), c
    elif bias is None and shift:
        plan.added = c
    if sum(plan.removed.values()) - plan.added < 0:
        return None
    return plan


def _foldable(model, ww, nxt, key, plan):
    """Fold ``nxt`` into ``plan`` (s, t, initializers); whether it scales; None: it does not fold."""
    import numpy as np

    t = nxt.op_type
    if len(nxt.outputs) != 1 or nxt.outputs[0] is None:
        return None
    if t == "BatchNormalization":
        if plan.axis != 1 or len(nxt.inputs) != 5 or nxt.inputs[0] != key or int(nxt.attrs.get("training_mode") or 0):
            return None
        vals = []
        for pos in range(1, 5):
            w = _const_init(model, ww, nxt.inputs[pos])
            if w is None or w.values.shape != (plan.channels,):
                return None
            vals.append(w.values)
        scale, beta, mean, var = vals
        eps = float(nxt.attrs.get("epsilon") if nxt.attrs.get("epsilon") is not None else 1e-5)
        with np.errstate(all="ignore"):
            k = scale / np.sqrt(var + eps)
        plan.s, plan.t = plan.s * k, (plan.t - mean) * k + beta
        _add(model, ww, plan, nxt, [(p, nxt.inputs[p]) for p in range(1, 5)])
        return True
    if t not in ("Mul", "Add") or len(nxt.inputs) != 2 or nxt.inputs[0] == nxt.inputs[1]:
        return None
    pos = 1 if nxt.inputs[0] == key else 0 if nxt.inputs[1] == key else None
    if pos is None:
        return None
    w = _const_init(model, ww, nxt.inputs[pos])
    cv = None if w is None else ww.channel_vector(w.values, plan.rank, plan.axis, plan.channels)
    if cv is None or not np.all(np.isfinite(cv[0])):
        return None
    if t == "Mul":
        plan.s, plan.t = plan.s * cv[0], plan.t * cv[0]
    else:
        plan.t = plan.t + cv[0]
    _add(model, ww, plan, nxt, [(pos, nxt.inputs[pos])])
    return t == "Mul"


def _add(model, ww, plan, nxt, consts):
    plan.folded.append(nxt)
    plan.consts.append(consts)
    for _, k in consts:
        if k[2] in plan.removed:
            continue
        own = sum(1 for f in plan.folded for i in f.inputs if i == k)
        if ww.init_readers(model, k) == own:
            from analyzer.common import element_count

            plan.removed[k[2]] = element_count(model.graph.initializer(k).dims)


def _finding(model, plan):
    from analyzer.findings import Finding
    from rules import _waste_weights as ww

    op, first = plan.op, plan.folded[0]
    removed = sum(plan.removed.values())
    net = removed - plan.added
    ops = " + ".join(f"{f.op_type} {f.id!r}" for f in plan.folded)
    extra = f" (a new bias of {plan.added} replaces them in part)" if plan.added else ""
    message = (f"{ops} after {op.op_type} {op.id!r} folds into its weights and bias: {removed} parameter(s) and "
               f"{len(plan.folded)} op(s) removed{extra}")  # fmt: skip
    return Finding(
        rule=CODE, name=NAME, severity=SEVERITY, node=first.id, node_index=first.index, graph=first.graph,
        op_type=first.op_type, message=message,
        details={
            "producer": op.id, "producer_op_type": op.op_type,
            "folded": [{"node": f.id, "op_type": f.op_type} for f in plan.folded],
            "channels": plan.channels, "removed_params": removed, "added_params": plan.added,
            "weight": op.inputs[1][2], "bias": op.inputs[2][2] if len(op.inputs) > 2 and op.inputs[2] is not None else None,
        },
        related=[{"node": op.id, "op_type": op.op_type}] + [{"node": f.id, "op_type": f.op_type} for f in plan.folded[1:]],
        waste={"weights": net, "bytes": ww.stored_bytes(net, plan.dtype), "macs": plan.macs},
    )  # fmt: skip


def fix_findings(rewriter, findings) -> None:
    """``onnxlint fix``: fold each finding's ops into its producer, one Change per finding."""
    from analyzer.fix.records import Refused, fix_each

    fix_each(rewriter, CODE, findings, lambda rw, f: _fix_one(rw, f, Refused))


def _fix_one(rw, f, Refused):
    import numpy as np
    from onnx import helper

    from analyzer.fix.records import Change

    if f.graph != "main":
        raise Refused(f"inside {f.graph}: only main-graph nodes are rewritten")
    op = rw.ops_by_id.get(f.details.get("producer"))
    plan = None if op is None else fold_plan(rw.am, op)
    if plan is None or [x.id for x in plan.folded] != [d["node"] for d in f.details.get("folded", ())]:
        raise Refused("the ops no longer fold into their producer")
    nodes = rw.model.graph.node
    names = [op.inputs[1][2]] + ([op.inputs[2][2]] if len(op.inputs) > 2 and op.inputs[2] is not None else [])
    busy = [n for n in names if n in rw.replaced] + [x.id for x in [op, *plan.folded]
                                                       if x.index in rw.removed_nodes or x.index in rw.conv_states]
    if busy:
        raise Refused(f"already rewritten by another fix: {', '.join(busy)}")
    W, w_ext = rw.initializer(names[0])
    s, t = plan.s, plan.t
    w64 = W.astype(np.float64)
    if op.op_type == "Conv":
        w64 = w64 * s.reshape((-1,) + (1,) * (W.ndim - 1))
    elif op.op_type == "ConvTranspose":
        g = int(op.attrs.get("group") or 1)
        shape = W.shape
        w64 = (w64.reshape((g, shape[0] // g, shape[1], -1)) * s.reshape(g, 1, shape[1], 1)).reshape(shape)
    elif op.op_type == "Gemm":
        w64 = w64 * (s.reshape(-1, 1) if int(op.attrs.get("transB") or 0) else s.reshape(1, -1))
    else:
        w64 = w64 * s
    rw.replace_initializer(names[0], w64.astype(W.dtype), w_ext)
    node = nodes[op.index]
    last = plan.folded[-1].outputs[0][2]
    b_old = rw.initializer(names[1], "bias") if len(names) > 1 else None
    if op.op_type == "Gemm":
        if b_old is not None:
            beta = float(op.attrs.get("beta") if op.attrs.get("beta") is not None else 1.0)
            c_new = b_old[0].astype(np.float64) * beta * s + t
            rw.replaced[names[1]] = c_new.reshape(plan.new_bias_shape).astype(W.dtype)
            if b_old[1]:
                rw.externalize.add(names[1])
        elif plan.added:
            _new_bias(rw, node, names[0], t.astype(W.dtype), w_ext)
        _set_beta(node, helper)
    elif op.op_type == "MatMul":
        if np.any(t != 0):
            b_name = rw.names.fresh(f"{names[0]}.folded_bias")
            rw.new_initializer(b_name, t.astype(W.dtype), w_ext)
            add = helper.make_node("Add", [op.outputs[0][2], b_name], [last], name=rw.names.fresh(f"{op.id}_bias"))
            rw.new_nodes.setdefault(plan.folded[-1].index, []).append(add)
            last = None
    elif b_old is not None:
        rw.replace_initializer(names[1], (b_old[0].astype(np.float64) * s + t).astype(b_old[0].dtype), b_old[1])
    elif plan.added:
        _new_bias(rw, node, names[0], t.astype(W.dtype), w_ext)
    if last is not None:
        node.output[0] = last
    for x, consts in zip(plan.folded, plan.consts):
        rw.removed_nodes.add(x.index)
        rw.orphans.extend(k[2] for _, k in consts)
    net = sum(plan.removed.values()) - plan.added
    rw.changes.append(Change(
        CODE, f.node, f.op_type, "fixed",
        before={"producer": op.id, "folded": [x.id for x in plan.folded]},
        after={"producer": op.id, "output": plan.folded[-1].outputs[0][2]},
        params_removed=int(net), bytes_removed=int(net * W.dtype.itemsize), render=_render))  # fmt: skip


def _new_bias(rw, node, w_name, values, external):
    name = rw.names.fresh(f"{w_name}.folded_bias")
    rw.new_initializer(name, values, external)
    while len(node.input) < 2:
        node.input.append("")
    node.input.append(name)


def _set_beta(node, helper):
    keep = [a for a in node.attribute if a.name != "beta"]
    del node.attribute[:]
    node.attribute.extend(keep)
    node.attribute.append(helper.make_attribute("beta", 1.0))


def _render(c, esc) -> str:
    folded = ", ".join(esc(x) for x in c.before["folded"])
    return f"{folded} folded into {esc(c.before['producer'])}; {c.params_removed} params ({c.bytes_removed} bytes) removed"
