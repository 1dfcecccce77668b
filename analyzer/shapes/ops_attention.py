"""Shape functions: the fused transformer ops (Attention with its KV cache outputs,
FlexAttention, LinearAttention, CausalConvWithState).  RMSNormalization, RotaryEmbedding
and SwiGLU keep their input's shape (ops_elementwise); TensorScatter its cache's
(ops_tensor)."""
from __future__ import annotations

from analyzer.io.proto import TensorProto
from analyzer.shapes.dims import dim_add, dim_floordiv, dim_mul, dim_sub
from analyzer.shapes.registry import ShapeError, TensorInfo, register


def _pick(*ds):
    """One dim that several inputs must share: an int if any gives one, else the first known."""
    ints = {d for d in ds if isinstance(d, int)}
    if len(ints) > 1:
        raise ShapeError(f"inputs disagree on a shared dim: {sorted(ints)}")
    if ints:
        return ints.pop()
    return next((d for d in ds if d is not None), None)


def _heads(shape, n_heads):
    """(batch, heads, seq, head size) of a 4-D tensor, or of a 3-D one with ``n_heads``."""
    if shape is None:
        return None, n_heads, None, None
    if len(shape) == 4:
        return tuple(shape)
    if len(shape) == 3:
        b, s, hidden = shape
        if not n_heads:
            return b, None, s, None
        if isinstance(hidden, int) and hidden % n_heads:
            raise ShapeError(f"hidden size {hidden} not a multiple of {n_heads} heads")
        return b, n_heads, s, dim_floordiv(hidden, n_heads)
    raise ShapeError(f"rank {len(shape)} (3 or 4 expected)")


@register("Attention")
def attention(ctx):
    q, k, v = ctx.shape(0), ctx.shape(1), ctx.shape(2)
    hq_attr, hkv_attr = ctx.attr("q_num_heads", None), ctx.attr("kv_num_heads", None)
    bq, hq, sq, dq = _heads(q, hq_attr)
    bk, hk, sk, dk = _heads(k, hkv_attr)
    bv, hv, sv, dv = _heads(v, hkv_attr)
    b = _pick(bq, bk, bv)
    hkv = _pick(hk, hv)
    skv = _pick(sk, sv)
    past = ctx.shape(4) if ctx.has_input(4) else None
    if ctx.has_input(4):
        total = dim_add(past[2], skv) if past is not None and len(past) == 4 else None
    else:
        total = skv
    dtype = ctx.dtype(0)
    if q is not None and len(q) == 3:
        ctx.set(0, (b, sq, dim_mul(hq, dv)), dtype)
    elif q is not None:
        ctx.set(0, (b, hq, sq, dv), dtype)
    ctx.set(1, (b, hkv, total, _pick(dq, dk)), dtype)
    ctx.set(2, (b, hkv, total, dv), dtype)
    ctx.set(3, (b, hq, sq, total), dtype)


@register("FlexAttention", domain="ai.onnx.preview")
def flex_attention(ctx):
    q, k, v = ctx.shape(0), ctx.shape(1), ctx.shape(2)
    ok = all(s is not None and len(s) == 4 for s in (q, k, v))
    b = _pick(q[0], k[0], v[0]) if ok else None
    # the modifiers see the scores / probabilities: (B, Hq, L, S) in softmax_precision
    dtype = ctx.attr("softmax_precision", None)
    if dtype is None:
        dtype = ctx.dtype(0) if ctx.dtype(0) == TensorProto.DOUBLE else TensorProto.FLOAT
    scores = TensorInfo((b, q[1], q[2], k[2]) if ok else None, dtype)
    for name in ("score_mod", "prob_mod"):
        path = ctx.engine.graph.subgraph_path(ctx.op.key, name)
        if path is not None:
            ctx.engine.run_subgraph(path, [scores])
    if ok:
        ctx.set(0, (b, q[1], q[2], v[3]), ctx.dtype(0))


@register("LinearAttention")
def linear_attention(ctx):
    q, k, v = ctx.shape(0), ctx.shape(1), ctx.shape(2)
    hq, hkv = ctx.attr("q_num_heads", None), ctx.attr("kv_num_heads", None)
    if not hq or not hkv:
        raise ShapeError("q_num_heads and kv_num_heads are required")
    b = _pick(*(s[0] for s in (q, k, v) if s is not None and len(s) == 3))
    t = _pick(*(s[1] for s in (q, k, v) if s is not None and len(s) == 3))
    d_k = _pick(*(dim_floordiv(s[2], h) for s, h in ((q, hq), (k, hkv)) if s is not None and len(s) == 3))
    d_v = dim_floordiv(v[2], hkv) if v is not None and len(v) == 3 else None
    past = ctx.shape(3) if ctx.has_input(3) else None
    if past is not None and len(past) == 4:
        b = _pick(b, past[0])
        d_k = _pick(d_k, past[2])
        d_v = _pick(d_v, past[3])
    dtype = ctx.dtype(0)
    ctx.set(0, (b, t, dim_mul(hq, d_v)), dtype)
    ctx.set(1, (b, hkv, d_k, d_v), dtype)


@register("CausalConvWithState")
def causal_conv_with_state(ctx):
    x, w = ctx.shape(0), ctx.shape(1)
    ctx.set(0, x, ctx.dtype(0))
    if x is None or len(x) != 3:
        return
    k = w[2] if w is not None and len(w) == 3 else None
    ctx.set(1, (x[0], x[1], dim_sub(k, 1)), ctx.dtype(0))
