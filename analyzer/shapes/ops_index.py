"""Shape functions: selecting parts of a tensor, Slice and the Gather family (split from
ops_tensor.py; Slice and Gather are links of the exporters' shape sub-graphs and read
their shape-like inputs through ``ctx.sym``).
"""
from __future__ import annotations

import numpy as np

from analyzer.shapes.dims import dim_add, dim_ceildiv, dim_max, dim_min, dim_sub, shape_numel
from analyzer.shapes.ops_common import BIG_INDEX, nonneg, norm_axis
from analyzer.shapes.registry import ShapeError, register


def _clamp_slice(start, end, step, dim):
    """ONNX Slice semantics for one axis of size ``dim``; returns the output size."""
    if start < 0:
        start += dim
    if end < 0:
        end += dim
    if step > 0:
        start = min(max(start, 0), dim)
        end = min(max(end, 0), dim)
        return max(0, -(-(end - start) // step)), start, end
    start = min(max(start, -1), dim - 1)
    end = min(max(end, -1), dim - 1)
    return max(0, -(-(start - end) // -step)), start, end


def _slice_bound(i, d):
    """Where start/end ``i`` (int or symbol) lands on an axis of symbolic size ``d``,
    for a positive step: clamp(i < 0 ? i + d : i, 0, d).  None when unknown."""
    if isinstance(i, int):
        if i >= BIG_INDEX:
            return d
        if i == 0:
            return 0
        if i > 0:
            return dim_min(i, d)
        if i <= -BIG_INDEX:
            return 0
        return dim_max(dim_add(d, i), 0)
    if i is not None and nonneg(i):
        return d if i == d else dim_min(i, d)
    return None


def _slice_len(d, s, e, st):
    """Output size of one sliced axis: exact, ints or symbols (None when unknown)."""
    if isinstance(d, int) and isinstance(s, int) and isinstance(e, int):
        return _clamp_slice(s, e, st, d)[0]
    if d is None or s is None or e is None:
        return None
    if st > 0:
        b, f = _slice_bound(s, d), _slice_bound(e, d)
        if b is None or f is None:
            return None
        if f == d and isinstance(s, int):
            # to the end: d - max(d + s, 0) = min(-s, d) from the back, max(d - s, 0) from the front
            n = dim_min(-s, d) if s < 0 else dim_max(dim_sub(d, s), 0) if s else d
        elif b == 0:
            n = f
        elif isinstance(s, int) and isinstance(e, int) and s >= 0 and e < 0:
            n = dim_max(dim_sub(dim_add(d, e), s), 0)
        elif isinstance(s, int) and isinstance(e, int) and s < 0 and e < 0 and e <= s:
            n = 0
        else:
            n = dim_max(dim_sub(f, b), 0)
        return dim_ceildiv(n, st) if n is not None else None
    # negative step: only the whole axis reversed (x[::-k]) is symbolic-friendly
    if isinstance(s, int) and isinstance(e, int) and s >= BIG_INDEX and e <= -BIG_INDEX:
        return dim_ceildiv(d, -st)
    if isinstance(s, int) and isinstance(e, int) and s == -1 and e <= -BIG_INDEX:
        return dim_ceildiv(d, -st)
    return None


@register("Slice")
def slice_op(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    if ctx.has_input(1) or ctx.opset >= 10:  # opset >= 10: starts, ends, axes, steps are inputs
        starts, ends = ctx.sym(1), ctx.sym(2)
        axes = ctx.ints(3) if ctx.has_input(3) else None
        steps = ctx.ints(4) if ctx.has_input(4) else None
        if ctx.has_input(3) and axes is None or ctx.has_input(4) and steps is None:
            starts = None
    else:
        starts, ends = ctx.attr("starts", None), ctx.attr("ends", None)
        axes, steps = ctx.attr("axes", None), None
    if starts is None or ends is None:
        if axes is not None:
            out = list(x)
            for a in axes:
                out[norm_axis(a, len(x))] = None
            ctx.set(0, out, ctx.dtype(0))
        else:
            ctx.set(0, (None,) * len(x), ctx.dtype(0))
        return
    axes = axes if axes is not None else list(range(len(starts)))
    steps = steps if steps is not None else [1] * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise ShapeError("starts/ends/axes/steps differ in length")
    out = list(x)
    slices = [slice(None)] * len(x)
    exact = True
    seen = set()
    for s, e, a, st in zip(starts, ends, axes, steps):
        a = norm_axis(a, len(x))
        if a in seen:
            raise ShapeError(f"axis {a} sliced twice")
        seen.add(a)
        if st == 0:
            raise ShapeError("slice step 0")
        d = x[a]
        if isinstance(d, int) and isinstance(s, int) and isinstance(e, int):
            size, s2, e2 = _clamp_slice(s, e, st, d)
            out[a] = size
            slices[a] = slice(s2, e2 if e2 >= 0 else None, st)
        else:
            exact = False
            out[a] = _slice_len(d, s, e, st)
    value = ctx.value(0)
    value = value[tuple(slices)] if value is not None and exact else None
    sym = None
    src = ctx.sym(0) if ctx.info(0).sym is not None else None
    if value is None and src is not None and len(x) == 1 and isinstance(x[0], int) and exact:
        sym = src[slices[0]]
    ctx.set(0, out, ctx.dtype(0), value, sym)


@register("Gather")
def gather(ctx):
    x, idx = ctx.shape(0), ctx.shape(1)
    if x is None or idx is None:
        return
    axis = norm_axis(ctx.attr("axis", 0), len(x))
    out = list(x[:axis]) + list(idx) + list(x[axis + 1:])
    iv = ctx.value(1)
    value = sym = None
    if iv is not None and iv.dtype.kind in "iu" and isinstance(x[axis], int):
        if np.any(iv < -x[axis]) or np.any(iv >= x[axis]):
            raise ShapeError(f"index out of range for axis of size {x[axis]}")
        if ctx.value(0) is not None and ctx.can_fold(shape_numel(out)):
            value = np.take(ctx.value(0), iv, axis=axis)
        elif len(x) == 1 and ctx.info(0).sym is not None and iv.ndim <= 1:
            src = ctx.info(0).sym
            sym = [src[int(i)] for i in iv.reshape(-1)]
    ctx.set(0, out, ctx.dtype(0), value, sym)


@register("GatherElements")
def gather_elements(ctx):
    ctx.set(0, ctx.shape(1), ctx.dtype(0))


@register("GatherND")
def gather_nd(ctx):
    x, idx = ctx.shape(0), ctx.shape(1)
    b = ctx.attr("batch_dims", 0)
    if x is None or idx is None or not idx or not isinstance(idx[-1], int):
        return
    if b + idx[-1] > len(x):
        raise ShapeError(f"indices of depth {idx[-1]} into a rank-{len(x)} tensor (batch_dims {b})")
    ctx.set(0, list(idx[:-1]) + list(x[b + idx[-1]:]), ctx.dtype(0))


