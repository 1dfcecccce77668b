"""Which kernel taps of a convolution can ever multiply real input.

This is the one place where the geometry of Conv and ConvTranspose lives; the rules
about kernel taps, the shape engine and the fix rewrites call it instead of re-deriving it.

Conv (ONNX semantics), per spatial axis, input size ``n``::

    out = floor((n + pad_begin + pad_end - ((k - 1) * dilation + 1)) / stride) + 1
    tap j at output position o reads input index  o * stride - pad_begin + j * dilation

A tap is *live* on an axis if some output position makes that index fall inside
``[0, n)``; otherwise every read of that tap lands in zero padding and the tap is
*dead*.  The axes are independent, so a tap (j0, j1, ...) is live exactly when it is
live on every axis: the live set is the product of the per-axis live sets.

ConvTranspose scatters instead of gathering: input position ``i`` and tap ``j`` add
to output index ``i * stride - pad_begin + j * dilation``; a tap is live if that
index lands inside the output ``[0, out)`` for some ``i`` in ``[0, n)``; taps whose
every contribution is cropped away are dead.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from itertools import product
from math import prod
from numbers import Integral

__all__ = [
    "GeometryError",
    "AxisTaps",
    "TapAnalysis",
    "conv_output_size",
    "conv_transpose_output_size",
    "resolve_conv_pads",
    "resolve_conv_transpose_pads",
    "live_taps_conv",
    "live_taps_conv_transpose",
    "analyze_taps",
]

# A kernel wider than this on one axis is refused rather than walked tap by tap
# (a hostile file can declare any dims without carrying the data; real kernels,
# even long 1-D audio filters, are far smaller).
MAX_KERNEL_EXTENT = 1 << 16
# Kernels with more taps than this list their dead taps axis by axis, not row-major.
ROW_MAJOR_SCAN_LIMIT = 1 << 16


class GeometryError(ValueError):
    """The attributes and sizes do not describe a valid convolution."""


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def conv_output_size(n: int, k: int, stride: int, dilation: int, pad_begin: int, pad_end: int) -> int:
    return (n + pad_begin + pad_end - ((k - 1) * dilation + 1)) // stride + 1


def conv_transpose_output_size(
    n: int, k: int, stride: int, dilation: int, pad_begin: int, pad_end: int, output_padding: int = 0
) -> int:
    return stride * (n - 1) + output_padding + ((k - 1) * dilation + 1) - pad_begin - pad_end


def resolve_conv_pads(auto_pad, sizes, kernel, strides, dilations, pads):
    """Return (pads_begin, pads_end) for a Conv/pool given its auto_pad setting.

    ``auto_pad`` is NOTSET (use ``pads``), VALID (no padding) or SAME_UPPER /
    SAME_LOWER (output size ceil(n / stride); the odd pad goes to the end for
    SAME_UPPER and to the beginning for SAME_LOWER).  ``sizes`` is only needed for
    SAME_*; a ``None`` size there gives ``None`` pads on that axis.
    """
    rank = len(kernel)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        if len(strides) != rank or len(dilations) != rank or any(_as_int(v) < 1 for v in list(strides) + list(dilations)):
            raise GeometryError(f"strides {list(strides)} / dilations {list(dilations)} must be {rank} positive integers")
        begins, ends = [], []
        for n, k, s, d in zip(sizes, kernel, strides, dilations):
            if not isinstance(n, int):
                begins.append(None)
                ends.append(None)
                continue
            out = _ceil_div(n, s)
            total = max(0, (out - 1) * s + (k - 1) * d + 1 - n)
            small, big = total // 2, total - total // 2
            if auto_pad == "SAME_UPPER":
                begins.append(small)
                ends.append(big)
            else:
                begins.append(big)
                ends.append(small)
        return begins, ends
    if auto_pad == "VALID":
        return [0] * rank, [0] * rank
    if auto_pad not in ("NOTSET", "", None):
        raise GeometryError(f"unknown auto_pad {auto_pad!r}")
    pads = list(pads) if pads else [0] * (2 * rank)
    if len(pads) != 2 * rank:
        raise GeometryError(f"pads has {len(pads)} values, expected {2 * rank}")
    return pads[:rank], pads[rank:]


def resolve_conv_transpose_pads(auto_pad, sizes, kernel, strides, dilations, pads, output_padding, output_shape):
    """Return (pads_begin, pads_end, output_sizes) for a ConvTranspose.

    When ``output_shape`` is given (or auto_pad is SAME_*, whose output is
    ``n * stride``), the total padding follows from it; SAME_UPPER puts the
    smaller half at the beginning, everything else puts the larger half there,
    as in the ONNX operator definition.
    """
    rank = len(kernel)
    output_padding = list(output_padding) if output_padding else [0] * rank
    if len(strides) != rank or len(dilations) != rank or any(_as_int(v) < 1 for v in list(strides) + list(dilations)):
        raise GeometryError(f"strides {list(strides)} / dilations {list(dilations)} must be {rank} positive integers")
    target = None
    if output_shape:
        target = list(output_shape)[-rank:]
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        target = [n * s if isinstance(n, int) else None for n, s in zip(sizes, strides)]
    if target is None:
        begins, ends = resolve_conv_pads("VALID" if auto_pad == "VALID" else "NOTSET", sizes, kernel, strides, dilations, pads)
        outs = [
            conv_transpose_output_size(n, k, s, d, b, e, op) if isinstance(n, int) else None
            for n, k, s, d, b, e, op in zip(sizes, kernel, strides, dilations, begins, ends, output_padding)
        ]
        return begins, ends, outs
    begins, ends, outs = [], [], []
    for n, k, s, d, op, t in zip(sizes, kernel, strides, dilations, output_padding, target):
        if not isinstance(n, int) or not isinstance(t, int):
            begins.append(None)
            ends.append(None)
            outs.append(t if isinstance(t, int) else None)
            continue
        total = s * (n - 1) + op + ((k - 1) * d + 1) - t
        if total < 0:
            # The target is larger than the unpadded output.  onnxruntime then pads
            # nothing: with output_shape it appends zeros at the end (refused once
            # the gap reaches a stride); SAME_* keeps the unpadded size.
            if output_shape:
                if op - total >= s:
                    raise GeometryError(f"output_shape {t} exceeds the largest output {t + total + s - 1 - op}")
                outs.append(t)
            else:
                outs.append(t + total)
            begins.append(0)
            ends.append(0)
            continue
        small, big = total // 2, total - total // 2
        if auto_pad == "SAME_UPPER":
            begins.append(small)
            ends.append(big)
        else:
            begins.append(big)
            ends.append(small)
        outs.append(t)
    return begins, ends, outs


def _as_int(v) -> int:
    """An integer size or attribute as a Python int (numpy ints would overflow)."""
    if v.__class__ is int:
        return v
    if isinstance(v, bool) or not isinstance(v, Integral):
        raise GeometryError(f"size or attribute {v!r} is not an integer")
    return int(v)


def _check_axis(n, k, stride, dilation, pad_begin, pad_end):
    if n < 1:
        raise GeometryError(f"input size {n} on a spatial axis")
    if not 1 <= k <= MAX_KERNEL_EXTENT:
        raise GeometryError(f"kernel size {k} out of range")
    if stride < 1 or dilation < 1:
        raise GeometryError(f"stride {stride} / dilation {dilation} must be positive")
    if pad_begin < 0 or pad_end < 0:
        raise GeometryError(f"negative pads ({pad_begin}, {pad_end})")


def live_taps_conv(n: int, k: int, stride: int = 1, dilation: int = 1, pad_begin: int = 0, pad_end: int = 0) -> list[int]:
    """Indices of the kernel taps (0..k-1) of one Conv axis that read real input at least once."""
    _check_axis(n, k, stride, dilation, pad_begin, pad_end)
    out = conv_output_size(n, k, stride, dilation, pad_begin, pad_end)
    if out < 1:
        raise GeometryError(f"kernel extent {(k - 1) * dilation + 1} exceeds padded input {n + pad_begin + pad_end}")
    live = []
    for j in range(k):
        offset = j * dilation - pad_begin  # input index read at output position 0
        o = max(0, _ceil_div(-offset, stride))  # first output position whose read is >= 0
        if o < out and o * stride + offset < n:
            live.append(j)
    return live


def live_taps_conv_transpose(
    n: int, k: int, stride: int = 1, dilation: int = 1, pad_begin: int = 0, pad_end: int = 0, output_padding: int = 0
) -> list[int]:
    """Indices of the taps of one ConvTranspose axis that write inside the (cropped) output at least once."""
    _check_axis(n, k, stride, dilation, pad_begin, pad_end)
    if not 0 <= output_padding < max(stride, dilation):
        raise GeometryError(f"output_padding {output_padding} not in [0, max(stride, dilation))")
    out = conv_transpose_output_size(n, k, stride, dilation, pad_begin, pad_end, output_padding)
    if out < 1:
        raise GeometryError(f"padding ({pad_begin}, {pad_end}) crops the whole output")
    live = []
    for j in range(k):
        offset = j * dilation - pad_begin  # output index written by input position 0
        i = max(0, _ceil_div(-offset, stride))
        if i < n and i * stride + offset < out:
            live.append(j)
    return live


@dataclass(frozen=True)
class AxisTaps:
    """The taps of one spatial axis."""

    kernel: int
    live: tuple[int, ...]
    dilation: int
    pad_begin: int
    pad_end: int

    @property
    def dead(self) -> tuple[int, ...]:
        live = set(self.live)
        return tuple(j for j in range(self.kernel) if j not in live)

    @property
    def contiguous(self) -> bool:
        return not self.live or self.live[-1] - self.live[0] + 1 == len(self.live)

    @property
    def effective_kernel(self) -> int:
        """Span of the live taps: the kernel size of the equivalent smaller conv."""
        return self.live[-1] - self.live[0] + 1 if self.live else 0

    @property
    def effective_dilation(self) -> int:
        return self.dilation if self.effective_kernel > 1 else 1

    @property
    def effective_pads(self) -> tuple[int, int]:
        """Pads of the smaller conv that gives the identical output.

        Dropping ``a`` leading taps moves the window start by ``a * dilation``;
        dropping trailing taps shrinks the extent by the same amount at the end,
        so the output size is unchanged.  A negative value means the smaller conv
        would have to crop the input instead of padding it.
        """
        if not self.live:
            return (0, 0)
        first, last = self.live[0], self.live[-1]
        return (self.pad_begin - first * self.dilation, self.pad_end - (self.kernel - 1 - last) * self.dilation)


@dataclass(frozen=True)
class TapAnalysis:
    """Tap liveness of a whole kernel (product of the per-axis results)."""

    axes: tuple[AxisTaps, ...]

    # computed once (the instance is immutable; rules ask for these again and again)
    @cached_property
    def kernel_shape(self) -> tuple[int, ...]:
        return tuple(a.kernel for a in self.axes)

    @cached_property
    def total_taps(self) -> int:
        return prod(self.kernel_shape)

    @cached_property
    def live_count(self) -> int:
        return prod(len(a.live) for a in self.axes)

    @cached_property
    def dead_count(self) -> int:
        return self.total_taps - self.live_count

    @property
    def has_dead(self) -> bool:
        return self.dead_count > 0

    def iter_live(self):
        """Live taps as index tuples, in row-major order."""
        yield from _product([a.live for a in self.axes])

    def iter_dead(self):
        """Dead taps as index tuples: row-major for ordinary kernels; for huge ones,
        axis by axis without walking the live taps (a declared 1000^3 kernel must
        not take minutes to yield its first dead tap)."""
        if self.total_taps <= ROW_MAJOR_SCAN_LIMIT:
            live_sets = [set(a.live) for a in self.axes]
            for tap in _product([range(a.kernel) for a in self.axes]):
                if any(j not in s for j, s in zip(tap, live_sets)):
                    yield tap
            return
        # Each dead tap once: the first axis on which it is dead is ``ax``.
        for ax in range(len(self.axes)):
            parts = [a.live for a in self.axes[:ax]] + [self.axes[ax].dead] + [range(a.kernel) for a in self.axes[ax + 1:]]
            yield from _product(parts)

    @cached_property
    def effective_kernel_shape(self) -> tuple[int, ...]:
        return tuple(a.effective_kernel for a in self.axes)

    @cached_property
    def effective_dilations(self) -> tuple[int, ...]:
        return tuple(a.effective_dilation for a in self.axes)

    @cached_property
    def effective_pads(self) -> tuple[int, ...]:
        """ONNX pads layout: all begins, then all ends."""
        pairs = [a.effective_pads for a in self.axes]
        return tuple(p[0] for p in pairs) + tuple(p[1] for p in pairs)


def _product(lists):
    """Row-major product of index lists (iterative: a kernel may have many axes)."""
    return product(*lists)


# analyze_taps results by their arguments (when all are ints): a network repeats a
# handful of conv geometries hundreds of times.  Results are immutable.
_TAPS_MEMO: dict = {}
_TAPS_MEMO_MAX = 1 << 12


def analyze_taps(
    input_spatial,
    kernel_shape,
    strides=None,
    dilations=None,
    pads_begin=None,
    pads_end=None,
    transpose=False,
    output_padding=None,
) -> TapAnalysis:
    """Tap liveness for a conv with explicit (already resolved) pads.

    All sequences are per spatial axis; missing strides/dilations/pads default to
    1/1/0.  Raises :class:`GeometryError` for attributes no runtime accepts.
    """
    args = (input_spatial, kernel_shape, strides, dilations, pads_begin, pads_end, transpose, output_padding)
    try:
        key = (tuple(input_spatial), tuple(kernel_shape), tuple(strides or ()), tuple(dilations or ()),
               tuple(pads_begin or ()), tuple(pads_end or ()), bool(transpose), tuple(output_padding or ()))  # fmt: skip
    except Exception:
        return _analyze_taps(*args)
    for part in key:
        if part.__class__ is tuple and not all(v.__class__ is int for v in part):
            return _analyze_taps(*args)
    found = _TAPS_MEMO.get(key)
    if found is None:
        found = _analyze_taps(*args)
        if len(_TAPS_MEMO) >= _TAPS_MEMO_MAX:
            _TAPS_MEMO.clear()
        _TAPS_MEMO[key] = found
    return found


def _analyze_taps(input_spatial, kernel_shape, strides, dilations, pads_begin, pads_end, transpose, output_padding) -> TapAnalysis:
    rank = len(kernel_shape)
    if len(input_spatial) != rank:
        raise GeometryError(f"input has {len(input_spatial)} spatial axes, kernel has {rank}")
    strides = list(strides) if strides else [1] * rank
    dilations = list(dilations) if dilations else [1] * rank
    pads_begin = list(pads_begin) if pads_begin else [0] * rank
    pads_end = list(pads_end) if pads_end else [0] * rank
    output_padding = list(output_padding) if output_padding else [0] * rank
    for seq, what in ((strides, "strides"), (dilations, "dilations"), (pads_begin, "pads"), (pads_end, "pads"), (output_padding, "output_padding")):
        if len(seq) != rank:
            raise GeometryError(f"{what} has {len(seq)} values for {rank} spatial axes")
    axes = []
    for ax in range(rank):
        n, k, s, d, b, e, op = (
            _as_int(v)
            for v in (input_spatial[ax], kernel_shape[ax], strides[ax], dilations[ax], pads_begin[ax], pads_end[ax], output_padding[ax])
        )
        if transpose:
            live = live_taps_conv_transpose(n, k, s, d, b, e, op)
        else:
            live = live_taps_conv(n, k, s, d, b, e)
        axes.append(AxisTaps(kernel=k, live=tuple(live), dilation=d, pad_begin=b, pad_end=e))
    return TapAnalysis(tuple(axes))
