"""Constant evaluation: one evaluator for every node whose inputs are all known constants.

After a node's shape function, the engine calls :func:`after_op`.  When every present
input of a default-domain node has a known value, the node has a table entry here
(``EVAL``: numpy implementations keyed by op type) and its output has no value yet, the
node is evaluated, so that a size computed at run time from constants (pads from
``Cast``/``Div``/``Ceil``/``Max`` in float, ranges, masks...) is known like any other.

Budget (hostile models must not make it allocate): every output's element count is taken
from the shape the shape function gave *before* anything is computed; an output with a
non-static shape or more than ``MAX_TRACKED_ELEMENTS`` (4096) elements, or beyond what
is left of the model's value budget (``MAX_TOTAL_VALUE_ELEMENTS``, 2**24 elements shared
with all constant propagation), is not computed: the node's outputs keep their shapes
without values, with a note (the first such node of a run).  Inputs are
values already held, so each at most 4096 elements; the work of an op is bounded by its
inputs and output (MatMul by ``MAX_EVAL_WORK`` multiply-adds).

Sizes in float (:class:`FRat` entries, kept per engine run beside the values): with
symbolic input sizes, ``Cast(int -> float)``, ``Div``/``Mul``/``Add``/``Sub`` by
constants, ``Ceil``/``Floor``/``Round``, ``Max``/``Min``/``Clip``/``Relu`` and ``Cast``
back to an integer give the exact integer expression (``ceil(H/s)`` is
``floor((H + s - 1)/s)``), when that is what the float arithmetic computes for every
size.  Each entry is a rational ``num/den`` (``num`` a dim expression, ``den`` a
positive int) and whether the float holding it was rounded once (a division).  Rules:

* a float of ``p`` significand bits (float16: 11, bfloat16: 8, float32: 24, double: 53)
  holds an integer or a ``num/den`` with ``den`` a power of two exactly when
  ``|num| < 2**p``;
* a correctly rounded division of exact values (``H/s``) is off by at most
  ``|x| * 2**-p``; when ``|num| < 2**p`` that is less than ``1/den``, the distance of
  ``num/den`` to any other integer, so ``Ceil``/``Floor``/``Cast`` of it are exact;
  ``Max``/``Min`` with an exact value keep "rounded once"; any other arithmetic on a
  rounded value is refused (a note says why);
* ``|num|`` is bounded assuming every symbol (a model's dim_param, a fresh symbol) is
  at most ``SYMBOL_BOUND`` = 2**20 (1,048,576): sizes of images, sequences and batches
  stay well below it.  With that bound a float32 ``ceil(H/s)`` pad computation is
  exact; a product of two sizes is not (2**40 > 2**24) and stays unknown.

Ops of the default domain without an entry here are not evaluated (their outputs keep
the shape functions' results); onnx's reference implementation is not used.
"""
from __future__ import annotations

import math
import weakref
from fractions import Fraction

import numpy as np

from analyzer.io.tensors import to_array
from analyzer.shapes.dims import (
    Sym,
    _lin,
    dim_add,
    dim_ceildiv,
    dim_floordiv,
    dim_max,
    dim_min,
    dim_mul,
    dim_sub,
)
from analyzer.shapes.dims import _dim as _dims_dim
from analyzer.shapes.registry import MAX_TRACKED_ELEMENTS, TensorInfo

__all__ = ["EVAL", "MAX_EVAL_WORK", "SYMBOL_BOUND", "FRat", "after_op", "float_syms", "fsym_of"]

# Multiply-adds one evaluation may do (MatMul, Einsum-like work); elementwise work is
# bounded by the output's MAX_TRACKED_ELEMENTS.
MAX_EVAL_WORK = 1 << 22
# Symbols are assumed at most this where float size arithmetic is proven exact.
SYMBOL_BOUND = 1 << 20

# onnx TensorProto element types (numbers, so this module needs no onnx import)
_FLOAT, _UINT8, _INT8, _UINT16, _INT16, _INT32, _INT64, _STRING, _BOOL = 1, 2, 3, 4, 5, 6, 7, 8, 9
_FLOAT16, _DOUBLE, _UINT32, _UINT64, _BFLOAT16 = 10, 11, 12, 13, 16
_NP = {
    _FLOAT: np.float32, _UINT8: np.uint8, _INT8: np.int8, _UINT16: np.uint16, _INT16: np.int16,
    _INT32: np.int32, _INT64: np.int64, _BOOL: np.bool_, _FLOAT16: np.float16, _DOUBLE: np.float64,
    _UINT32: np.uint32, _UINT64: np.uint64,
}  # fmt: skip
_INT_TYPES = {_UINT8, _INT8, _UINT16, _INT16, _INT32, _INT64, _UINT32, _UINT64}
_FLOAT_BITS = {_FLOAT16: 11, _BFLOAT16: 8, _FLOAT: 24, _DOUBLE: 53}


class _Skip(Exception):
    """This evaluation is not done (unsupported attribute or input); no note."""


