"""WS015 float16-unsafe-weight: float32/float64 initializers that a float16 conversion would break.

## What it does
Reads every float32 and float64 initializer of the main graph and counts the values a cast
to float16 (round to nearest even, as numpy and onnxruntime's Cast do) would break:

* **overflow**: finite values whose float16 is infinite (``|x| >= 65520``; values up to
  that round to 65504, float16's largest);
* **underflow**: nonzero values with ``|x| <`` ``min-abs`` (default ``2**-24``, float16's
  smallest subnormal): they become 0 or ``2**-24``, off by 50 % to 100 %.  Values between
  ``2**-24`` and ``2**-14`` (float16's subnormal range) lose precision gradually and are only
  counted (``subnormal``), not flagged.  A tiny value that is also below ``2**-11`` times the
  tensor's largest magnitude is not flagged either (``negligible_underflow``): float16's
  rounding of the largest value is bigger than it, so it cannot matter more than the
  conversion's ordinary error (a BatchNorm variance with a few 1e-9 entries among 0.1s).
  What is flagged is a tensor whose small values carry weight: an epsilon, a gain, a
  tensor of uniformly tiny values.

One finding per initializer with any overflow or underflow, at the first node that reads it.

## Why is this bad?
Converting a model to float16 (``onnxconverter-common``'s ``convert_float_to_float16``, a
half-precision deployment) casts every weight.  An overflowed weight is ``inf``, and
``inf * 0`` or ``inf - inf`` turns the output to NaN; a flushed epsilon (a LayerNorm's
``1e-12`` stored as an initializer) divides by zero.  The float32 model gives no hint.

## Example
```
y = x / (Sqrt(var) + eps)      # eps = 1e-12 as an initializer: float16 makes it 0 -> inf
y = MatMul(x, W)               # W holds 1e5: float16 makes it inf
```

## How to fix
There is **no safe automatic rewrite**: clamping or rescaling a weight changes the model.
Keep these tensors (and the ops that read them) in float32 when converting (the converter's
``node_block_list`` / ``keep_io_types``), or rescale the layer and its consumer by hand
(e.g. fold a huge scale into the next op), or raise the epsilon to ``>= 2**-14`` if the
model tolerates it.  The finding has no ``waste``: nothing in the float32 model is wasted.

## Options
``min-abs`` (``[tool.onnxlint.rules.WS015]``): nonzero values below this magnitude count as
underflow (default ``5.960464477539063e-08`` = ``2**-24``; ``6.103515625e-05`` = ``2**-14``
also flags the subnormal range; ``0`` reports overflow only).

## Details
``initializer``, ``dtype``, ``elements``, ``overflow`` (count), ``underflow`` (count),
``negligible_underflow`` (tiny values not flagged, see above),
``subnormal`` (nonzero values in ``[2**-24, 2**-14)``), ``max_abs``, ``min_nonzero_abs``,
``min_abs_threshold``, ``readers`` (the nodes reading it, at most 8).
"""
from __future__ import annotations

CODE = "WS015"
NAME = "float16-unsafe-weight"
SEVERITY = "warning"
# Reads weight values (within its budget): `check` then costs the weights, not only the graph.
READS_WEIGHTS = True
OPTIONS = {"min-abs": "nonzero values with a smaller magnitude count as float16 underflow (default 2**-24)"}

MIN_ABS = 2.0**-24  # rules._waste_weights.FLOAT16_MIN_ABS
RELATIVE = 2.0**-11  # half a float16 ulp at 1.0: a value this much smaller than the largest is below its rounding
MAX_ELEMENTS = 1 << 31


