"""What the engine and the shape functions (``ops_*.py``) share: the record of what is
known of a value (:class:`TensorInfo`), the error a shape function raises on an
inconsistent model (:class:`ShapeError`), the table of shape functions and the decorator
that fills it, and the reading of a declared tensor type.

The engine imports the ``ops_*`` modules only to have them register here; no shape
function imports the engine.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyzer.io.load import text
from analyzer.shapes.dims import MAX_DIM, MAX_RANK, symbol

__all__ = ["TensorInfo", "ShapeError", "SHAPE_FUNCTIONS", "register", "type_to_shape", "MAX_TRACKED_ELEMENTS"]

# Constant values (initializers, folded results) are tracked up to this many elements:
# shape sub-graphs need a handful; weights are never needed as values.
MAX_TRACKED_ELEMENTS = 4096


class ShapeError(Exception):
    """A shape function found inconsistent inputs (the model is wrong there)."""


@dataclass
class TensorInfo:
    shape: tuple | None = None  # None: rank unknown
    dtype: int | None = None  # onnx TensorProto data type
    value: np.ndarray | None = None  # concrete constant value (small tensors only)
    sym: list | None = None  # 1-D int vector (or scalar as 1 element) whose entries may be symbols
    source: str = "unknown"  # inferred | onnx | input | initializer | unknown

    @property
    def rank(self):
        return None if self.shape is None else len(self.shape)

    @property
    def fully_known(self) -> bool:
        return self.shape is not None and all(d is not None for d in self.shape)


SHAPE_FUNCTIONS: dict = {}


def register(*op_types, domain=""):
    def deco(fn):
        for t in op_types:
            SHAPE_FUNCTIONS[(domain, t)] = fn
        return fn

    return deco


def type_to_shape(vi):
    """(shape, dtype) from a ValueInfoProto or TypeProto; (None, None) if not a tensor."""
    if vi is None:
        return None, None
    tp = vi.type if hasattr(vi, "type") else vi
    if not tp.HasField("tensor_type"):
        return None, None
    tt = tp.tensor_type
    dtype = tt.elem_type or None
    if not tt.HasField("shape") or len(tt.shape.dim) > MAX_RANK:
        return None, dtype
    dims = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value) if 0 <= d.dim_value <= MAX_DIM else None)
        elif d.HasField("dim_param") and d.dim_param:
            dims.append(symbol(text(d.dim_param)))
        else:
            dims.append(None)
    return tuple(dims), dtype
