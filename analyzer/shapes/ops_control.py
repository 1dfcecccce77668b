"""Shape functions: If, Loop, Scan (their bodies are analyzed with bound inputs)."""
from __future__ import annotations

from onnx import TensorProto

from .engine import ShapeError, TensorInfo, register
from .ops_nn import _norm_axis


def _subgraph_path(ctx, attr_name):
    """The subgraph held in ``attr_name`` (None when the node has no such attribute)."""
    return ctx.engine.graph.subgraph_path(ctx.op.key, attr_name)


def _merge(a: TensorInfo, b: TensorInfo) -> TensorInfo:
    """What is certain about a value that is either ``a`` or ``b``."""
    if a.shape is None or b.shape is None or len(a.shape) != len(b.shape):
        return TensorInfo(None, a.dtype or b.dtype)
    shape = tuple(x if x == y else None for x, y in zip(a.shape, b.shape))
    return TensorInfo(shape, a.dtype or b.dtype)


@register("If")
def if_op(ctx):
    then_out = ctx.engine.run_subgraph(_subgraph_path(ctx, "then_branch"), [])
    else_out = ctx.engine.run_subgraph(_subgraph_path(ctx, "else_branch"), [])
    cond = ctx.value(0)
    for i in range(ctx.n_outputs):
        a = then_out[i] if i < len(then_out) else TensorInfo()
        b = else_out[i] if i < len(else_out) else TensorInfo()
        if cond is not None and cond.size == 1:
            chosen = a if bool(cond.reshape(-1)[0]) else b
            ctx.set(i, chosen.shape, chosen.dtype, chosen.value, chosen.sym)
        else:
            m = _merge(a, b)
            ctx.set(i, m.shape, m.dtype)


@register("Loop")
def loop(ctx):
    n_carried = max(ctx.n_inputs - 2, 0)
    bind = [TensorInfo((), TensorProto.INT64), TensorInfo((), TensorProto.BOOL)]
    for i in range(n_carried):
        inf = ctx.info(2 + i)
        bind.append(TensorInfo(inf.shape, inf.dtype))
    outs = ctx.engine.run_subgraph(_subgraph_path(ctx, "body"), bind)
    body_carried = outs[1:1 + n_carried]
    for i in range(n_carried):
        init = ctx.info(2 + i)
        m = _merge(init, body_carried[i]) if i < len(body_carried) else TensorInfo(None, init.dtype)
        ctx.set(i, m.shape, m.dtype)
    trip = ctx.ints(0) if ctx.has_input(0) else None
    n_iter = trip[0] if trip and not ctx.has_input(1) else None
    for j, inf in enumerate(outs[1 + n_carried:]):
        shape = None if inf.shape is None else (n_iter,) + tuple(inf.shape)
        ctx.set(n_carried + j, shape, inf.dtype)


@register("Scan")
def scan(ctx):
    n_scan_in = ctx.attr("num_scan_inputs", 0)
    n_state = ctx.n_inputs - n_scan_in
    if not 0 <= n_scan_in <= ctx.n_inputs:
        raise ShapeError(f"num_scan_inputs {n_scan_in} out of range for {ctx.n_inputs} inputs")
    in_axes = ctx.attr("scan_input_axes", None) or [0] * n_scan_in
    bind = []
    seq_len = None
    for i in range(n_state):
        inf = ctx.info(i)
        bind.append(TensorInfo(inf.shape, inf.dtype))
    for j in range(n_scan_in):
        inf = ctx.info(n_state + j)
        if inf.shape is None:
            bind.append(TensorInfo(None, inf.dtype))
            continue
        ax = _norm_axis(in_axes[j], len(inf.shape))
        seq_len = inf.shape[ax] if seq_len is None else seq_len
        bind.append(TensorInfo(tuple(d for k, d in enumerate(inf.shape) if k != ax), inf.dtype))
    outs = ctx.engine.run_subgraph(_subgraph_path(ctx, "body"), bind)
    for i in range(n_state):
        m = _merge(ctx.info(i), outs[i]) if i < len(outs) else TensorInfo()
        ctx.set(i, m.shape, m.dtype)
    out_axes = ctx.attr("scan_output_axes", None)
    for j, inf in enumerate(outs[n_state:]):
        if inf.shape is None:
            ctx.set(n_state + j, None, inf.dtype)
            continue
        r = len(inf.shape) + 1
        ax = _norm_axis(out_axes[j], r) if out_axes else 0
        shape = list(inf.shape)
        shape.insert(ax, seq_len)
        ctx.set(n_state + j, shape, inf.dtype)
