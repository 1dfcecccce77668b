"""The tap geometry of one conv node in an analyzed model.

Shared by the rules that reason about kernel taps: it resolves
what the conv really sees, independent of how the exporter wrote it:

* the input: a constant-mode ``Pad`` with value 0 in front of the conv is
  padding too (one exporter folds ``F.pad`` into the conv's pads, the other
  keeps a Pad node), so its pads are added to the conv's and the Pad's input is
  the map the taps read;
* the pads: explicit, asymmetric, or derived from ``auto_pad``;
* the weight: an initializer or computed (Constant, DequantizeLinear...), its
  shape taken from shape propagation; the geometry decides, not the values;
* the cause: the node upstream that made the map small.

Which ops are convs (:data:`CONV_KINDS`): the ONNX ones, and the ones onnxruntime's graph
optimisers and quantisers write: com.microsoft FusedConv (Conv + activation, NCHW),
NhwcConv / NhwcFusedConv (channel-last input: the spatial axes are 1..n-2, the channels
last; the weight laid out as Conv's), com.microsoft QLinearConv (NHWC when its
``channels_last`` attribute is set), and com.microsoft.nchwc Conv (the NCHWc layout of
onnxruntime's "all" optimisation level: a 4-D tensor whose channel axis is padded to the
CPU's block size; spatial axes 2..; the weight stored with its output channels, and for a
blocked input its input channels, padded with zeros to that block).  For an NCHWc conv the
weights counted are the logical ones: output channels as the ReorderOutput downstream (or
the next conv) reads them, input channels as the ReorderInput upstream wrote them.
"""
from __future__ import annotations

from dataclasses import dataclass

from analyzer.analyses.nchwc import _nchwc_logical_weight
from analyzer.analyses.weights import stored_weight, weight_source  # noqa: F401  (re-exported)
from analyzer.geometry import MAX_KERNEL_EXTENT, GeometryError, TapAnalysis, analyze_taps, resolve_conv_pads, resolve_conv_transpose_pads

__all__ = ["CONV_OPS", "CONV_KINDS", "ConvSetup", "ConvTaps", "conv_kind", "conv_ops", "conv_setup", "conv_taps", "conv_taps_at",
           "taps_at", "shrink_cause", "shrink_path", "stored_weight", "weight_source"]  # fmt: skip

MS, NCHWC = "com.microsoft", "com.microsoft.nchwc"

# op type -> (data input position, weight input position, transpose?); the same positions
# in every domain that has the op (com.microsoft.nchwc Conv is "Conv")
CONV_OPS = {
    "Conv": (0, 1, False),
    "ConvInteger": (0, 1, False),
    "QLinearConv": (0, 3, False),
    "ConvTranspose": (0, 1, True),
    "FusedConv": (0, 1, False),
    "NhwcConv": (0, 1, False),
    "NhwcFusedConv": (0, 1, False),
}

# (domain, op type) -> input layout: "nchw" (channels at axis 1, spatial axes 2..),
# "nhwc" (spatial axes 1..n-2, channels last), "nchwc" (as nchw, channels blocked),
# "attr" (nchw, or nhwc when the channels_last attribute is set)
CONV_KINDS = {
    ("", "Conv"): "nchw",
    ("", "ConvInteger"): "nchw",
    ("", "QLinearConv"): "nchw",
    ("", "ConvTranspose"): "nchw",
    (MS, "FusedConv"): "nchw",
    (MS, "NhwcConv"): "nhwc",
    (MS, "NhwcFusedConv"): "nhwc",
    (MS, "QLinearConv"): "attr",
    (NCHWC, "Conv"): "nchwc",
}
# convs that pad with zeros (a zero Pad in front of them is padding too): the float NCHW ones
_ZERO_PADDED = {("", "Conv"), (MS, "FusedConv")}


