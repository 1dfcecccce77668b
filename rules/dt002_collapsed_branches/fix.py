"""DT002's fix (``onnxlint fix``): collapsed branches merged into one conv.

Convs that read the same tensor, have the same configuration once dead taps are removed
(by DT001's fix, when it runs first: its rewritten convs are in ``rewriter.conv_states``), and
feed one Concat along channels (directly, or each through the same element-wise activation),
adjacent in the Concat's inputs, become one conv with the concatenated weights and biases
(then one activation).  The Concat's output name is kept (produced by the merged path, or by
a shorter Concat when it has other inputs too).  A DT001 change of a merged branch records
the conv it became part of (``merged_node``).
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from analyzer.analyses.convs import NotChecked, conv_taps
from analyzer.fix.convs import conv_attrs, conv_state
from analyzer.fix.records import Change, Refused

from . import CODE

__all__ = ["fix_findings"]

DEAD_TAPS_RULE = "DT001"  # the fix that runs first and may have rewritten the branches

# element-wise, channel-independent ops a branch may pass through before the Concat
_ACTIVATIONS = {
    "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Elu", "Selu", "Celu", "HardSigmoid", "HardSwish",
    "Gelu", "Identity", "Softplus", "Softsign", "Mish", "Clip", "ThresholdedRelu",
}  # fmt: skip


def fix_findings(rw, findings) -> None:
    """One Change per finding: the branches merged into one conv, or refused."""
    for f in findings:
        names = [b["node"] for b in f.details.get("branches", [])]
        try:
            if f.graph != "main":
                raise Refused(f"inside {f.graph}: only main-graph nodes are merged")
            convs = [rw.ops_by_id[n] for n in names]
            other = next((c for c in convs if c.domain not in ("", "ai.onnx")), None)
            if other is not None:
                raise Refused(f"{other.domain}.{other.op_type} is not supported (only ONNX Conv and ConvTranspose are merged)")
            _merge(rw, convs, f)
        except Refused as e:
            rw.changes.append(Change(CODE, f.node, f.op_type, "refused", str(e), branches=names))


def _merge(rw, convs, f):
    paths, concat = _branch_paths(rw, convs)
    states = _branch_states(rw, paths)
    s0 = states[0]
    if s0.group != 1:
        raise Refused(f"group {s0.group}: concatenating grouped weights would regroup the channels")
    rank = len(s0.kernel) + 2
    axis = int(concat.attr("axis", 1))
    if (axis + rank if axis < 0 else axis) != 1:
        raise Refused(f"the Concat joins axis {axis}, not the channel axis")
    order, pos = _concat_order(rw, paths, concat)
    w_axis = 1 if s0.op_type == "ConvTranspose" else 0
    merged_w = np.concatenate([states[i].weight for i in order], axis=w_axis)
    biases, bias_external = _biases(rw, states, order, w_axis)
    merged_b = None if biases[0] is None else np.concatenate(biases).astype(merged_w.dtype, copy=False)
    conv_name = _write_merged(rw, paths, states, order, pos, concat, merged_w, merged_b, bias_external)
    before = sum(s.weight.size for s in states) + sum(b.size for b in biases if b is not None)
    after = merged_w.size + (merged_b.size if merged_b is not None else 0)
    for c in rw.changes:
        if c.rule == DEAD_TAPS_RULE and c.status == "fixed" and c.node in {p[0].id for p in paths}:
            c.merged_node = conv_name
    rw.changes.append(Change(
        CODE, f.node, s0.op_type, "fixed",
        before={"nodes": [paths[i][0].id for i in order], "concat": concat.id,
                "out_channels": [int(states[i].weight.shape[w_axis]) for i in order]},
        after={"node": conv_name, "weight_shape": list(merged_w.shape), "concat_output": concat.outputs[0][2]},
        params_removed=int(before - after), bytes_removed=int((before - after) * merged_w.dtype.itemsize),
        branches=[paths[i][0].id for i in order], merged_node=conv_name, render=_render))  # fmt: skip
    for i in order:
        rw.conv_states.pop(paths[i][0].index, None)


def _single_reader(rw, name):
    users = rw.am.graph.consumers(("value", "main", name))
    if rw.readers.get(name, 0) != 1 or len(users) != 1:
        raise Refused(f"{name!r} has other readers than the branch's next op")
    return users[0][0]


def _branch_paths(rw, convs):
    """Per branch ``(conv op, activation op or None, Concat op)``, and the Concat they share."""
    nodes = rw.model.graph.node
    paths = []
    for op in convs:
        user = _single_reader(rw, op.outputs[0][2])
        act = None
        if user.op_type in _ACTIVATIONS and user.domain == "" and user.op_type != "Concat":
            act = user
            user = _single_reader(rw, act.outputs[0][2])
        if user.op_type != "Concat":
            raise Refused(f"branch {op.id!r} does not feed a Concat")
        paths.append((op, act, user))
    concat = paths[0][2]
    if any(p[2].key != concat.key for p in paths):
        raise Refused("the branches feed different Concat nodes")
    if concat.index in rw.new_nodes:
        raise Refused(f"Concat {concat.id!r} is already rewritten by another merge")
    acts = [p[1] for p in paths]
    if any((a is None) != (acts[0] is None) for a in acts) or (
        acts[0] is not None and len({_act_signature(nodes[a.index]) for a in acts}) != 1
    ):
        raise Refused("the branches do not all pass through the same activation")
    return paths, concat


def _branch_states(rw, paths):
    """Each branch's conv as it will be (after the dead-taps fix, if it rewrote it); all alike."""
    states = []
    for op, _, _ in paths:
        if op.index in rw.conv_states:
            states.append(rw.conv_states[op.index])
            continue
        try:
            ct = conv_taps(rw.am, op)
        except NotChecked as e:
            raise Refused(f"branch {op.id!r} not analyzable: {e}") from None
        states.append(conv_state(rw, ct))
    if len({s.config() for s in states}) != 1:
        detail = "; ".join(f"{op.id}: {_fmt(s.kernel)} dilations {list(s.dilations)} pads {list(s.pads)}"
                           for (op, _, _), s in zip(paths, states))
        hint = "" if DEAD_TAPS_RULE in rw.codes else f" (select {DEAD_TAPS_RULE} too to remove the dead taps first)"
        raise Refused(f"the branches differ once their dead taps are handled{hint}: {detail}")
    return states


