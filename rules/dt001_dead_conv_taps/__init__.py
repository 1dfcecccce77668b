"""DT001 dead-conv-taps: conv weights that can only ever multiply zero padding.

## What it does
For every Conv, ConvTranspose, ConvInteger and QLinearConv (1-D, 2-D, 3-D, any
group, explicit or asymmetric pads, ``auto_pad``, any stride and dilation), and the
convs onnxruntime's optimisers and quantisers write (com.microsoft FusedConv,
NhwcConv, NhwcFusedConv and QLinearConv with ``channels_last``, whose spatial axes sit
between batch and channels; com.microsoft.nchwc Conv of the blocked NCHWc layout), works
out from the input's spatial size which kernel taps can ever read real input.
A tap whose every read lands in zero padding (or, for ConvTranspose, whose every
write is cropped away) is dead; the rule reports each conv that has one.

A constant-mode ``Pad`` with value 0 in front of the conv counts as padding, so
the result does not depend on whether the exporter folded ``F.pad`` into the
conv.  Computed weights (Constant, DequantizeLinear...) are checked all the
same: the geometry decides, not the values.  Dead bytes are counted in the dtype the
weight is stored in: a QDQ model's int8 initializer behind a DequantizeLinear costs one
byte per weight, a packed int4 one half.  An NCHWc conv's weight is stored with its
channels padded to the CPU's block size; the weights counted are the logical ones (the
padding is zeros that the layout adds, not the model).

When the spatial size is symbolic (a dynamic-size export), the rule solves for
the input sizes at which taps die, in the model's own input dims: taps dead at
every size are a ``warning`` as usual; taps dead only below a size are reported
at severity ``info`` with ``details.condition``, e.g. for a 3x3 dilation-36 conv
at output stride 8: "when H (input 'image' axis 2) is at most 288 and W ... is at
most 288, 8 of 9 taps only read zero padding".  One such finding per set of
bounded input dims (H alone, W alone, both).  Thresholds at which the map is
smaller than the kernel itself are not reported: every padded conv loses taps
on a tiny map.  ``--input-shape`` binds the dims and turns the conditions into
definite findings (or none).

A conv the rule cannot check (its input rank or size unknown, e.g. after an
operator nobody knows; a weight of unknown shape; attributes out of range) is
counted in a note and recorded as not checked (kind ``unchecked-conv``), which every
output format shows.  A symbolic size is not a gap: it is reported conditionally.

## Why is this bad?
Dead weights are parameters that no training step can make useful and no input
can activate: they cost memory, bandwidth and MACs, and they hide what the layer
really computes.  In DRLN's "Laplacian" attention, 3x3 convs with dilation 3, 5
and 7 run on the 1x1 output of a global average pool: only the centre tap reads
the pooled value, 8/9 of the weights never influence the output, and each branch
is a 1x1 conv in disguise.

## Example
```
y  = GlobalAveragePool(x)                                 # N x 64 x 1 x 1
c1 = Conv(y, W[4, 64, 3, 3], dilations=[3, 3], pads=[3, 3, 3, 3])
```
Only tap (1, 1) is live: 2048 of the 2304 weights are dead.

## How to fix
Replace the conv by its effective kernel: keep only the live taps
(``details.live_taps``), use ``details.effective_kernel_shape``,
``details.effective_dilations`` and ``details.effective_pads``; the output is
identical.  For DRLN: a 1x1 conv with no padding.  If the layer was meant to see
context at several scales, it needs an input map larger than its receptive field.

## Options
``min-dead-weights`` (configuration ``[tool.onnxlint.rules.DT001]``): stay quiet
about convs with fewer dead weights than this (default 1: report every dead tap).

## Details
``weight`` (the weight's tensor name), ``weight_source`` (initializer, or the node
that computes it), ``kernel_shape``, ``input_spatial_shape``, ``strides``,
``dilations``, ``pads`` (resolved, ONNX layout, including a folded Pad node's),
``pad_node``, ``group``, ``transpose``, ``output_padding`` (ConvTranspose), ``live_taps`` and ``dead_taps`` (lists of
kernel index tuples; at most 4096 listed, ``dead_taps_truncated`` says if cut),
``live_taps_per_axis``, ``dead_weights``, ``total_weights``, ``dead_bytes``,
``effective_kernel_shape``, ``effective_dilations``, ``effective_pads`` (negative
means the smaller conv would have to crop), ``live_taps_contiguous``, ``cause``
(``{"node", "op_type"}`` of the op that made the map small, or null when the size
comes straight from a graph input), ``path_from_cause`` (the ops from the cause down
to this conv, each ``{"node", "op_type", "shape"}`` with its output shape; at most 33).
For a symbolic size: ``input_spatial_shape`` holds the expressions
(``"floor((H + 7)/8)"``), ``input_spatial_shape_at_threshold`` the sizes the tap
lists were computed at, ``condition`` the clauses that must all hold
(``{"input", "axis", "op": "<=", "value", "symbol"}``; empty for taps dead at every
size) and ``thresholds`` every input-dim value (per symbol) at which more taps die.
"""
from __future__ import annotations

