"""What the file declares for a value (value_info, graph outputs), and how it compares
with what propagation found."""
from __future__ import annotations

__all__ = [
    "KINDS", "CONTRADICTIONS", "differing_declarations", "maybe_filled_dtype", "compare", "model_input_symbols",
    "plain_shape", "int_or_none", "rank", "LongShape",
]  # fmt: skip

KINDS = ("rank", "dtype", "dim", "static-vs-symbolic")
CONTRADICTIONS = frozenset({"rank", "dtype", "dim"})


def differing_declarations(nodes, parsed, path, entries, output_keys):
    """The declarations in ``entries`` (a graph's ``value_info``, or with ``output_keys``
    its ``output``) of values our engine inferred whose declared type is not exactly
    the inferred one: ``(output index or None, vi, value key, node attrs, TensorInfo,
    (declared shape, declared dtype))``.  Only a value's first declaration in the list
    counts.  ``parsed`` keeps the declared types by their bytes (models repeat a few
    types many times).

    Measured hot (exporters declare every value): a declaration that is exactly what
    we infer, the common case, costs a name, a dict lookup and the type's bytes;
    which declarations come first is worked out only when some differ."""
    from analyzer.io.load import text
    from analyzer.shapes.dims import MAX_DIM, MAX_RANK

    n_keys = None if output_keys is None else len(output_keys)
    get = nodes.get
    found = []
    for pos, vi in enumerate(entries):
        if n_keys is None:
            name = vi.name
            key = ("value", path, name if name.__class__ is str else text(name))
        elif pos < n_keys:
            key = output_keys[pos]
        else:
            break
        info = get(key, _NO_ATTRS).get("info") if key is not None else None
        if info is None or info.source != "inferred":
            continue
        raw = vi.type.SerializeToString()
        declared = parsed.get(raw, _UNPARSED)
        if declared is _UNPARSED:
            declared = parsed[raw] = _declared(vi, MAX_DIM, MAX_RANK)
        if declared is None or (declared[0] == info.shape and declared[1] == info.dtype):
            continue  # the common case: the declaration is exactly what we prove
        attrs = nodes[key]
        if attrs.get("kind") == "value":
            found.append((pos, vi, key, attrs, info, declared))
    if not found:
        return found
    keys = [("value", path, text(vi.name)) for vi in entries] if n_keys is None else output_keys
    first: dict = {}
    for pos, key in enumerate(keys):
        first.setdefault(key, pos)
    return [(None if output_keys is None else pos, vi, key, attrs, info, declared)
            for pos, vi, key, attrs, info, declared in found if first[key] == pos]  # fmt: skip


_NO_ATTRS: dict = {}
_UNPARSED = object()


class LongShape:
    """A declared shape of more dims than the engine tracks: only its rank is used."""

    __slots__ = ("rank",)

    def __init__(self, rank: int):
        self.rank = rank


def _declared(vi, max_dim, max_rank):
    """(shape, elem type) declared by a ValueInfoProto: shape None when undeclared (any
    rank), else a tuple of int / str (dim_param) / None (no value, or a value no tensor
    can have); elem type None when undeclared.  None for a non-tensor type."""
    from analyzer.io.load import text

    tp = vi.type
    if tp.WhichOneof("value") != "tensor_type":
        return None
    tt = tp.tensor_type
    dtype = int(tt.elem_type) or None
    if not tt.HasField("shape"):
        return None, dtype
    dim_list = tt.shape.dim
    if len(dim_list) > max_rank:
        return LongShape(len(dim_list)), dtype  # too long to list; only its rank is used
    dims = []
    for d in dim_list:
        which = d.WhichOneof("value")
        if which == "dim_value":
            v = d.dim_value
            dims.append(v if 0 <= v <= max_dim else None)
        elif which == "dim_param" and d.dim_param:
            dims.append(text(d.dim_param))
        else:
            dims.append(None)
    return tuple(dims), dtype


def maybe_filled_dtype(attrs, vi, dtype) -> bool:
    """Whether ``dtype`` may have been copied from the value's *other* declaration
    (the engine fills an unknown element type from the value_info graph.py attached
    to the value, keeping the source "inferred"): then it proves nothing against this one."""
    other = attrs.get("value_info")
    if other is None or not other.type.HasField("tensor_type"):
        return False
    return int(other.type.tensor_type.elem_type) == dtype and int(vi.type.tensor_type.elem_type) != dtype


def compare(d_shape, d_dtype, shape, dtype, input_symbols):
    """[(kind, detail)] where the declaration disagrees with the proof."""
    found = []
    if d_dtype is not None and dtype is not None and d_dtype != dtype:
        found.append(("dtype", None))
    if d_shape is None or shape is None:
        return found
    if rank(d_shape) != len(shape):
        found.append(("rank", None))
        return found
    for axis, (a, b) in enumerate(zip(d_shape, shape)):
        if not isinstance(a, int) or b is None:
            continue  # a declared symbol or unknown contradicts nothing; neither does our unknown
        if isinstance(b, str):
            if _follows_inputs(b, input_symbols):
                found.append(("static-vs-symbolic", (axis, a, b)))
        elif a != b:
            found.append(("dim", (axis, a, b)))
    return found


def model_input_symbols(model) -> frozenset:
    """Names of the symbolic dims of the main graph's inputs (not bound by --input-shape)."""
    from analyzer.graph.build import MAIN
    from analyzer.shapes.dims import free_symbols

    names = set()
    for key in model.graph.subgraphs[MAIN].input_keys:
        info = model.info(key)
        if info.source == "input" and info.shape is not None:
            for d in info.shape:
                if isinstance(d, str):
                    names |= free_symbols(d)
    return frozenset(names)


def _follows_inputs(d, input_symbols) -> bool:
    """Whether symbolic size ``d`` is an expression of the graph inputs' dims only: it then
    changes with the input size.  A fresh symbol (NonZero's count, a Loop's iteration
    count, a Range whose bounds were not folded) is an unknown size that may well be
    constant: a static declaration of it is not disproven."""
    from analyzer.shapes.dims import free_symbols

    try:
        names = free_symbols(d)
    except (TypeError, ValueError):
        return False
    return bool(names) and names <= input_symbols


def rank(shape):
    if shape is None:
        return None
    return shape.rank if isinstance(shape, LongShape) else len(shape)


def plain_shape(shape):
    if shape is None:
        return None
    return tuple(d if d is None or isinstance(d, str) else int(d) for d in shape)


def int_or_none(x):
    return None if x is None else int(x)
