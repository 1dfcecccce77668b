"""Shape functions: elementwise ops, activations, normalizations, casts, and the other ops
whose output follows one input (quantization, random, string ops, image decoding)."""
from __future__ import annotations

import numpy as np

from analyzer.io.proto import TensorProto
from analyzer.io.tensors import tensor_dtype_to_np_dtype
from analyzer.shapes.consteval import surely_nonneg, sym_max, sym_min
from analyzer.shapes.dims import dim_add, dim_floordiv, dim_mul, dim_sub
from analyzer.shapes.ops_common import fresh, nonneg, plain_input, seq_state
from analyzer.shapes.registry import ShapeError, register

BOOL = TensorProto.BOOL


def broadcast(*shapes):
    """Numpy-style multidirectional broadcast of dims (ints, symbols or None)."""
    if len(shapes) == 2:
        a, b = shapes
        if a is not None and b is not None and len(a) == len(b):
            # measured hot (elementwise ops on static shapes): two shapes of one rank, each
            # axis of plain ints done here; any other dim and the general loop below redoes it
            out = []
            for x, y in zip(a, b):
                if x.__class__ is not int or y.__class__ is not int:
                    break
                if x == y or y == 1:
                    out.append(x)
                elif x == 1:
                    out.append(y)
                else:
                    raise ShapeError(f"cannot broadcast dims {sorted({x, y})} on axis {len(out)}")
            else:
                return tuple(out)
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
    "InstanceNormalization", "GroupNormalization", "Trilu", "CumSum", "CumProd", "ReverseSequence", "BitwiseNot",
    "ScatterND", "ScatterElements", "Scatter", "LpNormalization", "Swish", "RMSNormalization", "RotaryEmbedding",
    "SwiGLU", "ImageScaler",
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
    op = ctx.op.op_type
    fold = _FOLD_UNARY.get(op)
    if fold is not None and inf.value is not None:
        with np.errstate(all="ignore"):
            value = fold(inf.value).astype(inf.value.dtype)
    sym = None
    if op == "Neg" and inf.sym is not None:
        sym = [dim_mul(d, -1) if isinstance(d, int) else None for d in inf.sym]
    ctx.set(0, inf.shape, inf.dtype, value, sym)


# output 0 only, from the inputs' infos alone (no attribute): the engine may give an op
# the output info an earlier one got from the very same input infos (engine.run_op)
unary.shape_only = True


@register("RandomNormalLike", "RandomUniformLike", "Bernoulli")
def random_like(ctx):
    ctx.set(0, ctx.shape(0), ctx.attr("dtype", None) or ctx.dtype(0))


@register("Multinomial")
def multinomial(ctx):
    x = ctx.shape(0)
    ctx.set(0, None if x is None else (x[0], ctx.attr("sample_size", 1)), ctx.attr("dtype", None) or TensorProto.INT32)


@register("DynamicQuantizeLinear")
def dynamic_quantize(ctx):
    ctx.set(0, ctx.shape(0), TensorProto.UINT8)
    ctx.set(1, (), TensorProto.FLOAT)
    ctx.set(2, (), TensorProto.UINT8)


@register("RegexFullMatch")
def regex_full_match(ctx):
    ctx.same_as_input(0, 0, BOOL)


@register("StringConcat")
def string_concat(ctx):
    ctx.set(0, broadcast(ctx.shape(0), ctx.shape(1)), TensorProto.STRING)


@register("StringNormalizer")
def string_normalizer(ctx):
    """[C] or [1, C]; stop words remove a data-dependent number of them."""
    x = ctx.shape(0)
    if x is None:
        return
    if ctx.attr("stopwords", None):
        x = tuple(x[:-1]) + (fresh(ctx, "count"),)
    ctx.set(0, x, TensorProto.STRING)