from analyzer.analyses.convs import conv_taps, NotChecked, conv_ops, shrink_path, stored_weight, weight_source
from analyzer.findings import Finding

CODE = "DT001"
NAME = "dead-conv-taps"
SEVERITY = "warning"
OPTIONS = {"min-dead-weights": "report a conv only when at least this many of its weights are dead (default 1)"}

MAX_LISTED_TAPS = 4096

# onnx TensorProto data type -> bits per element (4-bit types are stored two to a byte)
_BITS = {1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 9: 8, 10: 16, 11: 64, 12: 32, 13: 64, 14: 64, 15: 128, 16: 16,
         17: 8, 18: 8, 19: 8, 20: 8, 21: 4, 22: 4, 23: 4, 24: 8, 25: 2, 26: 2}  # fmt: skip


def _fmt(dims) -> str:
    return "x".join(map(str, dims))


def check(model, options=None):
    from analyzer.analyses.convs import CONV_KINDS
    from rules._waste_graph import op_types

    if op_types(model).isdisjoint([t for _, t in CONV_KINDS]):
        return  # no conv op in the model: no pass over the nodes to list them
    min_dead = int((options or {}).get("min-dead-weights", 1))
    unchecked: dict[str, int] = {}
    for op in conv_ops(model):
        try:
            ct = conv_taps(model, op)
        except NotChecked as e:
            reason = str(e).split(" (")[0]
            symbolic = False
            if "not static" in reason:
                symbolic = _symbolic_size(model, op)
                try:
                    yield from _conditional(model, op, min_dead)
                    continue
                except NotChecked as e2:
                    reason = f"input size not static: {str(e2).split(' (')[0]}"
            unchecked[reason] = unchecked.get(reason, 0) + 1
            if not symbolic or "budget" in reason:  # a symbolic size is the model's, not a gap (see the docs)
                model.record_unchecked(
                    "unchecked-conv", f"{op.op_type} {op.id!r} not checked for dead taps: {reason}", source=CODE, op=op, reason=reason
                )
            continue
        if ct.taps.has_dead and ct.dead_weights >= min_dead:
            yield _finding(model, ct)
    if unchecked:
        parts = ", ".join(f"{n} {why}" for why, n in sorted(unchecked.items()))
        model.notes.append(f"{CODE}: {sum(unchecked.values())} conv(s) not checked ({parts})")


def _symbolic_size(model, op) -> bool:
    """Whether the conv's input spatial size is known as symbols (no dim unknown)."""
    from analyzer.analyses.convs import conv_setup

    try:
        conv_setup(model, op)
    except NotChecked:
        return False
    return True


def _conditional(model, op, min_dead):
    """Findings for a conv whose input size is symbolic: taps dead at every size (a
    warning), and per scenario of input-dim bounds the taps dead under it (info)."""
    from analyzer.analyses.conditional import conditional_taps

    cond = conditional_taps(model, op)
    symbolic = [str(d) for d in cond.setup.spatial]
    always_dead = cond.always.dead_weights if cond.always is not None else 0
    if cond.always is not None and always_dead >= min_dead:
        yield _finding(model, cond.always, symbolic=symbolic, levels=cond.levels)
    for sc in cond.scenarios:
        if sc.taps.dead_weights > always_dead and sc.taps.dead_weights >= min_dead:
            yield _finding(model, sc.taps, symbolic=symbolic, clauses=sc.clauses, levels=cond.levels)