def conv_kind(op):
    """``(x position, weight position, transpose, layout)`` of a conv op, or None."""
    layout = CONV_KINDS.get((op.domain, op.op_type))
    if layout is None:
        return None
    if layout == "attr":
        layout = "nhwc" if op.attrs.get("channels_last") else "nchw"
    return CONV_OPS[op.op_type] + (layout,)

# Walking up from a conv to the node that shrank its input stops after this many
# steps (a long chain of same-size ops proves nothing more).
MAX_CAUSE_STEPS = 10_000
# shrink_path returns at most this many ops (cause first).
MAX_PATH_OPS = 256
# Kernel extents (summed over axes) analyzed per model: this plus 64 per node.
TAP_BUDGET = 1 << 20


@dataclass
class ConvTaps:
    op: object  # OpNode
    input_key: tuple  # the value whose spatial size the taps see (before any folded Pad)
    input_spatial: tuple
    weight_key: tuple
    weight_shape: tuple
    kernel_shape: tuple
    strides: tuple
    dilations: tuple
    pads_begin: tuple  # including a folded Pad node's pads
    pads_end: tuple
    group: int
    transpose: bool
    output_padding: tuple
    pad_node: object  # OpNode of a folded Pad, or None
    taps: TapAnalysis
    layout: str = "nchw"  # of the input (conv_kind): nchw, nhwc or nchwc

    @property
    def weights_per_tap(self) -> int:
        """Weights at one kernel position: out-channels x in-channels-per-group
        (for ConvTranspose: in-channels x out-channels-per-group)."""
        return int(self.weight_shape[0]) * int(self.weight_shape[1])

    @property
    def total_weights(self) -> int:
        return self.weights_per_tap * self.taps.total_taps

    @property
    def dead_weights(self) -> int:
        return self.weights_per_tap * self.taps.dead_count


class NotChecked(Exception):
    """Why a conv's taps cannot be decided statically (a note, not a finding)."""


def _ints(seq):
    return seq is not None and all(isinstance(x, int) for x in seq)


def _plain_ints(v) -> bool:
    """Whether ``v`` is a list (or tuple) of plain ``int`` (not bool, not numpy): what
    the graph decodes from an INTS attribute."""
    if v.__class__ is not list and v.__class__ is not tuple:
        return False
    for x in v:
        if x.__class__ is not int:
            return False
    return True


def _int_list(attrs, name, n, default):
    """An INTS attribute of ``n`` values (``default`` when absent), or NotChecked.
    ``attrs`` is the op's decoded attribute dict (``OpNode.attrs``)."""
    v = attrs.get(name)
    if v is None:
        return default
    if not isinstance(v, (list, tuple)) or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        raise NotChecked(f"attribute {name} is not a list of integers")
    if n is not None and len(v) != n:
        raise NotChecked(f"attribute {name} has {len(v)} values, expected {n}")
    return tuple(v)


def conv_ops(model) -> list:
    """The model's conv ops (:data:`CONV_KINDS`, any domain) in ``graph.all_ops()`` order;
    listed once per model (every tap rule walks them)."""
    found = model.graph.memo.get("conv_ops")
    if found is None:
        found = model.graph.memo["conv_ops"] = [op for op in model.graph.all_ops() if (op.domain, op.op_type) in CONV_KINDS]
    return found


def conv_taps(model, op) -> ConvTaps:
    """Tap analysis of ``op`` or :class:`NotChecked` with the reason.

    Computed once per op and model (several rules ask), and within a tap
    budget proportional to the model's size: a hostile file can declare kernels
    of any size without carrying their weights."""
    memo = model.graph.memo.get("conv_taps")
    if memo is None:
        memo = model.graph.memo["conv_taps"] = {}
    found = memo.get(op.key)
    if found is None:
        try:
            found = _conv_taps(model, op)
        except NotChecked as e:
            found = e
        memo[op.key] = found
    if isinstance(found, NotChecked):
        raise NotChecked(str(found))
    return found


