"""Shape functions: tensor ops whose output extent comes from attributes or values
(split from ops_tensor.py): broadcasting (Expand, Tile), padding and resampling (Pad,
Resize, CenterCropPad, Col2Im), generators (Range, EyeLike, RandomNormal/Uniform,
OneHot), data-dependent sizes (NonZero, Compress, Unique: fresh symbols), BitCast and
TensorScatter.
"""
from __future__ import annotations

import numpy as np

from analyzer.io.proto import TensorProto
from analyzer.shapes.dims import MAX_DIM, MAX_RANK, dim_add, dim_ceildiv, dim_floordiv, dim_max, dim_mul, dim_sub, shape_numel
from analyzer.shapes.ops_common import dim_product, fresh, nonneg, norm_axis, scalar
from analyzer.shapes.ops_elementwise import broadcast
from analyzer.shapes.registry import ShapeError, register

INT64 = TensorProto.INT64


def _expand_partial(x, n):
    """Expand to a shape of ``n`` unknown entries: where the input's dim is a number
    other than 1 the output keeps it (the target there must be 1 or that size); a
    symbol might be 1 and then the target decides."""
    r = max(n, len(x))
    xs = (1,) * (r - len(x)) + tuple(x)
    tail = r - n  # input axes the target does not reach keep their size
    return tuple(d if i < tail or (isinstance(d, int) and d != 1) else None for i, d in enumerate(xs))


@register("Expand")
def expand(ctx):
    dims = ctx.sym(1)
    x = ctx.shape(0)
    if dims is None:
        s = ctx.shape(1)
        if x is not None and s is not None and len(s) == 1 and isinstance(s[0], int) and 0 <= s[0] <= MAX_RANK:
            ctx.set(0, _expand_partial(x, s[0]), ctx.dtype(0))
        else:
            ctx.set(0, None, ctx.dtype(0))
        return
    if x is None:
        ctx.set(0, None, ctx.dtype(0))
        return
    # A None entry of the target: where the input's dim is not 1 it wins.
    target = list(dims)
    r = max(len(x), len(target))
    xs = (1,) * (r - len(x)) + tuple(x)
    ts = [1] * (r - len(target)) + target
    out = []
    for a, b in zip(xs, ts):
        if b is None:
            out.append(a if isinstance(a, int) and a != 1 else None)
        else:
            out.append(broadcast((a,), (b,))[0])
    value = None
    v = ctx.value(0)
    if v is not None and all(isinstance(d, int) for d in out) and ctx.can_fold(shape_numel(out)):
        value = np.broadcast_to(v, out).copy()
    ctx.set(0, out, ctx.dtype(0), value)


@register("Tile")
def tile(ctx):
    x = ctx.shape(0)
    reps = ctx.sym(1)
    if x is None:
        return
    if reps is None:
        ctx.set(0, (None,) * len(x), ctx.dtype(0))
        return
    if len(reps) != len(x):
        raise ShapeError("repeats length differs from the input rank")
    ctx.set(0, [dim_mul(d, r) for d, r in zip(x, reps)], ctx.dtype(0))