# -- the evaluator ---------------------------------------------------------------
def after_op(engine, ctx):
    """Evaluate ``ctx``'s node when all its inputs are constants (see the module
    docstring); else carry float size arithmetic.  Called by the engine after the
    node's shape function, for default-domain nodes."""
    # measured per node (runs after every shape function): most ops leave at the first
    # tests, so they are made here, without a further call
    try:
        op = ctx.op
        t = op.op_type
        fn = EVAL.get(t)
        if fn is None and t not in _FLOAT_OPS:
            return
        nodes = engine._nodes
        outs = op.outputs
        if not outs or outs[0] is None:
            return
        out_info = nodes[outs[0]].get("info")
        if out_info is not None and out_info.__class__ is TensorInfo and (out_info.value is not None or out_info.sym is not None):
            return
        infos = []
        all_const = True
        for k in op.inputs:
            if k is None:
                infos.append(None)
                continue
            inf = nodes[k].get("info")
            if inf is None or inf.value is None:
                all_const = False
                break
            infos.append(inf)
        if all_const and fn is not None and infos:
            _evaluate(engine, ctx, fn, [None if i is None else i.value for i in infos])
            return
        if out_info is None:
            return
        if t in _MOVE_OPS and fn is not None and out_info.dtype in _INT_TYPES:
            if not op.graph.startswith("function:"):
                _move_sym(engine, ctx, fn)
        elif t in _FLOAT_OPS and out_info.shape is not None and len(out_info.shape) <= 1:
            if not op.graph.startswith("function:"):
                _float_sym(engine, ctx)  # (a float size is a vector or a scalar)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError, OverflowError, ZeroDivisionError, MemoryError) as e:
        msg = str(e).splitlines()[0][:200] if str(e) else ""
        engine.note(f"{ctx.op.graph}:{ctx.op.id} ({ctx.op.op_type}): constant evaluation failed ({type(e).__name__}: {msg})")


def _evaluate(engine, ctx, fn, values):
    op = ctx.op
    if any(v is not None and v.dtype.kind not in "biuf" for v in values):
        return  # strings, objects
    counts = []
    for k in op.outputs:
        if k is None:
            counts.append(0)
            continue
        inf = engine._nodes[k].get("info")
        shape = None if inf is None else inf.shape
        if shape is None or any(d.__class__ is not int for d in shape):
            if op.op_type not in _DATA_DEPENDENT:
                return  # the size is not known beforehand: not evaluated
            counts.append(_DATA_DEPENDENT[op.op_type](values))
            continue
        n = 1
        for d in shape:
            n *= d
        counts.append(n)
    total = sum(counts)
    if max(counts, default=0) > MAX_TRACKED_ELEMENTS or engine.over_budget(total):
        _over_budget(engine, op, max(counts), total)
        return
    try:
        with np.errstate(all="ignore"):
            results = fn(ctx, values)
    except (_Skip, ValueError, TypeError, IndexError, KeyError, OverflowError, ZeroDivisionError, MemoryError, AttributeError):
        return
    if not isinstance(results, (list, tuple)):
        results = [results]
    for i, (k, res) in enumerate(zip(op.outputs, results)):
        if k is None or res is None:
            continue
        inf = engine._nodes[k].get("info") or TensorInfo()
        res = np.asarray(res)
        dtype = inf.dtype
        if dtype in _NP:
            res = res.astype(_NP[dtype], copy=False)
        elif dtype is None and res.dtype.kind in "biuf":
            pass
        else:
            continue
        shape = inf.shape
        if shape is not None and all(d.__class__ is int for d in shape):
            if tuple(shape) != res.shape:
                continue  # our shape function and the evaluation disagree: keep neither's value
        elif op.op_type not in _DATA_DEPENDENT:
            continue
        ctx.set(i, res.shape, dtype if dtype is not None else _onnx_type(res.dtype), res)


def _over_budget(engine, op, largest, total):
    why = (f"an output of {largest} elements (more than {MAX_TRACKED_ELEMENTS})" if largest > MAX_TRACKED_ELEMENTS
           else f"{total} more elements exceed the model's constant budget")  # fmt: skip
    # one note per run: models that build their weights with ConstantOfShape would
    # otherwise get one per weight (not a coverage gap: the shapes are known)
    engine.note_once("consteval-budget", f"{op.graph}:{op.id} ({op.op_type}): constant inputs, not evaluated: {why}"
                                         " (later nodes over the budget are not noted)")


def _onnx_type(npdtype):
    for k, v in _NP.items():
        if np.dtype(v) == npdtype:
            return k
    return None


# -- op implementations ------------------------------------------------------------
EVAL: dict = {}


def _impl(*names):
    def deco(fn):
        for n in names:
            EVAL[n] = fn
        return fn

    return deco


def _unary(f):
    return lambda ctx, v: f(v[0])


def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x).astype(x.dtype) if x.size else x


_UNARY = {
    "Neg": np.negative, "Abs": np.abs, "Floor": np.floor, "Ceil": np.ceil, "Sqrt": np.sqrt,
    "Relu": lambda x: np.maximum(x, x.dtype.type(0)), "Sign": np.sign, "Reciprocal": np.reciprocal,
    "Round": np.round,  # half to even, as ONNX
    "Exp": np.exp, "Log": np.log, "Sin": np.sin, "Cos": np.cos, "Tan": np.tan, "Asin": np.arcsin,
    "Acos": np.arccos, "Atan": np.arctan, "Sinh": np.sinh, "Cosh": np.cosh, "Asinh": np.arcsinh,
    "Acosh": np.arccosh, "Atanh": np.arctanh, "Tanh": np.tanh, "Erf": _erf,
    "Sigmoid": lambda x: 1 / (1 + np.exp(-x)), "Softsign": lambda x: x / (1 + np.abs(x)),
    "Softplus": lambda x: np.log1p(np.exp(x)), "Not": np.logical_not, "BitwiseNot": np.invert,
    "IsNaN": np.isnan, "Identity": lambda x: x,
}  # fmt: skip
for _n, _f in _UNARY.items():
    EVAL[_n] = _unary(_f)


