"""Shape functions: tensor manipulation and the shape sub-graphs exporters emit
(Shape -> Gather/Slice -> Concat -> Reshape), with constant propagation.

Shape vectors whose entries are symbols (or partly unknown: ``None`` entries) travel in
``TensorInfo.sym``; every op of a shape sub-graph here (Shape, Size, Gather, Slice,
Concat, Squeeze/Unsqueeze, Reshape, Range, Expand, ConstantOfShape, Tile, Pad, Resize,
Split) reads its shape-like inputs through ``ctx.sym`` so symbolic vectors work as well as
constant ones.

The family continues in ops_index.py (Slice, Gather*) and ops_extent.py (Expand, Tile,
Pad, Resize, Range, NonZero, ...); importing this module registers them too.
"""
from __future__ import annotations

import numpy as np

from analyzer.io.proto import TensorProto, get_attribute_value
from analyzer.io.tensors import tensor_dtype_to_np_dtype, to_array
from analyzer.shapes import dims as _dims
from analyzer.shapes import ops_extent, ops_index  # noqa: F401  (the rest of the family registers with this module)
from analyzer.shapes.dims import MAX_RANK, dim_add, dim_ceildiv, dim_floordiv, dim_mul, dim_sub, shape_numel
from analyzer.shapes.ops_common import dim_product, norm_axis, plain_input
from analyzer.shapes.registry import ShapeError, register

INT64 = TensorProto.INT64


def _unknown_dims(shape_of_shape):
    """Unknown dims of the rank a 1-D shape tensor of shape ``shape_of_shape`` gives
    (None: rank unknown too, also when the declared length is absurd)."""
    s = shape_of_shape
    if s is None or len(s) != 1 or not isinstance(s[0], int) or not 0 <= s[0] <= MAX_RANK:
        return None
    return (None,) * s[0]


@register("Shape")
def shape_op(ctx):
    x = ctx.shape(0)
    if x is None:
        ctx.set(0, (None,), INT64)
        return
    r = len(x)
    start = ctx.attr("start", 0)
    end = ctx.attr("end", r)
    start = min(max(start + r if start < 0 else start, 0), r)
    end = min(max(end + r if end < 0 else end, 0), r)
    dims = list(x[start:end]) if end > start else []
    ctx.set(0, (len(dims),), INT64, sym=dims if any(d is not None for d in dims) or not dims else None)


@register("Size")
def size_op(ctx):
    x = ctx.shape(0)
    n = None if x is None else dim_product(x)
    if isinstance(n, int):
        ctx.set(0, (), INT64, np.array(n, dtype=np.int64))
    else:
        ctx.set(0, (), INT64, sym=None if n is None else [n])


@register("Constant")
def constant(ctx):
    node = ctx.node
    for a in node.attribute:
        if a.name == "value":
            t = a.t
            dims = tuple(int(d) for d in t.dims)
            value = ctx.engine.tensor_info(t, "inferred").value
            ctx.set(0, dims, t.data_type, value)
            return
        if a.name == "sparse_value":
            ctx.set(0, tuple(int(d) for d in a.sparse_tensor.dims), a.sparse_tensor.values.data_type)
            return
        kinds = {
            "value_float": (TensorProto.FLOAT, np.float32, False),
            "value_floats": (TensorProto.FLOAT, np.float32, True),
            "value_int": (INT64, np.int64, False),
            "value_ints": (INT64, np.int64, True),
        }
        if a.name in kinds:
            dtype, np_type, is_list = kinds[a.name]
            v = np.array(get_attribute_value(a), dtype=np_type)
            ctx.set(0, v.shape, dtype, v)
            return
        if a.name in ("value_string", "value_strings"):
            v = get_attribute_value(a)
            ctx.set(0, () if a.name == "value_string" else (len(v),), TensorProto.STRING)
            return


@register("ConstantOfShape")
def constant_of_shape(ctx):
    dims = ctx.sym(0)
    t = ctx.attr("value", None)
    dtype = t.data_type if t is not None else TensorProto.FLOAT
    if dims is None:
        s = ctx.shape(0)
        ctx.set(0, _unknown_dims(s), dtype)
        return
    if any(isinstance(d, int) and d < 0 for d in dims):
        raise ShapeError(f"negative dims {dims}")
    value = None
    n = shape_numel(dims)
    if n is not None and ctx.can_fold(n):
        fill = to_array(t).reshape(-1)[0] if t is not None else np.float32(0)
        value = np.full(dims, fill, dtype=tensor_dtype_to_np_dtype(dtype))
    ctx.set(0, dims, dtype, value)


