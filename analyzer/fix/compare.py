"""Comparing two runs' outputs (no onnxruntime here).

For each output, ``max_abs = max |a - b|`` and ``max_rel = max_abs / max |a|`` (a = the
reference).  An output matches when ``max_abs <= atol + rtol * max |a|`` (and NaN / inf sit
at the same places), with the tolerance of the loosest float type in the model (any input,
output, initializer or Cast target):

=========  =======  =======
precision   rtol     atol
=========  =======  =======
float64     1e-7     1e-9
float32     1e-5     1e-6
float16     1e-2     1e-3
bfloat16    5e-2     1e-2
=========  =======  =======

Integer and boolean outputs must be equal.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto

__all__ = ["TOLERANCES", "compare_outputs", "loosest", "model_precision"]

TOLERANCES = {"float64": (1e-7, 1e-9), "float32": (1e-5, 1e-6), "float16": (1e-2, 1e-3), "bfloat16": (5e-2, 1e-2)}


def model_precision(model: onnx.ModelProto) -> str:
    """The loosest float type among inputs, outputs, value_info, initializers and Cast targets."""
    g = model.graph
    types = {vi.type.tensor_type.elem_type for vi in list(g.input) + list(g.output) + list(g.value_info)}
    types |= {t.data_type for t in g.initializer}
    types |= {a.i for n in g.node if n.op_type == "Cast" for a in n.attribute if a.name == "to"}
    for t, name in ((TensorProto.BFLOAT16, "bfloat16"), (TensorProto.FLOAT16, "float16"), (TensorProto.FLOAT, "float32")):
        if t in types:
            return name
    return "float64" if TensorProto.DOUBLE in types else "float32"


def loosest(precisions) -> str:
    """The precision with the largest tolerance among ``precisions``."""
    return max(precisions, key=lambda p: TOLERANCES[p])


def _max_rel(max_abs, scale) -> float:
    return max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else float("inf"))


def _diff(a, b, rtol, atol) -> dict:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return {"max_abs": float("inf"), "max_rel": float("inf"), "ok": False, "why": f"shape {list(b.shape)} != {list(a.shape)}"}
    if a.dtype.kind not in "fc" or b.dtype.kind not in "fc":  # integers, booleans: equal or not
        d = np.abs(a.astype(np.float64) - b.astype(np.float64))
        max_abs = float(d.max()) if d.size else 0.0
        scale = float(np.abs(a.astype(np.float64)).max()) if d.size else 0.0
        return {"max_abs": max_abs, "max_rel": _max_rel(max_abs, scale), "ok": bool(np.array_equal(a, b))}
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    fa, fb = np.isfinite(a64), np.isfinite(b64)
    if not np.array_equal(fa, fb) or not np.array_equal(a64[~fa], b64[~fb], equal_nan=True):
        return {"max_abs": float("inf"), "max_rel": float("inf"), "ok": False, "why": "NaN/inf at different places"}
    d = np.abs(a64[fa] - b64[fb])
    max_abs = float(d.max()) if d.size else 0.0
    scale = float(np.abs(a64[fa]).max()) if d.size else 0.0
    return {"max_abs": max_abs, "max_rel": _max_rel(max_abs, scale), "ok": max_abs <= atol + rtol * scale}


def compare_outputs(names, ref, got, precision) -> list:
    """Per output ``{"name", "max_abs", "max_rel", "ok"[, "why"]}`` of ``got`` against ``ref``."""
    rtol, atol = TOLERANCES[precision]
    return [dict(name=n, **_diff(a, b, rtol, atol)) for n, a, b in zip(names, ref, got)]