@_impl("IsInf")
def _isinf(ctx, v):
    x = v[0]
    pos, neg = ctx.attr("detect_positive", 1), ctx.attr("detect_negative", 1)
    return (np.isposinf(x) & bool(pos)) | (np.isneginf(x) & bool(neg))


@_impl("LeakyRelu")
def _leaky(ctx, v):
    x = v[0]
    return np.where(x >= 0, x, x * x.dtype.type(ctx.attr("alpha", 0.01)))


@_impl("Elu")
def _elu(ctx, v):
    x = v[0]
    return np.where(x >= 0, x, x.dtype.type(ctx.attr("alpha", 1.0)) * (np.exp(x) - 1))


@_impl("HardSigmoid")
def _hardsigmoid(ctx, v):
    x = v[0]
    return np.clip(x * x.dtype.type(ctx.attr("alpha", 0.2)) + x.dtype.type(ctx.attr("beta", 0.5)), 0, 1)


def _int_div(a, b):
    if np.any(b == 0):
        raise _Skip
    q = np.abs(a) // np.abs(b)  # integer Div truncates toward zero
    return q * np.sign(a) * np.sign(b)


def _div(a, b):
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        return _int_div(a, b)
    return np.divide(a, b)


def _mod(ctx, v):
    a, b = v[0], v[1]
    if a.dtype.kind in "iu" and np.any(b == 0):
        raise _Skip
    return np.fmod(a, b) if ctx.attr("fmod", 0) else np.mod(a, b)


def _pow(a, b):
    if a.dtype.kind in "iu" and b.dtype.kind in "iu" and np.any(b < 0):
        raise _Skip
    return np.power(a, b.astype(a.dtype) if a.dtype.kind in "iu" and b.dtype.kind == "f" else b)


_BINARY = {
    "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": _div, "Pow": _pow,
    "Equal": np.equal, "Less": np.less, "Greater": np.greater, "LessOrEqual": np.less_equal,
    "GreaterOrEqual": np.greater_equal, "And": np.logical_and, "Or": np.logical_or, "Xor": np.logical_xor,
    "BitwiseAnd": np.bitwise_and, "BitwiseOr": np.bitwise_or, "BitwiseXor": np.bitwise_xor,
}  # fmt: skip


def _binary(f):
    def run(ctx, v):
        if len(v) != 2 or v[0] is None or v[1] is None:
            raise _Skip
        return f(v[0], v[1])

    return run


for _n, _f in _BINARY.items():
    EVAL[_n] = _binary(_f)
EVAL["Mod"] = _mod


@_impl("BitShift")
def _bitshift(ctx, v):
    return np.left_shift(v[0], v[1]) if ctx.attr("direction", "") == "LEFT" else np.right_shift(v[0], v[1])


def _variadic(f):
    def run(ctx, v):
        xs = [x for x in v if x is not None]
        if not xs:
            raise _Skip
        out = xs[0]
        for x in xs[1:]:
            out = f(out, x)
        return out

    return run


EVAL["Max"] = _variadic(np.maximum)
EVAL["Min"] = _variadic(np.minimum)
EVAL["Sum"] = _variadic(np.add)


@_impl("Mean")
def _mean(ctx, v):
    xs = [x for x in v if x is not None]
    return _variadic(np.add)(ctx, xs) / xs[0].dtype.type(len(xs))


@_impl("Where")
def _where(ctx, v):
    return np.where(v[0], v[1], v[2])


@_impl("Clip")
def _clip(ctx, v):
    x = v[0]
    if ctx.opset < 11:
        lo, hi = ctx.attr("min", None), ctx.attr("max", None)
    else:
        lo = v[1] if len(v) > 1 else None
        hi = v[2] if len(v) > 2 else None
    if lo is not None:
        x = np.maximum(x, np.asarray(lo).astype(x.dtype))
    if hi is not None:
        x = np.minimum(x, np.asarray(hi).astype(x.dtype))
    return x


def _cast(x, to):
    np_to = _NP.get(to)
    if np_to is None:
        raise _Skip
    if x.dtype.kind == "f" and np.dtype(np_to).kind in "iu":
        # float -> int of NaN, inf or an out-of-range value is undefined: not evaluated
        info = np.iinfo(np_to)
        if not np.all(np.isfinite(x)) or np.any(x < info.min) or np.any(x > info.max):
            raise _Skip
        return np.trunc(x).astype(np_to)
    return x.astype(np_to)


@_impl("Cast")
def _cast_op(ctx, v):
    return _cast(v[0], ctx.attr("to"))


@_impl("CastLike")
def _castlike(ctx, v):
    return _cast(v[0], _onnx_type(v[1].dtype))


@_impl("Shape")
def _shape(ctx, v):
    s = np.array(v[0].shape, dtype=np.int64)
    start, end = ctx.attr("start", 0), ctx.attr("end", None)
    return s[start:end]


@_impl("Size")
def _size(ctx, v):
    return np.array(v[0].size, dtype=np.int64)


@_impl("ConstantOfShape")
def _cos(ctx, v):
    shape = [int(d) for d in v[0].reshape(-1)]
    t = ctx.attr("value", None)
    if t is None:
        fill = np.zeros((), np.float32)
    else:
        fill = to_array(t).reshape(-1)[:1].reshape(())
    return np.full(shape, fill, dtype=fill.dtype)


@_impl("Range")
def _range(ctx, v):
    start, limit, delta = (x.reshape(()) for x in v[:3])
    if delta == 0:
        raise _Skip
    n = max(math.ceil((float(limit) - float(start)) / float(delta)), 0)
    return (start + np.arange(n, dtype=start.dtype) * delta).astype(start.dtype)


