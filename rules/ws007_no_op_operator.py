"""WS007 no-op-operator: an operator that passes its input through unchanged.

## What it does
Finds nodes of the main graph whose output is provably equal to one of their inputs:

| op | when |
| --- | --- |
| Identity | always |
| Dropout | in an inference graph: opset 7-11, or opset >= 12 with no ``training_mode`` or a constant false one (opset < 7: ``is_test=1``); its ``mask`` output unread |
| Cast / CastLike | to the type the input already has |
| Reshape, Expand, Flatten, Squeeze, Tile, Split (one output) | output shape equal to the input's |
| Transpose | the axes that are not 1 keep their order, and the output shape equals the input's (an identity ``perm`` included) |
| Slice | output shape equal to the input's and every step positive (so it covers everything with step 1) |
| Pad | every pad zero |
| Resize | output shape equal to the input's, scales all 1 (or sizes equal to the input's, ``keep_aspect_ratio_policy`` stretch), and a coordinate mode for which scale 1 is the identity (not ``tf_crop_and_resize``, not nearest with ``tf_half_pixel_for_nn``) |
| Concat, Sum, Max, Min, Mean | of one input |
| Mul / Div by a constant 1, Add / Sub of a constant 0, Pow by 1 | the constant (read from the model, not a graph input) is all 1 (0), and broadcasting it does not change the shape: the output's shape equals the other input's |

Shapes are those the shape engine proves (symbols compare as expressions: ``Reshape(x,
Shape(x))`` is a no-op at every size); a shape the file only declares is not trusted.
With ``--input-shape`` binding a dim the file leaves open, shape-based cases are not
reported (they would hold at that size only).  Nodes of a constant subgraph (WS009) are
left to WS009.  A no-op that joins a graph input (or initializer) straight to a graph output
is not reported: it is the model's interface, there is nothing to remove.

## Why is this bad?
Every such node costs a kernel launch, often a copy of the whole tensor, and a buffer; it
hides the real structure of the model from people and from graph optimisers
(pattern-matching fusions stop at an unexpected Identity or Cast).  Exporters leave them
behind: ``Dropout`` from training code, ``Identity`` for tied weights or renamed outputs,
``Cast`` to the same type, reshapes to the shape the tensor already has.

## Example
```
y = Reshape(x[1, 64, 8, 8], shape=[1, 64, 8, 8])
z = Mul(y, 1.0)
```

## How to fix
`onnxlint fix --select WS007` removes each node and hands its readers its input.  When its
output is a graph output, the output keeps its name: the node that produced the input
writes the output's name instead (its other readers follow).  Constant operands that only
the removed node read (the ``shape`` of a Reshape, the ``1`` of a Mul) go with it.  Refused
(with the reason) when the output or the input is read inside an If/Loop/Scan body, or
another fix already removed the node.

## Details
``reason``, ``input`` and ``output`` (tensor names), ``data_input`` (the position of the
input passed through), ``freed_initializers`` (initializers only this node read, counted
in ``waste``), ``pruned_nodes`` (nodes that computed only its operands, e.g. a Shape chain
feeding a Reshape's shape: their MACs count in ``waste``).
"""
from __future__ import annotations

CODE = "WS007"
NAME = "no-op-operator"
SEVERITY = "warning"

_SAME_SHAPE = {"Reshape", "Expand", "Flatten", "Squeeze", "Tile"}
_ONE_INPUT = {"Concat", "Sum", "Max", "Min", "Mean"}
# op -> (data positions, neutral value, position the constant may take)
_ARITH = {"Mul": ((0, 1), 1), "Add": ((0, 1), 0), "Div": ((0,), 1), "Sub": ((0,), 0), "Pow": ((0,), 1)}


def _inp(op, i):
    return op.inputs[i] if len(op.inputs) > i else None


def _const(am, key):
    """A constant input's value: analysis knows it and it is not a graph input."""
    if key is None:
        return None
    value = am.constant(key)  # first: most inputs are not constant, and then no index is built
    if value is None:
        return None
    from rules._waste_ops import index

    return None if key[2] in index(am).inputs else value


def _unread(am, key) -> bool:
    from rules._waste_ops import index

    ix = index(am)
    return key is None or (ix.counts.get(key[2], 0) == 0 and key[2] not in ix.outputs)


