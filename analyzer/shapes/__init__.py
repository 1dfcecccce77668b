"""Shape propagation (see engine.py); one small shape function per op type in ops_*.py."""
from analyzer.shapes.engine import SHAPE_FUNCTIONS, ShapeError, Shapes, TensorInfo, infer_shapes

__all__ = ["SHAPE_FUNCTIONS", "ShapeError", "Shapes", "TensorInfo", "infer_shapes"]
