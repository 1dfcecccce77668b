"""Shape functions: If, Loop, Scan (their bodies are analyzed with bound inputs).

Loop-carried values (Loop's carried dependencies, Scan's state variables) may change
shape from one iteration to the next: the body is run with the initial shapes, then
again with what holds for both the input and the output of the body (dims that differ
become unknown), until nothing changes (at most a few rounds; then the shapes still
changing become unknown).  So what the body's values show holds for every iteration.
"""
from __future__ import annotations

import numpy as np

from analyzer.io.proto import TensorProto
from analyzer.shapes.dims import MAX_DIM
from analyzer.shapes.ops_common import fresh, norm_axis
from analyzer.shapes.registry import ShapeError, TensorInfo, register, type_to_shape

_MAX_ROUNDS = 3


def _subgraph_path(ctx, attr_name):
    """The subgraph held in ``attr_name`` (None when the node has no such attribute)."""
    return ctx.engine.graph.subgraph_path(ctx.op.key, attr_name)


def _merge(a: TensorInfo, b: TensorInfo) -> TensorInfo:
    """What is certain about a value that is either ``a`` or ``b``."""
    dtype = a.dtype if a.dtype is not None else b.dtype
    if a.shape is None or b.shape is None or len(a.shape) != len(b.shape):
        return TensorInfo(None, dtype)
    shape = tuple(x if x == y else None for x, y in zip(a.shape, b.shape))
    same_value = a.value is not None and b.value is not None and a.value.shape == b.value.shape and bool((a.value == b.value).all())
    same_sym = a.sym is not None and a.sym == b.sym
    return TensorInfo(shape, dtype, a.value if same_value else None, a.sym if same_sym else None)


def _shape_only(inf: TensorInfo) -> TensorInfo:
    return TensorInfo(inf.shape, inf.dtype)


def with_declared(engine, path, binds):
    """``binds`` for the formal inputs of body ``path``, with dims we do not know taken
    from the body's declared input types (a body's signature binds it, as a graph's
    inputs do)."""
    if path is None:
        return binds
    keys = engine.graph.subgraphs[path].input_keys
    out = []
    for i, b in enumerate(binds):
        vi = engine.graph.nx.nodes[keys[i]].get("value_info") if i < len(keys) else None
        shape, dtype = type_to_shape(vi)
        s = b.shape
        if s is None:
            s = shape
        elif shape is not None and len(shape) == len(s):
            s = tuple(d if d is not None else e for d, e in zip(s, shape))
        out.append(TensorInfo(s, b.dtype if b.dtype is not None else dtype, b.value, b.sym))
    return out


def run_to_fixpoint(engine, path, prefix, carried, out_offset):
    """Run body ``path`` with inputs ``prefix + carried`` until the carried shapes are
    stable.  ``carried`` are the initial values; the body's outputs
    ``out_offset .. out_offset + len(carried)`` are their next values.  Returns (the
    body's outputs of the last run, what holds for the carried values throughout)."""
    cur = with_declared(engine, path, prefix + [_shape_only(c) for c in carried])[len(prefix):]
    for _ in range(_MAX_ROUNDS):
        outs = engine.run_subgraph(path, prefix + cur)
        nxt = [_shape_only(_merge(c, outs[out_offset + i] if out_offset + i < len(outs) else TensorInfo())) for i, c in enumerate(cur)]
        nxt = with_declared(engine, path, prefix + nxt)[len(prefix):]
        if all(a.shape == b.shape for a, b in zip(cur, nxt)):
            return outs, nxt
        cur = nxt
    # still changing: what changed becomes unknown (then it is stable)
    outs = engine.run_subgraph(path, prefix + cur)
    final = []
    for i, c in enumerate(cur):
        o = outs[out_offset + i] if out_offset + i < len(outs) else TensorInfo()
        final.append(c if o.shape == c.shape else TensorInfo(None, c.dtype))
    if any(f.shape != c.shape for f, c in zip(final, cur)):
        outs = engine.run_subgraph(path, prefix + final)
    return outs, final


@register("If")
def if_op(ctx):
    cond = ctx.value(0)
    then_out = ctx.engine.run_subgraph(_subgraph_path(ctx, "then_branch"), [])
    else_out = ctx.engine.run_subgraph(_subgraph_path(ctx, "else_branch"), [])
    for i in range(ctx.n_outputs):
        a = then_out[i] if i < len(then_out) else TensorInfo()
        b = else_out[i] if i < len(else_out) else TensorInfo()
        if cond is not None and cond.size == 1:
            chosen = a if bool(cond.reshape(-1)[0]) else b
            ctx.set(i, chosen.shape, chosen.dtype, chosen.value, chosen.sym)
        else:
            m = _merge(a, b)
            ctx.set(i, m.shape, m.dtype, m.value, m.sym)


