"""Shape functions: tensor manipulation and the shape sub-graphs exporters emit
(Shape -> Gather/Slice -> Concat -> Reshape), with constant propagation.

Shape vectors whose entries are symbols (or partly unknown: ``None`` entries) travel in
``TensorInfo.sym``; every op of a shape sub-graph here (Shape, Size, Gather, Slice,
Concat, Squeeze/Unsqueeze, Reshape, Range, Expand, ConstantOfShape, Tile, Pad, Resize,
Split) reads its shape-like inputs through ``ctx.sym`` so symbolic vectors work as well as
constant ones.
"""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from analyzer.shapes import dims as _dims
from analyzer.shapes.dims import MAX_DIM, MAX_RANK, dim_add, dim_ceildiv, dim_floordiv, dim_max, dim_min, dim_mul, dim_sub, shape_numel
from analyzer.shapes.engine import ShapeError, register
from analyzer.shapes.ops_common import BIG_INDEX, fresh, nonneg, norm_axis, plain_input, scalar
from analyzer.shapes.ops_elementwise import broadcast

INT64 = TensorProto.INT64


def _unknown_dims(shape_of_shape):
    """Unknown dims of the rank a 1-D shape tensor of shape ``shape_of_shape`` gives
    (None: rank unknown too, also when the declared length is absurd)."""
    s = shape_of_shape
    if s is None or len(s) != 1 or not isinstance(s[0], int) or not 0 <= s[0] <= MAX_RANK:
        return None
    return (None,) * s[0]