def _charge_taps(model, kernel) -> None:
    memo = model.graph.memo
    budget = memo.get("tap_budget")
    if budget is None:
        budget = memo["tap_budget"] = TAP_BUDGET + 64 * len(model.graph.ops)
    cost = sum(kernel)
    if cost > budget:
        raise NotChecked("kernel too large to analyze (tap budget of the model exhausted)")
    memo["tap_budget"] = budget - cost


@dataclass
class ConvSetup:
    """Everything about a conv but its (possibly symbolic) spatial size: what
    :func:`taps_at` needs to analyze it at any concrete size."""

    op: object
    input_key: tuple  # the map the taps read (a folded Pad's input, else x_key)
    spatial: tuple  # input_key's spatial dims: ints or symbolic
    weight_key: tuple
    weight_shape: tuple
    kernel: tuple
    strides: tuple
    dilations: tuple
    pads: tuple | None
    auto_pad: str
    group: int
    transpose: bool
    output_padding: tuple
    output_shape: tuple | None
    pad_node: object
    fold: list | None  # per spatial axis (begin, end) of the folded Pad
    layout: str = "nchw"
    # per spatial axis (begin, end) of a folded Pad whose pads are size expressions
    # (computed at run time from the input size); then ``fold`` is None and the geometry
    # is only evaluated at concrete sizes (analyses/conditional.py, ``at_sizes``)
    sym_fold: list | None = None


def conv_setup(model, op) -> ConvSetup:
    """The conv's attributes, checked, with a zero Pad in front folded; NotChecked
    when they cannot be decided (the spatial size may still be symbolic)."""
    spec = conv_kind(op)
    if spec is None:
        raise NotChecked("not a convolution")
    x_i, w_i, transpose, layout = spec
    if len(op.inputs) <= w_i or op.inputs[x_i] is None or op.inputs[w_i] is None:
        raise NotChecked("input or weight missing")
    x_key, w_key = op.inputs[x_i], op.inputs[w_i]
    x_shape = model.shape(x_key)
    w_shape = model.shape(w_key)
    if x_shape is None or len(x_shape) < 3:
        raise NotChecked("input rank unknown")
    sr = len(x_shape) - 2
    if w_shape is None or not _ints(w_shape):
        raise NotChecked("weight shape unknown")
    if len(w_shape) != sr + 2:
        raise NotChecked(f"weight of rank {len(w_shape)} for an input of rank {len(x_shape)}")
    if layout == "nhwc":
        x_shape = (x_shape[0], x_shape[-1]) + tuple(x_shape[1:-1])  # seen as NCHW from here on
    attrs = op.attrs
    plain = _plain_attrs(attrs, sr, tuple(w_shape[2:]))
    if plain is not None:
        kernel, strides, dilations, pads, group, auto_pad, output_padding, output_shape = plain
    else:
        kernel = _int_list(attrs, "kernel_shape", sr, tuple(w_shape[2:]))
        if tuple(kernel) != tuple(w_shape[2:]):
            raise NotChecked(f"kernel_shape {list(kernel)} disagrees with the weight {list(w_shape)}")
        strides = _int_list(attrs, "strides", sr, (1,) * sr)
        dilations = _int_list(attrs, "dilations", sr, (1,) * sr)
        if min(strides + dilations) < 1:
            raise NotChecked(f"strides {list(strides)} / dilations {list(dilations)} must be positive")
        pads = _int_list(attrs, "pads", 2 * sr, None)
        if pads is not None and min(pads) < 0:
            raise NotChecked(f"negative pads {list(pads)}")
        group = attrs.get("group")
        if group is None:
            group = 1
        if not isinstance(group, int) or isinstance(group, bool) or group < 1:
            raise NotChecked(f"group {group!r} is not a positive integer")
        auto_pad = attrs.get("auto_pad")
        if auto_pad is None:
            auto_pad = "NOTSET"
        if not isinstance(auto_pad, str):
            raise NotChecked("attribute auto_pad is not a string")
    spatial = tuple(x_shape[2:])
    if None in spatial:
        raise NotChecked(f"input spatial size {_fmt(spatial)} is not static")
    channels, w_in = x_shape[1], w_shape[1]
    if layout == "nchwc":
        w_shape = _nchwc_logical_weight(model, op, x_key, tuple(w_shape), group)
    elif not transpose and isinstance(channels, int) and (channels % group or w_in * group != channels):
        raise NotChecked(f"input has {channels} channels, the weight expects {w_in} x group {group}")
    if transpose and (w_shape[0] % group if isinstance(w_shape[0], int) else False):
        raise NotChecked(f"weight's {w_shape[0]} input channels do not divide into group {group}")
    if plain is None:
        output_padding = _int_list(attrs, "output_padding", sr, (0,) * sr)
        output_shape = _int_list(attrs, "output_shape", None, None)
    pad_node, fold, input_key, sym_fold = None, None, x_key, None
    # Only a float Conv pads with 0: ConvInteger / QLinearConv pad with the input's
    # zero point, so a Pad node's zeros in front of them are real (non-zero) data.
    if (op.domain, op.op_type) in _ZERO_PADDED:
        folded = _zero_pad_in_front(model, x_key, sr)
        if folded is not None:
            inner = model.shape(folded[1])
            if inner is not None and None not in inner[2:]:
                pad_node, input_key, fold = folded
                spatial = tuple(inner[2:])
        elif not _ints(spatial):
            sym_folded = _symbolic_zero_pad(model, x_key, sr)
            if sym_folded is not None:
                inner = model.shape(sym_folded[1])
                if inner is not None and None not in inner[2:] and not _ints(inner[2:]):
                    pad_node, input_key, sym_fold = sym_folded
                    spatial = tuple(inner[2:])
    if plain is None and not all(isinstance(k, int) and 1 <= k <= MAX_KERNEL_EXTENT for k in kernel):
        raise NotChecked(f"kernel {_fmt(kernel)} out of range")
    return ConvSetup(op, input_key, spatial, w_key, tuple(w_shape), tuple(kernel), strides, dilations, pads,
                     auto_pad, group, transpose, output_padding, output_shape, pad_node, fold, layout, sym_fold)  # fmt: skip


