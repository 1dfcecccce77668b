"""Shape functions: tensor manipulation and the shape sub-graphs exporters emit
(Shape -> Gather/Slice -> Concat -> Reshape), with constant propagation."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from .dims import MAX_DIM, MAX_RANK, dim_add, dim_mul, shape_numel
from .engine import ShapeError, register
from .ops_elementwise import broadcast
from .ops_nn import _norm_axis

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
    if all(d is not None for d in dims):
        ctx.set(0, (len(dims),), INT64, sym=dims)
    else:
        ctx.set(0, (len(dims),), INT64)


@register("Size")
def size_op(ctx):
    n = shape_numel(ctx.shape(0))
    ctx.set(0, (), INT64, None if n is None else np.array(n, dtype=np.int64))


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
    if n is not None and n <= 4096:
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
        if d == 0 and not allowzero:
            out[i] = x[i] if x is not None and i < len(x) else None
    if out.count(-1) > 1:
        raise ShapeError("more than one -1 in the Reshape target")
    if -1 in out:
        i = out.index(-1)
        total = shape_numel(x)
        rest = shape_numel([d for j, d in enumerate(out) if j != i])
        if total is not None and rest:
            if total % rest:
                raise ShapeError(f"cannot reshape {total} elements into {target}")
            out[i] = total // rest
        else:
            out[i] = _symbolic_rest(x, [d for j, d in enumerate(out) if j != i])
    total, new = shape_numel(x), shape_numel(out)
    if total is not None and new is not None and total != new:
        raise ShapeError(f"cannot reshape {tuple(x)} into {tuple(out)}")
    value = ctx.value(0)
    if value is not None and new is not None:
        value = value.reshape(out)
    sym = ctx.info(0).sym if len(out) == 1 and ctx.info(0).sym is not None else None
    ctx.set(0, out, ctx.dtype(0), value, sym)


def _symbolic_rest(x, others):
    """The -1 of a Reshape when sizes are symbolic: cancel the factors that appear
    on both sides (e.g. [N, C, H, W] -> [N, -1] gives C*H*W ... if C, H, W are known)."""
    if x is None or any(d is None for d in others):
        return None
    remaining = list(x)
    for d in others:
        if d in remaining:
            remaining.remove(d)
        elif isinstance(d, int):
            ints = [v for v in remaining if isinstance(v, int)]
            prod = int(np.prod(ints)) if ints else 1
            if d and prod % d == 0:
                remaining = [v for v in remaining if not isinstance(v, int)] + [prod // d]
            else:
                return None
        else:
            return None
    out = 1
    for d in remaining:
        out = dim_mul(out, d)
    return out


@register("Flatten")
def flatten(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    axis = ctx.attr("axis", 1)
    axis = axis + len(x) if axis < 0 else axis
    if not 0 <= axis <= len(x):
        raise ShapeError(f"axis {axis} out of range")
    a = 1
    for d in x[:axis]:
        a = dim_mul(a, d)
    b = 1
    for d in x[axis:]:
        b = dim_mul(b, d)
    ctx.set(0, (a, b), ctx.dtype(0))


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
    axes = {_norm_axis(a, len(x)) for a in axes}
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
    axes = sorted(_norm_axis(a, r) for a in axes)
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
    idx = [i for i in range(ctx.n_inputs) if ctx.has_input(i)]
    shapes = [ctx.shape(i) for i in idx]
    axis = ctx.attr("axis", 0)
    known = [s for s in shapes if s is not None]
    if not known:
        return
    r = len(known[0])
    if any(len(s) != r for s in known):
        raise ShapeError("inputs of different ranks")
    axis = _norm_axis(axis, r)
    out = []
    for ax in range(r):
        if ax == axis:
            total = 0
            for s in shapes:
                total = dim_add(total, s[ax]) if s is not None else None
            out.append(total)
        else:
            vals = [s[ax] for s in known]
            ints = {d for d in vals if isinstance(d, int)}
            if len(ints) > 1:
                raise ShapeError(f"inputs differ on axis {ax}: {sorted(ints)}")
            out.append(ints.pop() if ints else (vals[0] if all(v == vals[0] for v in vals) and len(known) == len(shapes) else None))
    values = [ctx.value(i) for i in idx]
    value = None
    if all(v is not None for v in values) and ctx.can_fold(sum(v.size for v in values)):
        value = np.concatenate(values, axis=axis)
    sym = None
    if value is None and r == 1 and len(known) == len(shapes) and all(isinstance(s[0], int) for s in shapes):
        if ctx.can_fold(sum(s[0] for s in shapes)):
            parts = [ctx.sym(i) for i in idx]
            if all(p is not None for p in parts):
                sym = [d for p in parts for d in p]
    ctx.set(0, out, ctx.dtype(idx[0]), value, sym)


@register("Split")
def split(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    axis = _norm_axis(ctx.attr("axis", 0), len(x))
    n = ctx.n_outputs
    sizes = ctx.ints(1) if ctx.has_input(1) else ctx.attr("split", None)
    if sizes is None and ctx.has_input(1):
        for i in range(n):
            out = list(x)
            out[axis] = None
            ctx.set(i, out, ctx.dtype(0))
        return
    d = x[axis]
    if sizes is None:
        num = ctx.attr("num_outputs", n)
        if isinstance(d, int):
            chunk = -(-d // num)
            sizes = [min(chunk, max(d - chunk * i, 0)) for i in range(n)]
            if ctx.attr("num_outputs", None) is None and d % n:
                raise ShapeError(f"axis of size {d} does not split evenly into {n}")
        else:
            sizes = [None] * n  # uneven splits of a symbolic size are not expressible here
    if isinstance(d, int) and all(isinstance(s, int) for s in sizes) and sum(sizes) != d:
        raise ShapeError(f"split sizes {sizes} do not add up to {d}")
    for i in range(n):
        out = list(x)
        out[axis] = sizes[i] if i < len(sizes) else None
        ctx.set(i, out, ctx.dtype(0))


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


@register("Slice")
def slice_op(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    if ctx.has_input(1):  # opset >= 10
        starts, ends = ctx.ints(1), ctx.ints(2)
        axes = ctx.ints(3) if ctx.has_input(3) else None
        steps = ctx.ints(4) if ctx.has_input(4) else None
        if ctx.has_input(3) and axes is None or ctx.has_input(4) and steps is None:
            starts = None
    else:
        starts, ends = ctx.attr("starts", None), ctx.attr("ends", None)
        axes, steps = ctx.attr("axes", None), None
    if starts is None or ends is None:
        if ctx.has_input(3) and ctx.ints(3) is not None:
            out = list(x)
            for a in ctx.ints(3):
                out[_norm_axis(a, len(x))] = None
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
    for s, e, a, st in zip(starts, ends, axes, steps):
        a = _norm_axis(a, len(x))
        if st == 0:
            raise ShapeError("slice step 0")
        d = x[a]
        if isinstance(d, int):
            size, s2, e2 = _clamp_slice(s, e, st, d)
            out[a] = size
            slices[a] = slice(s2, e2 if e2 >= 0 else None, st)
        else:
            exact = False
            if st == 1 and s >= 0 and e >= MAX_DIM // 2 ** 20:  # x[s:] of a symbolic dim
                out[a] = dim_add(d, -s) if s else d
            elif st == 1 and 0 <= s <= e < MAX_DIM // 2 ** 20:
                out[a] = None  # min(e, d) - s: depends on d
            else:
                out[a] = None
    value = ctx.value(0)
    value = value[tuple(slices)] if value is not None and exact else None
    sym = None
    src = ctx.info(0).sym
    if value is None and src is not None and len(x) == 1 and isinstance(x[0], int):
        sym = src[slices[0]] if isinstance(slices[0], slice) else None
    ctx.set(0, out, ctx.dtype(0), value, sym)


@register("Gather")
def gather(ctx):
    x, idx = ctx.shape(0), ctx.shape(1)
    if x is None or idx is None:
        return
    axis = _norm_axis(ctx.attr("axis", 0), len(x))
    out = list(x[:axis]) + list(idx) + list(x[axis + 1:])
    iv = ctx.value(1)
    value = sym = None
    if iv is not None and isinstance(x[axis], int):
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
    if x is None or idx is None or not isinstance(idx[-1], int):
        return
    ctx.set(0, list(idx[:-1]) + list(x[b + idx[-1]:]), ctx.dtype(0))


@register("Expand")
def expand(ctx):
    dims = ctx.sym(1)
    if dims is None:
        s = ctx.shape(1)
        x = ctx.shape(0)
        if s is not None and x is not None and len(s) == 1 and isinstance(s[0], int) and s[0] >= len(x):
            ctx.set(0, _unknown_dims(s), ctx.dtype(0))
        return
    out = broadcast(ctx.shape(0), tuple(dims))
    value = None
    v = ctx.value(0)
    if v is not None and out is not None and all(isinstance(d, int) for d in out) and shape_numel(out) <= 4096:
        value = np.broadcast_to(v, out).copy()
    ctx.set(0, out, ctx.dtype(0), value)


@register("Tile")
def tile(ctx):
    x, reps = ctx.shape(0), ctx.ints(1)
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
    pads = ctx.ints(1) if ctx.has_input(1) else ctx.attr("pads", None)
    if pads is None:
        ctx.set(0, (None,) * len(x), ctx.dtype(0))
        return
    axes = ctx.ints(3) if ctx.has_input(3) else list(range(len(x)))
    if axes is None:
        ctx.set(0, (None,) * len(x), ctx.dtype(0))
        return
    axes = [_norm_axis(a, len(x)) for a in axes]
    if len(pads) != 2 * len(axes):
        raise ShapeError(f"{len(pads)} pads for {len(axes)} axes")
    out = list(x)
    for i, a in enumerate(axes):
        out[a] = dim_add(out[a], pads[i] + pads[i + len(axes)])
        if isinstance(out[a], int) and out[a] < 0:
            raise ShapeError("negative pads remove more than the axis holds")
    ctx.set(0, out, ctx.dtype(0))


@register("Resize", "Upsample")
def resize(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    r = len(x)
    if ctx.node.op_type == "Upsample":
        scales = ctx.value(1) if ctx.has_input(1) else np.array(ctx.attr("scales", []) or [], dtype=np.float32)
        sizes = None
    else:
        sizes = ctx.ints(3) if ctx.has_input(3) else None
        scales = ctx.value(2) if ctx.has_input(2) and ctx.shape(2) not in ((0,),) else None
        if ctx.has_input(3) and sizes is None and ctx.info(3).sym is not None:
            sizes = ctx.sym(3)
    axes = ctx.attr("axes", None)
    if sizes is not None:
        out = list(x)
        ax = [_norm_axis(a, r) for a in axes] if axes else list(range(r))
        if len(sizes) != len(ax):
            raise ShapeError("sizes length differs from the number of axes")
        policy = ctx.attr("keep_aspect_ratio_policy", "stretch")
        if policy != "stretch":
            ctx.set(0, (None,) * r, ctx.dtype(0))
            return
        for a, s in zip(ax, sizes):
            out[a] = s
        ctx.set(0, out, ctx.dtype(0))
        return
    if scales is not None and scales.size:
        ax = [_norm_axis(a, r) for a in axes] if axes else list(range(r))
        if scales.size != len(ax):
            raise ShapeError("scales length differs from the number of axes")
        out = list(x)
        for a, s in zip(ax, scales.reshape(-1)):
            d = x[a]
            if isinstance(d, int):
                out[a] = int(np.floor(d * np.float32(s))) if ctx.node.op_type == "Upsample" else int(np.floor(d * float(s)))
            elif float(s) == int(s):
                out[a] = dim_mul(d, int(s))
            else:
                out[a] = None
        ctx.set(0, out, ctx.dtype(0))
        return
    ctx.set(0, (None,) * r, ctx.dtype(0))


@register("Range")
def range_op(ctx):
    s, l, d = ctx.value(0), ctx.value(1), ctx.value(2)
    dtype = ctx.dtype(0)
    if s is None or l is None or d is None:
        ctx.set(0, (None,), dtype)
        return
    s, l, d = s.reshape(()).item(), l.reshape(()).item(), d.reshape(()).item()
    if d == 0:
        raise ShapeError("Range with delta 0")
    n = max(int(np.ceil((l - s) / d)), 0)
    if n > MAX_DIM:
        raise ShapeError("Range too long")
    value = np.arange(s, l, d).astype(ctx.value(0).dtype) if n <= 4096 else None
    ctx.set(0, (n,), dtype, value)


@register("EyeLike")
def eye_like(ctx):
    ctx.set(0, ctx.shape(0), ctx.attr("dtype", None) or ctx.dtype(0))


@register("RandomNormal", "RandomUniform")
def random_op(ctx):
    ctx.set(0, tuple(ctx.attr("shape", [])), ctx.attr("dtype", TensorProto.FLOAT))


@register("NonZero")
def nonzero(ctx):
    x = ctx.shape(0)
    ctx.set(0, (len(x) if x is not None else None, None), INT64)


@register("OneHot")
def one_hot(ctx):
    idx = ctx.shape(0)
    depth = ctx.ints(1)
    if idx is None:
        return
    r = len(idx) + 1
    axis = _norm_axis(ctx.attr("axis", -1), r)
    out = list(idx)
    out.insert(axis, depth[0] if depth else None)
    ctx.set(0, out, ctx.dtype(2))


@register("Compress")
def compress(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    axis = ctx.attr("axis", None)
    if axis is None:
        ctx.set(0, (None,), ctx.dtype(0))
        return
    out = list(x)
    out[_norm_axis(axis, len(x))] = None
    ctx.set(0, out, ctx.dtype(0))
