"""WS011 constant-input-channel: a Conv input channel that only ever sees a constant (an all-zero channel upstream), foldable into the conv's bias.

## What it does
Starts from every all-zero output channel of a Conv / ConvTranspose (what WS010 reports:
channel ``o`` is the constant ``B[o]``) and follows it through ops whose effect is the same
on every position of a channel: Relu, LeakyRelu, Sigmoid, Tanh, Elu, HardSigmoid, Clip,
Identity, inference BatchNormalization, PRelu with a per-channel slope, and Add / Sub / Mul
/ Div by a constant that varies along the channel axis only.  The channel stays a known
constant ``c`` all the way; where it reaches a Conv (group 1, constant float weight), that
conv's weights for the channel, ``W[:, ch]`` (``C_out x k x k``), only ever add ``c *
sum(W[:, ch])`` to each output, which is a bias.

Only what folds **exactly** is reported: with zero padding, a constant input channel
contributes ``c * sum(W)`` in the interior but less at the borders (the padded taps read
0, not ``c``), so the fold is exact when the conv reads no padding (``pads`` all 0,
``auto_pad = VALID``, or SAME with a 1x1 kernel) or when ``c == 0`` (e.g. ReLU of a zero
channel whose bias is <= 0, or a zero bias).  A padded conv's channels with ``c != 0`` are
not reported.

## Why is this bad?
The consumer's weights for that channel, and the multiply-accumulates they cost, compute a
constant; so do the producer's zero channel, its bias and the per-channel parameters in
between (a BN's four values, an affine's), when nothing else reads them.

## Example
```
h = Relu(BatchNormalization(Conv(x, W1), ...))   # W1[5] == 0: channel 5 of h is one constant c
y = Conv(h, W2)                                    # pads 0: W2[:, 5] (C_out x 3 x 3) is a bias
```

## How to fix
``onnxlint fix --select WS011`` drops the channel from the consumer's weight and adds
``c * sum(W[:, ch])`` to its bias (creating one when it has none and the sum is not 0);
when every tensor from the producer to the consumer has no other reader, it also drops
the channel from the producer (weight and bias), from every per-channel constant in between
and from the declared shapes.  Otherwise the fix is refused (the consumer's input would
keep the channel).  Refused too: a producer or consumer weight that is not an initializer,
or is shared; a grouped producer; nodes outside the main graph; a node already rewritten by
another fix.

## Details
``producer``, ``producer_op_type``, ``input`` (the tensor the consumer reads), ``path`` (the
ops in between), ``channels`` (foldable input channels), ``constants`` (their values),
``padded`` (whether the consumer reads padding: then only ``c == 0`` channels are listed),
``weights_per_channel`` (``C_out x k x k``), ``consumer_weights``, ``private`` (nothing
else reads the chain: the fix also removes the upstream parameters), ``upstream_params``
(producer and in-between parameters of the channels the fix removes), ``added_params`` (a
new bias).  Waste: ``consumer_weights + upstream_params - added_params`` weights, in the
consumer's stored dtype, and the MACs of the consumer's channels (plus, when private, the
producer's channels and the in-between ops' share).  The producer's zero weights are also
in WS010's waste.  Main graph only.
"""
from __future__ import annotations

CODE = "WS011"
NAME = "constant-input-channel"
SEVERITY = "warning"
# Reads weight values (within its budget): `check` then costs the weights, not only the graph.
READS_WEIGHTS = True

MAX_VISITS = 256


def check(model, options=None):
    from rules._waste_graph import op_types

    if op_types(model).isdisjoint(("Conv", "ConvTranspose")):
        return  # no such op: no pass over the nodes
    seen = set()
    for op in model.graph.topological_order("main"):
        if op.domain != "" or op.op_type not in ("Conv", "ConvTranspose"):
            continue
        try:
            plans = list(plans_from(model, op))
        except Exception:  # noqa: BLE001, S112 - a malformed node must not stop the rule
            continue
        for plan in plans:
            if plan.consumer.key not in seen:
                seen.add(plan.consumer.key)
                yield _finding(model, plan)


