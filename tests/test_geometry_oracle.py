"""Execution oracles for :mod:`analyzer.geometry`.

Nothing here re-derives the tap geometry from a formula.  The ground truth is always
obtained by *running* a convolution: a tap is live iff the convolution whose weight is
one-hot at that tap (1 in-channel, 1 out-channel, no bias) gives a non-zero output
somewhere on an all-ones input.  All taps are run in one call: the weight has one
output channel per tap, each channel a one-hot filter.

Runtimes used as oracles:

* torch (``conv{1,2,3}d`` / ``conv_transpose{1,2,3}d``) for explicit pads; asymmetric
  Conv pads are applied with ``F.pad`` before a pad-0 conv, asymmetric ConvTranspose
  pads by cropping the output of a pad-0 transposed conv;
* onnxruntime for ``auto_pad`` / ``output_shape`` (the runtime users run), and as a
  cross-check of torch on explicit pads;
* ``onnx.reference`` and torch ``padding="same"`` for Conv SAME_* with dilation > 1,
  which onnxruntime refuses to run.
"""
from __future__ import annotations

import itertools
import warnings
from math import prod

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from analyzer.geometry import (
    GeometryError,
    analyze_taps,
    conv_output_size,
    conv_transpose_output_size,
    live_taps_conv,
    live_taps_conv_transpose,
    resolve_conv_pads,
    resolve_conv_transpose_pads,
)

torch.set_num_threads(1)
ort.set_default_logger_severity(4)  # refused models are expected; keep stderr quiet

OPSET = 17
CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def _settings(n):
    return settings(
        max_examples=n,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
    )


def _event(what):
    """hypothesis.event, also usable from the plain tests below."""
    if currently_in_test_context():
        event(what)


class NotExecutable(Exception):
    """The runtime refused the convolution, or its output is empty."""


# --------------------------------------------------------------------------- execution


def _all_taps(kernel):
    return set(itertools.product(*(range(k) for k in kernel)))


def _one_hot(kernel, transpose, dtype=torch.float32):
    """One filter per tap: [T, 1, *k] for Conv, [1, T, *k] for ConvTranspose."""
    t = prod(kernel)
    w = torch.eye(t, dtype=dtype).reshape(t, 1, *kernel)
    return w.transpose(0, 1).contiguous() if transpose else w


def _live_from_output(y, kernel):
    """Taps whose output channel (row-major tap index) is non-zero somewhere."""
    t = prod(kernel)
    assert y.shape[0] == 1 and y.shape[1] == t
    hit = (y[0].reshape(t, -1) != 0).any(dim=1).tolist()
    return {tuple(int(i) for i in np.unravel_index(idx, kernel)) for idx, h in enumerate(hit) if h}


def _torch_pad_arg(pb, pe):
    arg = []
    for b, e in zip(reversed(pb), reversed(pe)):
        arg += [b, e]
    return arg


def torch_conv(x, w, strides, dilations, pb, pe, padding=None):
    """ONNX Conv with explicit (possibly asymmetric) pads, run by torch."""
    rank = w.dim() - 2
    try:
        if padding is not None:  # torch's own padding argument (symmetric ints or "same")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "same" may copy the input: fine
                y = CONV[rank](x, w, stride=tuple(strides), padding=padding, dilation=tuple(dilations))
        else:
            xp = F.pad(x, _torch_pad_arg(pb, pe))
            y = CONV[rank](xp, w, stride=tuple(strides), dilation=tuple(dilations))
    except RuntimeError as exc:
        raise NotExecutable(str(exc)) from exc
    if y.numel() == 0:
        raise NotExecutable("empty output")
    return y


def torch_conv_transpose(x, w, strides, dilations, pb, pe, output_padding, native=False):
    """ONNX ConvTranspose run by torch: native symmetric ``padding``, or crop a pad-0 result."""
    rank = w.dim() - 2
    try:
        if native:
            assert list(pb) == list(pe)
            y = CONV_T[rank](
                x, w, stride=tuple(strides), padding=tuple(pb), output_padding=tuple(output_padding), dilation=tuple(dilations)
            )
        else:
            y = CONV_T[rank](
                x, w, stride=tuple(strides), padding=0, output_padding=tuple(output_padding), dilation=tuple(dilations)
            )
            for ax, (b, e) in enumerate(zip(pb, pe)):
                if b + e >= y.shape[2 + ax]:
                    raise NotExecutable(f"pads ({b}, {e}) crop the whole axis of size {y.shape[2 + ax]}")
            # crop (F.pad with negated pads; a negative pad here appends zeros instead)
            y = F.pad(y, _torch_pad_arg([-b for b in pb], [-e for e in pe]))
    except RuntimeError as exc:
        raise NotExecutable(str(exc)) from exc
    if y.numel() == 0:
        raise NotExecutable("empty output")
    return y


