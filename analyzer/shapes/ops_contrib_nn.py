"""Shape functions: the com.microsoft ops onnxruntime's graph optimisers write for CNNs and
transformers (fused convs, channel-last convs and pools, fused Gemm/MatMul, the Gelu family,
the fused normalisations), and SimplifiedLayerNormalization, which onnxruntime registers in
the default domain.

Facts from onnxruntime's contrib-op schemas (``onnxruntime.capi.onnxruntime_pybind11_state.
get_all_operator_schema()``) and checked by running each op in onnxruntime's CPU build
(tests/test_contrib_ops.py)."""
from __future__ import annotations

from analyzer.geometry import resolve_conv_pads
from analyzer.io.proto import TensorProto
from analyzer.shapes.dims import dim_floordiv, pool_out
from analyzer.shapes.ops_common import norm_axis
from analyzer.shapes.ops_elementwise import broadcast
from analyzer.shapes.ops_nn import _conv_attrs, _conv_out, _same_out, conv, gemm
from analyzer.shapes.registry import ShapeError, register

MS = "com.microsoft"

# FusedConv: Conv + activation (+ an added tensor Z of the output's shape), NCHW
register("FusedConv", domain=MS)(conv)
register("FusedGemm", domain=MS)(gemm)


def to_channels_first(shape):
    """[N, *spatial, C] -> [N, C, *spatial]."""
    return (shape[0], shape[-1]) + tuple(shape[1:-1])


def to_channels_last(shape):
    """[N, C, *spatial] -> [N, *spatial, C]."""
    return (shape[0],) + tuple(shape[2:]) + (shape[1],)


def nhwc_conv_out(ctx, x, w):
    """The output of a conv whose input ``x`` is channel-last ([N, *spatial, C]) and whose
    weight ``w`` is [M, C/group, *kernel] as for Conv: [N, *out spatial, M]."""
    if x is None:
        return None
    if len(x) < 3:
        raise ShapeError(f"input of rank {len(x)}; a conv needs at least 3")
    out = _conv_out(to_channels_first(x), w, len(x) - 2, _conv_attrs(ctx))
    return to_channels_last(out)


@register("NhwcConv", "NhwcFusedConv", domain=MS)
def nhwc_conv(ctx):
    ctx.set(0, nhwc_conv_out(ctx, ctx.shape(0), ctx.shape(1)), ctx.dtype(0))


def pool_shape(ctx, x, channels_last=False):
    """MaxPool / AveragePool output shape for ``x`` (NCHW, or NHWC when ``channels_last``)."""
    if x is None:
        return None
    if channels_last:
        x = to_channels_first(x)
    sr = len(x) - 2
    kernel = ctx.attr("kernel_shape", None)
    if sr < 1 or kernel is None or len(kernel) != sr:
        raise ShapeError("kernel_shape missing or of the wrong length")
    strides = list(ctx.attr("strides", None) or [1] * sr)
    dilations = list(ctx.attr("dilations", None) or [1] * sr)
    ceil_mode = bool(ctx.attr("ceil_mode", 0))
    begins, ends = resolve_conv_pads(ctx.attr("auto_pad", "NOTSET"), x[2:], kernel, strides, dilations, ctx.attr("pads", None))
    out = list(x[:2])
    for n, k, s, d, b, e in zip(x[2:], kernel, strides, dilations, begins, ends):
        out.append(_same_out(n, s) if b is None else pool_out(n, k, s, d, b, e, ceil_mode))
    return to_channels_last(out) if channels_last else tuple(out)


@register("NhwcMaxPool", domain=MS)
def nhwc_max_pool(ctx):
    ctx.set(0, pool_shape(ctx, ctx.shape(0), channels_last=True), ctx.dtype(0))