def check(model, options=None):
    import numpy as np

    from analyzer.findings import Finding
    from analyzer.io.load import read_tensor, read_tensor_blocks
    from analyzer.io.proto import TensorProto
    from rules._waste_weights import float16_counts_known as known

    min_abs = float((options or {}).get("min-abs", MIN_ABS))
    g = model.graph
    for t in model.model.graph.initializer:
        if t.data_type not in (TensorProto.FLOAT, TensorProto.DOUBLE):
            continue
        if known(model, t, min_abs) == (0, 0):
            continue  # counted already, on the blocks WS010 read
        if _blocks_fit_float16(np, read_tensor_blocks(model.loaded, t, MAX_ELEMENTS), min_abs):
            continue  # a payload in the file, counted a block at a time: no array of it made
        arr = read_tensor(model.loaded, t, max_elements=MAX_ELEMENTS)
        if arr is None or arr.size == 0:
            continue
        flat = np.asarray(arr).reshape(-1)
        if _fits_float16(np, flat, min_abs):  # fast path in the stored dtype: most tensors are fine
            continue
        if _float16_counts(np, flat, min_abs) == (0, 0):  # the counts below, without float64 copies
            continue
        a = np.abs(flat).astype(np.float64)
        finite = np.isfinite(a)
        with np.errstate(over="ignore"):
            overflow = int(np.count_nonzero(finite & np.isinf(a.astype(np.float16))))
        nonzero = finite & (a > 0)
        max_abs = float(a[finite].max()) if finite.any() else 0.0
        tiny = nonzero & (a < min_abs)
        # below the float16 rounding error of the tensor's largest value: float16 loses it anyway
        negligible = int(np.count_nonzero(tiny & (a < max_abs * RELATIVE)))
        underflow = int(np.count_nonzero(tiny)) - negligible
        if not overflow and not underflow:
            continue
        subnormal = int(np.count_nonzero(nonzero & (a >= 2.0**-24) & (a < 2.0**-14)))
        key = ("value", "main", t.name)
        readers = sorted({u.index: u for u, _ in g.consumers(key)}.items()) if key in g.nx else []
        first = readers[0][1] if readers else None
        details = {
            "initializer": t.name,
            "dtype": "float32" if t.data_type == TensorProto.FLOAT else "float64",
            "elements": int(a.size),
            "overflow": overflow,
            "underflow": underflow,
            "negligible_underflow": negligible,
            "subnormal": subnormal,
            "max_abs": max_abs if finite.any() else None,
            "min_nonzero_abs": float(a[nonzero].min()) if nonzero.any() else None,
            "min_abs_threshold": min_abs,
            "readers": [{"node": u.id, "op_type": u.op_type} for _, u in readers[:8]],
        }
        what = []
        if overflow:
            what.append(f"{overflow} value(s) overflow to inf (max |x| {details['max_abs']:.6g})")
        if underflow:
            what.append(f"{underflow} nonzero value(s) below {min_abs:.6g} flush to 0 or lose most of their precision"
                        f" (min |x| {details['min_nonzero_abs']:.6g})")  # fmt: skip
        message = f"initializer {t.name!r} ({a.size} values): in float16 " + "; ".join(what)
        yield Finding(
            rule=CODE, name=NAME, severity=SEVERITY, node=first.id if first else t.name,
            node_index=first.index if first else -1, graph="main", op_type=first.op_type if first else "Initializer",
            message=message, details=details, waste={},
        )  # fmt: skip


def _blocks_fit_float16(np, blocks, min_abs) -> bool:
    """No value of a payload read a block at a time that :func:`check` would count: its
    :func:`_float16_counts` are ``(0, 0)``, in one pass over the blocks (None, or a failed
    read: False, and the tensor is read whole).  Most tensors fail the quick test of
    :func:`_fits_float16` only on tiny values that are negligible next to the largest."""
    if blocks is None:
        return False
    try:
        return _float16_counts(np, blocks, min_abs) == (0, 0)
    except Exception:  # noqa: BLE001 - a failed read: read_tensor decides, as before
        return False


def _fits_float16(np, flat, min_abs, step=1 << 18):
    """No |x| of ``flat`` is non-finite, >= 65504 or in (0, min_abs): the test of the whole
    tensor, made block by block (blocks that stay in cache, a fixed scratch buffer) and
    stopped at the first block that fails."""
    n = min(step, flat.size)
    scratch, below, above = np.empty(n, flat.dtype), np.empty(n, bool), np.empty(n, bool)
    for i in range(0, flat.size, step):
        block = flat[i : i + step]
        k = block.size
        b, lo, hi = scratch[:k], below[:k], above[:k]
        np.abs(block, out=b)
        top = b.max()
        if not (np.isfinite(top) and top < 65504):
            return False
        np.less(b, min_abs, out=lo)
        np.greater(b, 0, out=hi)
        np.logical_and(lo, hi, out=lo)
        if lo.any():
            return False
    return True


def _float16_counts(np, flat, min_abs):
    """``(overflow, underflow)`` exactly as :func:`check` counts them on the float64 copy
    (``rules._waste_weights.float16_counts``, shared with WS010's read of conv weights)."""
    from rules._waste_weights import float16_counts

    return float16_counts(flat, min_abs)