def conv_oracle(sizes, kernel, strides, dilations, pb, pe, padding=None):
    """(live taps, output spatial shape) of an ONNX Conv, by running it in torch."""
    x = torch.ones(1, 1, *sizes)
    y = torch_conv(x, _one_hot(kernel, False), strides, dilations, pb, pe, padding=padding)
    return _live_from_output(y, kernel), tuple(y.shape[2:])


def conv_transpose_oracle(sizes, kernel, strides, dilations, pb, pe, output_padding, native=False):
    x = torch.ones(1, 1, *sizes)
    y = torch_conv_transpose(x, _one_hot(kernel, True), strides, dilations, pb, pe, output_padding, native=native)
    return _live_from_output(y, kernel), tuple(y.shape[2:])


def _onnx_model(op_type, sizes, kernel, attrs):
    w = _one_hot(kernel, op_type == "ConvTranspose").numpy()
    node = helper.make_node(op_type, ["X", "W"], ["Y"], **attrs)
    graph = helper.make_graph(
        [node],
        "tap_oracle",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 1, *sizes])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    return model


def ort_oracle(op_type, sizes, kernel, **attrs):
    """(live taps, output spatial shape) of a one-node ONNX model, run by onnxruntime."""
    model = _onnx_model(op_type, sizes, kernel, attrs)
    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    try:
        sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        (y,) = sess.run(None, {"X": np.ones([1, 1, *sizes], np.float32)})
    except Exception as exc:  # onnxruntime's pybind exception types (Fail, InvalidArgument, ...)
        raise NotExecutable(str(exc)) from exc
    if y.size == 0:
        raise NotExecutable("empty output")
    return _live_from_output(torch.from_numpy(y), kernel), tuple(y.shape[2:])


def onnx_reference_oracle(op_type, sizes, kernel, **attrs):
    """Same, run by the ONNX reference evaluator (numpy implementation of the spec)."""
    model = _onnx_model(op_type, sizes, kernel, attrs)
    (y,) = ReferenceEvaluator(model).run(None, {"X": np.ones([1, 1, *sizes], np.float32)})
    return _live_from_output(torch.from_numpy(np.asarray(y)), kernel), tuple(y.shape[2:])


# --------------------------------------------------------------------------- checking


def _check_analysis(ta, live, kernel):
    """The whole TapAnalysis against an executed live set."""
    assert ta.kernel_shape == tuple(kernel)
    assert set(ta.iter_live()) == live
    assert list(ta.iter_live()) == sorted(live)  # row-major order
    assert set(ta.iter_dead()) == _all_taps(kernel) - live
    assert ta.total_taps == prod(kernel)
    assert ta.live_count == len(live)
    assert ta.dead_count == prod(kernel) - len(live)
    assert ta.has_dead == (len(live) < prod(kernel))
    _event("all taps dead" if not live else ("some taps dead" if ta.has_dead else "all taps live"))


def _check_axes_conv(ta, sizes, kernel, strides, dilations, pb, pe):
    """Each axis on its own, executed as a 1-D conv."""
    for ax in range(len(kernel)):
        args = (sizes[ax], kernel[ax], strides[ax], dilations[ax], pb[ax], pe[ax])
        live1, _ = conv_oracle([args[0]], [args[1]], [args[2]], [args[3]], [args[4]], [args[5]])
        expected = tuple(sorted(j for (j,) in live1))
        assert ta.axes[ax].live == expected, f"axis {ax}"
        assert tuple(live_taps_conv(*args)) == expected
        assert ta.axes[ax].dead == tuple(j for j in range(kernel[ax]) if j not in expected)


def _check_axes_conv_transpose(ta, sizes, kernel, strides, dilations, pb, pe, output_padding):
    for ax in range(len(kernel)):
        args = (sizes[ax], kernel[ax], strides[ax], dilations[ax], pb[ax], pe[ax], output_padding[ax])
        live1, _ = conv_transpose_oracle([args[0]], [args[1]], [args[2]], [args[3]], [args[4]], [args[5]], [args[6]])
        expected = tuple(sorted(j for (j,) in live1))
        assert ta.axes[ax].live == expected, f"axis {ax}"
        assert tuple(live_taps_conv_transpose(*args)) == expected


# --------------------------------------------------------------------------- strategies


