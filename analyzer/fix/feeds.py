"""Inputs for running a model: concrete dims and seeded random values (no onnxruntime here).

A dim with a value keeps it; a dim bound by ``--input-shape NAME=D0,D1,...`` takes that value
(a symbol bound there is bound for every input); any other symbol whose name says batch
(``batch``, ``batch_size``, ``N``, ``B``, ``bs``; any name containing "batch"), and an
unnamed first dim, is 1; every other dim is 16.  Float inputs are uniform in [0, 1) (run 1)
and standard normal (run 2); integer inputs uniform in [0, 4); booleans fair coins.
"""
from __future__ import annotations

import numpy as np
from onnx import TensorProto

__all__ = ["VerifyError", "input_dims", "make_feeds", "proto_inputs"]

BATCH_NAMES = {"n", "b", "bs", "batch", "batch_size"}
DEFAULT_BATCH, DEFAULT_DIM = 1, 16

_NP = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
    "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int16)": np.int16, "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8, "tensor(uint16)": np.uint16, "tensor(uint32)": np.uint32,
    "tensor(uint64)": np.uint64, "tensor(bool)": np.bool_,
}  # fmt: skip

_TYPE_NAMES = {
    TensorProto.FLOAT: "tensor(float)", TensorProto.DOUBLE: "tensor(double)", TensorProto.FLOAT16: "tensor(float16)",
    TensorProto.BFLOAT16: "tensor(bfloat16)", TensorProto.INT64: "tensor(int64)", TensorProto.INT32: "tensor(int32)",
    TensorProto.INT16: "tensor(int16)", TensorProto.INT8: "tensor(int8)", TensorProto.UINT8: "tensor(uint8)",
    TensorProto.UINT16: "tensor(uint16)", TensorProto.UINT32: "tensor(uint32)", TensorProto.UINT64: "tensor(uint64)",
    TensorProto.BOOL: "tensor(bool)",
}  # fmt: skip


class VerifyError(Exception):
    """The model cannot be run as asked (bad input binding, an input type not generated,
    onnxruntime refusing to load or run it)."""


def _is_batch(name: str) -> bool:
    return name.lower() in BATCH_NAMES or "batch" in name.lower()


def input_dims(inputs, input_shapes=None) -> dict:
    """``{input name: concrete shape}`` for ``inputs`` (onnxruntime NodeArgs), by the rule above."""
    input_shapes = dict(input_shapes or {})
    symbols = {}
    by_name = {i.name: i for i in inputs}
    for name, dims in input_shapes.items():
        if name not in by_name:
            raise VerifyError(f"--input-shape {name}: the model has no input {name!r}")
        declared = by_name[name].shape
        if len(declared) != len(dims):
            raise VerifyError(f"--input-shape {name}: {len(dims)} dims, the input has {len(declared)}")
        for d, v in zip(declared, dims):
            if isinstance(d, str):
                symbols[d] = v
    out = {}
    for inp in inputs:
        if inp.name in input_shapes:
            out[inp.name] = list(input_shapes[inp.name])
            continue
        shape = []
        for axis, d in enumerate(inp.shape):
            if isinstance(d, int) and d >= 0:
                shape.append(d)
            elif isinstance(d, str) and d in symbols:
                shape.append(symbols[d])
            elif (isinstance(d, str) and _is_batch(d)) or (not isinstance(d, str) and axis == 0):
                shape.append(DEFAULT_BATCH)
            else:
                shape.append(DEFAULT_DIM)
        out[inp.name] = shape
    return out


MAX_FEED_ELEMENTS = 1 << 27  # all inputs of one run together: bigger is refused, not allocated


def make_feeds(inputs, dims: dict, run: int = 0, skip=()) -> dict:
    """Seeded random values: run 0 uniform [0, 1), run 1 standard normal (floats).  Raises
    VerifyError when the inputs would hold more than MAX_FEED_ELEMENTS elements (a typo
    such as ``--input-shape x=1,3,100000,100000`` must be one line, not an exhausted memory)."""
    total = 0
    for inp in inputs:
        if inp.name not in skip:
            n = 1
            for d in dims[inp.name]:
                n *= max(int(d), 0)
            total += n
    if total > MAX_FEED_ELEMENTS:
        shapes = ", ".join(f"{k}={'x'.join(map(str, v))}" for k, v in dims.items())
        raise VerifyError(f"the inputs would hold {total} elements ({shapes}); runs are limited to {MAX_FEED_ELEMENTS}")
    rng = np.random.default_rng(1234 + run)
    feeds = {}
    for inp in inputs:
        if inp.name in skip:
            continue
        dtype = _NP.get(inp.type)
        if dtype is None:
            raise VerifyError(f"input {inp.name!r} has type {inp.type}, which verification does not generate")
        shape = dims[inp.name]
        if np.issubdtype(dtype, np.floating):
            v = rng.random(shape) if run % 2 == 0 else rng.standard_normal(shape)
        elif dtype == np.bool_:
            v = rng.random(shape) < 0.5
        else:
            v = rng.integers(0, 4, size=shape)
        feeds[inp.name] = np.asarray(v).astype(dtype)
    return feeds


class _Input:
    """The declared graph input, shaped like onnxruntime's NodeArg (name, shape, type)."""

    def __init__(self, vi):
        self.name = vi.name
        tt = vi.type.tensor_type
        self.type = _TYPE_NAMES.get(tt.elem_type, f"elem_type {tt.elem_type}")
        self.shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim]


def proto_inputs(model) -> list:
    """The model's declared inputs (not initializers), like onnxruntime's ``get_inputs()``."""
    inits = {t.name for t in model.graph.initializer}
    return [_Input(vi) for vi in model.graph.input if vi.name not in inits]