def _plain_attrs(attrs, sr, w_kernel):
    """The common case of :func:`conv_setup`, measured hot: the INTS attributes absent or
    lists of plain ints of the right length, every value in range, no ConvTranspose
    output attributes; then ``(kernel, strides, dilations, pads, group, auto_pad,
    output_padding, output_shape)``, exactly what the checks give.  None for anything
    else: the checks then run one by one and say what is wrong."""
    get = attrs.get
    if get("output_padding") is not None or get("output_shape") is not None:
        return None
    for x in w_kernel:
        if x.__class__ is not int or x < 1 or x > MAX_KERNEL_EXTENT:
            return None
    k = get("kernel_shape")
    if k is not None and _plain_at_least(k, sr, 1) != w_kernel:
        return None
    strides, dilations, pads = get("strides"), get("dilations"), get("pads")
    strides = (1,) * sr if strides is None else _plain_at_least(strides, sr, 1)
    dilations = (1,) * sr if dilations is None else _plain_at_least(dilations, sr, 1)
    if pads is not None:
        pads = _plain_at_least(pads, 2 * sr, 0)
        if pads is None:
            return None
    group, auto_pad = get("group"), get("auto_pad")
    group = 1 if group is None else group
    auto_pad = "NOTSET" if auto_pad is None else auto_pad
    if strides is None or dilations is None or group.__class__ is not int or group < 1 or auto_pad.__class__ is not str:
        return None
    return w_kernel, strides, dilations, pads, group, auto_pad, (0,) * sr, None


