"""Shape propagation (see engine.py); one small shape function per op type in ops_*.py."""
from .engine import SHAPE_FUNCTIONS, ShapeError, Shapes, TensorInfo, infer_shapes

__all__ = ["SHAPE_FUNCTIONS", "ShapeError", "Shapes", "TensorInfo", "infer_shapes"]