def _product(ds):
    out = 1
    for d in ds:
        out = dim_mul(out, d)
    return out


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
    n = None if x is None else _product(x)
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
            v = np.array(helper.get_attribute_value(a), dtype=np_type)
            ctx.set(0, v.shape, dtype, v)
            return
        if a.name in ("value_string", "value_strings"):
            v = helper.get_attribute_value(a)
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
        fill = numpy_helper.to_array(t).reshape(-1)[0] if t is not None else np.float32(0)
        value = np.full(dims, fill, dtype=helper.tensor_dtype_to_np_dtype(dtype))
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
            return _product([v for v in remaining if not isinstance(v, int)] + [prod // divisor])
    exact_div = getattr(_dims, "dim_exact_div", None)
    if exact_div is not None:
        return exact_div(_product(x), _product(others))
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
    ctx.set(0, (_product(x[:axis]), _product(x[axis:])), ctx.dtype(0))


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
    idx = [i for i, k in enumerate(ctx.op.inputs) if k is not None]
    infos = [ctx.info(i) for i in idx]
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


def _clamp_slice(start, end, step, dim):
    """ONNX Slice semantics for one axis of size ``dim``; returns the output size."""
    if start < 0:
        start += dim
    if end < 0:
        end += dim
    if step > 0:
        start = min(max(start, 0), dim)
        end = min(max(end, 0), dim)
        return max(0, -(-(end - start) // step)), start, end
    start = min(max(start, -1), dim - 1)
    end = min(max(end, -1), dim - 1)
    return max(0, -(-(start - end) // -step)), start, end


def _slice_bound(i, d):
    """Where start/end ``i`` (int or symbol) lands on an axis of symbolic size ``d``,
    for a positive step: clamp(i < 0 ? i + d : i, 0, d).  None when unknown."""
    if isinstance(i, int):
        if i >= BIG_INDEX:
            return d
        if i == 0:
            return 0
        if i > 0:
            return dim_min(i, d)
        if i <= -BIG_INDEX:
            return 0
        return dim_max(dim_add(d, i), 0)
    if i is not None and nonneg(i):
        return d if i == d else dim_min(i, d)
    return None


def _slice_len(d, s, e, st):
    """Output size of one sliced axis: exact, ints or symbols (None when unknown)."""
    if isinstance(d, int) and isinstance(s, int) and isinstance(e, int):
        return _clamp_slice(s, e, st, d)[0]
    if d is None or s is None or e is None:
        return None
    if st > 0:
        b, f = _slice_bound(s, d), _slice_bound(e, d)
        if b is None or f is None:
            return None
        if f == d and isinstance(s, int):
            # to the end: d - max(d + s, 0) = min(-s, d) from the back, max(d - s, 0) from the front
            n = dim_min(-s, d) if s < 0 else dim_max(dim_sub(d, s), 0) if s else d
        elif b == 0:
            n = f
        elif isinstance(s, int) and isinstance(e, int) and s >= 0 and e < 0:
            n = dim_max(dim_sub(dim_add(d, e), s), 0)
        elif isinstance(s, int) and isinstance(e, int) and s < 0 and e < 0 and e <= s:
            n = 0
        else:
            n = dim_max(dim_sub(f, b), 0)
        return dim_ceildiv(n, st) if n is not None else None
    # negative step: only the whole axis reversed (x[::-k]) is symbolic-friendly
    if isinstance(s, int) and isinstance(e, int) and s >= BIG_INDEX and e <= -BIG_INDEX:
        return dim_ceildiv(d, -st)
    if isinstance(s, int) and isinstance(e, int) and s == -1 and e <= -BIG_INDEX:
        return dim_ceildiv(d, -st)
    return None


@register("Slice")
def slice_op(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    if ctx.has_input(1) or ctx.opset >= 10:  # opset >= 10: starts, ends, axes, steps are inputs
        starts, ends = ctx.sym(1), ctx.sym(2)
        axes = ctx.ints(3) if ctx.has_input(3) else None
        steps = ctx.ints(4) if ctx.has_input(4) else None
        if ctx.has_input(3) and axes is None or ctx.has_input(4) and steps is None:
            starts = None
    else:
        starts, ends = ctx.attr("starts", None), ctx.attr("ends", None)
        axes, steps = ctx.attr("axes", None), None
    if starts is None or ends is None:
        if axes is not None:
            out = list(x)
            for a in axes:
                out[norm_axis(a, len(x))] = None
            ctx.set(0, out, ctx.dtype(0))
        else:
            ctx.set(0, (None,) * len(x), ctx.dtype(0))
        return
    axes = axes if axes is not None else list(range(len(starts)))
    steps = steps if steps is not None else [1] * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise ShapeError("starts/ends/axes/steps differ in length")
    out = list(x)
    slices = [slice(None)] * len(x)
    exact = True
    seen = set()
    for s, e, a, st in zip(starts, ends, axes, steps):
        a = norm_axis(a, len(x))
        if a in seen:
            raise ShapeError(f"axis {a} sliced twice")
        seen.add(a)
        if st == 0:
            raise ShapeError("slice step 0")
        d = x[a]
        if isinstance(d, int) and isinstance(s, int) and isinstance(e, int):
            size, s2, e2 = _clamp_slice(s, e, st, d)
            out[a] = size
            slices[a] = slice(s2, e2 if e2 >= 0 else None, st)
        else:
            exact = False
            out[a] = _slice_len(d, s, e, st)
    value = ctx.value(0)
    value = value[tuple(slices)] if value is not None and exact else None
    sym = None
    src = ctx.sym(0) if ctx.info(0).sym is not None else None
    if value is None and src is not None and len(x) == 1 and isinstance(x[0], int) and exact:
        sym = src[slices[0]]
    ctx.set(0, out, ctx.dtype(0), value, sym)


@register("Gather")
def gather(ctx):
    x, idx = ctx.shape(0), ctx.shape(1)
    if x is None or idx is None:
        return
    axis = norm_axis(ctx.attr("axis", 0), len(x))
    out = list(x[:axis]) + list(idx) + list(x[axis + 1:])
    iv = ctx.value(1)
    value = sym = None
    if iv is not None and iv.dtype.kind in "iu" and isinstance(x[axis], int):
        if np.any(iv < -x[axis]) or np.any(iv >= x[axis]):
            raise ShapeError(f"index out of range for axis of size {x[axis]}")
        if ctx.value(0) is not None and ctx.can_fold(shape_numel(out)):
            value = np.take(ctx.value(0), iv, axis=axis)
        elif len(x) == 1 and ctx.info(0).sym is not None and iv.ndim <= 1:
            src = ctx.info(0).sym
            sym = [src[int(i)] for i in iv.reshape(-1)]
    ctx.set(0, out, ctx.dtype(0), value, sym)


@register("GatherElements")
def gather_elements(ctx):
    ctx.set(0, ctx.shape(1), ctx.dtype(0))


@register("GatherND")
def gather_nd(ctx):
    x, idx = ctx.shape(0), ctx.shape(1)
    b = ctx.attr("batch_dims", 0)
    if x is None or idx is None or not idx or not isinstance(idx[-1], int):
        return
    if b + idx[-1] > len(x):
        raise ShapeError(f"indices of depth {idx[-1]} into a rank-{len(x)} tensor (batch_dims {b})")
    ctx.set(0, list(idx[:-1]) + list(x[b + idx[-1]:]), ctx.dtype(0))


def _expand_partial(x, n):
    """Expand to a shape of ``n`` unknown entries: where the input's dim is a number
    other than 1 the output keeps it (the target there must be 1 or that size); a
    symbol might be 1 and then the target decides."""
    r = max(n, len(x))
    xs = (1,) * (r - len(x)) + tuple(x)
    tail = r - n  # input axes the target does not reach keep their size
    return tuple(d if i < tail or (isinstance(d, int) and d != 1) else None for i, d in enumerate(xs))


@register("Expand")
def expand(ctx):
    dims = ctx.sym(1)
    x = ctx.shape(0)
    if dims is None:
        s = ctx.shape(1)
        if x is not None and s is not None and len(s) == 1 and isinstance(s[0], int) and 0 <= s[0] <= MAX_RANK:
            ctx.set(0, _expand_partial(x, s[0]), ctx.dtype(0))
        else:
            ctx.set(0, None, ctx.dtype(0))
        return
    if x is None:
        ctx.set(0, None, ctx.dtype(0))
        return
    # A None entry of the target: where the input's dim is not 1 it wins.
    target = list(dims)
    r = max(len(x), len(target))
    xs = (1,) * (r - len(x)) + tuple(x)
    ts = [1] * (r - len(target)) + target
    out = []
    for a, b in zip(xs, ts):
        if b is None:
            out.append(a if isinstance(a, int) and a != 1 else None)
        else:
            out.append(broadcast((a,), (b,))[0])
    value = None
    v = ctx.value(0)
    if v is not None and all(isinstance(d, int) for d in out) and ctx.can_fold(shape_numel(out)):
        value = np.broadcast_to(v, out).copy()
    ctx.set(0, out, ctx.dtype(0), value)


@register("Tile")
def tile(ctx):
    x = ctx.shape(0)
    reps = ctx.sym(1)
    if x is None:
        return
    if reps is None:
        ctx.set(0, (None,) * len(x), ctx.dtype(0))
        return
    if len(reps) != len(x):
        raise ShapeError("repeats length differs from the input rank")
    ctx.set(0, [dim_mul(d, r) for d, r in zip(x, reps)], ctx.dtype(0))


@register("Pad")
def pad(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    pads = ctx.sym(1) if ctx.has_input(1) else ctx.attr("pads", None)
    if pads is None:
        ctx.set(0, (None,) * len(x), ctx.dtype(0))
        return
    axes = ctx.ints(3) if ctx.has_input(3) else list(range(len(x)))
    if axes is None:
        ctx.set(0, (None,) * len(x), ctx.dtype(0))
        return
    axes = [norm_axis(a, len(x)) for a in axes]
    if len(pads) != 2 * len(axes):
        raise ShapeError(f"{len(pads)} pads for {len(axes)} axes")
    out = list(x)
    for i, a in enumerate(axes):
        out[a] = dim_add(out[a], dim_add(pads[i], pads[i + len(axes)]))
        if isinstance(out[a], int) and out[a] < 0:
            raise ShapeError("negative pads remove more than the axis holds")
    ctx.set(0, out, ctx.dtype(0))


def _resize_axes(ctx, r):
    axes = ctx.attr("axes", None)
    return [norm_axis(a, r) for a in axes] if axes else list(range(r))


@register("Resize", "Upsample")
def resize(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    r = len(x)
    if ctx.node.op_type == "Upsample":
        scales = ctx.value(1) if ctx.has_input(1) else np.array(ctx.attr("scales", []) or [], dtype=np.float32)
        sizes = None
        ax = list(range(r))
    else:
        ax = _resize_axes(ctx, r)
        sizes = ctx.sym(3) if ctx.has_input(3) else None
        scales = ctx.value(2) if ctx.has_input(2) and ctx.shape(2) not in ((0,),) else None
        if ctx.opset < 11 and ctx.has_input(1):  # Resize-10: (X, scales)
            scales = ctx.value(1)
    out = list(x)
    if sizes is not None:
        if len(sizes) != len(ax):
            raise ShapeError("sizes length differs from the number of axes")
        policy = ctx.attr("keep_aspect_ratio_policy", "stretch")
        if policy == "stretch":
            for a, s in zip(ax, sizes):
                out[a] = s
        else:
            # one scale for all axes: the smallest (not_larger) or largest (not_smaller) ratio
            if not all(isinstance(s, int) for s in sizes) or not all(isinstance(x[a], int) and x[a] > 0 for a in ax):
                for a in ax:
                    out[a] = None
            else:
                ratios = [s / x[a] for a, s in zip(ax, sizes)]
                scale = min(ratios) if policy == "not_larger" else max(ratios)
                for a in ax:
                    out[a] = int(np.round(scale * x[a]))
        ctx.set(0, out, ctx.dtype(0))
        return
    if scales is not None and scales.size:
        if scales.size != len(ax):
            raise ShapeError("scales length differs from the number of axes")
        for a, s in zip(ax, scales.reshape(-1)):
            d = x[a]
            if isinstance(d, int):
                out[a] = int(np.floor(d * np.float32(s))) if ctx.node.op_type == "Upsample" else int(np.floor(d * float(s)))
            elif float(s) == int(s) and s > 0:
                out[a] = dim_mul(d, int(s))
            else:
                out[a] = None
        ctx.set(0, out, ctx.dtype(0))
        return
    for a in ax:
        out[a] = None
    ctx.set(0, out, ctx.dtype(0))


@register("Range")
def range_op(ctx):
    dtype = ctx.dtype(0)
    s, l, d = ctx.value(0), ctx.value(1), ctx.value(2)
    if s is not None and l is not None and d is not None and s.size == l.size == d.size == 1:
        s0, l0, d0 = s.reshape(()).item(), l.reshape(()).item(), d.reshape(()).item()
        if d0 == 0:
            raise ShapeError("Range with delta 0")
        n = max(int(np.ceil((l0 - s0) / d0)), 0)
        if n > MAX_DIM:
            raise ShapeError("Range too long")
        value = np.arange(s0, l0, d0).astype(s.dtype) if ctx.can_fold(n) else None
        ctx.set(0, (n,), dtype, value)
        return
    start, limit, delta = scalar(ctx, 0), scalar(ctx, 1), scalar(ctx, 2)
    n = None
    if isinstance(delta, int) and delta > 0 and start is not None and limit is not None:
        span = dim_sub(limit, start)
        if nonneg(limit) and isinstance(start, int) and start <= 0:
            n = dim_ceildiv(span, delta)  # limit - start >= 0
        else:
            n = dim_max(dim_ceildiv(span, delta), 0)
    elif isinstance(delta, int) and delta < 0 and start is not None and limit is not None:
        n = dim_max(dim_ceildiv(dim_sub(start, limit), -delta), 0)
    if n is None:
        n = fresh(ctx, "len")
    ctx.set(0, (n,), dtype)


@register("EyeLike")
def eye_like(ctx):
    ctx.set(0, ctx.shape(0), ctx.attr("dtype", None) or ctx.dtype(0))


@register("RandomNormal", "RandomUniform")
def random_op(ctx):
    ctx.set(0, tuple(ctx.attr("shape", [])), ctx.attr("dtype", TensorProto.FLOAT))


@register("NonZero")
def nonzero(ctx):
    x = ctx.shape(0)
    v = ctx.value(0)
    if v is not None:
        ctx.set(0, (v.ndim, int(np.count_nonzero(v))), INT64)
        return
    ctx.set(0, (len(x) if x is not None else None, fresh(ctx, "count")), INT64)


@register("OneHot")
def one_hot(ctx):
    idx = ctx.shape(0)
    depth = ctx.value(1)
    dep = None
    if depth is not None and depth.size == 1:
        dep = int(depth.reshape(-1)[0])
        if dep < 0:
            raise ShapeError(f"depth {dep}")
    elif ctx.info(1).sym is not None:
        dep = scalar(ctx, 1)
    if idx is None:
        return
    r = len(idx) + 1
    axis = norm_axis(ctx.attr("axis", -1), r)
    out = list(idx)
    out.insert(axis, dep)
    ctx.set(0, out, ctx.dtype(2))


@register("Compress")
def compress(ctx):
    x = ctx.shape(0)
    cond = ctx.value(1)
    axis = ctx.attr("axis", None)
    if x is None:
        return
    if axis is None:
        n = _product(x)
        count = int(np.count_nonzero(cond.reshape(-1)[:n])) if cond is not None and isinstance(n, int) else fresh(ctx, "count")
        ctx.set(0, (count,), ctx.dtype(0))
        return
    a = norm_axis(axis, len(x))
    out = list(x)
    if cond is not None and isinstance(x[a], int):
        out[a] = int(np.count_nonzero(cond.reshape(-1)[: x[a]]))
    else:
        out[a] = fresh(ctx, "count")
    ctx.set(0, out, ctx.dtype(0))


@register("Unique")
def unique(ctx):
    x = ctx.shape(0)
    axis = ctx.attr("axis", None)
    u = fresh(ctx, "count")
    if x is not None and axis is not None:
        a = norm_axis(axis, len(x))
        out = list(x)
        out[a] = u
        n = x[a]
    else:
        out = [u] if x is not None or axis is None else None
        n = None if x is None else _product(x)
    ctx.set(0, out, ctx.dtype(0))
    ctx.set(1, (u,), INT64)
    ctx.set(2, (n,), INT64)
    ctx.set(3, (u,), INT64)


@register("CenterCropPad")
def center_crop_pad(ctx):
    x = ctx.shape(0)
    sizes = ctx.sym(1)
    if x is None:
        return
    axes = ctx.attr("axes", None)
    ax = [norm_axis(a, len(x)) for a in axes] if axes else list(range(len(x)))
    out = list(x)
    for i, a in enumerate(ax):
        out[a] = sizes[i] if sizes is not None and i < len(sizes) else None
    if sizes is not None and len(sizes) != len(ax):
        raise ShapeError(f"{len(sizes)} sizes for {len(ax)} axes")
    ctx.set(0, out, ctx.dtype(0))


@register("Col2Im")
def col2im(ctx):
    x = ctx.shape(0)
    image = ctx.sym(1)
    block = ctx.sym(2)
    if x is None or len(x) != 3:
        return
    n_sp = len(image) if image is not None else (len(block) if block is not None else None)
    if n_sp is None:
        s = ctx.shape(1)
        n_sp = s[0] if s is not None and len(s) == 1 and isinstance(s[0], int) and s[0] <= MAX_RANK else None
    c = None
    if block is not None and all(isinstance(b, int) and b > 0 for b in block):
        prod = 1
        for b in block:
            prod *= b
        c = dim_floordiv(x[1], prod)  # exact: the input's C * prod(block)
        if isinstance(x[1], int) and x[1] % prod:
            raise ShapeError(f"{x[1]} not divisible by the block size {prod}")
    if n_sp is None:
        ctx.set(0, None, ctx.dtype(0))
        return
    ctx.set(0, [x[0], c] + (list(image) if image is not None else [None] * n_sp), ctx.dtype(0))


@register("BitCast")
def bit_cast(ctx):
    ctx.set(0, ctx.shape(0), ctx.attr("to", None))


@register("TensorScatter")
def tensor_scatter(ctx):
    ctx.same_as_input(0, 0)
