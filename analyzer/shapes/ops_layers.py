"""Shape functions: the other neural-network layers (split from ops_nn.py): detection
(RoiAlign, NonMaxSuppression, MaxRoiPool, TopK), DepthToSpace/SpaceToDepth, recurrent
layers (LSTM, GRU, RNN), MaxUnpool, GridSample, AffineGrid, the losses and Det."""
from __future__ import annotations

from analyzer.io.proto import TensorProto
from analyzer.shapes.dims import dim_add, dim_floordiv, dim_mul, dim_sub
from analyzer.shapes.ops_common import fresh, norm_axis
from analyzer.shapes.registry import ShapeError, register

INT64 = TensorProto.INT64


@register("RoiAlign")
def roi_align(ctx):
    x, rois = ctx.shape(0), ctx.shape(1)
    n = rois[0] if rois is not None else None
    c = x[1] if x is not None else None
    ctx.set(0, (n, c, ctx.attr("output_height", 1), ctx.attr("output_width", 1)), ctx.dtype(0))


@register("NonMaxSuppression")
def nms(ctx):
    """selected_indices: [number selected, 3], data dependent (a fresh symbol)."""
    ctx.set(0, (fresh(ctx, "count"), 3), INT64)


@register("TopK")
def topk(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    axis = norm_axis(ctx.attr("axis", -1), len(x))
    if ctx.has_input(1):
        k = ctx.sym(1)
        kdim = k[0] if k is not None and len(k) == 1 and k[0] is not None else fresh(ctx, "k")
    else:  # TopK-1: k is an attribute
        kdim = ctx.attr("k", None)
    if isinstance(kdim, int) and isinstance(x[axis], int) and not 0 <= kdim <= x[axis]:
        raise ShapeError(f"k = {kdim} for an axis of size {x[axis]}")
    out = list(x)
    out[axis] = kdim
    ctx.set(0, out, ctx.dtype(0))
    ctx.set(1, out, INT64)


@register("DepthToSpace", "SpaceToDepth")
def depth_space(ctx):
    x = ctx.shape(0)
    if x is None or len(x) != 4:
        return
    b = ctx.attr("blocksize")
    n, c, h, w = x
    if ctx.node.op_type == "DepthToSpace":
        if isinstance(c, int) and c % (b * b):
            raise ShapeError(f"{c} channels not divisible by blocksize^2 = {b * b}")
        c2 = dim_floordiv(c, b * b)  # exact: C is a multiple of blocksize^2
        ctx.set(0, (n, c2, dim_mul(h, b), dim_mul(w, b)), ctx.dtype(0))
    else:
        ctx.set(0, (n, dim_mul(c, b * b), dim_floordiv(h, b), dim_floordiv(w, b)), ctx.dtype(0))


@register("LSTM", "GRU", "RNN")
def rnn(ctx):
    x, w = ctx.shape(0), ctx.shape(1)
    if x is None or len(x) != 3:
        return
    hidden = ctx.attr("hidden_size", None)
    r = ctx.shape(2)
    if hidden is None and r is not None and len(r) == 3:
        hidden = r[2]
    dirs = 2 if ctx.attr("direction", "forward") == "bidirectional" else 1
    if w is not None and w and isinstance(w[0], int) and w[0] != dirs:
        raise ShapeError(f"W has {w[0]} directions, the direction attribute says {dirs}")
    layout = ctx.attr("layout", 0)
    seq, batch = (x[0], x[1]) if layout == 0 else (x[1], x[0])
    if layout == 0:
        ctx.set(0, (seq, dirs, batch, hidden), ctx.dtype(0))
        ctx.set(1, (dirs, batch, hidden), ctx.dtype(0))
        ctx.set(2, (dirs, batch, hidden), ctx.dtype(0))
    else:
        ctx.set(0, (batch, seq, dirs, hidden), ctx.dtype(0))
        ctx.set(1, (batch, dirs, hidden), ctx.dtype(0))
        ctx.set(2, (batch, dirs, hidden), ctx.dtype(0))


@register("MaxUnpool")
def max_unpool(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    sr = len(x) - 2
    if ctx.has_input(2):
        out = ctx.sym(2)
        if out is None:
            ctx.set(0, (None,) * len(x), ctx.dtype(0))
            return
        if len(out) != len(x):
            raise ShapeError(f"output_shape of length {len(out)} for a rank-{len(x)} input")
        ctx.set(0, out, ctx.dtype(0))
        return
    kernel = ctx.attr("kernel_shape", None)
    if kernel is None or len(kernel) != sr:
        raise ShapeError("kernel_shape missing or of the wrong length")
    strides = list(ctx.attr("strides", None) or [1] * sr)
    pads = list(ctx.attr("pads", None) or [0] * (2 * sr))
    out = list(x[:2])
    for i, n in enumerate(x[2:]):
        # (in - 1) * stride - pad_begin - pad_end + kernel
        out.append(dim_add(dim_mul(dim_sub(n, 1), strides[i]), kernel[i] - pads[i] - pads[i + sr]))
    ctx.set(0, out, ctx.dtype(0))


@register("MaxRoiPool")
def max_roi_pool(ctx):
    x, rois = ctx.shape(0), ctx.shape(1)
    pooled = ctx.attr("pooled_shape", None)
    if pooled is None or len(pooled) != 2:
        raise ShapeError("pooled_shape missing or not of length 2")
    ctx.set(0, (rois[0] if rois else None, x[1] if x and len(x) > 1 else None, pooled[0], pooled[1]), ctx.dtype(0))


@register("GridSample")
def grid_sample(ctx):
    x, grid = ctx.shape(0), ctx.shape(1)
    if grid is None:
        if x is not None:
            ctx.set(0, tuple(x[:2]) + (None,) * (len(x) - 2), ctx.dtype(0))
        return
    if x is not None and len(x) != len(grid):
        raise ShapeError(f"grid of rank {len(grid)} for an input of rank {len(x)}")
    n = grid[0] if x is None or not isinstance(x[0], int) else x[0]
    ctx.set(0, (n, x[1] if x is not None else None) + tuple(grid[1:-1]), ctx.dtype(0))


@register("AffineGrid")
def affine_grid(ctx):
    size = ctx.sym(1)
    if size is None:
        s = ctx.shape(1)
        if s is not None and len(s) == 1 and s[0] in (4, 5):
            ctx.set(0, (None,) * (s[0] - 1) + (s[0] - 2,), ctx.dtype(0))
        return
    if len(size) not in (4, 5):
        raise ShapeError(f"size of length {len(size)} (4 or 5 expected)")
    ctx.set(0, [size[0]] + list(size[2:]) + [len(size) - 2], ctx.dtype(0))


@register("NegativeLogLikelihoodLoss")
def nll_loss(ctx):
    if ctx.attr("reduction", "mean") != "none":
        ctx.set(0, (), ctx.dtype(0))
        return
    t = ctx.shape(1)
    if t is None:
        x = ctx.shape(0)
        t = None if x is None else tuple(x[:1]) + tuple(x[2:])
    ctx.set(0, t, ctx.dtype(0))


@register("SoftmaxCrossEntropyLoss")
def sce_loss(ctx):
    x = ctx.shape(0)
    if ctx.attr("reduction", "mean") != "none":
        ctx.set(0, (), ctx.dtype(0))
    else:
        t = ctx.shape(1)
        if t is None and x is not None:
            t = tuple(x[:1]) + tuple(x[2:])
        ctx.set(0, t, ctx.dtype(0))
    ctx.set(1, x, ctx.dtype(0))


@register("Det")
def det(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    if len(x) < 2:
        raise ShapeError(f"Det of a rank-{len(x)} tensor")
    if isinstance(x[-1], int) and isinstance(x[-2], int) and x[-1] != x[-2]:
        raise ShapeError(f"Det of a {x[-2]}x{x[-1]} matrix")
    ctx.set(0, x[:-2], ctx.dtype(0))