def _plain_at_least(v, n, low):
    """``tuple(v)`` if ``v`` is a list of ``n`` plain ints, each at least ``low``; else None."""
    if v.__class__ is not list or len(v) != n:
        return None
    for x in v:
        if x.__class__ is not int or x < low:
            return None
    return tuple(v)


def taps_at(st: ConvSetup, spatial) -> tuple:
    """``(TapAnalysis, pads_begin, pads_end)`` of the conv when the map its taps read
    has the concrete ``spatial`` size; GeometryError for a size no runtime accepts."""
    if st.sym_fold is not None:
        raise NotChecked("pads computed from the input size: evaluated at concrete sizes only")
    x_spatial = spatial if st.fold is None else tuple(n + b + e for n, (b, e) in zip(spatial, st.fold))
    if st.transpose:
        begins, ends, _ = resolve_conv_transpose_pads(
            st.auto_pad, x_spatial, st.kernel, st.strides, st.dilations, st.pads, st.output_padding, st.output_shape
        )
    else:
        begins, ends = resolve_conv_pads(st.auto_pad, x_spatial, st.kernel, st.strides, st.dilations, st.pads)
    begins, ends = list(begins), list(ends)
    if st.fold is not None:
        begins = [b + e[0] for b, e in zip(begins, st.fold)]
        ends = [b + e[1] for b, e in zip(ends, st.fold)]
    taps = analyze_taps(spatial, st.kernel, st.strides, st.dilations, begins, ends, transpose=st.transpose, output_padding=st.output_padding)
    return taps, begins, ends


def _conv_taps(model, op) -> ConvTaps:
    memo = model.graph.memo.get("conv_geometry")
    if memo is None:
        memo = model.graph.memo["conv_geometry"] = {}
    found = _plain_conv_taps(model, op, memo)
    if found is not None:
        return found
    st = conv_setup(model, op)
    if not _ints(st.spatial):
        raise NotChecked(f"input spatial size {_fmt(st.spatial)} is not static")
    _charge_taps(model, st.kernel)
    return conv_taps_at(st, st.spatial, memo)


def _plain_conv_taps(model, op, memo):
    """The common case of :func:`_conv_taps`, measured hot (a network has hundreds of
    convs of a few geometries): a float Conv with static plain-int shapes, ordinary
    attributes (:func:`_plain_attrs`), consistent channels, no Pad in front, and a
    geometry already analyzed (``memo``, shared with :func:`conv_taps_at`).  Returns
    the same ConvTaps as the general path, or None: then the general path runs and
    says why a conv cannot be checked."""
    if op.op_type != "Conv" or op.domain != "":
        return None
    inputs = op.inputs
    if len(inputs) < 2:
        return None
    x_key, w_key = inputs[0], inputs[1]
    if x_key is None or w_key is None:
        return None
    x_shape, w_shape = model.shape(x_key), model.shape(w_key)
    if x_shape is None or w_shape is None or len(x_shape) < 3 or len(w_shape) != len(x_shape):
        return None
    for d in w_shape:
        if d.__class__ is not int:
            return None
    spatial = tuple(x_shape[1:])  # channels and the spatial dims
    for d in spatial:
        if d.__class__ is not int:
            return None
    channels, spatial = spatial[0], spatial[1:]
    w_shape = tuple(w_shape)
    plain = _plain_attrs(op.attrs, len(spatial), w_shape[2:])
    if plain is None:
        return None
    kernel, strides, dilations, pads, group, auto_pad, output_padding, output_shape = plain
    if channels % group or w_shape[1] * group != channels or _zero_pad_in_front(model, x_key, len(spatial)) is not None:
        return None
    found = memo.get((spatial, kernel, strides, dilations, pads, auto_pad, None, False, output_padding, output_shape))
    if found is None or found.__class__ is str:
        return None  # not analyzed yet, or not analyzable: the general path does it
    # everything the general path checks before charging has passed, so an exhausted
    # budget raises here exactly what it would raise there
    _charge_taps(model, kernel)
    taps, begins, ends = found
    # positional (measured hot): the fields of ConvTaps in order
    return ConvTaps(op, x_key, spatial, w_key, w_shape, kernel, strides, dilations, begins, ends, group, False,
                    output_padding, None, taps)  # fmt: skip