@register("Reshape")
def reshape(ctx):
    x = ctx.shape(0)
    target = ctx.sym(1)
    allowzero = ctx.attr("allowzero", 0)
    if target is None:
        s = ctx.shape(1)
        ctx.set(0, _unknown_dims(s), ctx.dtype(0))
        return
    out = list(target)
    for i, d in enumerate(out):
        if isinstance(d, int) and d < -1:
            raise ShapeError(f"Reshape target {target} has an entry below -1")
        if d == 0 and not allowzero:
            if x is not None and i >= len(x):
                raise ShapeError(f"Reshape target {target} copies dim {i} of a rank-{len(x)} input")
            out[i] = x[i] if x is not None else None
    if out.count(-1) > 1:
        raise ShapeError("more than one -1 in the Reshape target")
    if -1 in out:
        i = out.index(-1)
        others = [d for j, d in enumerate(out) if j != i]
        total = shape_numel(x)
        rest = shape_numel(others)
        if total is not None and rest:
            if total % rest:
                raise ShapeError(f"cannot reshape {total} elements into {target}")
            out[i] = total // rest
        elif total is not None and rest == 0:
            out[i] = None  # 0 elements: any size fits
        else:
            out[i] = _symbolic_rest(x, others)
    total, new = shape_numel(x), shape_numel(out)
    if total is not None and new is not None and total != new:
        raise ShapeError(f"cannot reshape {tuple(x)} into {tuple(out)}")
    value = ctx.value(0)
    if value is not None and new is not None:
        value = value.reshape(out)
    sym = ctx.info(0).sym if len(out) <= 1 and ctx.info(0).sym is not None else None
    ctx.set(0, out, ctx.dtype(0), value, sym)