@st.composite
def _spatial(draw, max_stride=4, max_dilation=8, max_pad=10):
    """rank, sizes, kernel, strides, dilations (3-D kept small: <= 64 taps, sizes <= 6)."""
    rank = draw(st.integers(1, 3))
    n_max = {1: 12, 2: 12, 3: 6}[rank]
    sizes = draw(st.lists(st.integers(1, n_max), min_size=rank, max_size=rank))
    kernel = []
    for _ in range(rank):
        # 3-D: at most 64 taps, or the one-filter-per-tap batch gets slow
        budget = 64 // prod(kernel) if rank == 3 else 7
        kernel.append(draw(st.integers(1, min(7, budget))))
    strides = draw(st.lists(st.integers(1, max_stride), min_size=rank, max_size=rank))
    dilations = draw(st.lists(st.integers(1, max_dilation), min_size=rank, max_size=rank))
    return rank, sizes, kernel, strides, dilations


@st.composite
def _pads(draw, rank, max_pad=10):
    pb = draw(st.lists(st.integers(0, max_pad), min_size=rank, max_size=rank))
    if draw(st.booleans()):
        pe = list(pb)
    else:
        pe = draw(st.lists(st.integers(0, max_pad), min_size=rank, max_size=rank))
    return pb, pe


@st.composite
def conv_cases(draw):
    rank, sizes, kernel, strides, dilations = draw(_spatial())
    pb, pe = draw(_pads(rank))
    return sizes, kernel, strides, dilations, pb, pe


@st.composite
def conv_transpose_cases(draw, op_below_stride=False):
    """output_padding < max(stride, dilation) (torch's rule), or < stride (onnxruntime's)."""
    rank, sizes, kernel, strides, dilations = draw(_spatial())
    pb, pe = draw(_pads(rank))
    op = [
        draw(st.integers(0, (s if op_below_stride else max(s, d)) - 1)) for s, d in zip(strides, dilations)
    ]
    return sizes, kernel, strides, dilations, pb, pe, op


# --------------------------------------------------------------------------- 1. Conv vs torch


@_settings(1500)
@given(conv_cases())
def test_conv_live_taps_match_torch(case):
    sizes, kernel, strides, dilations, pb, pe = case
    try:
        live, out_shape = conv_oracle(sizes, kernel, strides, dilations, pb, pe)
    except NotExecutable:
        with pytest.raises(GeometryError):
            analyze_taps(sizes, kernel, strides, dilations, pb, pe)
        event("invalid conv (torch refuses, GeometryError)")
        assume(False)
    ta = analyze_taps(sizes, kernel, strides, dilations, pb, pe)
    _check_analysis(ta, live, kernel)
    _check_axes_conv(ta, sizes, kernel, strides, dilations, pb, pe)
    assert out_shape == tuple(
        conv_output_size(*a) for a in zip(sizes, kernel, strides, dilations, pb, pe)
    )
    if pb == pe:  # torch's own symmetric padding must agree with F.pad + pad-0 conv
        live_native, shape_native = conv_oracle(sizes, kernel, strides, dilations, pb, pe, padding=tuple(pb))
        assert (live_native, shape_native) == (live, out_shape)


# --------------------------------------------------------------------------- 2. ConvTranspose vs torch


@_settings(1500)
@given(conv_transpose_cases())
def test_conv_transpose_live_taps_match_torch(case):
    sizes, kernel, strides, dilations, pb, pe, op = case
    try:
        live, out_shape = conv_transpose_oracle(sizes, kernel, strides, dilations, pb, pe, op)
    except NotExecutable:
        if pb == pe:
            with pytest.raises(NotExecutable):
                conv_transpose_oracle(sizes, kernel, strides, dilations, pb, pe, op, native=True)
        with pytest.raises(GeometryError):
            analyze_taps(sizes, kernel, strides, dilations, pb, pe, transpose=True, output_padding=op)
        event("invalid conv transpose (torch refuses, GeometryError)")
        assume(False)
    if pb == pe:
        assert conv_transpose_oracle(sizes, kernel, strides, dilations, pb, pe, op, native=True) == (live, out_shape)
    ta = analyze_taps(sizes, kernel, strides, dilations, pb, pe, transpose=True, output_padding=op)
    _check_analysis(ta, live, kernel)
    _check_axes_conv_transpose(ta, sizes, kernel, strides, dilations, pb, pe, op)
    assert out_shape == tuple(
        conv_transpose_output_size(*a) for a in zip(sizes, kernel, strides, dilations, pb, pe, op)
    )


# --------------------------------------------------------------------------- 3. auto_pad / output_shape vs onnxruntime


@st.composite
def conv_auto_pad_cases(draw):
    rank, sizes, kernel, strides, dilations = draw(_spatial())
    if not draw(st.booleans()):
        dilations = [1] * rank  # onnxruntime refuses SAME_* with dilation > 1
    auto_pad = draw(st.sampled_from(["SAME_UPPER", "SAME_LOWER", "VALID"]))
    return sizes, kernel, strides, dilations, auto_pad