@_impl("Concat")
def _concat(ctx, v):
    return np.concatenate([x for x in v if x is not None], axis=ctx.attr("axis", 0))


def _ints(x):
    return [int(i) for i in np.asarray(x).reshape(-1)]


@_impl("Slice")
def _slice(ctx, v):
    x = v[0]
    if ctx.opset < 10:
        starts, ends = ctx.attr("starts"), ctx.attr("ends")
        axes, steps = ctx.attr("axes", None), None
    else:
        starts, ends = _ints(v[1]), _ints(v[2])
        axes = _ints(v[3]) if len(v) > 3 and v[3] is not None else None
        steps = _ints(v[4]) if len(v) > 4 and v[4] is not None else None
    axes = list(range(len(starts))) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    idx = [slice(None)] * x.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        if st == 0:
            raise _Skip
        idx[a] = slice(s, e, st)  # Python clamps like ONNX (INT_MAX ends and all)
    return x[tuple(idx)]


def _gather_indices(ctx, v):
    """Gather's and GatherElements' data, axis and indices made non-negative; an index out
    of range is the model's error, not something to evaluate."""
    x, i = v[0], v[1].astype(np.int64)
    axis = ctx.attr("axis", 0)
    n = x.shape[axis]
    if np.any(i < -n) or np.any(i >= n):
        raise _Skip
    return x, axis, np.where(i < 0, i + n, i)


@_impl("Gather")
def _gather(ctx, v):
    x, axis, i = _gather_indices(ctx, v)
    return np.take(x, i, axis=axis)


@_impl("GatherElements")
def _gather_elements(ctx, v):
    x, axis, i = _gather_indices(ctx, v)
    return np.take_along_axis(x, i, axis=axis)


@_impl("Reshape")
def _reshape(ctx, v):
    x = v[0]
    shape = _ints(v[1]) if ctx.opset >= 5 else list(ctx.attr("shape"))
    if not ctx.attr("allowzero", 0):
        shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return x.reshape(shape)


def _axes(ctx, v, attr_until):
    if ctx.opset < attr_until:
        a = ctx.attr("axes", None)
        return None if a is None else list(a)
    return _ints(v[1]) if len(v) > 1 and v[1] is not None else None


@_impl("Squeeze")
def _squeeze(ctx, v):
    axes = _axes(ctx, v, 13)
    x = v[0]
    return np.squeeze(x) if axes is None else np.squeeze(x, axis=tuple(a + x.ndim if a < 0 else a for a in axes))


@_impl("Unsqueeze")
def _unsqueeze(ctx, v):
    axes = _axes(ctx, v, 13)
    x = v[0]
    r = x.ndim + len(axes)
    for a in sorted(a + r if a < 0 else a for a in axes):
        x = np.expand_dims(x, a)
    return x


@_impl("Flatten")
def _flatten(ctx, v):
    x = v[0]
    axis = ctx.attr("axis", 1)
    axis = axis + x.ndim if axis < 0 else axis
    return x.reshape(int(np.prod(x.shape[:axis])), -1) if x.size else x.reshape(int(np.prod(x.shape[:axis])), int(np.prod(x.shape[axis:])))


@_impl("Transpose")
def _transpose(ctx, v):
    perm = ctx.attr("perm", None)
    return np.transpose(v[0], None if perm is None else list(perm))


@_impl("Expand")
def _expand(ctx, v):
    x = v[0]
    shape = _ints(v[1])
    return x * np.ones(shape, dtype=x.dtype) if x.dtype != np.bool_ else np.logical_and(x, np.ones(shape, dtype=bool))


@_impl("Tile")
def _tile(ctx, v):
    return np.tile(v[0], _ints(v[1]))


@_impl("Split")
def _split(ctx, v):
    x = v[0]
    axis = ctx.attr("axis", 0)
    axis = axis + x.ndim if axis < 0 else axis
    if ctx.opset >= 13:
        split = _ints(v[1]) if len(v) > 1 and v[1] is not None else None
    else:
        split = ctx.attr("split", None)
    n_out = ctx.n_outputs
    if split is None:
        num = ctx.attr("num_outputs", None) or n_out
        size = -(-x.shape[axis] // num)
        split = [min(size, x.shape[axis] - i * size) for i in range(num)]
    bounds = np.cumsum(split)[:-1]
    return np.split(x, bounds, axis=axis)


_REDUCE = {
    "ReduceSum": np.sum, "ReduceMean": np.mean, "ReduceMax": np.max, "ReduceMin": np.min, "ReduceProd": np.prod,
    "ReduceL1": lambda x, axis, keepdims: np.sum(np.abs(x), axis=axis, keepdims=keepdims),
    "ReduceL2": lambda x, axis, keepdims: np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims)),
    "ReduceSumSquare": lambda x, axis, keepdims: np.sum(x * x, axis=axis, keepdims=keepdims),
    "ReduceLogSumExp": lambda x, axis, keepdims: np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims)),
    "ReduceLogSum": lambda x, axis, keepdims: np.log(np.sum(x, axis=axis, keepdims=keepdims)),
}  # fmt: skip


