"""Shape functions: tensor sequences and optionals.

A sequence or optional value is not a tensor: its own ``TensorInfo`` stays empty.  What
is known of its elements is kept beside it, per engine run (``ops_common.seq_state``):
for a sequence the element infos when they are known one by one (SequenceConstruct,
SplitToSequence, Insert/Erase at known positions), what all elements share, and its
length (an int, a symbol, or None); for an optional its element and whether it has one.
SequenceAt, SequenceLength, ConcatFromSequence, SequenceMap and OptionalGetElement read
it back; a graph input's declared ``seq(tensor(...))`` or ``optional(...)`` type seeds it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyzer.io.proto import TensorProto
from analyzer.shapes.dims import dim_add, dim_ceildiv, dim_sub
from analyzer.shapes.ops_common import norm_axis, seq_state
from analyzer.shapes.registry import ShapeError, TensorInfo, register, type_to_shape

INT64 = TensorProto.INT64


@dataclass
class SeqInfo:
    items: list | None  # TensorInfo per element, when known one by one
    elem: TensorInfo  # what every element satisfies
    length: object = None  # int, symbol or None


@dataclass
class OptInfo:
    elem: TensorInfo | SeqInfo | None
    has: bool | None


def _common(infos) -> TensorInfo:
    """What holds for every one of ``infos``."""
    if not infos:
        return TensorInfo()
    shape = infos[0].shape
    dtype = infos[0].dtype
    for inf in infos[1:]:
        if shape is None or inf.shape is None or len(shape) != len(inf.shape):
            shape = None
        else:
            shape = tuple(a if a == b else None for a, b in zip(shape, inf.shape))
        if inf.dtype != dtype:
            dtype = None
    return TensorInfo(shape, dtype)


def _make_seq(items, dtype=None) -> SeqInfo:
    return SeqInfo(list(items), _common(items) if items else TensorInfo(None, dtype), len(items))


def _declared(ctx, key):
    """A sequence/optional graph input's declared type, as SeqInfo/OptInfo (or None)."""
    attrs = ctx.engine.graph.nx.nodes[key]
    vi = attrs.get("value_info") if attrs.get("role") == "input" else None
    if vi is None:
        return None
    tp = vi.type
    if tp.HasField("sequence_type"):
        shape, dtype = type_to_shape(tp.sequence_type.elem_type)
        return SeqInfo(None, TensorInfo(shape, dtype), None)
    if tp.HasField("optional_type"):
        et = tp.optional_type.elem_type
        if et.HasField("sequence_type"):
            shape, dtype = type_to_shape(et.sequence_type.elem_type)
            return OptInfo(SeqInfo(None, TensorInfo(shape, dtype), None), None)
        shape, dtype = type_to_shape(et)
        return OptInfo(TensorInfo(shape, dtype), None)
    return None


def _get(ctx, i):
    """The SeqInfo/OptInfo of input ``i`` (None when nothing is known)."""
    if not ctx.has_input(i):
        return None
    key = ctx.op.inputs[i]
    st = seq_state(ctx.engine)
    if key in st:
        return st[key]
    return _declared(ctx, key)


def _seq(ctx, i) -> SeqInfo:
    s = _get(ctx, i)
    if isinstance(s, OptInfo):
        s = s.elem if isinstance(s.elem, SeqInfo) else None
    return s if isinstance(s, SeqInfo) else SeqInfo(None, TensorInfo(), None)


def _put(ctx, i, what):
    if i < ctx.n_outputs and ctx.op.outputs[i] is not None:
        seq_state(ctx.engine)[ctx.op.outputs[i]] = what


def _position(ctx, i, n, default, insert=False):
    """A constant position into a sequence of known length ``n`` (normalized), None if
    not constant."""
    if not ctx.has_input(i):
        return default
    p = ctx.ints(i)
    if p is None or len(p) != 1:
        return None
    p = p[0]
    hi = n if insert else n - 1
    if not -n <= p <= hi:
        raise ShapeError(f"position {p} out of range for a sequence of {n}")
    return p + n if p < 0 else p


@register("SequenceEmpty")
def sequence_empty(ctx):
    _put(ctx, 0, SeqInfo([], TensorInfo(None, ctx.attr("dtype", TensorProto.FLOAT)), 0))


@register("SequenceConstruct")
def sequence_construct(ctx):
    _put(ctx, 0, _make_seq([ctx.info(i) for i in range(ctx.n_inputs) if ctx.has_input(i)]))


@register("SequenceInsert")
def sequence_insert(ctx):
    s = _seq(ctx, 0)
    t = ctx.info(1)
    if s.items is not None:
        pos = _position(ctx, 2, len(s.items), len(s.items), insert=True)
        if pos is not None:
            items = list(s.items)
            items.insert(pos, t)
            _put(ctx, 0, _make_seq(items, s.elem.dtype))
            return
    elem = _common([s.elem, t]) if s.length != 0 else t
    _put(ctx, 0, SeqInfo(None, elem, dim_add(s.length, 1)))


@register("SequenceErase")
def sequence_erase(ctx):
    s = _seq(ctx, 0)
    if s.items is not None:
        if not s.items:
            raise ShapeError("SequenceErase of an empty sequence")
        pos = _position(ctx, 1, len(s.items), len(s.items) - 1)
        if pos is not None:
            items = list(s.items)
            del items[pos]
            _put(ctx, 0, _make_seq(items, s.elem.dtype))
            return
    _put(ctx, 0, SeqInfo(None, s.elem, dim_sub(s.length, 1)))