def _geometry_conv_auto(sizes, kernel, strides, dilations, auto_pad):
    pb, pe = resolve_conv_pads(auto_pad, sizes, kernel, strides, dilations, None)
    return analyze_taps(sizes, kernel, strides, dilations, pb, pe), pb, pe


@_settings(800)
@given(conv_auto_pad_cases())
def test_conv_auto_pad_matches_onnxruntime(case):
    sizes, kernel, strides, dilations, auto_pad = case
    attrs = dict(auto_pad=auto_pad, strides=strides, dilations=dilations)
    same_dilated = auto_pad.startswith("SAME") and any(d > 1 for d in dilations)
    if same_dilated:
        # onnxruntime refuses these; the geometry is then checked against the ONNX
        # reference evaluator and (stride 1, SAME_UPPER) torch padding="same".
        with pytest.raises(NotExecutable, match="Dilation not supported"):
            ort_oracle("Conv", sizes, kernel, **attrs)
        event("SAME with dilation: onnxruntime refuses, onnx.reference used")
        if len(sizes) == 3:
            assume(prod(kernel) <= 8)  # the reference evaluator is slow in 3-D
        live, out_shape = onnx_reference_oracle("Conv", sizes, kernel, **attrs)
        if auto_pad == "SAME_UPPER" and all(s == 1 for s in strides):
            assert conv_oracle(sizes, kernel, strides, dilations, None, None, padding="same") == (live, out_shape)
    else:
        try:
            live, out_shape = ort_oracle("Conv", sizes, kernel, **attrs)
        except NotExecutable:
            with pytest.raises(GeometryError):
                _geometry_conv_auto(sizes, kernel, strides, dilations, auto_pad)
            event("invalid (onnxruntime refuses, GeometryError)")
            assume(False)
    ta, pb, pe = _geometry_conv_auto(sizes, kernel, strides, dilations, auto_pad)
    if pb != pe:
        event("odd total padding")
    _check_analysis(ta, live, kernel)
    assert out_shape == tuple(conv_output_size(*a) for a in zip(sizes, kernel, strides, dilations, pb, pe))
    if auto_pad.startswith("SAME"):
        assert out_shape == tuple(-(-n // s) for n, s in zip(sizes, strides))


TRANSPOSE_MODES = ["SAME_UPPER", "SAME_LOWER", "VALID", "output_shape", "output_shape+SAME_UPPER", "output_shape+SAME_LOWER"]


@st.composite
def conv_transpose_auto_cases(draw, negative_total):
    """ConvTranspose with auto_pad and/or output_shape; output_padding < stride (onnxruntime).

    ``negative_total`` selects the cases where the ONNX-spec total padding
    ``stride*(n-1) + output_padding + extent - target`` is negative on some axis
    (the target being output_shape, or n*stride for SAME_*), or not.
    """
    rank, sizes, kernel, strides, dilations = draw(_spatial())
    op = [draw(st.integers(0, s - 1)) for s in strides]
    mode = draw(st.sampled_from(TRANSPOSE_MODES))
    full = [s * (n - 1) + o + (k - 1) * d + 1 for n, k, s, d, o in zip(sizes, kernel, strides, dilations, op)]
    output_shape = None
    if mode.startswith("output_shape"):
        # from "crop nearly everything" to a little past what onnxruntime accepts
        output_shape = [draw(st.integers(1, f + s + 1)) for f, s in zip(full, strides)]
        target = output_shape
    elif mode.startswith("SAME"):
        target = [n * s for n, s in zip(sizes, strides)]
    else:
        target = full
    assume(any(f < t for f, t in zip(full, target)) == negative_total)
    auto_pad = mode.split("+")[-1] if mode != "output_shape" else "NOTSET"
    return sizes, kernel, strides, dilations, op, auto_pad, output_shape


def _run_conv_transpose_auto(case):
    sizes, kernel, strides, dilations, op, auto_pad, output_shape = case
    attrs = dict(auto_pad=auto_pad, strides=strides, dilations=dilations, output_padding=op)
    if output_shape is not None:
        attrs["output_shape"] = output_shape
    event(f"auto_pad={auto_pad}, output_shape={'yes' if output_shape else 'no'}")
    try:
        live, out_shape = ort_oracle("ConvTranspose", sizes, kernel, **attrs)
    except NotExecutable:
        with pytest.raises(GeometryError):
            pb, pe, _ = resolve_conv_transpose_pads(auto_pad, sizes, kernel, strides, dilations, None, op, output_shape)
            analyze_taps(sizes, kernel, strides, dilations, pb, pe, transpose=True, output_padding=op)
        event("invalid (onnxruntime refuses, GeometryError)")
        return
    pb, pe, outs = resolve_conv_transpose_pads(auto_pad, sizes, kernel, strides, dilations, None, op, output_shape)
    if pb != pe:
        event("odd total padding")
    ta = analyze_taps(sizes, kernel, strides, dilations, pb, pe, transpose=True, output_padding=op)
    _check_analysis(ta, live, kernel)
    assert tuple(outs) == out_shape


@_settings(800)
@given(conv_transpose_auto_cases(negative_total=False))
def test_conv_transpose_auto_pad_and_output_shape_match_onnxruntime(case):
    _run_conv_transpose_auto(case)


@_settings(300)
@given(conv_transpose_auto_cases(negative_total=True))
def test_conv_transpose_negative_total_padding_matches_onnxruntime(case):
    """Target larger than the unpadded output: onnxruntime clamps the pads to 0.

    For SAME_* (no output_shape) the output is then stride*(n-1)+output_padding+extent,
    not n*stride; with output_shape it is output_shape (zeros appended at the end), as
    long as the surplus plus output_padding stays below the stride.
    """
    _run_conv_transpose_auto(case)


@_settings(300)
@given(conv_cases())
def test_conv_explicit_pads_onnxruntime_agrees_with_torch(case):
    sizes, kernel, strides, dilations, pb, pe = case
    try:
        live, out_shape = conv_oracle(sizes, kernel, strides, dilations, pb, pe)
    except NotExecutable:
        with pytest.raises(NotExecutable):
            ort_oracle("Conv", sizes, kernel, strides=strides, dilations=dilations, pads=pb + pe)
        with pytest.raises(GeometryError):
            analyze_taps(sizes, kernel, strides, dilations, pb, pe)
        assume(False)
    assert ort_oracle("Conv", sizes, kernel, strides=strides, dilations=dilations, pads=pb + pe) == (live, out_shape)
    _check_analysis(analyze_taps(sizes, kernel, strides, dilations, pb, pe), live, kernel)


@_settings(300)
@given(conv_transpose_cases(op_below_stride=True))
def test_conv_transpose_explicit_pads_onnxruntime_agrees_with_torch(case):
    sizes, kernel, strides, dilations, pb, pe, op = case
    attrs = dict(strides=strides, dilations=dilations, pads=pb + pe, output_padding=op)
    try:
        live, out_shape = conv_transpose_oracle(sizes, kernel, strides, dilations, pb, pe, op)
    except NotExecutable:
        with pytest.raises(NotExecutable):
            ort_oracle("ConvTranspose", sizes, kernel, **attrs)
        with pytest.raises(GeometryError):
            analyze_taps(sizes, kernel, strides, dilations, pb, pe, transpose=True, output_padding=op)
        assume(False)
    assert ort_oracle("ConvTranspose", sizes, kernel, **attrs) == (live, out_shape)
    _check_analysis(analyze_taps(sizes, kernel, strides, dilations, pb, pe, transpose=True, output_padding=op), live, kernel)


# --------------------------------------------------------------------------- 4. effective_* by execution


def _live_slices(live, rank):
    """Per axis, the span [first, last] of the executed live taps."""
    return [(min(t[ax] for t in live), max(t[ax] for t in live)) for ax in range(rank)]


def _contiguous(live, kernel):
    """The executed live set is a full box (contiguous on every axis)."""
    spans = _live_slices(live, len(kernel))
    return len(live) == prod(b - a + 1 for a, b in spans)


def _random(shape, gen):
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


@_settings(1500)
@given(conv_cases(), st.integers(0, 2**31 - 1))
def test_conv_effective_geometry_by_execution(case, seed):
    sizes, kernel, strides, dilations, pb, pe = case
    rank = len(kernel)
    try:
        live, _ = conv_oracle(sizes, kernel, strides, dilations, pb, pe)
    except NotExecutable:
        assume(False)
    ta = analyze_taps(sizes, kernel, strides, dilations, pb, pe)
    gen = torch.Generator().manual_seed(seed)
    x = _random((1, 1, *sizes), gen)
    w = _random((1, 1, *kernel), gen)
    y = torch_conv(x, w, strides, dilations, pb, pe)
    if not live:
        event("no live tap: output is exactly zero")
        assert ta.live_count == 0
        assert torch.count_nonzero(y) == 0
        return
    if not _contiguous(live, kernel):
        event("live taps not contiguous")
        return
    eff_pads = ta.effective_pads
    if min(eff_pads) < 0:
        # not expressible as ONNX pads; still checked: the helpers crop the input
        # (Conv) / append zeros to the output (ConvTranspose) for a negative pad
        event("negative effective pads (checked by cropping)")
    spans = _live_slices(live, rank)
    assert ta.effective_kernel_shape == tuple(b - a + 1 for a, b in spans)
    w_eff = w[(slice(None), slice(None)) + tuple(slice(a, b + 1) for a, b in spans)]
    y_eff = torch_conv(x, w_eff, strides, ta.effective_dilations, eff_pads[:rank], eff_pads[rank:])
    event("effective conv compared" + (" (smaller)" if w_eff.numel() < w.numel() else ""))
    assert y_eff.shape == y.shape
    torch.testing.assert_close(y_eff, y, atol=1e-5, rtol=0)


@_settings(1200)
@given(conv_transpose_cases(), st.integers(0, 2**31 - 1))
def test_conv_transpose_effective_geometry_by_execution(case, seed):
    sizes, kernel, strides, dilations, pb, pe, op = case
    rank = len(kernel)
    try:
        live, _ = conv_transpose_oracle(sizes, kernel, strides, dilations, pb, pe, op)
    except NotExecutable:
        assume(False)
    ta = analyze_taps(sizes, kernel, strides, dilations, pb, pe, transpose=True, output_padding=op)
    gen = torch.Generator().manual_seed(seed)
    x = _random((1, 1, *sizes), gen)
    w = _random((1, 1, *kernel), gen)
    y = torch_conv_transpose(x, w, strides, dilations, pb, pe, op)
    if not live:
        event("no live tap: output is exactly zero")
        assert ta.live_count == 0
        assert torch.count_nonzero(y) == 0
        return
    if not _contiguous(live, kernel):
        event("live taps not contiguous")
        return
    eff_pads = ta.effective_pads
    if min(eff_pads) < 0:
        # not expressible as ONNX pads; still checked: the helpers crop the input
        # (Conv) / append zeros to the output (ConvTranspose) for a negative pad
        event("negative effective pads (checked by cropping)")
    spans = _live_slices(live, rank)
    assert ta.effective_kernel_shape == tuple(b - a + 1 for a, b in spans)
    eff_dil = ta.effective_dilations
    if any(o >= max(s, d) for o, s, d in zip(op, strides, eff_dil)):  # only where op >= stride
        # the smaller ConvTranspose would need output_padding >= max(stride, dilation):
        # no runtime accepts that, so there is nothing to execute
        event("effective ConvTranspose not expressible (output_padding >= max(stride, eff. dilation))")
        return
    w_eff = w[(slice(None), slice(None)) + tuple(slice(a, b + 1) for a, b in spans)]
    y_eff = torch_conv_transpose(x, w_eff, strides, eff_dil, eff_pads[:rank], eff_pads[rank:], op)
    event("effective conv transpose compared" + (" (smaller)" if w_eff.numel() < w.numel() else ""))
    assert y_eff.shape == y.shape
    torch.testing.assert_close(y_eff, y, atol=1e-5, rtol=0)


# --------------------------------------------------------------------------- 5. named regression cases


def _conv_checked(sizes, kernel, strides=None, dilations=None, pb=None, pe=None):
    rank = len(kernel)
    strides = strides or [1] * rank
    dilations = dilations or [1] * rank
    pb = pb or [0] * rank
    pe = pe if pe is not None else list(pb)
    live, _ = conv_oracle(sizes, kernel, strides, dilations, pb, pe)
    ta = analyze_taps(sizes, kernel, strides, dilations, pb, pe)
    _check_analysis(ta, live, kernel)
    return live, ta


def _conv_transpose_checked(sizes, kernel, strides=None, dilations=None, pb=None, pe=None, op=None):
    rank = len(kernel)
    strides = strides or [1] * rank
    dilations = dilations or [1] * rank
    pb = pb or [0] * rank
    pe = pe if pe is not None else list(pb)
    op = op or [0] * rank
    live, _ = conv_transpose_oracle(sizes, kernel, strides, dilations, pb, pe, op)
    attrs = dict(strides=strides, dilations=dilations, pads=pb + pe, output_padding=op)
    assert ort_oracle("ConvTranspose", sizes, kernel, **attrs)[0] == live
    ta = analyze_taps(sizes, kernel, strides, dilations, pb, pe, transpose=True, output_padding=op)
    _check_analysis(ta, live, kernel)
    return live, ta


def _assert_effective_conv_equivalent(sizes, kernel, strides, dilations, pb, pe, ta, seed=0):
    rank = len(kernel)
    gen = torch.Generator().manual_seed(seed)
    x = _random((1, 1, *sizes), gen)
    w = _random((1, 1, *kernel), gen)
    spans = [(a.live[0], a.live[-1]) for a in ta.axes]
    w_eff = w[(slice(None), slice(None)) + tuple(slice(a, b + 1) for a, b in spans)]
    eff = ta.effective_pads
    y = torch_conv(x, w, strides, dilations, pb, pe)
    y_eff = torch_conv(x, w_eff, strides, ta.effective_dilations, eff[:rank], eff[rank:])
    torch.testing.assert_close(y_eff, y, atol=1e-5, rtol=0)


@pytest.mark.parametrize("dilation", [3, 5, 7])
def test_drln_attention_dilated_3x3_on_1x1(dilation):
    live, ta = _conv_checked([1, 1], [3, 3], dilations=[dilation] * 2, pb=[dilation] * 2)
    assert live == {(1, 1)}
    assert ta.effective_kernel_shape == (1, 1)
    assert ta.effective_pads == (0, 0, 0, 0)
    assert ta.effective_dilations == (1, 1)
    _assert_effective_conv_equivalent([1, 1], [3, 3], [1, 1], [dilation] * 2, [dilation] * 2, [dilation] * 2, ta)


def test_deeplab_dilation_36_on_28x28_only_centre():
    live, ta = _conv_checked([28, 28], [3, 3], dilations=[36, 36], pb=[36, 36])
    assert live == {(1, 1)}
    assert ta.effective_kernel_shape == (1, 1) and ta.effective_pads == (0, 0, 0, 0)
    _assert_effective_conv_equivalent([28, 28], [3, 3], [1, 1], [36, 36], [36, 36], [36, 36], ta)


def test_deeplab_dilation_24_on_28x28_all_live():
    live, ta = _conv_checked([28, 28], [3, 3], dilations=[24, 24], pb=[24, 24])
    assert live == _all_taps([3, 3]) and not ta.has_dead


def test_7x7_on_3x3_with_pad_3():
    # by execution: the outer ring is dead (tap 0 only ever reads indices -3..-1,
    # tap 6 only 3..5), the inner 5x5 is live
    live, ta = _conv_checked([3, 3], [7, 7], pb=[3, 3])
    assert live == set(itertools.product(range(1, 6), repeat=2))
    assert ta.dead_count == 24
    assert ta.effective_kernel_shape == (5, 5) and ta.effective_pads == (2, 2, 2, 2)
    _assert_effective_conv_equivalent([3, 3], [7, 7], [1, 1], [1, 1], [3, 3], [3, 3], ta)


def test_stride_2_pointwise_conv_all_live():
    live, ta = _conv_checked([7, 7], [1, 1], strides=[2, 2])
    assert live == {(0, 0)} and not ta.has_dead


def test_pad_at_least_kernel():
    live, ta = _conv_checked([4], [3], pb=[5])
    assert live == {(0,), (1,), (2,)}
    # stride jumps over the only input pixel: every tap is dead, the output is all zero
    live, ta = _conv_checked([1], [1], strides=[4], pb=[3])
    assert live == set() and ta.live_count == 0
    # pads 4/3 around 2 pixels, stride 3: the windows start at -4, -1, 2; only the
    # middle one reaches the input, through tap 1
    live, ta = _conv_checked([2, 2], [2, 2], strides=[3, 3], pb=[4, 4], pe=[3, 3])
    assert live == {(1, 1)}


def test_stride_skips_taps_non_contiguous():
    # one input pixel, stride 2, pad 3: the two output positions read it through taps
    # 3 and 1; taps 0, 2, 4 only ever read padding
    live, ta = _conv_checked([1, 1], [5, 5], strides=[2, 2], pb=[3, 3])
    assert live == set(itertools.product((1, 3), repeat=2))
    assert not ta.axes[0].contiguous and not ta.axes[1].contiguous


def test_conv_transpose_pads_crop_edge_taps():
    live, ta = _conv_transpose_checked([1, 1], [3, 3], pb=[1, 1])
    assert live == {(1, 1)}
    live, ta = _conv_transpose_checked([1], [5], pb=[3], pe=[0])
    assert live == {(3,), (4,)}
    assert ta.effective_kernel_shape == (2,) and ta.effective_pads == (0, 0)
    # axis 0: output of size 1 at uncropped index 3, reached by (i=0, tap 3) and
    # (i=1, tap 1) only; axis 1: every tap lands inside
    live, ta = _conv_transpose_checked([2, 3], [4, 3], strides=[2, 2], pb=[3, 1], pe=[2, 1])
    assert live == set(itertools.product((1, 3), range(3)))


def test_conv_transpose_same_odd_padding_side_matches_onnxruntime():
    # n=1, k=2: total padding 1.  onnxruntime keeps tap 0 for SAME_UPPER (the odd pad
    # goes to the end, i.e. cropped from the end) and tap 1 for SAME_LOWER.
    for auto_pad, expected in (("SAME_UPPER", {(0,)}), ("SAME_LOWER", {(1,)})):
        live, _ = ort_oracle("ConvTranspose", [1], [2], auto_pad=auto_pad)
        assert live == expected
        pb, pe, _ = resolve_conv_transpose_pads(auto_pad, [1], [2], [1], [1], None, None, None)
        assert set(analyze_taps([1], [2], None, None, pb, pe, transpose=True).iter_live()) == expected


def test_conv_same_with_dilation_refused_by_onnxruntime():
    # Not a geometry question, but worth knowing: onnxruntime refuses Conv SAME_* with
    # dilation > 1, which the ONNX spec (and onnx.reference, torch padding="same") allow.
    with pytest.raises(NotExecutable, match="Dilation not supported"):
        ort_oracle("Conv", [5, 5], [3, 3], auto_pad="SAME_UPPER", dilations=[2, 2])
    live, _ = onnx_reference_oracle("Conv", [5, 5], [3, 3], auto_pad="SAME_UPPER", dilations=[2, 2])
    ta, _, _ = _geometry_conv_auto([5, 5], [3, 3], [1, 1], [2, 2], "SAME_UPPER")
    _check_analysis(ta, live, [3, 3])


def test_conv_transpose_same_with_negative_total_padding():
    # n=2, k=1, stride 3: ONNX spec total padding 3*1 + 1 - 6 = -2.  onnxruntime runs it
    # with pads 0 and output 4 (not n*stride=6); the only tap is live.
    for auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        live, shape = ort_oracle("ConvTranspose", [2], [1], auto_pad=auto_pad, strides=[3])
        assert (live, shape) == ({(0,)}, (4,))
        pb, pe, outs = resolve_conv_transpose_pads(auto_pad, [2], [1], [3], [1], None, None, None)
        assert tuple(outs) == shape
        assert set(analyze_taps([2], [1], [3], None, pb, pe, transpose=True).iter_live()) == live


def test_conv_transpose_output_shape_larger_than_unpadded_output():
    # n=2, k=2, stride 4: unpadded output 6; output_shape 8 is accepted by onnxruntime
    # (pads 0, two zero columns appended), output_shape 10 is refused.
    live, shape = ort_oracle("ConvTranspose", [2], [2], strides=[4], output_shape=[8])
    assert (live, shape) == ({(0,), (1,)}, (8,))
    pb, pe, outs = resolve_conv_transpose_pads("NOTSET", [2], [2], [4], [1], None, None, [8])
    assert tuple(outs) == shape
    assert set(analyze_taps([2], [2], [4], None, pb, pe, transpose=True).iter_live()) == live
    with pytest.raises(NotExecutable):
        ort_oracle("ConvTranspose", [2], [2], strides=[4], output_shape=[10])
    with pytest.raises(GeometryError):
        pb, pe, _ = resolve_conv_transpose_pads("NOTSET", [2], [2], [4], [1], None, None, [10])
        analyze_taps([2], [2], [4], None, pb, pe, transpose=True)


@pytest.mark.parametrize("stride, dilation, output_padding", [(1, 1, 1), (2, 1, 2), (2, 3, 3), (1, 1, -1)])
def test_conv_transpose_output_padding_no_runtime_accepts(stride, dilation, output_padding):
    # output_padding must be in [0, max(stride, dilation)) for torch, [0, stride) for
    # onnxruntime; outside both, analyze_taps promises a GeometryError.
    with pytest.raises(NotExecutable):
        conv_transpose_oracle([3], [2], [stride], [dilation], [0], [0], [output_padding])
    with pytest.raises(NotExecutable):
        ort_oracle("ConvTranspose", [3], [2], strides=[stride], dilations=[dilation], output_padding=[output_padding])
    with pytest.raises(GeometryError):
        analyze_taps([3], [2], [stride], [dilation], transpose=True, output_padding=[output_padding])


def test_conv_transpose_output_padding_torch_only():
    # stride <= output_padding < dilation: torch runs it, onnxruntime refuses; geometry
    # follows torch (zeros appended at the end, liveness unchanged).
    live, shape = conv_transpose_oracle([2], [2], [1], [3], [0], [0], [2])
    with pytest.raises(NotExecutable):
        ort_oracle("ConvTranspose", [2], [2], strides=[1], dilations=[3], output_padding=[2])
    ta = analyze_taps([2], [2], [1], [3], transpose=True, output_padding=[2])
    _check_analysis(ta, live, [2])