@register("StringSplit")
def string_split(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    ctx.set(0, tuple(x) + (fresh(ctx, "max_parts"),), TensorProto.STRING)
    ctx.set(1, x, TensorProto.INT64)


@register("TfIdfVectorizer")
def tfidf(ctx):
    x = ctx.shape(0)
    idx = ctx.attr("ngram_indexes", None)
    if x is None or not idx:
        return
    n = max(idx) + 1
    if len(x) == 1:
        ctx.set(0, (n,), TensorProto.FLOAT)
    elif len(x) == 2:
        ctx.set(0, (x[0], n), TensorProto.FLOAT)
    else:
        raise ShapeError(f"input of rank {len(x)} (1 or 2 expected)")


@register("ImageDecoder")
def image_decoder(ctx):
    """[H, W, C]: H and W are in the encoded bytes (fresh symbols)."""
    c = 1 if ctx.attr("pixel_format", "RGB") == "Grayscale" else 3
    ctx.set(0, (fresh(ctx, "height"), fresh(ctx, "width"), c), TensorProto.UINT8)


@register("Identity")
def identity(ctx):
    inf = ctx.info(0)
    ctx.set(0, inf.shape, inf.dtype, inf.value, inf.sym)
    st = seq_state(ctx.engine)  # a sequence or optional passes through as it is
    if ctx.has_input(0) and ctx.op.inputs[0] in st and ctx.op.outputs[0] is not None:
        st[ctx.op.outputs[0]] = st[ctx.op.inputs[0]]


@register("Dropout")
def dropout(ctx):
    ctx.same_as_input(0, 0)
    ctx.set(1, ctx.shape(0), BOOL)


@register("IsNaN", "IsInf", "Not")
def bool_unary(ctx):
    v = ctx.value(0)
    value = np.logical_not(v) if ctx.node.op_type == "Not" and v is not None else None
    ctx.set(0, ctx.shape(0), BOOL, value)


@register("Clip")
def clip(ctx):
    ctx.same_as_input()


@register("BatchNormalization")
def batch_norm(ctx):
    ctx.same_as_input()
    c = ctx.shape(1)
    for i in range(1, ctx.n_outputs):  # running (and, before opset 14, saved) mean and variance
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
    _cast_to(ctx, ctx.attr("to"))


@register("CastLike")
def cast_like(ctx):
    _cast_to(ctx, ctx.dtype(1))


def _cast_to(ctx, to):
    """Input 0 converted to onnx type ``to``: values fold, integer shape vectors keep their symbols."""
    inf = ctx.info(0)
    value = None
    if inf.value is not None and to is not None:
        try:
            value = inf.value.astype(tensor_dtype_to_np_dtype(to))
        except Exception:
            value = None
    sym = inf.sym if to in (TensorProto.INT64, TensorProto.INT32) else None
    ctx.set(0, inf.shape, to, value, sym)


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
    if np.any(b == 0) and a.dtype.kind in "iu" and b.dtype.kind in "iu":
        raise ZeroDivisionError("integer modulo by zero in a constant")
    return np.fmod(a, b) if fmod else np.mod(a, b)


# Max/Min pick a side when the sign of the difference is provable (consteval.sym_max):
# exporters clamp pads with Max(expr, 0) where expr >= 0 always
_SYM_BINARY = {"Add": dim_add, "Sub": dim_sub, "Mul": dim_mul, "Max": sym_max, "Min": sym_min}


def _sym_equal(x, y):
    """x == y for two entries of shape vectors (ints, symbols, None): True, False or
    None when it depends on the symbols."""
    if x is None or y is None:
        return None
    if isinstance(x, int) and isinstance(y, int):
        return x == y
    if x == y:
        return True
    if isinstance(x, int):
        x, y = y, x
    if isinstance(y, int) and y < 0 and nonneg(x):
        return False  # a size is never negative (exporters compare shapes with -1)
    return None


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
        # integer Div truncates toward zero: floor division only for a non-negative dividend
        return [dim_floordiv(x, y) if isinstance(y, int) and y > 0 and (nonneg(x) or surely_nonneg(x)) else None for x, y in zip(a, b)]
    return None


@register(
    "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean", "PRelu",
    "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor", *_COMPARE,
)
def binary(ctx):
    op = ctx.op.op_type
    idx, infos = ctx.present()
    # A network adds and multiplies the same shapes again and again: see _binary_key
    key = _binary_key(op, idx, infos, infos[0].dtype if idx and idx[0] == 0 else None)  # input 0's dtype
    if key is not None:
        got = ctx.engine.memo.get(key)
        if got is not None:
            ctx.set(0, got[0], got[1])
            return
    shapes = [inf.shape for inf in infos]
    if op == "PRelu":
        # The slope broadcasts to X (unidirectionally); before opset 7 a 1-D slope
        # ran along the channel axis instead.  Either way the output is X's shape.
        b = broadcast(*shapes) if ctx.opset >= 7 else None
        x = ctx.shape(0)
        if b is not None and x is not None and (len(b) != len(x) or any(isinstance(p, int) and isinstance(q, int) and p != q for p, q in zip(b, x))):
            raise ShapeError("slope does not broadcast to X")
        shape = ctx.shape(0)
    else:
        shape = broadcast(*shapes)
    dtype = BOOL if op in _COMPARE else ctx.dtype(0)
    values = [inf.value for inf in infos]
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
    if value is None and len(idx) == 2 and op in ("Add", "Sub", "Mul", "Div", "Max", "Min", "Equal") and (infos[0].sym is not None or infos[1].sym is not None):
        a, b = ctx.sym(idx[0]), ctx.sym(idx[1])
        if a is not None and b is not None:
            if op == "Equal":
                value = _sym_compare(a, b, shape)
            else:
                sym = _sym_binary(op, a, b)
                if sym is not None and shape is not None and len(shape) == 0:
                    sym = sym[:1]
    ctx.set(0, shape, dtype, value, sym)
    if key is not None:
        ctx.engine.memo[key] = (shape, dtype)


# output 0 only, from the inputs' infos and the opset alone (Mod's fmod is read only
# when every input has a value): see unary.shape_only
binary.shape_only = True


def _binary_key(op, idx, infos, dtype0):
    """What binary() computes its output from, as a memo key (see ops_common.plain_input),
    or None. The present inputs' positions are part of it: PRelu reads input 0."""
    if dtype0 is not None and dtype0.__class__ is not int:
        return None
    key = [op, dtype0, tuple(idx)]
    for inf in infos:
        if not plain_input(inf):
            return None
        key.append(inf.shape)
    return tuple(key)


def _sym_compare(a, b, shape):
    """Equal of two shape vectors when every entry is decided (else None)."""
    if shape is None or len(shape) > 1 or len(a) != len(b) and 1 not in (len(a), len(b)):
        return None
    n = max(len(a), len(b))
    a = a * n if len(a) == 1 else a
    b = b * n if len(b) == 1 else b
    res = [_sym_equal(x, y) for x, y in zip(a, b)]
    if any(r is None for r in res):
        return None
    return np.array(res, dtype=bool).reshape(shape)


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