def matmul_shape(a, b, trans_a=False, trans_b=False, trans_batch_a=False, trans_batch_b=False):
    """MatMul's output shape with FusedMatMul's transposes (numpy broadcast of the batch)."""
    if a is None or b is None:
        return None
    if len(a) == 0 or len(b) == 0:
        raise ShapeError("MatMul of a scalar")
    a, b = tuple(a), tuple(b)
    if trans_batch_a and len(a) >= 3:  # [b..., m, k] seen as [m, b..., k]: batch first
        a = a[1:-1] + (a[0], a[-1])
    if trans_batch_b and len(b) >= 3:
        b = b[1:-1] + (b[0], b[-1])
    a1, b1 = len(a) == 1, len(b) == 1
    if trans_a and not a1:
        a = a[:-2] + (a[-1], a[-2])
    if trans_b and not b1:
        b = b[:-2] + (b[-1], b[-2])
    a2 = (1,) + a if a1 else a
    b2 = b + (1,) if b1 else b
    if isinstance(a2[-1], int) and isinstance(b2[-2], int) and a2[-1] != b2[-2]:
        raise ShapeError(f"inner dims differ: {a2[-1]} vs {b2[-2]}")
    batch = broadcast(a2[:-2], b2[:-2])
    return tuple(batch) + (() if a1 else (a2[-2],)) + (() if b1 else (b2[-1],))


@register("FusedMatMul", "TransposeMatMul", domain=MS)
def fused_matmul(ctx):
    out = matmul_shape(ctx.shape(0), ctx.shape(1), bool(ctx.attr("transA", 0)), bool(ctx.attr("transB", 0)),
                       bool(ctx.attr("transBatchA", 0)), bool(ctx.attr("transBatchB", 0)))  # fmt: skip
    ctx.set(0, out, ctx.dtype(0))


@register("GemmFastGelu", domain=MS)
def gemm_fast_gelu(ctx):
    ctx.set(0, matmul_shape(ctx.shape(0), ctx.shape(1)), ctx.dtype(0))


@register("Gelu", "FastGelu", "BiasGelu", "QuickGelu", "BiasAdd", "BiasSoftmax", "GroupNorm", domain=MS)
def same_as_first(ctx):
    """Activations with an optional bias over the last axis, a bias add with a skip, a
    softmax with a bias, group norm: the output has the first input's shape."""
    ctx.same_as_input()


@register("SkipGroupNorm", domain=MS)
def skip_group_norm(ctx):
    ctx.same_as_input()
    ctx.set(1, ctx.shape(0), ctx.dtype(0))


@register("BiasSplitGelu", domain=MS)
def bias_split_gelu(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    if len(x) != 3:
        raise ShapeError(f"input of rank {len(x)} (3 expected)")
    last = x[-1]
    if isinstance(last, int) and last % 2:
        raise ShapeError(f"last dim {last} is odd: it cannot be split in two")
    ctx.set(0, tuple(x[:-1]) + (dim_floordiv(last, 2),), ctx.dtype(0))


def _stats(shape, axis):
    """Mean / inverse std shape of a normalisation over the axes from ``axis`` on."""
    axis = norm_axis(axis, len(shape))
    return tuple(shape[:axis]) + (1,) * (len(shape) - axis)


@register("SkipLayerNormalization", "SkipSimplifiedLayerNormalization", domain=MS)
def skip_layer_norm(ctx):
    x = ctx.shape(0)
    ctx.same_as_input()
    if x is not None and len(x) >= 1:
        stat = _stats(x, -1)
        ctx.set(1, stat, TensorProto.FLOAT)
        ctx.set(2, stat, TensorProto.FLOAT)
    ctx.set(3, x, ctx.dtype(0))


@register("SimplifiedLayerNormalization")
def simplified_layer_norm(ctx):
    """onnxruntime's RMS norm, registered by onnxruntime in the default domain."""
    x = ctx.shape(0)
    ctx.same_as_input()
    if x is not None and len(x) >= 1:
        ctx.set(1, _stats(x, ctx.attr("axis", -1)), ctx.attr("stash_type", 1))


@register("EmbedLayerNormalization", domain=MS)
def embed_layer_norm(ctx):
    ids, word = ctx.shape(0), ctx.shape(2)
    dtype = ctx.dtype(2)
    hidden = word[1] if word is not None and len(word) == 2 else None
    if ids is not None and len(ids) != 2:
        raise ShapeError(f"input_ids of rank {len(ids)} (2 expected)")
    b, s = ids if ids is not None else (None, None)
    ctx.set(0, (b, s, hidden), dtype)
    ctx.set(1, (b,), TensorProto.INT32)
    ctx.set(2, (b, s, hidden), dtype)