def _transpose_is_identity(am, op) -> bool:
    from rules._waste_ops import same_shape, trusted_shape

    shape = trusted_shape(am, op.inputs[0])
    if shape is None or not same_shape(am, op.inputs[0], op.outputs[0]):
        return False
    perm = op.attr("perm") or list(range(len(shape)))[::-1]
    if sorted(perm) != list(range(len(shape))):
        return False
    kept = [p for p in perm if shape[p] != 1]
    return kept == sorted(kept)


def _resize_is_identity(am, op) -> bool:
    from rules._waste_ops import opset, same_shape

    if not same_shape(am, op.inputs[0], op.outputs[0]):
        return False
    ctm = op.attr("coordinate_transformation_mode", "half_pixel")
    mode = op.attr("mode", "nearest")
    if ctm == "tf_crop_and_resize" or (mode == "nearest" and ctm == "tf_half_pixel_for_nn"):
        return False
    scales_at = 1 if opset(am) < 11 else 2
    scales = _inp(op, scales_at)
    sv = _const(am, scales) if scales is not None else None
    if scales is not None and (sv is None or sv.size):
        return sv is not None and bool((sv == 1).all())
    sizes = _inp(op, 3)
    if sizes is None or _const(am, sizes) is None:
        return False
    return op.attr("keep_aspect_ratio_policy", "stretch") == "stretch"


def noop(am, op):
    """``(data input position, reason)`` when the op passes that input through, else None."""
    from rules._waste_ops import dtype_of, opset, same_shape, sizes_bound

    t = op.op_type
    x0 = _inp(op, 0)
    if x0 is None or not op.outputs or op.outputs[0] is None:
        return None
    shaped = not sizes_bound(am)
    if t == "Identity":
        return 0, "Identity"
    if t == "Dropout":
        if any(not _unread(am, k) for k in op.outputs[1:]):
            return None
        v = opset(am)
        if v < 7 and not op.attr("is_test", 0):
            return None
        mode = _inp(op, 2) if v >= 12 else None
        if mode is not None:
            c = _const(am, mode)
            if c is None or c.size != 1 or bool(c.reshape(-1)[0]):
                return None
        return 0, "Dropout in an inference graph"
    if t == "Cast":
        src = dtype_of(am, x0)
        return (0, "Cast to the type its input already has") if src and src == op.attr("to") else None
    if t == "CastLike":
        src, like = dtype_of(am, x0), dtype_of(am, _inp(op, 1))
        return (0, "CastLike to the type its input already has") if src and src == like else None
    if t in _ONE_INPUT:
        return (0, f"{t} of a single input") if len(op.inputs) == 1 else None
    if t in _ARITH:
        positions, neutral = _ARITH[t]
        if len(op.inputs) != 2:
            return None
        for d in positions:
            c = _const(am, op.inputs[1 - d])
            if c is None or c.size == 0 or c.dtype.kind not in "biuf" or not bool((c == neutral).all()):
                continue
            if shaped and same_shape(am, op.inputs[d], op.outputs[0]):
                word = {"Mul": "by", "Div": "by", "Pow": "to the power", "Add": "of", "Sub": "of"}[t]
                return d, f"{t} {word} a constant {neutral} that does not broadcast"
        return None
    if t == "Pad":
        if opset(am) < 11:
            pads = [int(p) for p in op.attr("pads", [])]
        else:
            c = _const(am, _inp(op, 1))
            pads = None if c is None else [int(p) for p in c.reshape(-1)]
        return (0, "Pad with every pad zero") if pads and not any(pads) else None
    if not shaped:
        return None
    if t in _SAME_SHAPE or (t == "Split" and len(op.outputs) == 1):
        return (0, f"{t} to the shape its input already has") if same_shape(am, x0, op.outputs[0]) else None
    if t == "Transpose":
        return (0, "Transpose that keeps every axis of size > 1 in place") if _transpose_is_identity(am, op) else None
    if t == "Slice":
        if not same_shape(am, x0, op.outputs[0]):
            return None
        steps = _inp(op, 4) if opset(am) >= 10 else None
        if steps is not None:
            s = _const(am, steps)
            if s is None or not bool((s > 0).all()):
                return None
        return 0, "Slice that keeps everything"
    if t == "Resize":
        return (0, "Resize to the size its input already has") if _resize_is_identity(am, op) else None
    return None