def conv_taps_at(st: ConvSetup, spatial, memo: dict | None = None) -> ConvTaps:
    """The ConvTaps of ``st`` at a concrete spatial size (NotChecked if invalid there).

    ``memo`` (one dict per model) keeps the tap analysis by the conv's geometry: a
    network repeats a handful of conv set-ups hundreds of times."""
    key = None
    if memo is not None and _plain_ints(spatial) and _plain_ints(st.kernel):
        fold = None if st.fold is None else tuple(st.fold)
        key = (tuple(spatial), st.kernel, st.strides, st.dilations, st.pads, st.auto_pad, fold, st.transpose,
               st.output_padding, st.output_shape)  # fmt: skip
        found = memo.get(key)
    if key is None or found is None:
        try:
            taps, begins, ends = taps_at(st, spatial)
        except GeometryError as e:
            found = str(e)
        else:
            found = (taps, tuple(begins), tuple(ends))
        if key is not None:
            memo[key] = found
    if found.__class__ is str:
        raise NotChecked(found) from None
    taps, begins, ends = found
    return ConvTaps(
        op=st.op,
        input_key=st.input_key,
        input_spatial=tuple(spatial),
        weight_key=st.weight_key,
        weight_shape=st.weight_shape,
        kernel_shape=st.kernel,
        strides=st.strides,
        dilations=st.dilations,
        pads_begin=begins,
        pads_end=ends,
        group=st.group,
        transpose=st.transpose,
        output_padding=st.output_padding,
        pad_node=st.pad_node,
        taps=taps,
        layout=st.layout,
    )


def _fmt(dims):
    return "x".join("?" if d is None else str(d) for d in dims)


def _zero_pad_in_front(model, x_key, sr):
    """(Pad op, its data input, per-spatial-axis (begin, end)) if ``x_key`` is the
    output of a constant-mode Pad with value 0 that pads only spatial axes."""
    pad = model.graph.producer(x_key)
    if pad is None or pad.op_type != "Pad" or pad.domain not in ("", "ai.onnx"):
        return None
    if (pad.attr("mode", "constant") or "constant") != "constant":
        return None
    data_key = pad.inputs[0] if pad.inputs else None
    shape = model.shape(data_key)
    if data_key is None or shape is None or len(shape) != sr + 2:
        return None
    if len(pad.inputs) > 1 and pad.inputs[1] is not None:
        pads = model.ints(pad.inputs[1])
        value = model.constant(pad.inputs[2]) if len(pad.inputs) > 2 and pad.inputs[2] is not None else None
        if len(pad.inputs) > 2 and pad.inputs[2] is not None and value is None:
            return None
        axes = model.ints(pad.inputs[3]) if len(pad.inputs) > 3 and pad.inputs[3] is not None else list(range(sr + 2))
        if len(pad.inputs) > 3 and pad.inputs[3] is not None and axes is None:
            return None
    else:
        pads = pad.attr("pads", None)
        value = pad.attr("value", 0.0)
        axes = list(range(sr + 2))
    if pads is None or len(pads) != 2 * len(axes):
        return None
    if not _is_zero(value):
        return None
    rank = sr + 2
    per_axis = [(0, 0)] * rank
    for i, a in enumerate(axes):
        a = a + rank if a < 0 else a
        if not 0 <= a < rank:
            return None
        per_axis[a] = (pads[i], pads[i + len(axes)])
    if any(p != (0, 0) for p in per_axis[:2]) or any(b < 0 or e < 0 for b, e in per_axis):
        return None
    return pad, data_key, per_axis[2:]