class Plan:
    def __init__(self, producer, consumer, key, consts, path):
        self.producer, self.consumer, self.key, self.path = producer, consumer, key, path
        self.consts = consts  # {channel: constant}
        self.channels = []
        self.padded = False
        self.per_channel = 0
        self.consumer_weights = 0
        self.private = False
        self.upstream = 0
        self.added = 0
        self.macs = 0
        self.dtype = None
        self.contribution = None  # per consumer output channel


def plans_from(model, op):
    """A :class:`Plan` per Conv that an all-zero channel of ``op`` reaches as a constant."""
    from rules import _waste_weights as ww

    zc = ww.zero_channels(model, op)
    if zc is None or not zc.channels:
        return
    out = op.outputs[0] if op.outputs else None
    shape = model.shape(out)
    if out is None or shape is None or len(shape) < 3 or shape[1] != zc.total:
        return
    bias = [0.0] * zc.total
    if len(op.inputs) > 2 and op.inputs[2] is not None:
        b = ww.read_weight(model, op.inputs[2])
        if b is None or b.values.shape != (zc.total,):
            return
        bias = [float(v) for v in b.values]
    rank, channels = len(shape), zc.total
    stack = [(out, {c: bias[c] for c in zc.channels}, [])]
    visits = 0
    while stack and visits < MAX_VISITS:
        key, consts, path = stack.pop()
        visits += 1
        for user, pos in model.graph.consumers(key):
            if user.graph != "main" or user.domain != "":
                continue
            if user.op_type == "Conv" and pos == 0:
                plan = _plan(model, ww, zc, Plan(op, user, key, consts, path))
                if plan is not None:
                    yield plan
                continue
            got = ww.chain_ops_apply(model, user, pos, consts, rank, channels)
            if got is not None and user.outputs and user.outputs[0] is not None:
                stack.append((user.outputs[0], got[0], path + [(user, pos, got[1])]))


def _padding_free(op, w_shape) -> bool:
    auto = str(op.attrs.get("auto_pad") or "NOTSET")
    if auto == "VALID":
        return True
    if auto.startswith("SAME"):
        dil = op.attrs.get("dilations") or [1] * (len(w_shape) - 2)
        return all((k - 1) * d == 0 for k, d in zip(w_shape[2:], dil))
    return not any(op.attrs.get("pads") or ())


def _plan(model, ww, zc, plan):
    import numpy as np

    from analyzer.analyses.macs import op_macs

    con = plan.consumer
    if int(con.attrs.get("group") or 1) != 1 or len(con.inputs) < 2:
        return None
    w = ww.read_weight(model, con.inputs[1])
    if w is None or w.quantized or not ww.is_plain_initializer(model, con.inputs[1]) or w.values.ndim < 3:
        return None
    W = w.values
    if W.shape[1] != zc.total:
        return None
    plan.padded = not _padding_free(con, W.shape)
    plan.channels = sorted(c for c, v in plan.consts.items() if not plan.padded or v == 0.0)
    if not plan.channels:
        return None
    plan.dtype = w.stored_type
    n = len(plan.channels)
    plan.per_channel = W.shape[0] * int(np.prod(W.shape[2:]))
    plan.consumer_weights = n * plan.per_channel
    vals = np.array([plan.consts[c] for c in plan.channels])
    sums = W[:, plan.channels].reshape(W.shape[0], n, -1).sum(axis=2)
    plan.contribution = sums @ vals
    has_bias = len(con.inputs) > 2 and con.inputs[2] is not None
    if not has_bias and np.any(plan.contribution != 0):
        plan.added = W.shape[0]
    m = op_macs(model, con)
    plan.macs = None if m is None else m * n // zc.total
    plan.private, up, up_macs = _upstream(model, ww, zc, plan)
    if plan.private:
        plan.upstream = up
        plan.macs = None if plan.macs is None or up_macs is None else plan.macs + up_macs
    if plan.consumer_weights + plan.upstream - plan.added <= 0:
        return None
    return plan