@register("Loop")
def loop(ctx):
    n_carried = max(ctx.n_inputs - 2, 0)
    path = _subgraph_path(ctx, "body")
    # Inside the body the condition is always true (the loop stops before a false one).
    prefix = [TensorInfo((), TensorProto.INT64), TensorInfo((), TensorProto.BOOL, np.array(True))]
    carried = [ctx.info(2 + i) for i in range(n_carried)]
    outs, final = run_to_fixpoint(ctx.engine, path, prefix, carried, 1)
    for i in range(n_carried):
        ctx.set(i, final[i].shape, final[i].dtype if final[i].dtype is not None else carried[i].dtype)
    trip = ctx.sym(0) if ctx.has_input(0) else None
    trip = trip[0] if trip is not None and len(trip) == 1 else None
    if isinstance(trip, int) and not 0 <= trip <= MAX_DIM:
        trip = None  # exporters write INT64_MAX for "until the condition says stop"
    body_cond = outs[0].value if outs else None
    stops_early = ctx.has_input(1) and not (body_cond is not None and body_cond.size == 1 and bool(body_cond.reshape(-1)[0]))
    if ctx.has_input(1) and ctx.value(1) is not None and ctx.value(1).size == 1 and not bool(ctx.value(1).reshape(-1)[0]):
        n_iter = 0  # the condition is false from the start
    elif trip is not None and not stops_early:
        n_iter = trip
    else:
        n_iter = fresh(ctx, "iterations", out=n_carried)
    for j, inf in enumerate(outs[1 + n_carried:]):
        shape = None if inf.shape is None else (n_iter,) + tuple(inf.shape)
        ctx.set(n_carried + j, shape, inf.dtype)


@register("Scan")
def scan(ctx):
    if ctx.opset < 9:
        _scan8(ctx)
        return
    n_scan_in = ctx.attr("num_scan_inputs", 0)
    n_state = ctx.n_inputs - n_scan_in
    if not 0 <= n_scan_in <= ctx.n_inputs:
        raise ShapeError(f"num_scan_inputs {n_scan_in} out of range for {ctx.n_inputs} inputs")
    in_axes = ctx.attr("scan_input_axes", None) or [0] * n_scan_in
    if len(in_axes) != n_scan_in:
        raise ShapeError(f"{len(in_axes)} scan_input_axes for {n_scan_in} scan inputs")
    elems = []
    seq_len = None
    for j in range(n_scan_in):
        inf = ctx.info(n_state + j)
        if inf.shape is None:
            elems.append(TensorInfo(None, inf.dtype))
            continue
        ax = norm_axis(in_axes[j], len(inf.shape))
        if seq_len is None:
            seq_len = inf.shape[ax]
        elif isinstance(seq_len, int) and isinstance(inf.shape[ax], int) and seq_len != inf.shape[ax]:
            raise ShapeError(f"scan inputs of lengths {seq_len} and {inf.shape[ax]}")
        elems.append(TensorInfo(tuple(d for k, d in enumerate(inf.shape) if k != ax), inf.dtype))
    states = [ctx.info(i) for i in range(n_state)]
    outs, final = _run_states_first(ctx, states, elems)
    for i in range(n_state):
        ctx.set(i, final[i].shape, final[i].dtype)
    out_axes = ctx.attr("scan_output_axes", None)
    for j, inf in enumerate(outs[n_state:]):
        if inf.shape is None:
            ctx.set(n_state + j, None, inf.dtype)
            continue
        r = len(inf.shape) + 1
        ax = norm_axis(out_axes[j], r) if out_axes and j < len(out_axes) else 0
        shape = list(inf.shape)
        shape.insert(ax, seq_len)
        ctx.set(n_state + j, shape, inf.dtype)


def _run_states_first(ctx, states, elems):
    """The body takes the states then the scan elements and returns the states first:
    run it to a fixpoint of the state shapes."""
    engine = ctx.engine
    path = _subgraph_path(ctx, "body")
    bound = with_declared(engine, path, [_shape_only(s) for s in states] + elems)
    cur, elems = bound[: len(states)], bound[len(states):]
    for _ in range(_MAX_ROUNDS + 1):
        outs = engine.run_subgraph(path, cur + elems)
        nxt = [_shape_only(_merge(c, outs[i] if i < len(outs) else TensorInfo())) for i, c in enumerate(cur)]
        nxt = with_declared(engine, path, nxt + elems)[: len(nxt)]
        if all(a.shape == b.shape for a, b in zip(cur, nxt)):
            return outs, nxt
        cur = nxt
    final = [TensorInfo(None, c.dtype) for c in cur]
    return engine.run_subgraph(path, final + elems), final


def _scan8(ctx):
    """Scan-8: input 0 is sequence_lens, every state and scan input has a batch axis 0,
    scan inputs are scanned along axis 1; outputs keep the batch axis."""
    n_scan_in = ctx.attr("num_scan_inputs", 0)
    n_state = ctx.n_inputs - 1 - n_scan_in
    if n_state < 0:
        raise ShapeError(f"num_scan_inputs {n_scan_in} out of range for {ctx.n_inputs} inputs")
    batch = None
    states = []
    for i in range(n_state):
        inf = ctx.info(1 + i)
        if inf.shape is not None and len(inf.shape) >= 1:
            batch = batch if batch is not None else inf.shape[0]
            states.append(TensorInfo(tuple(inf.shape[1:]), inf.dtype))
        else:
            states.append(TensorInfo(None, inf.dtype))
    elems = []
    seq_len = None
    for j in range(n_scan_in):
        inf = ctx.info(1 + n_state + j)
        if inf.shape is not None and len(inf.shape) >= 2:
            batch = batch if batch is not None else inf.shape[0]
            seq_len = seq_len if seq_len is not None else inf.shape[1]
            elems.append(TensorInfo(tuple(inf.shape[2:]), inf.dtype))
        else:
            elems.append(TensorInfo(None, inf.dtype))
    outs, final = _run_states_first(ctx, states, elems)
    for i in range(n_state):
        f = final[i]
        ctx.set(i, None if f.shape is None else (batch,) + tuple(f.shape), f.dtype)
    for j, inf in enumerate(outs[n_state:]):
        ctx.set(n_state + j, None if inf.shape is None else (batch, seq_len) + tuple(inf.shape), inf.dtype)
