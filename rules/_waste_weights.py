"""Shared helpers of the weight-level waste rules WS010-WS012 (private: not a rule).

* :func:`read_weight`: a weight's values as the model computes them (an initializer, a
  Constant node, through Identity / Cast / DequantizeLinear), with the key and element type
  it is *stored* as, within an element budget;
* :func:`zero_channels`: the all-zero output channels of a Conv / ConvTranspose / Gemm /
  MatMul weight;
* :func:`channel_vector`: a constant that only varies along one axis of a tensor;
* :func:`sole_reader`: the one op that reads a value (None when it has other readers,
  is captured by a subgraph, or is a graph output);
* :func:`stored_bytes`: bytes of n elements in an onnx element type.

Importing this module imports neither onnx nor numpy: the rules import it lazily.
"""
from __future__ import annotations

__all__ = [
    "WEIGHT_BUDGET",
    "TooLarge",
    "Weight",
    "ZeroChannels",
    "chain_ops_apply",
    "channel_vector",
    "check_budget",
    "float16_counts",
    "float16_counts_known",
    "init_readers",
    "is_plain_initializer",
    "macs_share",
    "read_weight",
    "sole_reader",
    "stored_bytes",
    "zero_channels",
]  # fmt: skip

# Weights with more elements than this are not read (a 64 MB float32 tensor); the rules
# record them as not checked (kind ``weight-too-large``).  Option ``max-weight-elements``.
WEIGHT_BUDGET = 1 << 24

# onnx element type -> bits (4-bit types two to a byte); unknown types count 32
_BITS = {1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 9: 8, 10: 16, 11: 64, 12: 32, 13: 64, 14: 64, 15: 128, 16: 16,
         17: 8, 18: 8, 19: 8, 20: 8, 21: 4, 22: 4, 23: 4, 24: 8, 25: 2, 26: 2}  # fmt: skip
FLOAT_TYPES = (1, 10, 11, 16)  # float32, float16, float64, bfloat16
_THROUGH = ("Identity", "Cast")
MAX_STEPS = 16


class TooLarge(Exception):
    """A weight above the element budget: not read."""


def stored_bytes(n, elem_type):
    if elem_type is None:
        return None
    return (int(n) * _BITS.get(int(elem_type), 32) + 7) // 8


class Weight:
    """A weight's values (float64, as the model computes them) and how it is stored.

    ``values`` is converted to float64 on first use: ``stored`` (the values as read, any
    real dtype) answers what the conversion does not change (shape, which entries are
    zero) without the copy, which for a large weight costs more than reading it."""

    def __init__(self, values, stored_key, stored_type, quantized, plain):
        self.stored = values
        self._values = None
        self.stored_key = stored_key  # the initializer / Constant output holding the data
        self.stored_type = stored_type  # its onnx element type
        self.quantized = quantized  # computed by a DequantizeLinear
        self.plain = plain  # the key itself is a plain initializer (not a graph input)

    @property
    def values(self):
        if self._values is None:
            import numpy as np

            self._values = np.asarray(self.stored, dtype=np.float64)
        return self._values


def is_plain_initializer(model, key) -> bool:
    if key is None or not model.graph.is_initializer(key):
        return False
    sub = model.graph.subgraphs.get(key[1])
    return sub is None or key not in sub.input_keys


def _numel(dims) -> int:
    from analyzer.common import element_count

    return element_count(dims)


def _read_stored(model, key, budget):
    """(values, elem_type) of an initializer or Constant output; None when unknown."""
    if model.graph.is_initializer(key):
        if not is_plain_initializer(model, key):
            return None  # also a graph input: may be overridden at run time
        proto = model.graph.initializer(key)
        if proto is None:
            return None
        return _budgeted_tensor(model, key, proto, budget)
    prod = model.graph.producer(key)
    if prod is None or prod.op_type != "Constant" or prod.domain != "":
        return None
    t = prod.attrs.get("value")
    if t is None or not hasattr(t, "dims"):
        v = model.constant(key)
        info = model.info(key)
        return None if v is None else (v, info.dtype)
    return _budgeted_tensor(model, key, t, budget)


