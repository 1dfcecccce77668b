"""Shape functions: onnxruntime's com.microsoft attention ops (Attention, MultiHeadAttention,
GroupQueryAttention, PackedAttention, PackedMultiHeadAttention, RotaryEmbedding).

Shapes as onnxruntime's contrib-op schemas give them, checked by running each op in
onnxruntime's CPU build (tests/test_contrib_ops.py):

* Attention: input [B, S, D_in] x weights [D_in, D_q + D_k + D_v] (``qkv_hidden_sizes``,
  else three equal parts) -> output [B, S, D_v]; present [2, B, N, P + S, D_k / N] with P
  the past's sequence length;
* MultiHeadAttention: query [B, S, D] (or packed QKV [B, S, N, 3, H]), key/value [B, L, D]
  (or already per-head [B, N, L, H]) -> output [B, S, D_v]; present key/value [B, N, P + L, H];
* GroupQueryAttention: query [B, S, N*H] (or packed [B, S, (N + 2 N_kv) H]) -> output
  [B, S, N*H]; present key/value [B, N_kv, T, H] with T the larger of the past's length and
  ``total_sequence_length`` (a value; unknown when not constant);
* PackedAttention / PackedMultiHeadAttention: tokens without padding, [T, D] -> [T, D_v];
* RotaryEmbedding: the input's shape.
"""
from __future__ import annotations

from analyzer.shapes.dims import dim_add, dim_floordiv, dim_max, dim_mul
from analyzer.shapes.ops_attention import _pick
from analyzer.shapes.ops_common import scalar
from analyzer.shapes.registry import ShapeError, register

MS = "com.microsoft"


def _heads_attr(ctx, name="num_heads"):
    n = ctx.attr(name, None)
    if not isinstance(n, int) or n < 1:
        raise ShapeError(f"{name} {n!r} is not a positive integer")
    return n


def _div_heads(hidden, n):
    if isinstance(hidden, int) and hidden % n:
        raise ShapeError(f"hidden size {hidden} not a multiple of {n} heads")
    return dim_floordiv(hidden, n)


@register("RotaryEmbedding", "GemmaRotaryEmbedding", domain=MS)
def rotary(ctx):
    ctx.same_as_input()


@register("Attention", domain=MS)
def attention(ctx):
    x, w = ctx.shape(0), ctx.shape(1)
    n = _heads_attr(ctx)
    sizes = ctx.attr("qkv_hidden_sizes", None)
    if sizes:
        if len(sizes) != 3 or not all(isinstance(s, int) and s > 0 for s in sizes):
            raise ShapeError(f"qkv_hidden_sizes {sizes!r} is not 3 positive integers")
        d_k, d_v = sizes[1], sizes[2]
    elif w is not None and len(w) == 2:
        d_k = d_v = dim_floordiv(w[1], 3) if not isinstance(w[1], int) or w[1] % 3 == 0 else None
        if isinstance(w[1], int) and w[1] % 3:
            raise ShapeError(f"weights' {w[1]} columns do not split into Q, K and V")
    else:
        d_k = d_v = None
    if x is None:
        return
    if len(x) != 3:
        raise ShapeError(f"input of rank {len(x)} (3 expected)")
    b, s = x[0], x[1]
    ctx.set(0, (b, s, d_v), ctx.dtype(0))
    past = ctx.shape(4) if ctx.has_input(4) else None
    if ctx.has_input(4):
        total = dim_add(past[3], s) if past is not None and len(past) == 5 else None
    else:
        total = s
    if d_k is not None:
        _div_heads(d_k, n)
    ctx.set(1, (2, b, n, total, None if d_k is None else dim_floordiv(d_k, n)), ctx.dtype(0))


@register("QAttention", domain=MS)
def q_attention(ctx):
    """Attention on quantised input and weights; a float output (the scales' type)."""
    x, w = ctx.shape(0), ctx.shape(1)
    n = _heads_attr(ctx)
    if x is None:
        return
    if len(x) != 3:
        raise ShapeError(f"input of rank {len(x)} (3 expected)")
    d = dim_floordiv(w[1], 3) if w is not None and len(w) == 2 else None
    dtype = ctx.dtype(3)
    ctx.set(0, (x[0], x[1], d), dtype)
    past = ctx.shape(8) if ctx.has_input(8) else None
    total = (dim_add(past[3], x[1]) if past is not None and len(past) == 5 else None) if ctx.has_input(8) else x[1]
    ctx.set(1, (2, x[0], n, total, None if d is None else dim_floordiv(d, n)), dtype)


