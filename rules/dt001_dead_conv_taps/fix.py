"""DT001's fix (``onnxlint fix``): a Conv / ConvTranspose keeps only its live taps.

Per spatial axis the live taps ``first, first + t, ..., last`` (an arithmetic progression:
contiguous when ``t == 1``) become a kernel of ``len(live)`` taps with dilation
``dilation * t``; dropping ``first`` leading taps moves the window by ``first * dilation``
and dropping trailing taps shrinks it by the same amount at the end, so the new pads are
``pad_begin - first * dilation`` and ``pad_end - (k - 1 - last) * dilation`` and the output
size, and every output value, stay the same.  The same holds for ConvTranspose (taps scatter
instead of gathering, the formula is the same).  A folded zero ``Pad`` in front of a Conv is
part of the padding: the new conv reads the Pad's input and the Pad goes if nothing else
reads it.  ``auto_pad`` / ``output_shape`` become explicit pads.

Refused per node, with the reason in the report: a weight that is not an initializer (or is
also a graph input, or is read by another node), no live tap at all, live taps not evenly
spaced, negative new pads (the smaller conv would have to crop its input), an op other than
Conv / ConvTranspose, a node inside a subgraph or function.
"""
from __future__ import annotations

import numpy as np

from analyzer.analyses.convs import NotChecked, conv_taps
from analyzer.fix.convs import ConvState, conv_state
from analyzer.fix.records import Change, Refused
from analyzer.geometry import conv_transpose_output_size, resolve_conv_transpose_pads

from . import CODE

__all__ = ["fix_findings", "slice_dead_taps"]


def fix_findings(rw, findings) -> None:
    """One Change per finding: the conv rewritten with its live taps only, or refused."""
    for f in findings:
        _fix_one(rw, f)


def _fix_one(rw, f) -> None:
    op = rw.main_op(f)
    try:
        if op is None:
            raise Refused(f"inside {f.graph}: only main-graph nodes are rewritten")
        if op.domain not in ("", "ai.onnx"):
            raise Refused(f"{op.domain}.{op.op_type} is not supported (only ONNX Conv and ConvTranspose are rewritten)")
        try:
            ct = conv_taps(rw.am, op)
        except NotChecked as e:
            raise Refused(f"not analyzable: {e}") from None
        old = conv_state(rw, ct)
        new = slice_dead_taps(rw, ct, old)
    except Refused as e:
        rw.changes.append(Change(CODE, f.node, f.op_type, "refused", str(e)))
        return
    rw.rewrite_conv(op.index, new)
    if ct.pad_node is not None:
        rw.orphans.append(op.inputs[0][2])
    removed = old.weight.size - new.weight.size
    rw.changes.append(Change(
        CODE, f.node, f.op_type, "fixed", before=old.describe(), after=new.describe(),
        params_removed=int(removed), bytes_removed=int(removed * new.weight.dtype.itemsize),
        render=_render))  # fmt: skip


def slice_dead_taps(rw, ct, old: ConvState) -> ConvState:
    """``old`` with only its live taps: smaller kernel, new dilations and pads (Refused when
    no such conv computes the same output)."""
    if rw.readers.get(ct.weight_key[2], 0) > 1:
        raise Refused(f"weight {ct.weight_key[2]!r} is shared with another node")
    state = ConvState(**vars(old))
    if ct.transpose:
        _check_transpose_size(ct)
        if str(ct.op.attr("auto_pad", "NOTSET")).startswith("SAME") and any(ct.output_padding):
            raise Refused("auto_pad SAME with output_padding: onnx and onnxruntime disagree on the output size")
    index = [slice(None), slice(None)]
    kernel, dilations, begins, ends = [], [], [], []
    for ax, a in enumerate(ct.taps.axes):
        first, last, step = _live_progression(ax, a)
        d = a.dilation
        if len(a.live) > 1:
            d_new = d * step
        elif ct.transpose and ct.output_padding[ax] >= ct.strides[ax]:
            d_new = d  # output_padding must stay below max(stride, dilation)
        else:
            d_new = 1
        kernel.append(len(a.live))
        dilations.append(d_new)
        begins.append(a.pad_begin - first * d)
        ends.append(a.pad_end - (a.kernel - 1 - last) * d)
        index.append(slice(first, last + 1, step))
    if any(p < 0 for p in begins + ends):
        raise Refused(f"effective pads {begins + ends} are negative: the smaller conv would have to crop its input")
    assert len(kernel) == len(ct.kernel_shape)
    state.weight = np.ascontiguousarray(state.weight[tuple(index)])
    state.kernel, state.dilations, state.pads = tuple(kernel), tuple(dilations), tuple(begins + ends)
    return state


def _live_progression(ax, a) -> tuple:
    """``(first, last, step)`` of axis ``a``'s live taps (Refused unless evenly spaced)."""
    live = list(a.live)
    if not live:
        raise Refused("no tap ever reads input: the output is the bias alone")
    steps = {b - c for b, c in zip(live[1:], live)}
    if len(steps) > 1:
        raise Refused(f"live taps {live} on spatial axis {ax} are not evenly spaced")
    return live[0], live[-1], steps.pop() if steps else 1


def _check_transpose_size(ct):
    """With output_shape larger than the unpadded output, onnxruntime appends zeros: no pads express that."""
    op = ct.op
    if op.attr("output_shape", None) is None:
        return
    _, _, outs = resolve_conv_transpose_pads(
        op.attr("auto_pad", "NOTSET"), ct.input_spatial, ct.kernel_shape, ct.strides, ct.dilations,
        op.attr("pads", None), ct.output_padding, op.attr("output_shape", None))  # fmt: skip
    for ax, a in enumerate(ct.taps.axes):
        natural = conv_transpose_output_size(ct.input_spatial[ax], a.kernel, ct.strides[ax], a.dilation,
                                             a.pad_begin, a.pad_end, ct.output_padding[ax])
        if outs[ax] != natural:
            raise Refused(f"output_shape {list(op.attr('output_shape'))} extends the output beyond its natural size")


def _conv_desc(d: dict) -> str:
    k = "x".join(str(x) for x in d["kernel_shape"])
    return f"{k} dilations {d['dilations']} pads {d['pads']}"


def _render(c: Change, esc) -> str:
    tail = f" (then merged into {esc(c.merged_node)!s})" if c.merged_node else ""
    return (f"{c.op_type} {_conv_desc(c.before)} -> {_conv_desc(c.after)}; "
            f"{c.params_removed} params ({c.bytes_removed} bytes) removed{tail}")  # fmt: skip