def check_budget(key, proto, budget=WEIGHT_BUDGET) -> None:
    """Raise :class:`TooLarge` when TensorProto ``proto`` (value ``key``) has more than
    ``budget`` elements."""
    if _numel(proto.dims) > budget:
        raise TooLarge(f"{key[2]!r} has {_numel(proto.dims)} elements (budget {budget})")


def _budgeted_tensor(model, key, proto, budget):
    """Value ``key`` held by TensorProto ``proto`` (an initializer or a Constant's value) and
    its dtype: the engine's constant if it kept one, else read; over ``budget``: TooLarge."""
    from analyzer.io.load import read_tensor

    check_budget(key, proto, budget)
    v = model.constant(key)
    if v is None:
        v = read_tensor(model.loaded, proto, max_elements=budget)
    return None if v is None else (v, int(proto.data_type))


def read_weight(model, key, budget=WEIGHT_BUDGET):
    """The :class:`Weight` of value ``key``, or None when it is not a known constant
    (raises :class:`TooLarge` above ``budget`` elements)."""
    plain = is_plain_initializer(model, key)
    for _ in range(MAX_STEPS):
        if key is None:
            return None
        got = _read_stored(model, key, budget)
        if got is not None:
            v, t = got
            if v.dtype.kind not in "fiub":
                return None
            return Weight(v, key, t, False, plain)
        prod = model.graph.producer(key)
        if prod is None or prod.domain != "" or not prod.inputs:
            return None
        if prod.op_type in _THROUGH:
            if prod.op_type == "Cast" and int(prod.attrs.get("to") or 0) not in FLOAT_TYPES:
                return None
            key = prod.inputs[0]
            continue
        if prod.op_type == "DequantizeLinear":
            return _dequantize(model, prod, budget)
        return None
    return None


def _dequantize(model, op, budget):
    import numpy as np

    if op.attrs.get("block_size"):
        return None
    x = _read_stored(model, op.inputs[0], budget) if op.inputs[0] is not None else None
    s = _read_stored(model, op.inputs[1], budget) if len(op.inputs) > 1 and op.inputs[1] is not None else None
    if x is None or s is None:
        return None
    xv, xt = x
    zp = np.zeros(1)
    if len(op.inputs) > 2 and op.inputs[2] is not None:
        z = _read_stored(model, op.inputs[2], budget)
        if z is None:
            return None
        zp = np.asarray(z[0], dtype=np.float64)
    sv = np.asarray(s[0], dtype=np.float64)
    xv = np.asarray(xv, dtype=np.float64)
    if sv.ndim == 1 and sv.size > 1:
        axis = int(op.attrs.get("axis", 1) if op.attrs.get("axis") is not None else 1)
        axis = axis + xv.ndim if axis < 0 else axis
        if not 0 <= axis < xv.ndim or xv.shape[axis] != sv.size:
            return None
        shape = [1] * xv.ndim
        shape[axis] = sv.size
        sv = sv.reshape(shape)
        if zp.size > 1:
            zp = zp.reshape(shape)
    try:
        vals = (xv - zp) * sv
    except ValueError:
        return None
    return Weight(vals, op.inputs[0], xt, True, False)


class ZeroChannels:
    """All-zero output channels of one op's weight."""

    def __init__(self, op, weight, channels, total, per_channel, layout):
        self.op = op
        self.weight = weight
        self.channels = channels  # output channel indices
        self.total = total  # output channels of the op
        self.per_channel = per_channel  # weight elements per output channel
        self.layout = layout  # how a channel is laid out in the weight (text)