def _is_zero(value) -> bool:
    """A Pad's constant value: absent (0), a number, or a one-element array."""
    if value is None:
        return True
    try:
        flat = [float(v) for v in getattr(value, "reshape", lambda *_: [value])(-1)]
    except (TypeError, ValueError):
        return False
    return len(flat) <= 1 and all(v == 0.0 for v in flat)


def _symbolic_zero_pad(model, x_key, sr):
    """Like :func:`_zero_pad_in_front` for a constant-mode zero Pad whose spatial pads are
    size expressions (TF-"same" padding computed from the input size at run time):
    ``(Pad op, its data input, per-spatial-axis (begin, end) dims)``, or None."""
    pad = model.graph.producer(x_key)
    if pad is None or pad.op_type != "Pad" or pad.domain not in ("", "ai.onnx") or len(pad.inputs) < 2 or pad.inputs[1] is None:
        return None
    if (pad.attr("mode", "constant") or "constant") != "constant":
        return None
    if len(pad.inputs) > 3 and pad.inputs[3] is not None:
        return None  # axes: only the plain form
    if len(pad.inputs) > 2 and pad.inputs[2] is not None:
        value = model.constant(pad.inputs[2])
        if value is None or not _is_zero(value):
            return None
    pads = model.info(pad.inputs[1]).sym
    rank = sr + 2
    if pads is None or len(pads) != 2 * rank or any(d is None for d in pads):
        return None
    if any(pads[a] != 0 or pads[a + rank] != 0 for a in (0, 1)):
        return None
    if any(isinstance(d, int) and d < 0 for d in pads):
        return None
    return pad, pad.inputs[0], [(pads[a], pads[a + rank]) for a in range(2, rank)]


def shrink_cause(model, value_key, rank: int, layout: str = "nchw"):
    """The op upstream of ``value_key`` that made its spatial size (last ``rank - 2``
    dims; for ``layout`` "nhwc" the dims between batch and channels) what it is: walk
    producers while some input of the same rank has the same spatial dims; the first op
    where none does is the cause.  Returns the OpNode, or None when the size comes
    straight from a graph input."""
    return shrink_path(model, value_key, rank, layout)[0]


def shrink_path(model, value_key, rank: int, layout: str = "nchw"):
    """``(cause, path)``: the cause as in :func:`shrink_cause` and the ops walked
    from it down to the producer of ``value_key`` (cause first; at most
    MAX_PATH_OPS of them, from the cause on).

    Results are memoized per value, so a chain of a million same-size convs
    costs a million steps, not a million walks of ten thousand."""
    memo = model.graph.memo.setdefault("shrink_path" if layout != "nhwc" else "shrink_path_nhwc", {})
    lo, hi = (1, -1) if layout == "nhwc" else (2, None)
    chain = []  # (value key, its producer) walked upwards, each continuing to an input
    key = value_key
    for _ in range(MAX_CAUSE_STEPS):
        base = memo.get((key, rank))
        if base is not None:
            break
        prod = model.graph.producer(key)
        if prod is None:
            base = memo[(key, rank)] = (None, ())
            break
        here = model.shape(key)
        nxt = None
        for inp in prod.inputs:
            s = model.shape(inp) if inp is not None else None
            if s is not None and here is not None and len(s) == len(here) and tuple(s[lo:hi]) == tuple(here[lo:hi]):
                nxt = inp
                break
        if nxt is None:
            base = memo[(key, rank)] = (prod, (prod,))
            break
        chain.append((key, prod))
        key = nxt
    else:
        base = (None, ())  # too long a chain of same-size ops to name a cause
    cause, path = base
    for k, prod in reversed(chain):
        if len(path) < MAX_PATH_OPS:
            path = path + (prod,)
        memo[(k, rank)] = (cause, path)
    return cause, list(path)