def _reduce(name):
    f = _REDUCE[name]

    def run(ctx, v):
        x = v[0]
        attr_until = 13 if name == "ReduceSum" else 18
        axes = _axes(ctx, v, attr_until)
        keep = bool(ctx.attr("keepdims", 1))
        if not axes:
            if ctx.opset >= attr_until and ctx.attr("noop_with_empty_axes", 0):
                return x
            axes = None
        if x.size == 0 and name in ("ReduceMax", "ReduceMin"):
            raise _Skip
        ax = None if axes is None else tuple(a + x.ndim if a < 0 else a for a in axes)
        return np.asarray(f(x, axis=ax, keepdims=keep)).astype(x.dtype)

    return run


for _n in _REDUCE:
    EVAL[_n] = _reduce(_n)


@_impl("ArgMax", "ArgMin")
def _argmaxmin(ctx, v):
    x = v[0]
    axis = ctx.attr("axis", 0)
    axis = axis + x.ndim if axis < 0 else axis
    f = np.argmax if ctx.op.op_type == "ArgMax" else np.argmin
    if ctx.attr("select_last_index", 0):
        flipped = np.flip(x, axis)
        out = x.shape[axis] - 1 - f(flipped, axis=axis)
    else:
        out = f(x, axis=axis)
    if ctx.attr("keepdims", 1):
        out = np.expand_dims(out, axis)
    return out.astype(np.int64)


@_impl("CumSum")
def _cumsum(ctx, v):
    x = v[0]
    axis = int(v[1].reshape(-1)[0])
    axis = axis + x.ndim if axis < 0 else axis
    if ctx.attr("reverse", 0):
        x = np.flip(x, axis)
    out = np.cumsum(x, axis=axis, dtype=x.dtype)
    if ctx.attr("exclusive", 0):
        out = np.concatenate([np.zeros_like(np.take(out, [0], axis=axis)), np.take(out, range(out.shape[axis] - 1), axis=axis)], axis=axis)
    if ctx.attr("reverse", 0):
        out = np.flip(out, axis)
    return out


@_impl("MatMul")
def _matmul(ctx, v):
    a, b = v[0], v[1]
    if a.ndim == 0 or b.ndim == 0:
        raise _Skip
    out_shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) if a.ndim > 1 and b.ndim > 1 else ()
    rows = a.shape[-2] if a.ndim > 1 else 1
    cols = b.shape[-1] if b.ndim > 1 else 1
    if int(np.prod(out_shape)) * rows * cols * a.shape[-1] > MAX_EVAL_WORK:
        raise _Skip  # checked before computing
    return np.matmul(a, b)


@_impl("Pad")
def _pad(ctx, v):
    x = v[0]
    mode = ctx.attr("mode", "constant")
    if ctx.opset < 11:
        pads, value, axes = list(ctx.attr("pads")), ctx.attr("value", 0.0), None
    else:
        pads = _ints(v[1])
        value = v[2].reshape(-1)[0] if len(v) > 2 and v[2] is not None and v[2].size else 0
        axes = _ints(v[3]) if len(v) > 3 and v[3] is not None else None
    axes = list(range(x.ndim)) if axes is None else [a + x.ndim if a < 0 else a for a in axes]
    width = [(0, 0)] * x.ndim
    for i, a in enumerate(axes):
        width[a] = (pads[i], pads[i + len(axes)])
    if any(b < 0 or e < 0 for b, e in width):
        raise _Skip  # cropping: not evaluated
    if mode == "constant":
        return np.pad(x, width, mode="constant", constant_values=value)
    if mode in ("reflect", "edge"):
        return np.pad(x, width, mode=mode)
    if mode == "wrap":
        return np.pad(x, width, mode="wrap")
    raise _Skip


@_impl("NonZero")
def _nonzero(ctx, v):
    return np.array(np.nonzero(v[0]), dtype=np.int64).reshape(v[0].ndim, -1)


@_impl("Trilu")
def _trilu(ctx, v):
    x = v[0]
    k = int(v[1].reshape(-1)[0]) if len(v) > 1 and v[1] is not None else 0
    return np.triu(x, k) if ctx.attr("upper", 1) else np.tril(x, k)


@_impl("OneHot")
def _onehot(ctx, v):
    idx, depth, values = v[0], int(v[1].reshape(-1)[0]), v[2].reshape(-1)
    axis = ctx.attr("axis", -1)
    idx = np.where(idx < 0, idx + depth, idx).astype(np.int64)
    eye = np.arange(depth) == idx[..., None]
    out = np.where(eye, values[1], values[0])
    r = out.ndim
    axis = axis + r if axis < 0 else axis
    return np.moveaxis(out, -1, axis)


# Ops whose output size depends on input values: bounded by their inputs.
_DATA_DEPENDENT = {"NonZero": lambda v: v[0].size * max(v[0].ndim, 1)}


