"""Shape functions: elementwise ops, activations, normalizations, casts."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from .dims import dim_add, dim_floordiv, dim_mul, dim_sub
from .engine import ShapeError, register

BOOL = TensorProto.BOOL


def broadcast(*shapes):
    """Numpy-style multidirectional broadcast of dims (ints, symbols or None)."""
    if any(s is None for s in shapes):
        return None
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for ax in range(rank):
        dims = [s[len(s) - rank + ax] for s in shapes if len(s) - rank + ax >= 0]
        concrete = {d for d in dims if isinstance(d, int) and d != 1}
        if len(concrete) > 1:
            raise ShapeError(f"cannot broadcast dims {sorted(concrete)} on axis {ax}")
        if concrete:
            out.append(concrete.pop())
            continue
        others = [d for d in dims if d != 1]
        if not others:
            out.append(1)
        elif all(d == others[0] for d in others):
            out.append(others[0])  # same symbol (or all unknown)
        else:
            out.append(None)  # differing symbols: one of them must be 1 or they are equal; unknown which
    return tuple(out)


UNARY_SAME = (
    "Relu", "Sigmoid", "Tanh", "Exp", "Log", "Neg", "Abs", "Sqrt", "Reciprocal", "Floor", "Ceil", "Round",
    "Sign", "Erf", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh",
    "Softplus", "Softsign", "Elu", "Selu", "LeakyRelu", "ThresholdedRelu", "HardSigmoid", "HardSwish", "Mish",
    "Gelu", "Celu", "Shrink", "Softmax", "LogSoftmax", "Hardmax", "LRN", "MeanVarianceNormalization",
    "InstanceNormalization", "GroupNormalization", "Trilu", "CumSum", "ReverseSequence", "BitwiseNot",
    "RandomNormalLike", "RandomUniformLike", "Bernoulli", "ScatterND", "ScatterElements", "Scatter",
    "LpNormalization", "Swish",
)

# Unary ops folded on constants: exporters put these inside shape computations.
_FOLD_UNARY = {
    "Neg": np.negative,
    "Abs": np.abs,
    "Floor": np.floor,
    "Ceil": np.ceil,
    "Sqrt": np.sqrt,
    "Relu": lambda x: np.maximum(x, 0),
    "Sign": np.sign,
    "Reciprocal": np.reciprocal,
    "Round": np.round,
}


@register(*UNARY_SAME)
def unary(ctx):
    inf = ctx.info(0)
    value = None
    fold = _FOLD_UNARY.get(ctx.node.op_type)
    if fold is not None and inf.value is not None:
        with np.errstate(all="ignore"):
            value = fold(inf.value).astype(inf.value.dtype)
    sym = None
    if ctx.node.op_type == "Neg" and inf.sym is not None:
        sym = [dim_mul(d, -1) if isinstance(d, int) else None for d in inf.sym]
    ctx.set(0, inf.shape, inf.dtype, value, sym)


@register("Identity")
def identity(ctx):
    inf = ctx.info(0)
    ctx.set(0, inf.shape, inf.dtype, inf.value, inf.sym)


@register("Dropout")
def dropout(ctx):
    ctx.same_as_input(0, 0)
    ctx.set(1, ctx.shape(0), BOOL)


@register("IsNaN", "IsInf", "Not")
def bool_unary(ctx):
    ctx.same_as_input(0, 0, BOOL)


@register("Clip")
def clip(ctx):
    ctx.same_as_input()


@register("BatchNormalization")
def batch_norm(ctx):
    ctx.same_as_input()
    c = ctx.shape(1)
    for i in (1, 2):
        ctx.set(i, c, ctx.dtype(1))


@register("LayerNormalization")
def layer_norm(ctx):
    ctx.same_as_input()
    shape = ctx.shape(0)
    if shape is not None:
        axis = ctx.attr("axis", -1)
        axis = axis + len(shape) if axis < 0 else axis
        stat = tuple(shape[:axis]) + (1,) * (len(shape) - axis)
        stash = ctx.attr("stash_type", 1)
        ctx.set(1, stat, stash)
        ctx.set(2, stat, stash)


@register("Cast")
def cast(ctx):
    inf = ctx.info(0)
    to = ctx.attr("to")
    value = None
    if inf.value is not None and to is not None:
        try:
            value = inf.value.astype(helper.tensor_dtype_to_np_dtype(to))
        except Exception:
            value = None
    sym = inf.sym if to in (TensorProto.INT64, TensorProto.INT32) else None
    ctx.set(0, inf.shape, to, value, sym)


@register("CastLike")
def cast_like(ctx):
    inf = ctx.info(0)
    ctx.set(0, inf.shape, ctx.dtype(1))


@register("QuantizeLinear")
def quantize(ctx):
    dtype = ctx.dtype(2) if ctx.has_input(2) else ctx.attr("output_dtype", 0) or TensorProto.UINT8
    ctx.set(0, ctx.shape(0), dtype)


@register("DequantizeLinear")
def dequantize(ctx):
    ctx.set(0, ctx.shape(0), ctx.dtype(1) or TensorProto.FLOAT)


_COMPARE = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor"}

_FOLD_BINARY = {
    "Add": np.add,
    "Sub": np.subtract,
    "Mul": np.multiply,
    "Pow": np.power,
    "Max": np.maximum,
    "Min": np.minimum,
    "Equal": np.equal,
    "Less": np.less,
    "Greater": np.greater,
    "LessOrEqual": np.less_equal,
    "GreaterOrEqual": np.greater_equal,
    "And": np.logical_and,
    "Or": np.logical_or,
    "Xor": np.logical_xor,
    "BitwiseAnd": np.bitwise_and,
    "BitwiseOr": np.bitwise_or,
    "BitwiseXor": np.bitwise_xor,
}


def _div(a, b):
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        if np.any(b == 0):
            raise ZeroDivisionError("integer division by zero in a constant")
        q = np.abs(a) // np.abs(b)  # ONNX integer Div truncates toward zero
        return (q * np.sign(a) * np.sign(b)).astype(np.result_type(a, b))
    return np.divide(a, b)


def _mod(a, b, fmod):
    if np.any(b == 0):
        raise ZeroDivisionError("modulo by zero in a constant")
    return np.fmod(a, b) if fmod or a.dtype.kind == "f" else np.mod(a, b)


_SYM_BINARY = {"Add": dim_add, "Sub": dim_sub, "Mul": dim_mul}


def _sym_binary(op, a, b):
    """Elementwise arithmetic on 1-D symbolic vectors (exporters build Reshape targets this way)."""
    if len(a) != len(b):
        if len(a) == 1:
            a = a * len(b)
        elif len(b) == 1:
            b = b * len(a)
        else:
            return None
    if op in _SYM_BINARY:
        return [_SYM_BINARY[op](x, y) for x, y in zip(a, b)]
    if op == "Div":
        return [dim_floordiv(x, y) if isinstance(y, int) and y > 0 and (not isinstance(x, int) or x >= 0) else None for x, y in zip(a, b)]
    return None


@register(
    "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean", "PRelu",
    "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor", *_COMPARE,
)
def binary(ctx):
    op = ctx.node.op_type
    idx = [i for i in range(ctx.n_inputs) if ctx.has_input(i)]
    shapes = [ctx.shape(i) for i in idx]
    if op == "PRelu":
        # The slope broadcasts to X (unidirectionally); before opset 7 a 1-D slope
        # ran along the channel axis instead.  Either way the output is X's shape.
        if ctx.opset >= 7 and broadcast(*shapes) not in (None, ctx.shape(0)):
            raise ShapeError("slope does not broadcast to X")
        shape = ctx.shape(0)
    else:
        shape = broadcast(*shapes)
    dtype = BOOL if op in _COMPARE else ctx.dtype(0)
    values = [ctx.value(i) for i in idx]
    value = None
    if values and all(v is not None for v in values) and ctx.can_fold(_broadcast_numel(values)):
        with np.errstate(all="ignore"):
            if op == "Div":
                value = _div(values[0], values[1])
            elif op == "Mod":
                value = _mod(values[0], values[1], ctx.attr("fmod", 0))
            elif op in ("Sum", "Mean"):
                value = sum(values[1:], values[0])
                if op == "Mean":
                    value = value / len(values)
            elif op in _FOLD_BINARY and len(values) >= 2:
                value = values[0]
                for v in values[1:]:
                    value = _FOLD_BINARY[op](value, v)
        if value is not None and op not in _COMPARE and values[0].dtype.kind in "iuf":
            value = np.asarray(value).astype(values[0].dtype)
    sym = None
    if value is None and len(idx) == 2 and op in ("Add", "Sub", "Mul", "Div"):
        a, b = ctx.sym(idx[0]), ctx.sym(idx[1])
        if a is not None and b is not None and (ctx.info(idx[0]).sym is not None or ctx.info(idx[1]).sym is not None):
            sym = _sym_binary(op, a, b)
            if sym is not None and shape is not None and len(shape) == 0:
                sym = sym[:1]
    ctx.set(0, shape, dtype, value, sym)


def _broadcast_numel(values):
    """Elements of the broadcast of numpy arrays (None when they do not broadcast)."""
    try:
        shape = np.broadcast_shapes(*[v.shape for v in values])
    except ValueError:
        return None
    n = 1
    for d in shape:
        n *= d
    return n


@register("Where")
def where(ctx):
    shape = broadcast(ctx.shape(0), ctx.shape(1), ctx.shape(2))
    c, x, y = ctx.value(0), ctx.value(1), ctx.value(2)
    known = c is not None and x is not None and y is not None
    value = np.where(c, x, y) if known and ctx.can_fold(_broadcast_numel([c, x, y])) else None
    sym = None
    if value is None and c is not None and c.ndim <= 1:
        xs, ys = ctx.sym(1), ctx.sym(2)
        cs = [bool(v) for v in c.reshape(-1)]
        if xs is not None and ys is not None and len(xs) == len(ys) == len(cs):
            sym = [a if t else b for t, a, b in zip(cs, xs, ys)]
    ctx.set(0, shape, ctx.dtype(1), value, sym)
