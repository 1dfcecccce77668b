"""Shape functions: the com.microsoft ops onnxruntime's quantisers write (QOperator
format: QLinear*, QGemm, QAttention in ops_contrib_attention; dynamic quantisation:
DynamicQuantizeMatMul, MatMulIntegerToFloat; weight-only quantisation: MatMulNBits,
MatMulBnb4; the contrib QuantizeLinear / DequantizeLinear).

Facts from onnxruntime's contrib-op schemas, checked by running each op in onnxruntime's
CPU build (tests/test_contrib_ops.py).  A quantised op's output type is its output zero
point's (input ``y_zero_point``), uint8 when that is absent.
"""
from __future__ import annotations

from analyzer.io.proto import TensorProto
from analyzer.shapes.dims import dim_add
from analyzer.shapes.ops_common import norm_axis
from analyzer.shapes.ops_contrib_nn import matmul_shape, nhwc_conv_out, pool_shape
from analyzer.shapes.ops_elementwise import broadcast
from analyzer.shapes.ops_nn import _conv_attrs, _conv_out
from analyzer.shapes.registry import ShapeError, register

MS = "com.microsoft"
UINT8 = TensorProto.UINT8


def _zp_dtype(ctx, i):
    """The type of a quantised output: its zero point's (input ``i``), else uint8."""
    return (ctx.dtype(i) if ctx.has_input(i) else None) or UINT8


@register("QLinearConv", domain=MS)
def qlinear_conv(ctx):
    x, w = ctx.shape(0), ctx.shape(3)
    dtype = ctx.dtype(7)
    if x is None:
        return
    if ctx.attr("channels_last", 0):
        ctx.set(0, nhwc_conv_out(ctx, x, w), dtype)
        return
    if len(x) < 3:
        raise ShapeError(f"input of rank {len(x)}; a conv needs at least 3")
    ctx.set(0, _conv_out(x, w, len(x) - 2, _conv_attrs(ctx)), dtype)


@register("QLinearAdd", "QLinearMul", domain=MS)
def qlinear_binary(ctx):
    a, b = ctx.shape(0), ctx.shape(3)
    if a is None or b is None:
        return
    ctx.set(0, broadcast(a, b), ctx.dtype(0))


@register("QLinearSigmoid", "QLinearLeakyRelu", "QLinearSoftmax", domain=MS)
def qlinear_unary(ctx):
    ctx.same_as_input()


@register("QLinearGlobalAveragePool", domain=MS)
def qlinear_global_average_pool(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    if len(x) < 3:
        raise ShapeError(f"input of rank {len(x)} (at least 3 expected)")
    if ctx.attr("channels_last", 0):
        out = (x[0],) + (1,) * (len(x) - 2) + (x[-1],)
    else:
        out = tuple(x[:2]) + (1,) * (len(x) - 2)
    ctx.set(0, out, ctx.dtype(0))


@register("QLinearAveragePool", domain=MS)
def qlinear_average_pool(ctx):
    ctx.set(0, pool_shape(ctx, ctx.shape(0), channels_last=bool(ctx.attr("channels_last", 0))), ctx.dtype(0))


@register("QLinearConcat", domain=MS)
def qlinear_concat(ctx):
    """Inputs: Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) per tensor."""
    shapes = [ctx.shape(i) for i in range(2, ctx.n_inputs, 3)]
    if (ctx.n_inputs - 2) % 3 or not shapes:
        raise ShapeError("inputs are not Y_scale, Y_zero_point and triples of (X, scale, zero point)")
    known = [s for s in shapes if s is not None]
    if not known:
        return
    r = len(known[0])
    if any(len(s) != r for s in known):
        raise ShapeError("inputs of different ranks")
    axis = norm_axis(ctx.attr("axis", 0), r)
    out = []
    for ax in range(r):
        if ax == axis:
            total = 0
            for s in shapes:
                total = None if s is None or total is None else dim_add(total, s[ax])
            out.append(total)
        else:
            ints = {s[ax] for s in known if isinstance(s[ax], int)}
            if len(ints) > 1:
                raise ShapeError(f"inputs differ on axis {ax}: {sorted(ints)}")
            out.append(ints.pop() if ints else known[0][ax])
    ctx.set(0, out, ctx.dtype(1) or ctx.dtype(2))


@register("QLinearReduceMean", domain=MS)
def qlinear_reduce_mean(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    axes = ctx.attr("axes", None)
    if not isinstance(axes, (list, tuple)):
        raise ShapeError("attribute axes is required")
    axes = {norm_axis(a, len(x)) for a in axes} or set(range(len(x)))
    keep = ctx.attr("keepdims", 1)
    out = [(1 if i in axes else d) for i, d in enumerate(x)] if keep else [d for i, d in enumerate(x) if i not in axes]
    ctx.set(0, out, ctx.dtype(0))


@register("QGemm", domain=MS)
def qgemm(ctx):
    a, b = ctx.shape(0), ctx.shape(3)
    # no y_scale: a float output; else quantised like y_zero_point (uint8 when absent)
    dtype = _zp_dtype(ctx, 8) if ctx.has_input(7) else TensorProto.FLOAT
    if a is None or b is None:
        return
    if len(a) != 2 or len(b) != 2:
        raise ShapeError("QGemm needs 2-D A and B")
    ta, tb = ctx.attr("transA", 0), ctx.attr("transB", 0)
    m, k1 = (a[1], a[0]) if ta else (a[0], a[1])
    k2, n = (b[1], b[0]) if tb else (b[0], b[1])
    if isinstance(k1, int) and isinstance(k2, int) and k1 != k2:
        raise ShapeError(f"inner dims differ: {k1} vs {k2}")
    ctx.set(0, (m, n), dtype)


@register("DynamicQuantizeMatMul", domain=MS)
def dynamic_quantize_matmul(ctx):
    ctx.set(0, matmul_shape(ctx.shape(0), ctx.shape(1)), ctx.dtype(0))


@register("MatMulIntegerToFloat", domain=MS)
def matmul_integer_to_float(ctx):
    ctx.set(0, matmul_shape(ctx.shape(0), ctx.shape(1)), ctx.dtype(2))


@register("MatMulInteger16", domain=MS)
def matmul_integer16(ctx):
    ctx.set(0, matmul_shape(ctx.shape(0), ctx.shape(1)), TensorProto.INT32)


@register("MatMulNBits", "MatMulBnb4", domain=MS)
def matmul_nbits(ctx):
    """A [..., K] times a block-quantised [K, N] weight (stored packed): [..., N]."""
    a = ctx.shape(0)
    k, n = ctx.attr("K", None), ctx.attr("N", None)
    if not isinstance(k, int) or not isinstance(n, int) or k < 1 or n < 1:
        raise ShapeError(f"K {k!r} and N {n!r} must be positive integers")
    if a is None:
        return
    if len(a) < 1:
        raise ShapeError("input A is a scalar")
    if isinstance(a[-1], int) and a[-1] != k:
        raise ShapeError(f"input A's last dim {a[-1]} is not K {k}")
    ctx.set(0, tuple(a[:-1]) + (n,), ctx.dtype(0))


@register("QuantizeLinear", domain=MS)
def quantize(ctx):
    ctx.set(0, ctx.shape(0), _zp_dtype(ctx, 2))


@register("DequantizeLinear", domain=MS)
def dequantize(ctx):
    ctx.set(0, ctx.shape(0), ctx.dtype(1) or TensorProto.FLOAT)