@register("SequenceAt")
def sequence_at(ctx):
    s = _seq(ctx, 0)
    if s.items is not None:
        if not s.items:
            raise ShapeError("SequenceAt of an empty sequence")
        pos = _position(ctx, 1, len(s.items), None)
        if pos is not None:
            it = s.items[pos]
            ctx.set(0, it.shape, it.dtype, it.value, it.sym)
            return
    ctx.set(0, s.elem.shape, s.elem.dtype)


@register("SequenceLength")
def sequence_length(ctx):
    n = _seq(ctx, 0).length
    if isinstance(n, int):
        ctx.set(0, (), INT64, np.array(n, dtype=np.int64))
    else:
        ctx.set(0, (), INT64, sym=None if n is None else [n])


@register("SplitToSequence")
def split_to_sequence(ctx):
    x = ctx.shape(0)
    dtype = ctx.dtype(0)
    if x is None:
        _put(ctx, 0, SeqInfo(None, TensorInfo(None, dtype), None))
        return
    axis = norm_axis(ctx.attr("axis", 0), len(x))
    d = x[axis]

    def part(size, keep=True):
        out = list(x)
        if keep:
            out[axis] = size
        else:
            del out[axis]
        return TensorInfo(tuple(out), dtype)

    if not ctx.has_input(1):
        keep = bool(ctx.attr("keepdims", 1))
        if isinstance(d, int):
            _put(ctx, 0, _make_seq([part(1, keep)] * d, dtype))
        else:
            _put(ctx, 0, SeqInfo(None, part(1, keep), d))
        return
    split = ctx.sym(1)
    sshape = ctx.shape(1)
    if split is None:
        _put(ctx, 0, SeqInfo(None, part(None), None))
        return
    if sshape == ():  # a scalar: chunks of that size, the last one maybe smaller
        c = split[0]
        if isinstance(c, int) and c <= 0:
            raise ShapeError(f"split {c}")
        if isinstance(d, int) and isinstance(c, int):
            sizes = [min(c, d - i) for i in range(0, d, c)]
            _put(ctx, 0, _make_seq([part(s) for s in sizes], dtype))
        else:
            _put(ctx, 0, SeqInfo(None, part(None), dim_ceildiv(d, c) if isinstance(c, int) else None))
        return
    if isinstance(d, int) and all(isinstance(s, int) for s in split) and sum(split) != d:
        raise ShapeError(f"split sizes {split} do not add up to {d}")
    _put(ctx, 0, _make_seq([part(s) for s in split], dtype))


@register("ConcatFromSequence")
def concat_from_sequence(ctx):
    s = _seq(ctx, 0)
    new_axis = ctx.attr("new_axis", 0)
    elem = s.elem
    if elem.shape is None:
        ctx.set(0, None, elem.dtype)
        return
    r = len(elem.shape)
    axis = ctx.attr("axis", None)
    if axis is None:
        raise ShapeError("ConcatFromSequence without axis")
    if new_axis:
        a = norm_axis(axis, r + 1)
        out = list(elem.shape)
        out.insert(a, s.length)
        ctx.set(0, out, elem.dtype)
        return
    a = norm_axis(axis, r)
    out = list(elem.shape)
    if s.items is not None and all(it.shape is not None and len(it.shape) == r for it in s.items):
        total = 0
        for it in s.items:
            total = dim_add(total, it.shape[a])
        out[a] = total
    else:
        out[a] = None
    ctx.set(0, out, elem.dtype)


@register("SequenceMap")
def sequence_map(ctx):
    path = ctx.engine.graph.subgraph_path(ctx.op.key, "body")
    first = _seq(ctx, 0)
    bind = []
    for i in range(ctx.n_inputs):
        g = _get(ctx, i)
        if isinstance(g, SeqInfo):
            bind.append(g.elem)
        elif i == 0:
            bind.append(first.elem)
        else:
            bind.append(TensorInfo(ctx.shape(i), ctx.dtype(i)))
    outs = ctx.engine.run_subgraph(path, bind)
    for j, inf in enumerate(outs):
        _put(ctx, j, SeqInfo(None, TensorInfo(inf.shape, inf.dtype), first.length))


@register("Optional")
def optional(ctx):
    if ctx.has_input(0):
        g = _get(ctx, 0)
        _put(ctx, 0, OptInfo(g if isinstance(g, SeqInfo) else ctx.info(0), True))
    else:
        _put(ctx, 0, OptInfo(None, False))


@register("OptionalHasElement")
def optional_has_element(ctx):
    g = _get(ctx, 0)
    if not ctx.has_input(0):
        has = False
    elif isinstance(g, OptInfo):
        has = g.has
    else:
        has = True  # a tensor or a sequence (opset 18+): always an element
    ctx.set(0, (), TensorProto.BOOL, None if has is None else np.array(has))


@register("OptionalGetElement")
def optional_get_element(ctx):
    g = _get(ctx, 0)
    if isinstance(g, OptInfo):
        if g.has is False:
            raise ShapeError("OptionalGetElement of an empty optional")
        g = g.elem
    if isinstance(g, SeqInfo):
        _put(ctx, 0, g)
        return
    inf = g if isinstance(g, TensorInfo) else ctx.info(0)
    ctx.set(0, inf.shape, inf.dtype, inf.value, inf.sym)