# -- integer size vectors moved around --------------------------------------------
# Exporters reverse and interleave pads with Reshape -> Slice -> Transpose -> Reshape on
# a [4, 2] tensor; TensorInfo.sym holds 1-D vectors only, so a symbolic integer tensor
# of higher rank is kept here (per engine run: value key -> object ndarray of dims).
_MOVE_OPS = frozenset({"Reshape", "Slice", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Concat", "Gather", "Identity", "Expand", "Tile"})
_ISYM: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _run_state(store: weakref.WeakKeyDictionary, engine) -> dict:
    """``store``'s dict for this engine run (made on first use, gone with the engine)."""
    st = store.get(engine)
    if st is None:
        st = store[engine] = {}
    return st


def _int_syms(engine) -> dict:
    return _run_state(_ISYM, engine)


def _sym_array(engine, key, info):
    """An integer input as an object ndarray of dims (ints and symbols), or None."""
    got = _ISYM.get(engine, {}).get(key)
    if got is not None:
        return got
    if info is None or info.shape is None or any(d.__class__ is not int for d in info.shape):
        return None
    if info.sym is not None:
        if len(info.shape) > 1:
            return None
        arr = np.empty(len(info.sym), dtype=object)
        arr[:] = list(info.sym)
        return arr.reshape(info.shape) if arr.size == int(np.prod(info.shape)) else None
    v = info.value
    if v is not None and v.dtype.kind in "iub":
        arr = np.empty(v.shape, dtype=object)
        arr[...] = v.astype(object) if v.ndim else int(v)
        return arr
    return None


def _move_sym(engine, ctx, fn):
    op = ctx.op
    out = op.outputs[0]
    info = engine._nodes[out].get("info")
    if info is None or info.shape is None or any(d.__class__ is not int for d in info.shape) or info.dtype not in _INT_TYPES:
        return
    n = 1
    for d in info.shape:
        n *= d
    if n > MAX_TRACKED_ELEMENTS:
        return
    # the data inputs (every input of Concat, the first of the others) may be symbolic;
    # the rest (shapes, indices, axes) must be constants
    data = range(len(op.inputs)) if op.op_type == "Concat" else (0,)
    values, symbolic = [], False
    for i, k in enumerate(op.inputs):
        if k is None:
            values.append(None)
            continue
        inf = engine._nodes[k].get("info")
        if i in data:
            arr = _sym_array(engine, k, inf)
            if arr is None:
                return
            symbolic = symbolic or (inf is None or inf.value is None)
            values.append(arr)
        else:
            if inf is None or inf.value is None:
                return
            values.append(inf.value)
    if not symbolic:
        return
    try:
        res = np.asarray(fn(ctx, values))
    except (_Skip, ValueError, TypeError, IndexError, KeyError):
        return
    if res.shape != tuple(info.shape):
        return
    flat = [int(x) if isinstance(x, (int, np.integer)) and not isinstance(x, Sym) else x for x in res.reshape(-1)]
    if res.ndim <= 1:
        ctx.set(0, info.shape, info.dtype, None, flat)
    else:
        arr = np.empty(len(flat), dtype=object)
        arr[:] = flat
        _int_syms(engine)[out] = arr.reshape(res.shape)


# -- sizes through float arithmetic -------------------------------------------------
class FRat(tuple):
    """A float entry known exactly as ``num/den`` (``num`` a dim, ``den`` a positive int),
    and whether its float was rounded once (a correctly rounded division)."""

    __slots__ = ()

    def __new__(cls, num, den=1, rounded=False):
        return tuple.__new__(cls, (num, den, rounded))

    num = property(lambda s: s[0])
    den = property(lambda s: s[1])
    rounded = property(lambda s: s[2])


_FSYM: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def float_syms(engine) -> dict:
    """Per engine run: value key -> (shape, onnx float type, [FRat, ...])."""
    return _run_state(_FSYM, engine)


def fsym_of(engine, key):
    return _FSYM.get(engine, {}).get(key)


_FLOAT_OPS = frozenset(
    {"Cast", "CastLike", "Div", "Mul", "Add", "Sub", "Ceil", "Floor", "Round", "Max", "Min", "Clip", "Relu", "Neg",
     "Identity", "Unsqueeze", "Squeeze", "Reshape", "Concat", "Gather", "Abs"}
)  # fmt: skip


class _NotExact(Exception):
    """The float arithmetic is not proven exact (the message says why)."""


def _bound_lin(lin):
    c, terms = lin
    total = abs(c)
    for mono, k in terms:
        t = abs(k)
        for atom in mono:
            t *= _bound_atom(atom)
        total += t
    return total


def _bound_atom(atom):
    kind = atom[0]
    if kind == "s":
        return SYMBOL_BOUND
    if kind == "f":
        return _bound_lin(atom[1]) // atom[2] + 1
    return max(_bound_lin(x) for x in atom[1])


def magnitude_bound(d) -> int:
    """An upper bound of ``|d|`` when every symbol is at most SYMBOL_BOUND."""
    if d.__class__ is int:
        return abs(d)
    return _bound_lin(_lin(d))


def _check(e: FRat, bits: int):
    if magnitude_bound(e.num) >= 1 << bits:
        raise _NotExact(f"{e.num} may exceed 2**{bits} (symbols assumed <= 2**20)")
    if not e.rounded and e.den & (e.den - 1):
        raise _NotExact("a division by a non-power of two rounded twice")
    return e


def _entries(ctx, i):
    """Input ``i`` as FRat entries (a float size vector, or a constant), or None."""
    if not ctx.has_input(i):
        return None
    engine = ctx.engine
    key = ctx.op.inputs[i]
    got = float_syms(engine).get(key)
    if got is not None:
        return got[2]
    v = ctx.value(i)
    if v is not None and v.size <= 64 and v.ndim <= 1:
        if v.dtype.kind in "iu":
            return [FRat(int(x)) for x in v.reshape(-1)]
        if v.dtype.kind == "f" and np.all(np.isfinite(v)):
            out = []
            for x in v.reshape(-1):
                fr = Fraction(float(x))
                out.append(FRat(fr.numerator, fr.denominator))
            return out
    return None


def _bits(ctx, dtype):
    b = _FLOAT_BITS.get(dtype)
    if b is None:
        raise _NotExact("not a float type")
    return b


def _common(a: FRat, b: FRat):
    """a and b over one denominator: (num_a, num_b, den)."""
    if a.den == b.den:
        return a.num, b.num, a.den
    den = a.den * b.den // math.gcd(a.den, b.den)
    return dim_mul(a.num, den // a.den), dim_mul(b.num, den // b.den), den


def _norm(num, den, rounded):
    """num/den with a common factor of the constant den taken out where num allows."""
    if num is None:
        raise _NotExact("expression too long")
    if den > 1 and num.__class__ is int:
        g = math.gcd(num, den)
        num, den = num // g, den // g
    elif den > 1:
        lin = _lin(num)
        g = den
        for x in (lin[0],) + tuple(k for _, k in lin[1]):
            g = math.gcd(g, x)
        if g > 1:
            num, den = dim_floordiv(num, g), den // g  # exact: g divides every coefficient
    return FRat(num, den, rounded)


def _nonneg(d) -> bool:
    """Whether the dim ``d`` is >= 0 for every value of its symbols (sizes, >= 0)."""
    if d.__class__ is int:
        return d >= 0
    return _nonneg_lin(_lin(d))


def _surely_nonneg(d) -> bool:
    """Whether ``d >= 0`` for every value of its symbols: :func:`_nonneg`, or after
    bounding each ``k*floor(L/c)`` with ``c | k`` below by a linear term
    (``m*(L - c + 1)`` for ``k = m*c > 0``, ``m*L`` for ``k = m*c < 0``), the
    rest non-negative: ``2*floor((H + 1)/2) - H + 1 >= 1``."""
    if d is None:
        return False
    if _nonneg(d):
        return True
    c, terms = _lin(d)
    scale = 1
    for mono, k in terms:
        if len(mono) == 1 and mono[0][0] == "f":
            scale = scale * mono[0][2] // math.gcd(scale, mono[0][2])
    low = c * scale  # scale * (a lower bound of d)
    for mono, k in terms:
        if len(mono) == 1 and mono[0][0] == "f":
            inner, q = mono[0][1], mono[0][2]
            term = _dim_of(inner)
            if term is None:
                return False
            # q*floor(L/q) >= L - q + 1 and <= L
            low = dim_add(low, dim_mul(k * (scale // q), term if k < 0 else dim_sub(term, q - 1)))
        else:
            low = dim_add(low, _dim_of((0, ((mono, k * scale),))))
        if low is None:
            return False
    return _nonneg(low)


def sym_max(x, y):
    """max of two dims, the larger one when the sign of their difference is provable."""
    if _surely_nonneg(dim_sub(x, y)):
        return x
    if _surely_nonneg(dim_sub(y, x)):
        return y
    return dim_max(x, y)


def sym_min(x, y):
    """min of two dims, the smaller one when the sign of their difference is provable."""
    if _surely_nonneg(dim_sub(x, y)):
        return y
    if _surely_nonneg(dim_sub(y, x)):
        return x
    return dim_min(x, y)


def _dim_of(lin):
    return _dims_dim(lin)


def _nonneg_lin(lin) -> bool:
    c, terms = lin
    return c >= 0 and all(k > 0 and all(_nonneg_atom(a) for a in mono) for mono, k in terms)


def _nonneg_atom(atom) -> bool:
    kind = atom[0]
    if kind == "s":
        return True
    if kind == "f":
        return _nonneg_lin(atom[1])
    if kind == "max":
        return any(_nonneg_lin(x) for x in atom[1])
    return all(_nonneg_lin(x) for x in atom[1])


def _arith(op, a: FRat, b: FRat, bits):
    if op in ("Add", "Sub"):
        if a.rounded or b.rounded:
            raise _NotExact(f"{op} of a rounded quotient")
        x, y, den = _common(a, b)
        r = _norm(dim_add(x, y) if op == "Add" else dim_sub(x, y), den, False)
        return _check(r, bits)
    if op == "Mul":
        if a.rounded or b.rounded:
            raise _NotExact("Mul of a rounded quotient")
        if a.num.__class__ is not int and b.num.__class__ is not int and (a.den > 1 or b.den > 1):
            raise _NotExact("product of two fractions")
        r = _norm(dim_mul(a.num, b.num), a.den * b.den, False)
        return _check(r, bits)
    if op == "Div":
        if b.num.__class__ is not int or b.num == 0:
            raise _NotExact("division by a size that is not a constant")
        if a.rounded:
            raise _NotExact("division of a rounded quotient")
        p, q = b.num, b.den  # a / (p/q) = a*q/p
        num, den = dim_mul(a.num, q), a.den * abs(p)
        if p < 0:
            num = dim_mul(num, -1)
        r = _norm(num, den, False)
        if r.den & (r.den - 1):
            r = FRat(r.num, r.den, True)  # one correctly rounded division
        return _check(r, bits)
    if op in ("Max", "Min"):
        # max/min are exact on floats; with one rounded operand the result is the
        # rounding of the exact max/min when the other is exact (rounding is monotone)
        if a.rounded and b.rounded:
            raise _NotExact(f"{op} of two rounded quotients")
        x, y, den = _common(a, b)
        if _surely_nonneg(dim_sub(x, y)):
            pick = x if op == "Max" else y
        elif _surely_nonneg(dim_sub(y, x)):
            pick = y if op == "Max" else x
        else:
            pick = (dim_max if op == "Max" else dim_min)(x, y)
        r = _norm(pick, den, a.rounded or b.rounded)
        return _check(r, bits)
    raise _NotExact(op)


def _round_to_int(op, e: FRat, bits):
    """Ceil/Floor/Round of an entry: an integer FRat."""
    if e.den == 1:
        return e
    _check(e, bits)
    if op == "Ceil":
        return FRat(dim_ceildiv(e.num, e.den))
    if op == "Floor":
        return FRat(dim_floordiv(e.num, e.den))
    if e.den % 2 == 1:  # Round, half to even: no ties when den is odd
        return FRat(dim_floordiv(dim_add(dim_mul(e.num, 2), e.den), 2 * e.den))
    raise _NotExact("Round of a possible tie")


def _float_sym(engine, ctx):
    op = ctx.op
    t = op.op_type
    out = op.outputs[0]
    nodes = engine._nodes
    info = nodes[out].get("info")
    if info is None or info.shape is None or len(info.shape) > 1:
        return
    fs = _FSYM.get(engine)
    if fs is None:
        if t not in ("Cast", "CastLike"):
            return  # no float size yet in this run: only a Cast from int can start one
        fs = float_syms(engine)
    elif t not in ("Cast", "CastLike") and not any(k in fs for k in op.inputs if k is not None):
        return
    try:
        if t in ("Cast", "CastLike"):
            to = ctx.attr("to") if t == "Cast" else ctx.dtype(1)
            src = ctx.dtype(0)
            if src in _INT_TYPES and to in _FLOAT_BITS:
                ents = ctx.sym(0)
                if ents is None or all(e.__class__ is int for e in ents):
                    return
                bits = _FLOAT_BITS[to]
                res = [_check(FRat(e), bits) if e is not None else None for e in ents]
                fs[out] = (info.shape, to, res)
                return
            got = fs.get(op.inputs[0])
            if got is None:
                return
            if to in _FLOAT_BITS:  # float -> float: exact if it fits the narrower one
                bits = min(_FLOAT_BITS[to], _FLOAT_BITS[got[1]])
                fs[out] = (info.shape, to, [None if e is None else _check(e, bits) for e in got[2]])
                return
            if to not in _INT_TYPES:
                return
            ints = []
            for e in got[2]:
                if e is None:
                    ints.append(None)
                    continue
                if e.den != 1:  # truncation toward zero: floor for a value >= 0
                    if not _surely_nonneg(e.num):
                        raise _NotExact(f"Cast truncates {e.num}/{e.den}, whose sign is unknown")
                    e = _round_to_int("Floor", e, _FLOAT_BITS[got[1]])
                ints.append(e.num)
            ctx.set(0, info.shape, info.dtype, None, ints)
            return
        if info.dtype not in _FLOAT_BITS:
            return
        bits = _bits(ctx, info.dtype)
        ins = [_entries(ctx, i) if ctx.has_input(i) else None for i in range(ctx.n_inputs)]
        if not any(ctx.has_input(i) and ctx.op.inputs[i] in fs for i in range(ctx.n_inputs)):
            return
        if t in ("Ceil", "Floor", "Round"):
            res = [None if e is None else _round_to_int(t, e, bits) for e in ins[0]]
        elif t == "Neg":
            res = [None if e is None else FRat(dim_mul(e.num, -1), e.den, e.rounded) for e in ins[0]]
        elif t == "Relu":
            res = [None if e is None else _arith("Max", e, FRat(0), bits) for e in ins[0]]
        elif t == "Abs":
            res = [None if e is None else (e if _surely_nonneg(e.num) else None) for e in ins[0]]
        elif t in ("Identity", "Unsqueeze", "Squeeze", "Reshape"):
            res = ins[0]
        elif t == "Concat":
            if any(x is None for x in ins):
                return
            res = [e for x in ins for e in x]
        elif t == "Gather":
            idx = ctx.ints(1)
            if idx is None or ins[0] is None:
                return
            n = len(ins[0])
            if any(not -n <= i < n for i in idx):
                return
            res = [ins[0][i] for i in idx]
        elif t == "Clip":
            res = ins[0]
            lo = ins[1] if len(ins) > 1 else None
            hi = ins[2] if len(ins) > 2 else None
            if ctx.opset < 11:
                a_lo, a_hi = ctx.attr("min", None), ctx.attr("max", None)
                lo = None if a_lo is None else _entries_of_float(a_lo)
                hi = None if a_hi is None else _entries_of_float(a_hi)
            if res is None or (len(ins) > 1 and ctx.has_input(1) and lo is None) or (len(ins) > 2 and ctx.has_input(2) and hi is None):
                return
            if lo is not None:
                res = [None if e is None else _arith("Max", e, lo[0], bits) for e in res]
            if hi is not None:
                res = [None if e is None else _arith("Min", e, hi[0], bits) for e in res]
        else:  # binary and variadic arithmetic
            xs = [x for x in ins if x is not None]
            if len(xs) != len([i for i in range(ctx.n_inputs) if ctx.has_input(i)]) or len(xs) < 2:
                return
            res = xs[0]
            for x in xs[1:]:
                n = max(len(res), len(x))
                if len(res) not in (1, n) or len(x) not in (1, n):
                    return
                a = res * n if len(res) == 1 else res
                b = x * n if len(x) == 1 else x
                res = [None if p is None or q is None else _arith(t, p, q, bits) for p, q in zip(a, b)]
        if res is None:
            return
        if all(e is None for e in res):
            return
        fs[out] = (info.shape, info.dtype, list(res))
    except _NotExact as e:
        engine.note(f"{op.graph}:{op.id} ({t}): size arithmetic in float not proven exact ({e}); the value stays unknown")


def _entries_of_float(x):
    fr = Fraction(float(x))
    return [FRat(fr.numerator, fr.denominator)]


surely_nonneg = _surely_nonneg