def check(model, options=None):
    from rules._waste_ops import (
        MAIN,
        bypass_blocker,
        constant_keys,
        finding,
        folded_keys,
        index,
        removal_waste,
        waste_dict,
    )

    from rules._waste_graph import op_types

    am = model
    # the op types noop() knows; the others are passed over without a look at their inputs
    handled = {"Identity", "Dropout", "Cast", "CastLike", "Pad", "Split", "Transpose", "Slice", "Resize"}
    handled |= set(_ONE_INPUT) | set(_ARITH) | set(_SAME_SHAPE)
    if op_types(am).isdisjoint(handled):
        return  # none in the model: no pass over the nodes
    # values whose constant analysis may know (a superset, made once): noop() of an
    # arithmetic op needs one where the neutral operand may stand
    consts = constant_keys(am)
    if not consts:
        handled -= set(_ARITH)  # nothing is constant: no arithmetic op can be a no-op
        if op_types(am).isdisjoint(handled):
            return
    folded = folded_keys(am)
    ix = None  # built at the first finding: a graph without one never needs it
    for op in am.graph.topological_order(MAIN):
        t = op.op_type
        if t not in handled or op.domain != "":
            continue
        if t in _ARITH:
            # noop() needs two inputs and a constant one where the neutral operand may
            # stand; most Add / Mul nodes have none, and this look costs no call into noop()
            ins = op.inputs
            if len(ins) != 2 or (ins[1] not in consts and (len(_ARITH[t][0]) == 1 or ins[0] not in consts)):
                continue
        if op.key in folded:
            continue
        got = noop(am, op)
        if got is None:
            continue
        d, reason = got
        x, y = op.inputs[d][2], op.outputs[0][2]
        if op.inputs[d][1] != MAIN or bypass_blocker(am, x, y) is not None:
            continue
        if ix is None:
            ix = index(am)
        dead, pruned = removal_waste(am, [op.index], transfer=(x, y))
        waste = waste_dict(am, [op], dead, pruned)
        pruned_ids = [am.graph.ops[("op", MAIN, i)].id for i in pruned]
        details = {
            "reason": reason, "input": x, "output": y, "data_input": d,
            "freed_initializers": [n for n, _, _ in dead], "pruned_nodes": pruned_ids,
            "graph_output": y in ix.outputs,
        }  # fmt: skip
        yield finding(CODE, NAME, SEVERITY, op, f"{op.op_type} {op.id!r} passes {x!r} through unchanged: {reason}",
                      details, waste)


def _render(change, esc) -> str:
    b = change.before
    how = "the input's producer now writes it" if change.after.get("how") == "renamed" else "its readers read the input"
    return (f"{esc(b['op_type'])} removed ({esc(b['reason'])}); {esc(b['output'])}: {how}; "
            f"{change.params_removed} parameters removed")


def fix_findings(rewriter, findings) -> None:
    """``onnxlint fix``: bypass and remove each no-op node (one Change per finding)."""
    from analyzer.fix.records import Change, Refused
    from rules._waste_ops import Wiring, bypass

    rw = rewriter
    w = Wiring(rw)
    for f in findings:
        try:
            op = rw.main_op(f)
            if op is None:
                raise Refused(f"inside {f.graph}: only main-graph nodes are removed")
            node = rw.model.graph.node[op.index]
            if op.index in rw.removed_nodes or node.op_type != f.op_type:
                raise Refused("the node is already removed or rewritten by another fix")
            d = int(f.details["data_input"])
            x, y = node.input[d], node.output[0]
            for o in node.output[1:]:
                if o and (w.readers.get(o) or o in w.outputs or o in w.read_in_subgraphs):
                    raise Refused(f"its output {o!r} is read")
            how = bypass(rw, w, [node], x, y)
        except Refused as e:
            rw.changes.append(Change(CODE, f.node, f.op_type, "refused", str(e)))
            continue
        rw.changes.append(Change(
            CODE, f.node, f.op_type, "fixed",
            before={"op_type": f.op_type, "reason": f.details.get("reason"), "input": x, "output": y},
            after={"how": how, "removed_nodes": [f.node] + list(f.details.get("pruned_nodes", []))},
            params_removed=int(f.waste.get("weights") or 0), bytes_removed=int(f.waste.get("bytes") or 0),
            render=_render))  # fmt: skip