@register("Pad")
def pad(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    pads = ctx.sym(1) if ctx.has_input(1) else ctx.attr("pads", None)
    if pads is None:
        ctx.set(0, (None,) * len(x), ctx.dtype(0))
        return
    axes = ctx.ints(3) if ctx.has_input(3) else list(range(len(x)))
    if axes is None:
        ctx.set(0, (None,) * len(x), ctx.dtype(0))
        return
    axes = [norm_axis(a, len(x)) for a in axes]
    if len(pads) != 2 * len(axes):
        raise ShapeError(f"{len(pads)} pads for {len(axes)} axes")
    out = list(x)
    for i, a in enumerate(axes):
        out[a] = dim_add(out[a], dim_add(pads[i], pads[i + len(axes)]))
        if isinstance(out[a], int) and out[a] < 0:
            raise ShapeError("negative pads remove more than the axis holds")
    ctx.set(0, out, ctx.dtype(0))


def _resize_axes(ctx, r):
    axes = ctx.attr("axes", None)
    return [norm_axis(a, r) for a in axes] if axes else list(range(r))


@register("Resize", "Upsample")
def resize(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    r = len(x)
    if ctx.node.op_type == "Upsample":
        scales = ctx.value(1) if ctx.has_input(1) else np.array(ctx.attr("scales", []) or [], dtype=np.float32)
        sizes = None
        ax = list(range(r))
    else:
        ax = _resize_axes(ctx, r)
        sizes = ctx.sym(3) if ctx.has_input(3) else None
        scales = ctx.value(2) if ctx.has_input(2) and ctx.shape(2) not in ((0,),) else None
        if ctx.opset < 11 and ctx.has_input(1):  # Resize-10: (X, scales)
            scales = ctx.value(1)
    out = list(x)
    if sizes is not None:
        if len(sizes) != len(ax):
            raise ShapeError("sizes length differs from the number of axes")
        policy = ctx.attr("keep_aspect_ratio_policy", "stretch")
        if policy == "stretch":
            for a, s in zip(ax, sizes):
                out[a] = s
        else:
            # one scale for all axes: the smallest (not_larger) or largest (not_smaller) ratio
            if not all(isinstance(s, int) for s in sizes) or not all(isinstance(x[a], int) and x[a] > 0 for a in ax):
                for a in ax:
                    out[a] = None
            else:
                ratios = [s / x[a] for a, s in zip(ax, sizes)]
                scale = min(ratios) if policy == "not_larger" else max(ratios)
                for a in ax:
                    out[a] = int(np.round(scale * x[a]))
        ctx.set(0, out, ctx.dtype(0))
        return
    if scales is not None and scales.size:
        if scales.size != len(ax):
            raise ShapeError("scales length differs from the number of axes")
        for a, s in zip(ax, scales.reshape(-1)):
            d = x[a]
            if isinstance(d, int):
                out[a] = int(np.floor(d * np.float32(s))) if ctx.node.op_type == "Upsample" else int(np.floor(d * float(s)))
            elif float(s) == int(s) and s > 0:
                out[a] = dim_mul(d, int(s))
            else:
                out[a] = None
        ctx.set(0, out, ctx.dtype(0))
        return
    for a in ax:
        out[a] = None
    ctx.set(0, out, ctx.dtype(0))


@register("Range")
def range_op(ctx):
    dtype = ctx.dtype(0)
    s, l, d = ctx.value(0), ctx.value(1), ctx.value(2)
    if s is not None and l is not None and d is not None and s.size == l.size == d.size == 1:
        s0, l0, d0 = s.reshape(()).item(), l.reshape(()).item(), d.reshape(()).item()
        if d0 == 0:
            raise ShapeError("Range with delta 0")
        n = max(int(np.ceil((l0 - s0) / d0)), 0)
        if n > MAX_DIM:
            raise ShapeError("Range too long")
        value = np.arange(s0, l0, d0).astype(s.dtype) if ctx.can_fold(n) else None
        ctx.set(0, (n,), dtype, value)
        return
    start, limit, delta = scalar(ctx, 0), scalar(ctx, 1), scalar(ctx, 2)
    n = None
    if isinstance(delta, int) and delta > 0 and start is not None and limit is not None:
        span = dim_sub(limit, start)
        if nonneg(limit) and isinstance(start, int) and start <= 0:
            n = dim_ceildiv(span, delta)  # limit - start >= 0
        else:
            n = dim_max(dim_ceildiv(span, delta), 0)
    elif isinstance(delta, int) and delta < 0 and start is not None and limit is not None:
        n = dim_max(dim_ceildiv(dim_sub(start, limit), -delta), 0)
    if n is None:
        n = fresh(ctx, "len")
    ctx.set(0, (n,), dtype)


@register("EyeLike")
def eye_like(ctx):
    ctx.set(0, ctx.shape(0), ctx.attr("dtype", None) or ctx.dtype(0))


@register("RandomNormal", "RandomUniform")
def random_op(ctx):
    ctx.set(0, tuple(ctx.attr("shape", [])), ctx.attr("dtype", TensorProto.FLOAT))


@register("NonZero")
def nonzero(ctx):
    x = ctx.shape(0)
    v = ctx.value(0)
    if v is not None:
        ctx.set(0, (v.ndim, int(np.count_nonzero(v))), INT64)
        return
    ctx.set(0, (len(x) if x is not None else None, fresh(ctx, "count")), INT64)


@register("OneHot")
def one_hot(ctx):
    idx = ctx.shape(0)
    depth = ctx.value(1)
    dep = None
    if depth is not None and depth.size == 1:
        dep = int(depth.reshape(-1)[0])
        if dep < 0:
            raise ShapeError(f"depth {dep}")
    elif ctx.info(1).sym is not None:
        dep = scalar(ctx, 1)
    if idx is None:
        return
    r = len(idx) + 1
    axis = norm_axis(ctx.attr("axis", -1), r)
    out = list(idx)
    out.insert(axis, dep)
    ctx.set(0, out, ctx.dtype(2))


@register("Compress")
def compress(ctx):
    x = ctx.shape(0)
    cond = ctx.value(1)
    axis = ctx.attr("axis", None)
    if x is None:
        return
    if axis is None:
        n = dim_product(x)
        count = int(np.count_nonzero(cond.reshape(-1)[:n])) if cond is not None and isinstance(n, int) else fresh(ctx, "count")
        ctx.set(0, (count,), ctx.dtype(0))
        return
    a = norm_axis(axis, len(x))
    out = list(x)
    if cond is not None and isinstance(x[a], int):
        out[a] = int(np.count_nonzero(cond.reshape(-1)[: x[a]]))
    else:
        out[a] = fresh(ctx, "count")
    ctx.set(0, out, ctx.dtype(0))


@register("Unique")
def unique(ctx):
    x = ctx.shape(0)
    axis = ctx.attr("axis", None)
    u = fresh(ctx, "count")
    if x is not None and axis is not None:
        a = norm_axis(axis, len(x))
        out = list(x)
        out[a] = u
        n = x[a]
    else:
        out = [u] if x is not None or axis is None else None
        n = None if x is None else dim_product(x)
    ctx.set(0, out, ctx.dtype(0))
    ctx.set(1, (u,), INT64)
    ctx.set(2, (n,), INT64)
    ctx.set(3, (u,), INT64)


@register("CenterCropPad")
def center_crop_pad(ctx):
    x = ctx.shape(0)
    sizes = ctx.sym(1)
    if x is None:
        return
    axes = ctx.attr("axes", None)
    ax = [norm_axis(a, len(x)) for a in axes] if axes else list(range(len(x)))
    out = list(x)
    for i, a in enumerate(ax):
        out[a] = sizes[i] if sizes is not None and i < len(sizes) else None
    if sizes is not None and len(sizes) != len(ax):
        raise ShapeError(f"{len(sizes)} sizes for {len(ax)} axes")
    ctx.set(0, out, ctx.dtype(0))


@register("Col2Im")
def col2im(ctx):
    x = ctx.shape(0)
    image = ctx.sym(1)
    block = ctx.sym(2)
    if x is None or len(x) != 3:
        return
    n_sp = len(image) if image is not None else (len(block) if block is not None else None)
    if n_sp is None:
        s = ctx.shape(1)
        n_sp = s[0] if s is not None and len(s) == 1 and isinstance(s[0], int) and s[0] <= MAX_RANK else None
    c = None
    if block is not None and all(isinstance(b, int) and b > 0 for b in block):
        prod = 1
        for b in block:
            prod *= b
        c = dim_floordiv(x[1], prod)  # exact: the input's C * prod(block)
        if isinstance(x[1], int) and x[1] % prod:
            raise ShapeError(f"{x[1]} not divisible by the block size {prod}")
    if n_sp is None:
        ctx.set(0, None, ctx.dtype(0))
        return
    ctx.set(0, [x[0], c] + (list(image) if image is not None else [None] * n_sp), ctx.dtype(0))


@register("BitCast")
def bit_cast(ctx):
    ctx.set(0, ctx.shape(0), ctx.attr("to", None))


@register("TensorScatter")
def tensor_scatter(ctx):
    ctx.same_as_input(0, 0)