def _upstream(model, ww, zc, plan):
    """(private, parameters the fix removes upstream, their MACs) for ``plan.channels``."""

    op, n = plan.producer, len(plan.channels)
    if int(op.attrs.get("group") or 1) != 1 or not ww.is_plain_initializer(model, op.inputs[1]):
        return False, 0, 0
    if ww.init_readers(model, op.inputs[1]) != 1:
        return False, 0, 0
    up = n * zc.per_channel
    if len(op.inputs) > 2 and op.inputs[2] is not None:
        if not ww.is_plain_initializer(model, op.inputs[2]) or ww.init_readers(model, op.inputs[2]) != 1:
            return False, 0, 0
        up += n
    chain = [op] + [p[0] for p in plan.path]
    nxt = [p[0] for p in plan.path] + [plan.consumer]
    for a, b in zip(chain, nxt):
        if ww.sole_reader(model, a.outputs[0]) is not b:
            return False, 0, 0
    macs = ww.macs_share(model, op, n, zc.total)
    for user, _, sliced in plan.path:
        for pos, _axis in sliced:
            k = user.inputs[pos]
            if not ww.is_plain_initializer(model, k) or ww.init_readers(model, k) != 1:
                return False, 0, 0
            up += n
        m = ww.macs_share(model, user, n, zc.total)
        macs = None if m is None or macs is None else macs + m
    return True, up, macs


def _finding(model, plan):
    from analyzer.findings import Finding
    from rules import _waste_weights as ww

    con, prod = plan.consumer, plan.producer
    n = len(plan.channels)
    net = plan.consumer_weights + plan.upstream - plan.added
    shown = ", ".join(map(str, plan.channels[:16])) + (", ..." if n > 16 else "")
    via = "".join(f" -> {u.op_type}" for u, _, _ in plan.path)
    message = (f"{n} input channel(s) ({shown}) are constant (all-zero channels of {prod.op_type} {prod.id!r}{via}): "
               f"{plan.consumer_weights} weights fold into the bias"
               + (f"; with the upstream channel parameters, {net} parameters removable" if plan.private else ""))  # fmt: skip
    return Finding(
        rule=CODE, name=NAME, severity=SEVERITY, node=con.id, node_index=con.index, graph=con.graph,
        op_type=con.op_type, message=message,
        details={
            "producer": prod.id, "producer_op_type": prod.op_type, "input": plan.key[2],
            "path": [{"node": u.id, "op_type": u.op_type} for u, _, _ in plan.path],
            "channels": plan.channels, "constants": [plan.consts[c] for c in plan.channels], "padded": plan.padded,
            "weights_per_channel": plan.per_channel, "consumer_weights": plan.consumer_weights,
            "private": plan.private, "upstream_params": plan.upstream, "added_params": plan.added,
        },
        related=[{"node": prod.id, "op_type": prod.op_type}] + [{"node": u.id, "op_type": u.op_type} for u, _, _ in plan.path],
        waste={"weights": net, "bytes": ww.stored_bytes(net, plan.dtype), "macs": plan.macs},
    )  # fmt: skip


# --------------------------------------------------------------------------- fix


def fix_findings(rewriter, findings) -> None:
    """``onnxlint fix``: fold each finding's constant channels into the consumer's bias."""
    from analyzer.fix.records import Refused, fix_each

    fix_each(rewriter, CODE, findings, lambda rw, f: _fix_one(rw, f, Refused))