def _symbolic_rest(x, others):
    """The -1 of a Reshape when sizes are symbolic: the input's dims with the other
    target dims cancelled ([N, C, H, W] -> [N, -1] gives C*H*W; [B, S, 768] -> [B, S, 12, -1]
    gives 64); an exact division of the products when the dims module offers one."""
    if x is None or any(d is None for d in x) or any(d is None for d in others):
        return None
    remaining = list(x)
    divisor = 1
    for d in others:
        if d in remaining:
            remaining.remove(d)
        elif isinstance(d, int):
            divisor *= d
        else:
            divisor = None
            break
    if divisor is not None:
        ints = [v for v in remaining if isinstance(v, int)]
        prod = 1
        for v in ints:
            prod *= v
        if divisor and prod % divisor == 0:
            return dim_product([v for v in remaining if not isinstance(v, int)] + [prod // divisor])
    exact_div = getattr(_dims, "dim_exact_div", None)
    if exact_div is not None:
        return exact_div(dim_product(x), dim_product(others))
    return None


@register("Flatten")
def flatten(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    axis = ctx.attr("axis", 1)
    axis = axis + len(x) if axis < 0 else axis
    if not 0 <= axis <= len(x):
        raise ShapeError(f"axis {axis} out of range")
    ctx.set(0, (dim_product(x[:axis]), dim_product(x[axis:])), ctx.dtype(0))


def _axes(ctx, input_index=1):
    if ctx.has_input(input_index):
        return ctx.ints(input_index)
    return ctx.attr("axes", None)


@register("Squeeze")
def squeeze(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    axes = _axes(ctx)
    if axes is None and ctx.has_input(1):
        ctx.set(0, None, ctx.dtype(0))
        return
    if not axes:
        if any(d is None or isinstance(d, str) for d in x):
            ctx.set(0, None, ctx.dtype(0))
            return
        axes = [i for i, d in enumerate(x) if d == 1]
    axes = {norm_axis(a, len(x)) for a in axes}
    for a in axes:
        if isinstance(x[a], int) and x[a] != 1:
            raise ShapeError(f"cannot squeeze axis {a} of size {x[a]}")
    out = [d for i, d in enumerate(x) if i not in axes]
    v = ctx.value(0)
    sym = ctx.info(0).sym
    ctx.set(0, out, ctx.dtype(0), v.reshape(out) if v is not None else None, sym if sym is not None and len(out) <= 1 else None)


@register("Unsqueeze")
def unsqueeze(ctx):
    x = ctx.shape(0)
    axes = _axes(ctx)
    if x is None or axes is None:
        ctx.set(0, None, ctx.dtype(0))
        return
    r = len(x) + len(axes)
    axes = sorted(norm_axis(a, r) for a in axes)
    if len(set(axes)) != len(axes):
        raise ShapeError("repeated axes")
    out = list(x)
    for a in axes:
        out.insert(a, 1)
    v = ctx.value(0)
    sym = ctx.info(0).sym
    ctx.set(0, out, ctx.dtype(0), v.reshape(out) if v is not None else None, sym if sym is not None and len(out) == 1 else None)


@register("Transpose")
def transpose(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    perm = ctx.attr("perm", None) or list(reversed(range(len(x))))
    if sorted(perm) != list(range(len(x))):
        raise ShapeError(f"perm {perm} is not a permutation of {len(x)} axes")
    v = ctx.value(0)
    ctx.set(0, [x[p] for p in perm], ctx.dtype(0), np.transpose(v, perm) if v is not None else None)


@register("Concat")
def concat(ctx):
    # measured hot (a CNN concatenates feature maps all along): loops, not generators
    idx, infos = ctx.present()
    shapes = [inf.shape for inf in infos]
    axis = ctx.attr("axis", 0)
    # A network concatenates the same shapes again and again: see _concat_key
    key = _concat_key(axis, infos)
    if key is not None:
        out = ctx.engine.memo.get(key)
        if out is not None:
            ctx.set(0, out, infos[0].dtype)
            return
    known = [s for s in shapes if s is not None]
    if not known:
        return
    r = len(known[0])
    for s in known:
        if len(s) != r:
            raise ShapeError("inputs of different ranks")
    axis = norm_axis(axis, r)
    out = []
    for ax in range(r):
        if ax == axis:
            total = 0
            for s in shapes:
                if s is None:
                    total = None
                elif total.__class__ is int and s[ax].__class__ is int:  # measured hot: dim_add of ints
                    total += s[ax]
                else:
                    total = dim_add(total, s[ax])
            out.append(total)
        else:
            first = known[0][ax]
            if first.__class__ is int:
                for s in known:
                    d = s[ax]
                    if d.__class__ is not int or d != first:
                        break
                else:
                    out.append(first)  # the inputs agree in plain ints
                    continue
            vals = [s[ax] for s in known]
            ints = {d for d in vals if isinstance(d, int)}
            if len(ints) > 1:
                raise ShapeError(f"inputs differ on axis {ax}: {sorted(ints)}")
            if ints:
                out.append(ints.pop())
            else:
                syms = [v for v in vals if v is not None]
                out.append(syms[0] if syms and all(v == syms[0] for v in syms) else None)
    values = [inf.value for inf in infos]
    value = None
    if all(v is not None for v in values) and ctx.can_fold(sum(v.size for v in values)):
        value = np.concatenate(values, axis=axis)
    sym = None
    if value is None and r == 1 and len(known) == len(shapes) and all(isinstance(s[0], int) for s in shapes):
        if ctx.can_fold(sum(s[0] for s in shapes)):
            parts = [ctx.sym(i) for i in idx]
            parts = [p if p is not None else [None] * s[0] for p, s in zip(parts, shapes)]
            sym = [d for p in parts for d in p]
            if all(d is None for d in sym):
                sym = None
    ctx.set(0, out, infos[0].dtype, value, sym)
    if key is not None:
        ctx.engine.memo[key] = tuple(out)


def _concat_key(axis, infos):
    """What concat() computes its output shape from, as a memo key (see
    ops_common.plain_input), or None. Not for 1-D inputs: concat() may then consult the
    value budget."""
    if not infos or axis.__class__ is not int:
        return None
    key = ["Concat", axis, infos[0].dtype]
    for inf in infos:
        if not plain_input(inf) or (inf.shape is not None and len(inf.shape) == 1):
            return None
        key.append(inf.shape)
    return tuple(key)


@register("Split")
def split(ctx):
    x = ctx.shape(0)
    n = ctx.n_outputs
    if x is None:
        return
    axis = norm_axis(ctx.attr("axis", 0), len(x))
    if ctx.has_input(1):
        sizes = ctx.sym(1)
    else:
        sizes = ctx.attr("split", None)
    d = x[axis]
    if sizes is None and ctx.has_input(1):
        sizes = [None] * n
    elif sizes is None:
        num = ctx.attr("num_outputs", None)
        if num is not None and num != n:
            raise ShapeError(f"num_outputs {num} but {n} outputs")
        if isinstance(d, int):
            if num is None and d % n:
                raise ShapeError(f"axis of size {d} does not split evenly into {n}")
            chunk = -(-d // n)
            sizes = [chunk] * (n - 1) + [d - chunk * (n - 1)]
            if sizes[-1] < 0:
                # onnxruntime refuses this (the reference evaluator would make empty chunks):
                # the first chunks are certain, the last one is not
                for i in range(n - 1):
                    out = list(x)
                    out[axis] = chunk
                    ctx.set(i, out, ctx.dtype(0))
                raise ShapeError(f"axis of size {d} split into {n} chunks of {chunk}: the last one would be negative")
        elif num is None:
            # Without num_outputs (before opset 18) the split must be even: d/n exactly.
            sizes = [dim_floordiv(d, n)] * n
        else:
            # Opset 18: chunks of ceil(d/n), the last one what is left.
            chunk = dim_ceildiv(d, n)
            sizes = [chunk] * (n - 1) + [dim_sub(d, dim_mul(chunk, n - 1))]
    if len(sizes) != n:
        raise ShapeError(f"{len(sizes)} split sizes for {n} outputs")
    if isinstance(d, int) and all(isinstance(s, int) for s in sizes) and sum(sizes) != d:
        raise ShapeError(f"split sizes {sizes} do not add up to {d}")
    # the pieces of a known value (or of a shape vector: exporters split shapes too)
    v = ctx.value(0)
    src = ctx.sym(0) if len(x) == 1 and ctx.info(0).sym is not None else None
    exact = all(isinstance(s, int) and s >= 0 for s in sizes)
    starts = [sum(sizes[:i]) for i in range(n)] if exact else None
    for i in range(n):
        out = list(x)
        out[axis] = sizes[i]
        value = sym = None
        if exact and v is not None:
            value = np.take(v, range(starts[i], starts[i] + sizes[i]), axis=axis)
        elif exact and src is not None:
            sym = src[starts[i]:starts[i] + sizes[i]]
        ctx.set(i, out, ctx.dtype(0), value, sym)