def _clause_text(c) -> str:
    return f"{c.symbol} (input {c.input!r} axis {c.axis}) is at most {c.value}"


class _TapFacts:
    """What DT001 reports about one TapAnalysis, derived once per model and geometry
    (a network repeats a few conv geometries hundreds of times; the analysis is
    immutable).  Tuples: each finding gets lists of its own."""

    __slots__ = ("live", "dead", "dead_truncated", "live_per_axis", "eff_kernel", "eff_dilations", "eff_pads",
                 "contiguous", "verdict", "eff_text", "kernel_text")  # fmt: skip

    def __init__(self, taps):
        self.dead = tuple(_take(taps.iter_dead(), MAX_LISTED_TAPS))
        self.live = tuple(_take(taps.iter_live(), MAX_LISTED_TAPS))
        self.dead_truncated = taps.dead_count > len(self.dead)
        self.live_per_axis = tuple(a.live for a in taps.axes)
        self.eff_kernel = taps.effective_kernel_shape
        self.eff_dilations = taps.effective_dilations
        self.eff_pads = taps.effective_pads
        self.contiguous = all(a.contiguous for a in taps.axes)
        if taps.live_count == 0:
            verdict = "every tap only reads zero padding"
        else:
            verdict = f"{taps.dead_count} of {taps.total_taps} taps only read zero padding"
            if taps.live_count == 1 and all(a.live == (a.kernel // 2,) for a in taps.axes) and all(a.kernel % 2 for a in taps.axes):
                verdict += " (only the centre tap is live)"
        self.verdict = verdict
        self.eff_text = f"{_fmt(self.eff_kernel) if taps.live_count else 'nothing'} kernel with pads {list(self.eff_pads)}"
        self.kernel_text = _fmt(taps.kernel_shape)


def _tap_facts(model, taps) -> _TapFacts:
    memo = model.graph.memo.setdefault("dt001_tap_facts", {})
    got = memo.get(id(taps))
    if got is None or got[0] is not taps:
        got = memo[id(taps)] = (taps, _TapFacts(taps))  # the analysis is kept: its id stays its own
    return got[1]


def _op_entry(model, op, memo) -> dict:
    """``{"node", "op_type", "shape"}`` of an op of ``path_from_cause``; ``memo`` keeps
    each op's output shape (a cause is on the path of every conv it shrinks for)."""
    shape = memo.get(op.key, memo)
    if shape is memo:
        shape = memo[op.key] = _jsonable(model.shape(op.outputs[0]) if op.outputs else None)
    return {"node": op.id, "op_type": op.op_type, "shape": None if shape is None else list(shape)}


def _cause_text(model, cause) -> str:
    """The message's " (made small by ...)", once per cause (it shrinks the map of several convs)."""
    if cause is None:
        return " (graph input size)"
    memo = model.graph.memo.setdefault("dt001_cause_texts", {})
    text = memo.get(cause.key)
    if text is None:
        text = memo[cause.key] = f" (made small by {cause.op_type} {cause.id!r})"
    return text


def _finding(model, ct, symbolic=None, clauses=None, levels=None) -> Finding:
    op, taps = ct.op, ct.taps
    cause, path = shrink_path(model, ct.input_key, len(ct.input_spatial) + 2, ct.layout)
    facts = _tap_facts(model, taps)
    shapes = model.graph.memo.setdefault("dt001_op_shapes", {})
    w_dtype = model.info(stored_weight(model, ct.weight_key)).dtype
    dead_weights, total_weights = ct.dead_weights, ct.total_weights
    details = {
        "weight": ct.weight_key[2],
        "weight_source": weight_source(model, ct.weight_key),
        "kernel_shape": list(ct.kernel_shape),
        "input_spatial_shape": list(ct.input_spatial),
        "strides": list(ct.strides),
        "dilations": list(ct.dilations),
        "pads": [*ct.pads_begin, *ct.pads_end],
        "pad_node": ct.pad_node.id if ct.pad_node is not None else None,
        "group": ct.group,
        "transpose": ct.transpose,
        "output_padding": list(ct.output_padding),
        "live_taps": list(map(list, facts.live)),
        "dead_taps": list(map(list, facts.dead)),
        "dead_taps_truncated": facts.dead_truncated,
        "live_taps_per_axis": list(map(list, facts.live_per_axis)),
        "dead_weights": dead_weights,
        "total_weights": total_weights,
        "dead_bytes": _bytes(dead_weights, w_dtype),
        "effective_kernel_shape": list(facts.eff_kernel),
        "effective_dilations": list(facts.eff_dilations),
        "effective_pads": list(facts.eff_pads),
        "live_taps_contiguous": facts.contiguous,
        "cause": {"node": cause.id, "op_type": cause.op_type} if cause is not None else None,
        "path_from_cause": [_op_entry(model, p, shapes) for p in path[:MAX_PATH]] + [_op_entry(model, op, shapes)],
    }
    if symbolic is not None:
        details["input_spatial_shape"] = symbolic
        details["input_spatial_shape_at_threshold"] = list(ct.input_spatial)
        details["condition"] = [c.as_json() for c in clauses or ()]
        details["thresholds"] = {s: list(v) for s, v in sorted((levels or {}).items())}
    where = _cause_text(model, cause)
    if ct.pad_node is not None:
        where += f", padded by Pad {ct.pad_node.id!r}"
    size = _fmt(ct.input_spatial) if symbolic is None else _fmt(symbolic)
    when = ""
    if clauses:
        when = "when " + " and ".join(_clause_text(c) for c in clauses) + ", "
    elif symbolic is not None:
        when = "at every input size, "
    message = (
        f"{facts.kernel_text} kernel on a {size} input{where}: {when}{facts.verdict}; "
        f"{dead_weights} of {total_weights} weights are dead; same output as a {facts.eff_text}"
    )
    return Finding(
        rule=CODE,
        name=NAME,
        severity="info" if clauses else SEVERITY,
        node=op.id,
        node_index=op.index,
        graph=op.graph,
        op_type=op.op_type,
        message=message,
        details=details,
        waste={} if symbolic is not None and clauses else _waste(model, ct, details["dead_bytes"]),
    )


def _waste(model, ct, dead_bytes) -> dict:
    """Dead weights, their bytes, and the multiply-accumulates they cost per inference:
    every weight is used once per output position (ConvTranspose: per input position)
    and batch item, so dead MACs = dead weights x batch x positions (None when symbolic)."""
    macs = None
    key = ct.input_key if ct.transpose else (ct.op.outputs[0] if ct.op.outputs else None)
    shape = model.info(key).shape if key is not None else None
    if shape is not None and len(shape) >= 1 and all(isinstance(d, int) for d in shape):
        positions = 1
        for d in (shape[0], *(shape[1:-1] if ct.layout == "nhwc" else shape[2:])):
            positions *= d
        macs = ct.dead_weights * positions
        if macs >= 1 << 63:  # absurd declared sizes: no figure rather than a 4,000-digit one
            macs = None
    return {"weights": ct.dead_weights, "bytes": dead_bytes, "macs": macs}


MAX_PATH = 32


def _bytes(n, dtype):
    """Bytes ``n`` elements of onnx type ``dtype`` take stored (None when the type is unknown)."""
    if not dtype:
        return None
    bits = _BITS.get(dtype, 32)
    return (n * bits + 7) // 8


def _jsonable(shape):
    return None if shape is None else [d if isinstance(d, (int, str)) else None for d in shape]


def _take(it, n):
    for i, x in enumerate(it):
        if i >= n:
            return
        yield x


# --------------------------------------------------------------------------- HTML report hook


def html_section(findings, all_findings, page):
    """This rule's part of a file in the HTML report (``analyzer.render.section``)."""
    from .html import html_section as section

    return section(findings, all_findings, page)


# --------------------------------------------------------------------------- fix and verify hooks


def fix_findings(rewriter, findings) -> None:
    """``onnxlint fix``: rewrite each finding's conv with its live taps only (``.fix``)."""
    from .fix import fix_findings as fix

    fix(rewriter, findings)


def verify_findings(findings, model, harness) -> list:
    """``onnxlint verify``: confirm or refute each finding by execution (``.verify``)."""
    from .verify import verify_findings as verify

    return verify(findings, model, harness)