@register("MultiHeadAttention", domain=MS)
def multi_head_attention(ctx):
    q = ctx.shape(0)
    n = _heads_attr(ctx)
    k = ctx.shape(1) if ctx.has_input(1) else None
    v = ctx.shape(2) if ctx.has_input(2) else None
    dtype = ctx.dtype(0)
    if q is None:
        return
    if len(q) == 5:  # packed QKV [B, S, N, 3, H]
        b, s, h, h_v = q[0], q[1], q[4], q[4]
        kv_len = s
        per_head_kv = False
    elif len(q) == 3:
        b, s = q[0], q[1]
        h = _div_heads(q[2], n)
        if ctx.has_input(1) and k is None:
            return
        if k is not None and len(k) == 5:  # packed KV [B, L, N, 2, H]
            kv_len, h_v, per_head_kv = k[1], k[4], False
        elif k is not None and len(k) == 4:  # per head [B, N, L, H]: the cache itself
            kv_len, per_head_kv = k[2], True
            h_v = v[3] if v is not None and len(v) == 4 else None
        elif k is not None and len(k) == 3:
            kv_len, per_head_kv = k[1], False
            h_v = _div_heads(v[2], n) if v is not None and len(v) == 3 else None
        elif k is None:
            kv_len, h_v, per_head_kv = s, h, False
        else:
            raise ShapeError(f"key of rank {len(k)}")
    else:
        raise ShapeError(f"query of rank {len(q)} (3 or 5 expected)")
    ctx.set(0, (b, s, dim_mul(n, h_v)), dtype)
    past = ctx.shape(6) if ctx.has_input(6) else None
    if per_head_kv:
        total = kv_len
    elif ctx.has_input(6):
        total = dim_add(past[2], kv_len) if past is not None and len(past) == 4 else None
    else:
        total = kv_len
    ctx.set(1, (b, n, total, h), dtype)
    ctx.set(2, (b, n, total, h_v), dtype)


@register("GroupQueryAttention", domain=MS)
def group_query_attention(ctx):
    q = ctx.shape(0)
    n = _heads_attr(ctx)
    n_kv = _heads_attr(ctx, "kv_num_heads")
    dtype = ctx.dtype(0)
    if q is None:
        return
    if len(q) != 3:
        raise ShapeError(f"query of rank {len(q)} (3 expected)")
    if ctx.has_input(1):
        h = _div_heads(q[2], n)
    else:  # packed QKV: [B, S, (N + 2 N_kv) H]
        h = _div_heads(q[2], n + 2 * n_kv)
    b, s = q[0], q[1]
    ctx.set(0, (b, s, dim_mul(n, h)), dtype)
    past = ctx.shape(3) if ctx.has_input(3) else None
    total = scalar(ctx, 6)
    if past is not None and len(past) == 4:
        b = _pick(b, past[0])
        present = past[2] if total is None else dim_max(past[2], total)
        if total is None and not isinstance(past[2], int):
            present = None
    else:
        present = total
    ctx.set(1, (b, n_kv, present, h), dtype)
    ctx.set(2, (b, n_kv, present, h), dtype)


@register("PackedAttention", domain=MS)
def packed_attention(ctx):
    x, w = ctx.shape(0), ctx.shape(1)
    _heads_attr(ctx)
    sizes = ctx.attr("qkv_hidden_sizes", None)
    if sizes:
        d_v = sizes[2] if len(sizes) == 3 else None
    else:
        d_v = dim_floordiv(w[1], 3) if w is not None and len(w) == 2 else None
    if x is None:
        return
    if len(x) != 2:
        raise ShapeError(f"input of rank {len(x)} (2 expected)")
    ctx.set(0, (x[0], d_v), ctx.dtype(0))


@register("PackedMultiHeadAttention", domain=MS)
def packed_multi_head_attention(ctx):
    q = ctx.shape(0)
    n = _heads_attr(ctx)
    if q is None:
        return
    if len(q) == 4:  # packed QKV [T, N, 3, H]
        ctx.set(0, (q[0], dim_mul(n, q[3])), ctx.dtype(0))
        return
    if len(q) != 2:
        raise ShapeError(f"query of rank {len(q)} (2 or 4 expected)")
    v = ctx.shape(2) if ctx.has_input(2) else None
    d_v = v[1] if v is not None and len(v) == 2 else q[1] if not ctx.has_input(2) else None
    ctx.set(0, (q[0], d_v), ctx.dtype(0))