def _fix_one(rw, f, Refused):
    import numpy as np

    from analyzer.fix.records import Change

    if f.graph != "main":
        raise Refused(f"inside {f.graph}: only main-graph nodes are rewritten")
    prod = rw.ops_by_id.get(f.details.get("producer"))
    plan = None
    if prod is not None:
        plan = next((p for p in plans_from(rw.am, prod) if p.consumer.id == f.node), None)
    if plan is None or plan.channels != f.details.get("channels"):
        raise Refused("the channels are no longer constant at this conv")
    if not plan.private:
        raise Refused("the constant channel has other readers upstream (or shared / non-initializer parameters): "
                      "the consumer's input would keep the channel")  # fmt: skip
    con = plan.consumer
    chain_ops = [prod] + [u for u, _, _ in plan.path] + [con]
    names = [con.inputs[1][2], prod.inputs[1][2]] + [k[2] for k in (con.inputs[2:3] + prod.inputs[2:3]) if k is not None]
    busy = [n for n in names if n in rw.replaced] + [x.id for x in chain_ops
                                                     if x.index in rw.removed_nodes or x.index in rw.conv_states]
    if busy:
        raise Refused(f"already rewritten by another fix: {', '.join(busy)}")
    F = plan.channels
    W, w_ext = rw.initializer(con.inputs[1][2])
    rw.replace_initializer(con.inputs[1][2], np.ascontiguousarray(np.delete(W, F, axis=1)), w_ext)
    node = rw.model.graph.node[con.index]
    if len(con.inputs) > 2 and con.inputs[2] is not None:
        b, b_ext = rw.initializer(con.inputs[2][2], "bias")
        rw.replace_initializer(con.inputs[2][2], (b.astype(np.float64) + plan.contribution).astype(b.dtype), b_ext)
    elif plan.added:
        name = rw.names.fresh(f"{con.inputs[1][2]}.folded_bias")
        rw.new_initializer(name, plan.contribution.astype(W.dtype), w_ext)
        while len(node.input) < 2:
            node.input.append("")
        node.input.append(name)
    PW, p_ext = rw.initializer(prod.inputs[1][2])
    rw.replace_initializer(prod.inputs[1][2], np.ascontiguousarray(np.delete(PW, F, axis=0 if prod.op_type == "Conv" else 1)), p_ext)
    if len(prod.inputs) > 2 and prod.inputs[2] is not None:
        pb, pb_ext = rw.initializer(prod.inputs[2][2], "bias")
        rw.replace_initializer(prod.inputs[2][2], np.delete(pb, F), pb_ext)
    for user, _, sliced in plan.path:
        for pos, axis in sliced:
            v, ext = rw.initializer(user.inputs[pos][2])
            rw.replace_initializer(user.inputs[pos][2], np.ascontiguousarray(np.delete(v, F, axis=axis)), ext)
    _shrink_value_info(rw.model.graph, [x.outputs[0][2] for x in chain_ops[:-1]], len(F))
    net = plan.consumer_weights + plan.upstream - plan.added
    rw.changes.append(Change(
        CODE, f.node, f.op_type, "fixed",
        before={"producer": prod.id, "channels": F, "input_channels": int(W.shape[1])},
        after={"input_channels": int(W.shape[1]) - len(F), "bias_added": bool(plan.added)},
        params_removed=int(net), bytes_removed=int(net * W.dtype.itemsize), render=_render))  # fmt: skip


def _shrink_value_info(g, names, n):
    """Declared shapes of the chain's tensors lose ``n`` channels (axis 1)."""
    wanted = set(names)
    for vi in g.value_info:
        if vi.name in wanted and vi.type.HasField("tensor_type"):
            dims = vi.type.tensor_type.shape.dim
            if len(dims) > 1 and dims[1].HasField("dim_value"):
                dims[1].dim_value -= n


def _render(c, esc) -> str:
    return (f"input channels {c.before['channels']} folded into the bias "
            f"({c.before['input_channels']} -> {c.after['input_channels']} channels, upstream from "
            f"{esc(c.before['producer'])}); {c.params_removed} params ({c.bytes_removed} bytes) removed")  # fmt: skip
