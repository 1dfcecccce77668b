"""Shape functions: the com.microsoft.nchwc ops onnxruntime's NCHWc layout transformer
writes (graph optimisation level "all" on x86/ARM CPUs).

A blocked (NCHWc) tensor is stored as an ordinary 4-D [N, C', H, W] tensor whose channel
count C' is C rounded up to the CPU's block size (8 with AVX2, 16 with AVX-512), the
channels interleaved in blocks; convs take their weights already reordered, with the
output channels (and, for a blocked input, the input channels) padded with zeros to that
block.  The spatial axes stay 2..: that is what the tap rules need.

* ReorderInput: NCHW (or NHWC with ``channels_last``) -> blocked; the padded channel count
  depends on the machine the model is run on, so it is known only when C is a multiple of
  16 (then no block size pads it);
* ReorderOutput: blocked -> NCHW (NHWC with ``channels_last``) with ``channels`` channels;
* Conv: as Conv, output channels the (padded) weight's; an optional 4th input is added;
* MaxPool / AveragePool / GlobalAveragePool / GlobalMaxPool: as the ONNX ops;
* Upsample: each axis times the integer ``scales`` attribute.
"""
from __future__ import annotations

from analyzer.shapes.dims import dim_mul
from analyzer.shapes.ops_contrib_nn import to_channels_first, to_channels_last
from analyzer.shapes.ops_nn import conv, global_pool, pool
from analyzer.shapes.registry import ShapeError, register

NCHWC = "com.microsoft.nchwc"
#: the largest block size of onnxruntime's NCHWc kernels (MLAS: 16 with AVX-512)
MAX_BLOCK = 16

register("Conv", domain=NCHWC)(conv)
register("MaxPool", "AveragePool", domain=NCHWC)(pool)
register("GlobalAveragePool", "GlobalMaxPool", domain=NCHWC)(global_pool)


@register("ReorderInput", domain=NCHWC)
def reorder_input(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    if len(x) < 3:
        raise ShapeError(f"input of rank {len(x)} (at least 3 expected)")
    if ctx.attr("channels_last", 0):
        x = to_channels_first(x)
    c = x[1]
    blocked = c if isinstance(c, int) and c % MAX_BLOCK == 0 else None
    ctx.set(0, (x[0], blocked) + tuple(x[2:]), ctx.dtype(0))


@register("ReorderOutput", domain=NCHWC)
def reorder_output(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    if len(x) < 3:
        raise ShapeError(f"input of rank {len(x)} (at least 3 expected)")
    channels = ctx.attr("channels", None)
    if not isinstance(channels, int) or channels < 0:
        raise ShapeError(f"channels {channels!r} is not a non-negative integer")
    if isinstance(x[1], int) and channels > x[1]:
        raise ShapeError(f"channels {channels} exceed the blocked tensor's {x[1]}")
    out = (x[0], channels) + tuple(x[2:])
    ctx.set(0, to_channels_last(out) if ctx.attr("channels_last", 0) else out, ctx.dtype(0))


@register("Upsample", domain=NCHWC)
def upsample(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    scales = ctx.attr("scales", None)
    if not isinstance(scales, (list, tuple)) or len(scales) != len(x) or not all(isinstance(s, int) and s >= 1 for s in scales):
        raise ShapeError(f"scales {scales!r} are not {len(x)} positive integers")
    ctx.set(0, tuple(dim_mul(d, s) for d, s in zip(x, scales)), ctx.dtype(0))
