"""WS010 zero-output-channel: output channels of a Conv / ConvTranspose / Gemm / MatMul whose weights are all zero.

## What it does
Reads the weight of every Conv, ConvTranspose, Gemm and MatMul with a constant weight
(an initializer, a Constant node, or either behind Identity / Cast / DequantizeLinear) and
reports the output channels whose weights are all zero:

* Conv: ``W[o]`` all zero, so output channel ``o`` is the constant ``B[o]`` (0 without a bias);
* ConvTranspose: output channel ``o = g * (M / group) + j`` is ``W[g * C/group : (g + 1) *
  C/group, j]`` (the output-channel axis is dim 1, per group);
* Gemm: column ``n`` of ``B`` (row ``n`` when ``transB = 1``), so ``Y[:, n]`` is ``beta * C``;
* MatMul with a constant ``B``: ``B[..., n]`` (column ``n`` in every batch).

A quantized (QDQ) weight counts as zero where its stored integer equals the zero point
(or the scale is 0): the dequantized value is exactly 0.

## Why is this bad?
Each such channel costs its weights (stored, loaded, multiplied) and its share of the op's
multiply-accumulates, and yields a constant: a pruned filter that was zeroed but never
removed, or a channel that collapsed to zero in training.

## Example
A 3x3 conv 16 -> 32 whose filters 5 and 17 were zeroed by magnitude pruning: output
channels 5 and 17 are the constants ``B[5]`` and ``B[17]``; 2 x 16 x 3 x 3 = 288 weights
and 2/32 of the conv's MACs do nothing.

## How to fix
**No safe automatic rewrite** for this rule on its own: removing an output channel changes
the op's output shape, and putting the constant back (an Expand + Concat of the bias) adds
nodes for nothing.  What is safe is downstream: when the channel only reaches a Conv that
can absorb its constant into its bias exactly, rule WS011 (constant-input-channel) reports
it and its fix drops the channel from the producer, the element-wise ops in between and the
consumer at once.  Otherwise prune the channel in the training framework (and the next
layer's input channel with it) and re-export.

## Options
* ``max-weight-elements`` (default 16,777,216): weights with more elements are not read;
  each one is recorded as not checked (kind ``weight-too-large``, shown by every format
  and reported by CV001).

## Details
``weight`` (the op's weight input), ``stored_as`` (the initializer / Constant output holding
the data), ``stored_dtype``, ``quantized`` (through DequantizeLinear), ``channels`` (the zero
output channels, at most 256 listed), ``zero_channels``, ``total_channels``,
``weights_per_channel``, ``channel_layout`` (where a channel sits in the weight), ``bias``
(the constant value of each listed channel when the op's bias / C is known: ``B[o]`` for
Conv/ConvTranspose, ``beta * C`` for a Gemm with a per-column C; otherwise null).
Waste: the zero weights (``zero_channels x weights_per_channel``), their bytes in the
stored dtype, and the channels' share of the op's MACs.  Findings are made in every graph
(bodies and functions too).  A channel whose removal WS011's fix takes over (the channel
reaches a conv that absorbs it, and nothing else reads the chain) is still listed here, but
its weights count in WS011's finding only (``details.claimed_by_ws011``), so that totals over
both rules count every zero weight once.
"""
from __future__ import annotations

CODE = "WS010"
NAME = "zero-output-channel"
SEVERITY = "warning"
# Reads weight values (within its budget): `check` then costs the weights, not only the graph.
READS_WEIGHTS = True
OPTIONS = {"max-weight-elements": "weights with more elements than this are not read (default 16777216)"}

MAX_LISTED = 256


def check(model, options=None):
    from rules import _waste_weights as ww

    from rules._waste_graph import op_types

    kinds = ("Conv", "ConvTranspose", "Gemm", "MatMul")
    if op_types(model).isdisjoint(kinds):
        return  # no such op: no pass over the nodes
    budget = int((options or {}).get("max-weight-elements", ww.WEIGHT_BUDGET))
    for op in model.graph.all_ops():
        if op.domain != "" or op.op_type not in kinds:
            continue
        try:
            zc = ww.zero_channels(model, op, budget)
        except ww.TooLarge as e:
            model.record_unchecked("weight-too-large", f"{CODE}: weight of {op.op_type} {op.id!r} not read: {e}",
                                   source=CODE, op=op, reason="weight above max-weight-elements")  # fmt: skip
            continue
        except Exception:  # noqa: BLE001, S112 - a malformed node must not stop the rule
            continue
        if zc is None or not zc.channels:
            continue
        yield _finding(model, ww, zc, _claimed(model, op))


def _claimed(model, op) -> list:
    """The zero channels of ``op`` that WS011's findings remove end to end (their waste)."""
    try:
        from rules.ws011_constant_input_channel import plans_from

        return sorted({c for plan in plans_from(model, op) if plan.private for c in plan.channels})
    except Exception:  # noqa: BLE001 - no claim is the safe answer: WS010 counts the channel
        return []


def _bias_values(model, ww, zc):
    op = zc.op
    if len(op.inputs) < 3 or op.inputs[2] is None:
        return [0.0] * len(zc.channels) if op.op_type != "Gemm" else None
    try:
        b = ww.read_weight(model, op.inputs[2])
    except ww.TooLarge:
        return None
    if b is None:
        return None
    v = b.values
    if op.op_type == "Gemm":
        beta = float(op.attrs.get("beta") if op.attrs.get("beta") is not None else 1.0)
        cv = ww.channel_vector(v, 2, 1, zc.total)
        if cv is None:
            return None
        v = cv[0] * beta
    if v.shape != (zc.total,):
        return None
    return [float(v[c]) for c in zc.channels[:MAX_LISTED]]


def _finding(model, ww, zc, claimed=()):
    from analyzer.findings import Finding

    op, w = zc.op, zc.weight
    n = len(zc.channels)
    counted = n - len([c for c in claimed if c in zc.channels])
    zero = n * zc.per_channel
    shown = ", ".join(map(str, zc.channels[:16])) + (", ..." if n > 16 else "")
    whole = " (the whole weight is zero)" if n == zc.total else ""
    const = "its bias" if op.op_type in ("Conv", "ConvTranspose") else "beta * C" if op.op_type == "Gemm" else "0"
    message = (f"{n} of {zc.total} output channel(s) have all-zero weights{whole} ({shown}): each is the constant "
               f"{const}; {zero} zero weights")  # fmt: skip
    return Finding(
        rule=CODE, name=NAME, severity=SEVERITY, node=op.id, node_index=op.index, graph=op.graph, op_type=op.op_type,
        message=message,
        details={
            "weight": op.inputs[1][2], "stored_as": w.stored_key[2], "stored_dtype": _dtype(w.stored_type),
            "quantized": w.quantized, "channels": zc.channels[:MAX_LISTED], "zero_channels": n,
            "total_channels": zc.total, "weights_per_channel": zc.per_channel, "channel_layout": zc.layout,
            "bias": _bias_values(model, ww, zc), "claimed_by_ws011": list(claimed),
        },
        waste={"weights": counted * zc.per_channel, "bytes": ww.stored_bytes(counted * zc.per_channel, w.stored_type),
               "macs": ww.macs_share(model, op, counted, zc.total)},
    )  # fmt: skip


def _dtype(t):
    from analyzer.model import dtype_name

    return dtype_name(t)