def zero_channels(model, op, budget=WEIGHT_BUDGET):
    """:class:`ZeroChannels` of a Conv / ConvTranspose / Gemm / MatMul (constant B), None
    when not applicable or unknown; raises TooLarge.

    WS010 and WS011 both ask, for every conv: a None or an answer without zero channels
    (the common case) is remembered per model, without the weight, so that the weight is
    read once; an answer with zero channels is computed again (it keeps its weight, which
    the model must not hold for every conv)."""
    memo = model.graph.memo.setdefault("waste:zero_channels", {})
    mkey = (op.key, budget)
    if mkey in memo:
        return memo[mkey]
    found = _zero_channels(model, op, budget)
    if found is None:
        memo[mkey] = None
    elif not found.channels:
        memo[mkey] = ZeroChannels(op, None, [], found.total, found.per_channel, found.layout)
    return found


def _conv_without_zero_rows(model, op, budget):
    """For a Conv whose weight is a plain initializer left in the file: the answer without
    zero channels, from the weight read a block of whole rows at a time (no array of it);
    None when that does not apply or some channel is zero (then the weight is read whole,
    as :func:`read_weight` does)."""
    from analyzer.io.load import read_tensor_blocks

    key = op.inputs[1]
    if key is None or not model.graph.is_initializer(key) or not is_plain_initializer(model, key):
        return None
    proto = model.graph.initializer(key)
    if proto is None or len(proto.dims) < 3 or proto.dims[0] <= 0 or _numel(proto.dims) > budget:
        return None  # read_weight decides (None, or TooLarge)
    rows, per_row = int(proto.dims[0]), _numel(proto.dims[1:])
    from analyzer.io.tensors import element_dtype

    dtype = element_dtype(proto.data_type)
    if per_row <= 0 or dtype is None or dtype.kind not in "fiub" or dtype.itemsize == 0:
        return None
    row_bytes = per_row * dtype.itemsize
    blocks = read_tensor_blocks(model.loaded, proto, budget, block_bytes=max(1, (1 << 20) // row_bytes) * row_bytes)
    if blocks is None:
        return None
    counts = None
    try:
        if proto.data_type in FLOAT16_SCANNED:
            # the same blocks give WS015 its counts: the weight is read once, not twice
            zero_row = []
            counts = float16_counts(_rows_tested(blocks, per_row, zero_row), FLOAT16_MIN_ABS)
            if zero_row:
                return None  # a zero channel: the whole weight is wanted
        else:
            for block in blocks:
                if not block.reshape(-1, per_row).any(axis=1).all():
                    return None  # a zero channel: the whole weight is wanted
    except Exception:  # noqa: BLE001 - a failed read: read_weight decides, as before
        return None
    finally:
        if counts is not None:
            model.graph.memo.setdefault(FLOAT16_MEMO, {})[(model.loaded.lazy[proto.name].offset, FLOAT16_MIN_ABS)] = counts
    return ZeroChannels(op, None, [], rows, per_row, "W[o]")


def _rows_tested(blocks, per_row, zero_row):
    """``blocks`` passed on; ``zero_row`` gets an entry once a block has an all-zero row."""
    for block in blocks:
        if not zero_row and not block.reshape(-1, per_row).any(axis=1).all():
            zero_row.append(True)
        yield block


# --------------------------------------------------------------------------- float16 counts (WS015)

# WS015's default threshold (its option ``min-abs``): nonzero values below it underflow
FLOAT16_MIN_ABS = 2.0**-24
FLOAT16_RELATIVE = 2.0**-11  # half a float16 ulp at 1.0: a value this much smaller than the largest is below its rounding
FLOAT16_SCANNED = (1, 11)  # float32, float64: the initializers WS015 reads
# model.graph.memo key: {(payload offset in the file, min_abs): float16_counts of that payload}
FLOAT16_MEMO = "waste:float16_counts"


# dtype -> (values, bool, bool) scratch buffers of float16_counts, taken while in use
_SCRATCH: dict = {}


def float16_counts(flat, min_abs, step=1 << 18):
    """``(overflow, underflow)`` of WS015: how many finite values a cast to float16 makes
    infinite, and how many nonzero values below ``min_abs`` it flushes (less those below
    ``FLOAT16_RELATIVE`` times the largest magnitude), exactly as counted on a float64 copy.
    Computed block by block in the stored dtype (float32 to float64 is exact, and so is
    each comparison below once the few candidates are in float64): only values that can
    overflow (|x| >= 65504) or be tiny (0 < |x| < min_abs) are kept, in float64.
    ``flat``: a 1-D array, or an iterable of 1-D blocks of one dtype (a payload read a
    block at a time: the counts do not depend on where blocks end).  A block with neither
    (the common case) costs a few passes over it and no copy."""
    import numpy as np

    f64 = np.float64
    blocks = (flat[i : i + step] for i in range(0, flat.size, step)) if isinstance(flat, np.ndarray) else flat
    scratch = lo = hi = below = None
    tiny, big = [], []
    max_abs = None
    for block in blocks:
        k = block.size
        if scratch is None or scratch.dtype != block.dtype or scratch.size < k:
            if scratch is not None:
                _SCRATCH[scratch.dtype] = (scratch, lo, hi)
            # buffers kept from one call to the next: new ones for every weight came as
            # fresh pages from the system, a page fault every 4 KB (most of the time)
            scratch, lo, hi = _SCRATCH.pop(block.dtype, None) or (np.empty(0, block.dtype), None, None)
            if scratch.size < k:
                scratch, lo, hi = np.empty(k, block.dtype), np.empty(k, bool), np.empty(k, bool)
            # every stored value below min_abs is below this (float32(min_abs) may round down)
            below = np.nextafter(block.dtype.type(min_abs), block.dtype.type(np.inf))
        if not k:
            continue
        b, small, pos = scratch[:k], lo[:k], hi[:k]
        np.abs(block, out=b)
        top = b.max()
        if not np.isfinite(top):
            finite = b[np.isfinite(b)]
            top = finite.max() if finite.size else None
            big.append(b[~(b < 65504)].astype(f64))  # NaN and inf too: sorted out below
        elif not top < 65504:
            big.append(b[~(b < 65504)].astype(f64))
        if top is not None:
            max_abs = top if max_abs is None else max(max_abs, top)
        np.less(b, below, out=small)
        np.greater(b, 0, out=pos)
        np.logical_and(small, pos, out=small)
        if small.any():
            tiny.append(b[small].astype(f64))
    if scratch is not None:
        _SCRATCH[scratch.dtype] = (scratch, lo, hi)
    max_abs = 0.0 if max_abs is None else float(max_abs)
    t = np.concatenate(tiny) if tiny else np.empty(0)
    t = t[t < min_abs]
    negligible = int(np.count_nonzero(t < max_abs * FLOAT16_RELATIVE))
    g = np.concatenate(big) if big else np.empty(0)
    g = g[np.isfinite(g)]
    with np.errstate(over="ignore"):
        overflow = int(np.count_nonzero(np.isinf(g.astype(np.float16))))
    return overflow, int(t.size) - negligible


def float16_counts_known(model, proto, min_abs):
    """The :func:`float16_counts` of initializer ``proto`` that a scan for another rule
    already made (WS010's zero-row test reads conv weights block by block), or None."""
    memo = model.graph.memo.get(FLOAT16_MEMO)
    payload = model.loaded.lazy.get(proto.name) if memo else None
    return None if payload is None else memo.get((payload.offset, min_abs))


def _zero_channels(model, op, budget):
    import numpy as np

    t = op.op_type
    if op.domain != "" or t not in ("Conv", "ConvTranspose", "Gemm", "MatMul") or len(op.inputs) < 2:
        return None
    if t == "Conv":
        found = _conv_without_zero_rows(model, op, budget)
        if found is not None:
            return found
    w = read_weight(model, op.inputs[1], budget)
    if w is None:
        return None
    # which entries are zero, in the stored dtype: converting to float64 keeps every zero a
    # zero and every nonzero (NaN included) nonzero
    W = w.stored
    if t == "Conv":
        if W.ndim < 3 or W.shape[0] == 0:
            return None
        flat = W.reshape(W.shape[0], -1)
        zero = ~flat.any(axis=1)
        return ZeroChannels(op, w, [int(i) for i in np.nonzero(zero)[0]], W.shape[0], flat.shape[1], "W[o]")
    if t == "ConvTranspose":
        g = int(op.attrs.get("group") or 1)
        if W.ndim < 3 or g < 1 or W.shape[0] % g:
            return None
        cg, mg = W.shape[0] // g, W.shape[1]
        blocks = W.reshape(g, cg, mg, -1)  # [group, in per group, out per group, taps]
        zero = ~blocks.any(axis=(1, 3))  # [group, out per group]
        chans = [int(gi * mg + j) for gi, j in zip(*np.nonzero(zero))]
        return ZeroChannels(op, w, sorted(chans), g * mg, cg * blocks.shape[3], "W[:, o] per group")
    if t == "Gemm":
        if W.ndim != 2:
            return None
        B = W.T if int(op.attrs.get("transB") or 0) else W  # [K, N]
        zero = ~B.any(axis=0)
        return ZeroChannels(op, w, [int(i) for i in np.nonzero(zero)[0]], B.shape[1], B.shape[0],
                            "row n of B (transB=1)" if op.attrs.get("transB") else "column n of B")  # fmt: skip
    if W.ndim < 2:
        return None
    flat = W.reshape(-1, W.shape[-1])
    zero = ~flat.any(axis=0)
    return ZeroChannels(op, w, [int(i) for i in np.nonzero(zero)[0]], W.shape[-1], flat.shape[0], "B[..., n]")


def macs_share(model, op, n, total):
    """``n`` channels' share of ``op``'s MACs (None when unknown)."""
    from analyzer.analyses.macs import op_macs

    m = op_macs(model, op)
    if m is None or not total:
        return None
    return m * n // total


def channel_vector(value, rank, axis, channels):
    """``value`` (a numpy array) as a length-``channels`` vector when, broadcast against a
    tensor of rank ``rank``, it varies along ``axis`` only and does not grow the tensor;
    else None.  Second item: True when it is one value for every channel."""
    import numpy as np

    v = np.asarray(value)
    if v.ndim > rank:
        return None
    shape = (1,) * (rank - v.ndim) + v.shape
    for i, d in enumerate(shape):
        if i != axis and d != 1:
            return None
    c = shape[axis]
    if c not in (1, channels):
        return None
    return np.broadcast_to(v.reshape(-1).astype(np.float64), (channels,)).copy(), c == 1


def sole_reader(model, key):
    """The op reading ``key`` when it is its only reader (explicit input, one position),
    the value is no graph output and no subgraph captures it; else None."""
    users = model.graph.consumers(key)
    if len(users) != 1:
        return None
    sub = model.graph.subgraphs.get(key[1])
    if sub is not None and key in sub.output_keys:
        return None
    for data in model.graph.nx.succ[key].values():
        if data.get("kind") != "input":
            return None
    return users[0][0]


def init_readers(model, key) -> int:
    """How many explicit reads (all positions) and captures a value has, plus one when it
    is a graph output."""
    n = 0
    for data in model.graph.nx.succ[key].values():
        n += len(data.get("positions") or (1,)) if data.get("kind") == "input" else 1
    sub = model.graph.subgraphs.get(key[1])
    if sub is not None and key in sub.output_keys:
        n += 1
    return n


# --------------------------------------------------------------------------- constant channels through ops

_UNARY = {
    "Relu": lambda x, a: max(x, 0.0),
    "Identity": lambda x, a: x,
    "LeakyRelu": lambda x, a: x if x >= 0 else x * float(a.get("alpha", 0.01) if a.get("alpha") is not None else 0.01),
    "Sigmoid": lambda x, a: 1.0 / (1.0 + __import__("math").exp(-x)) if x > -700 else 0.0,
    "Tanh": lambda x, a: __import__("math").tanh(x),
    "Elu": lambda x, a: x if x >= 0 else float(a.get("alpha") if a.get("alpha") is not None else 1.0) * (__import__("math").exp(x) - 1),
    "HardSigmoid": lambda x, a: min(1.0, max(0.0, float(a.get("alpha") if a.get("alpha") is not None else 0.2) * x
                                             + float(a.get("beta") if a.get("beta") is not None else 0.5))),
}  # fmt: skip
PER_CHANNEL_OPS = set(_UNARY) | {"Clip", "BatchNormalization", "Add", "Sub", "Mul", "Div", "PRelu"}


def chain_ops_apply(model, op, chain_pos, consts, rank, channels):
    """``consts`` ({channel: value}) after ``op`` (one of PER_CHANNEL_OPS, reading the chain
    tensor at input ``chain_pos``: 0, or 1 for a binary op): the new dict, and the
    per-channel constant inputs ``[(input position, channel axis in the constant)]`` whose
    channel entries go with the channel; None when the op's effect is not per channel."""
    import numpy as np

    t = op.op_type
    if op.domain != "" or t not in PER_CHANNEL_OPS or len(op.outputs) != 1:
        return None
    if chain_pos != 0 and t not in ("Add", "Sub", "Mul", "Div"):
        return None
    if t in _UNARY:
        return {c: float(_UNARY[t](v, op.attrs)) for c, v in consts.items()}, []
    if t == "Clip":
        lo, hi = op.attrs.get("min"), op.attrs.get("max")
        for pos, name in ((1, "lo"), (2, "hi")):
            if len(op.inputs) > pos and op.inputs[pos] is not None:
                v = model.constant(op.inputs[pos])
                if v is None or v.size != 1:
                    return None
                if name == "lo":
                    lo = float(v.reshape(-1)[0])
                else:
                    hi = float(v.reshape(-1)[0])
        lo = -np.inf if lo is None else float(lo)
        hi = np.inf if hi is None else float(hi)
        return {c: float(min(max(v, lo), hi)) for c, v in consts.items()}, []
    if t == "BatchNormalization":
        if len(op.inputs) != 5 or int(op.attrs.get("training_mode") or 0):
            return None
        vecs = []
        for k in op.inputs[1:]:
            w = read_weight(model, k) if k is not None else None
            if w is None or w.values.shape != (channels,):
                return None
            vecs.append(w.values)
        scale, bias, mean, var = vecs
        eps = float(op.attrs.get("epsilon") if op.attrs.get("epsilon") is not None else 1e-5)
        out = {c: float((v - mean[c]) / np.sqrt(var[c] + eps) * scale[c] + bias[c]) for c, v in consts.items()}
        return out, [(i, 0) for i in range(1, 5)]
    return binary_apply(model, op, chain_pos, consts, rank, channels)


def binary_apply(model, op, chain_pos, consts, rank, channels):
    """Add / Sub / Mul / Div / PRelu with the chain tensor at ``chain_pos`` and a constant,
    per-channel other operand: (new consts, [(pos, axis in const)]) or None."""

    t = op.op_type
    if t not in ("Add", "Sub", "Mul", "Div", "PRelu") or len(op.inputs) != 2 or len(op.outputs) != 1:
        return None
    if t in ("PRelu",) and chain_pos != 0:
        return None
    other = op.inputs[1 - chain_pos]
    w = read_weight(model, other) if other is not None else None
    if w is None:
        return None
    cv = channel_vector(w.values, rank, 1, channels)
    if cv is None:
        return None
    vec, scalar = cv
    out = {}
    for c, v in consts.items():
        o = vec[c]
        if t == "Add":
            r = v + o
        elif t == "Mul":
            r = v * o
        elif t == "Sub":
            r = v - o if chain_pos == 0 else o - v
        elif t == "Div":
            den = o if chain_pos == 0 else v
            if den == 0:
                return None
            r = v / o if chain_pos == 0 else o / v
        else:
            r = v if v >= 0 else v * o
        out[c] = float(r)
    sliced = [] if scalar else [(1 - chain_pos, w.values.ndim - rank + 1)]
    return out, sliced
