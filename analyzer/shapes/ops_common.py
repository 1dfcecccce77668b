"""Helpers shared by the shape functions (no op is registered here).

Fresh symbols: a size that depends on tensor *values* the analysis cannot know
(NonZero's count, Unique's count, TopK's k read at run time, ...) is not a failure but a
fresh symbol, named deterministically after the node output it sizes::

    <op type, lower case>_<what>(<output name>)     e.g. nonzero_count(idx), topk_k(values)

For a node inside an If/Loop/Scan body the output name is prefixed by the body's graph
path (``unique_count(main/Loop#3.body/y)``), so that two branches of an If never share a
symbol.  A name longer than 64 characters is cut to 48 and completed by ``~`` and 8 hex
digits of its SHA-1, so symbols stay short and still distinct.  Inside a model-local
function no fresh symbol is made (the size stays unknown): a function's body is analyzed
once for all its calls with the same input shapes, and two calls must not be claimed to
produce the same data-dependent size.
"""
from __future__ import annotations

import hashlib
import weakref

from analyzer.graph.build import MAIN
from analyzer.shapes.dims import dim_mul, symbol
from analyzer.shapes.registry import ShapeError, TensorInfo

__all__ = ["fresh", "norm_axis", "nonneg", "scalar", "BIG_INDEX", "seq_state", "plain_shape", "plain_input", "dim_product"]

#: Slice starts/ends at or beyond this mean "to the end" (exporters write INT32_MAX or
#: INT64_MAX); no axis is assumed to hold more elements than this.
BIG_INDEX = (1 << 31) - 1

_MAX_NAME = 64


def _short(name: str) -> str:
    if len(name) <= _MAX_NAME:
        return name
    digest = hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{name[:48]}~{digest}"


def fresh(ctx, what: str, out: int = 0):
    """A fresh symbol for a data-dependent size of output ``out`` of the node (see the
    module docstring for the naming), or None inside a function body."""
    graph = ctx.op.graph
    if graph.startswith("function:"):
        return None
    outs = ctx.op.outputs
    key = outs[out] if out < len(outs) and outs[out] is not None else next((k for k in outs if k is not None), None)
    if key is None:
        return None
    name = key[2] if graph == MAIN else f"{graph}/{key[2]}"
    return symbol(f"{ctx.node.op_type.lower()}_{what}({_short(name)})")


def norm_axis(axis, rank):
    if not isinstance(axis, int) or axis < -rank or axis >= max(rank, 1):
        raise ShapeError(f"axis {axis} out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def scalar(ctx, i):
    """Input ``i`` as one dim (int or symbol) when it is a known 1-element integer
    tensor, else None."""
    s = ctx.sym(i) if ctx.has_input(i) else None
    if s is None or len(s) != 1:
        return None
    return s[0]


def dim_product(ds):
    """The product of the dims ``ds`` (ints or symbols); 1 for none."""
    out = 1
    for d in ds:
        out = dim_mul(out, d)
    return out


def nonneg(d) -> bool:
    """Whether the dim-valued ``d`` is certainly >= 0: an int >= 0, or a symbolic size
    built with positive coefficients only (no ``-`` anywhere in its printing: model
    symbols and fresh symbols are sizes, and sums, products, floor division, min and
    max of sizes are sizes)."""
    if isinstance(d, int):
        return d >= 0
    return isinstance(d, str) and "-" not in d


# Per engine run: what is known of sequence (and optional) values, by value key.
_SEQ_STATE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def seq_state(engine) -> dict:
    st = _SEQ_STATE.get(engine)
    if st is None:
        st = _SEQ_STATE[engine] = {}
    return st


# -- memo keys ------------------------------------------------------------------
# Conv, Concat and the binary ops memoize their output shape per engine run
# (``_Engine.memo``), keyed by what they compute it from.  A key may only hold values
# whose equality means "the shape function does exactly the same": plain ints and None
# (1 == 1.0 == True, and two equal symbol texts can be different sizes).


def plain_shape(s) -> bool:
    """Whether shape ``s`` may be part of a memo key: None or a tuple of plain ints and Nones."""
    if s is None:
        return True
    if s.__class__ is not tuple:
        return False
    for d in s:
        if d.__class__ is not int and d is not None:
            return False
    return True


def plain_input(inf) -> bool:
    """Whether a shape function that folds values sees of input ``inf`` only its shape and
    dtype, and both may be part of a memo key: no value, no symbols, not an initializer
    (whose value is read lazily), a plain shape and dtype."""
    if inf.__class__ is not TensorInfo or inf.value is not None or inf.sym is not None:
        return False
    if inf.dtype is not None and inf.dtype.__class__ is not int:
        return False
    s = inf.shape
    if s is None:
        return True
    if s.__class__ is not tuple:
        return False
    for d in s:  # plain_shape, inlined (measured hot: every input of every memoized op)
        if d.__class__ is not int and d is not None:
            return False
    return True
