"""Shape functions: signal processing (speech front ends): DFT, STFT, window functions,
MelWeightMatrix."""
from __future__ import annotations

from analyzer.io.proto import TensorProto
from analyzer.shapes.dims import dim_add, dim_floordiv, dim_mul, dim_sub
from analyzer.shapes.ops_common import norm_axis, scalar
from analyzer.shapes.registry import ShapeError, register


@register("DFT")
def dft(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    r = len(x)
    if r < 2:
        raise ShapeError(f"input of rank {r}: a DFT needs the signal axes and the complex axis")
    inverse = ctx.attr("inverse", 0)
    onesided = ctx.attr("onesided", 0)
    last = 1 if onesided and inverse else 2
    if ctx.opset >= 20:
        if ctx.has_input(2):
            a = ctx.ints(2)
            if a is None or len(a) != 1:
                # axis unknown: a plain DFT of the full length keeps every signal axis
                keeps = not onesided and not ctx.has_input(1)
                ctx.set(0, (tuple(x[:-1]) if keeps else (None,) * (r - 1)) + (last,), ctx.dtype(0))
                return
            axis = a[0]
        else:
            axis = -2
    else:
        axis = ctx.attr("axis", 1)
    axis = norm_axis(axis, r)
    if axis == r - 1:
        raise ShapeError("the DFT axis is the complex axis")
    if ctx.has_input(1):
        n = scalar(ctx, 1)
    elif onesided and inverse:
        n = dim_mul(dim_sub(x[axis], 1), 2)
    else:
        n = x[axis]
    out = list(x)
    if onesided and not inverse:
        out[axis] = dim_add(dim_floordiv(n, 2), 1)
        out[-1] = 2
    elif onesided and inverse:
        out[axis] = n
        out[-1] = 1
    else:
        out[axis] = n
        out[-1] = 2
    ctx.set(0, out, ctx.dtype(0))


@register("STFT")
def stft(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    if len(x) != 3:
        raise ShapeError(f"signal of rank {len(x)} (3 expected)")
    step = scalar(ctx, 1)
    window = ctx.shape(2) if ctx.has_input(2) else None
    if ctx.has_input(3):
        length = scalar(ctx, 3)
    elif window is not None and len(window) == 1:
        length = window[0]
    elif ctx.has_input(2):
        length = None
    else:
        length = x[1]
    frames = None
    if isinstance(step, int) and step > 0 and length is not None:
        frames = dim_add(dim_floordiv(dim_sub(x[1], length), step), 1)
    if isinstance(frames, int) and frames < 0:
        raise ShapeError(f"frame length {length} longer than the signal {x[1]}")
    bins = dim_add(dim_floordiv(length, 2), 1) if ctx.attr("onesided", 1) else length
    ctx.set(0, (x[0], frames, bins, 2), ctx.dtype(0))


@register("HannWindow", "HammingWindow", "BlackmanWindow")
def window(ctx):
    size = scalar(ctx, 0)
    ctx.set(0, (size,), ctx.attr("output_datatype", TensorProto.FLOAT))


@register("MelWeightMatrix")
def mel_weight_matrix(ctx):
    bins = scalar(ctx, 0)
    n = scalar(ctx, 1)
    ctx.set(0, (dim_add(dim_floordiv(n, 2), 1), bins), ctx.attr("output_datatype", TensorProto.FLOAT))