def _concat_order(rw, paths, concat):
    """The branches in the Concat's input order, and their (adjacent) positions there."""
    concat_inputs = list(rw.model.graph.node[concat.index].input)
    fed = [(act.outputs[0][2] if act is not None else op.outputs[0][2]) for op, act, _ in paths]
    positions = [concat_inputs.index(t) for t in fed]
    order = sorted(range(len(paths)), key=lambda i: positions[i])
    pos = sorted(positions)
    if pos != list(range(pos[0], pos[0] + len(pos))):
        raise Refused(f"the branches are not adjacent in the Concat's inputs (positions {pos})")
    return order, pos


def _biases(rw, states, order, w_axis):
    """Each branch's bias (zeros for a branch without one, None when no branch has one),
    and whether any was stored externally."""
    biases, bias_external = [], False
    for i in order:
        s = states[i]
        out_ch = s.weight.shape[w_axis] * (s.group if s.op_type == "ConvTranspose" else 1)
        if s.bias is None:
            biases.append(None if all(st.bias is None for st in states) else np.zeros(out_ch, s.weight.dtype))
        else:
            b, ext = rw.initializer(s.bias, "bias")
            bias_external |= ext
            if b.shape != (out_ch,):
                raise Refused(f"bias {s.bias!r} has shape {list(b.shape)}, expected [{out_ch}]")
            biases.append(b)
    return biases, bias_external


def _write_merged(rw, paths, states, order, pos, concat, merged_w, merged_b, bias_external) -> str:
    """The merged conv (then activation, then a shorter Concat if needed) in the Concat's
    place; the branches go.  Returns the merged conv's name."""
    nodes = rw.model.graph.node
    s0 = states[0]
    first_op, first_act = paths[order[0]][0], paths[order[0]][1]
    concat_inputs = list(nodes[concat.index].input)
    w_name = rw.names.fresh(f"{states[order[0]].weight_name}.merged")
    rw.new_initializer(w_name, merged_w, any(s.external for s in states))
    conv_inputs = [s0.input, w_name]
    if merged_b is not None:
        b_name = rw.names.fresh(f"{w_name}.bias")
        rw.new_initializer(b_name, merged_b, bias_external)
        conv_inputs.append(b_name)
    full = len(pos) == len(concat_inputs)
    final = concat.outputs[0][2] if full else rw.names.fresh(f"{concat.outputs[0][2]}_merged")
    conv_out = rw.names.fresh(f"{final}_conv") if first_act is not None else final
    conv_name = rw.names.fresh(f"{first_op.id}_merged")
    conv = helper.make_node(s0.op_type, conv_inputs, [conv_out], name=conv_name, **conv_attrs(s0))
    conv.metadata_props.extend(nodes[first_op.index].metadata_props)
    new = [conv]
    if first_act is not None:
        a0 = nodes[first_act.index]
        act = onnx.NodeProto()
        act.CopyFrom(a0)
        act.name = rw.names.fresh(f"{a0.name or a0.op_type}_merged")
        act.input[0] = conv_out
        del act.output[:]
        act.output.append(final)
        new.append(act)
    if not full:
        cat = onnx.NodeProto()
        cat.CopyFrom(nodes[concat.index])
        del cat.input[:]
        cat.input.extend(concat_inputs[: pos[0]] + [final] + concat_inputs[pos[-1] + 1:])
        new.append(cat)
    rw.new_nodes[concat.index] = new
    rw.removed_nodes.add(concat.index)
    for op, act, _ in paths:
        rw.removed_nodes.add(op.index)
        rw.orphans.extend(i[2] for i in op.inputs if i is not None)
        if act is not None:
            rw.removed_nodes.add(act.index)
            rw.orphans.extend(i[2] for i in act.inputs[1:] if i is not None)
        rw.orphans.append(nodes[op.index].input[0])
    return conv_name


def _act_signature(node) -> tuple:
    attrs = tuple(sorted(a.SerializeToString() for a in node.attribute))
    return (node.op_type, node.domain, tuple(node.input[1:]), attrs)


def _fmt(seq) -> str:
    return "x".join(str(x) for x in seq)


def _render(c: Change, esc) -> str:
    names = ", ".join(repr(esc(n)) for n in c.branches)
    chans = "+".join(str(n) for n in c.before["out_channels"])
    return (f"{names} ({chans} output channels) -> one {c.op_type} {esc(c.merged_node)!r} "
            f"(weight {'x'.join(map(str, c.after['weight_shape']))}); Concat output "
            f"{esc(c.after['concat_output'])!r} kept; {c.params_removed} params removed")  # fmt: skip
