"""Shape functions: convolutions, pooling, reductions, matrix products, Einsum; the other
layers are in ops_layers.py (importing this module registers them too)."""
from __future__ import annotations

import numpy as np

from analyzer.geometry import resolve_conv_pads, resolve_conv_transpose_pads
from analyzer.io.proto import TensorProto
from analyzer.shapes import ops_layers  # noqa: F401  (the rest of the family registers with this module)
from analyzer.shapes.dims import dim_add, dim_ceildiv, dim_mul, pool_out
from analyzer.shapes.ops_common import norm_axis, plain_shape
from analyzer.shapes.ops_elementwise import broadcast
from analyzer.shapes.registry import ShapeError, register

INT64 = TensorProto.INT64


def _conv_attrs(ctx):
    """(group, kernel_shape, pads, strides, dilations, auto_pad) of a Conv/ConvTranspose as
    written (None when absent; group 1, auto_pad NOTSET), each read once."""
    attr = ctx.attr
    return (attr("group", 1), attr("kernel_shape", None), attr("pads", None), attr("strides", None),
            attr("dilations", None), attr("auto_pad", "NOTSET"))  # fmt: skip


def conv_params(spatial_rank, strides, dilations):
    """Strides and dilations (attribute values or None) as lists, defaulted to 1s."""
    strides = list(strides or [1] * spatial_rank)
    dilations = list(dilations or [1] * spatial_rank)
    if len(strides) != spatial_rank or len(dilations) != spatial_rank:
        raise ShapeError("strides/dilations do not match the number of spatial axes")
    for v in strides + dilations:  # measured hot: loops, not any() over generators
        if v < 1:
            raise ShapeError("strides and dilations must be positive")
    return strides, dilations


def _int_list(name, v):
    """Raise unless attribute ``name``'s value ``v`` is absent or a list of ints."""
    if v is not None:
        if not isinstance(v, (list, tuple)):
            raise ShapeError(f"attribute {name} is not a list of integers")
        for i in v:
            if not isinstance(i, int):
                raise ShapeError(f"attribute {name} is not a list of integers")


def _check_conv_attrs(attrs, x, w, sr):
    """Attributes no runtime accepts: reported on the node (a note), not guessed around.
    Measured hot (every conv): loops, not any()/all() over generators."""
    group, ks, pads, strides, dilations, _ = attrs
    if not isinstance(group, int) or group < 1:
        raise ShapeError(f"group {group!r} must be a positive integer")
    if w is not None and len(w) != sr + 2:
        raise ShapeError(f"weight of rank {len(w)} for an input of rank {sr + 2}")
    _int_list("kernel_shape", ks)
    if ks is not None and w is not None:
        wk = w[2:]
        for d in wk:
            if not isinstance(d, int):
                break
        else:
            if list(ks) != list(wk):
                raise ShapeError(f"kernel_shape {list(ks)} disagrees with the weight's shape {list(w)}")
    if isinstance(x[1], int) and x[1] % group:
        raise ShapeError(f"{x[1]} input channels do not divide into group {group}")
    _int_list("pads", pads)
    if pads is not None:
        for p in pads:
            if p < 0:
                raise ShapeError(f"negative pads {list(pads)}")
    for name, v in (("strides", strides), ("dilations", dilations)):
        _int_list(name, v)
        if v is not None:
            for i in v:
                if i < 1:
                    raise ShapeError(f"{name} {list(v)} must be positive")


def _kernel_from_weight(ks, w, spatial_rank):
    """The kernel's spatial size: attribute ``ks``, else the weight's shape ``w``; None
    when not known as ints."""
    if ks is None and w is not None and len(w) == spatial_rank + 2:
        ks = list(w[2:])
    if ks is None or any(not isinstance(k, int) for k in ks):
        return None
    return list(ks)


def _conv_key(op, x, w, dtype, attrs):
    """What conv() computes its output from, as a memo key (see ops_common.plain_shape):
    None unless the shapes are plain, the dtype a plain int or None and every attribute
    a plain int, str or list of ints."""
    if not plain_shape(x) or not plain_shape(w) or (dtype is not None and dtype.__class__ is not int):
        return None
    group, ks, pads, strides, dilations, auto_pad = attrs
    if group.__class__ is not int or auto_pad.__class__ is not str:
        return None
    key = [op, x, w, dtype, group, auto_pad]
    for v in (ks, pads, strides, dilations):
        if v is not None:
            if v.__class__ is not list:
                return None
            for i in v:
                if i.__class__ is not int:
                    return None
            v = tuple(v)
        key.append(v)
    return tuple(key)


@register("Conv", "ConvInteger", "QLinearConv", "FusedConv", "DeformConv")
def conv(ctx):
    op = ctx.op.op_type
    x_i, w_i = (0, 3) if op == "QLinearConv" else (0, 1)
    x_info = ctx.info(x_i)
    x = x_info.shape
    w = ctx.shape(w_i)
    dtype = TensorProto.INT32 if op == "ConvInteger" else ctx.dtype(7) if op == "QLinearConv" else x_info.dtype
    if x is None:
        return
    sr = len(x) - 2
    if sr < 1:
        raise ShapeError(f"input of rank {len(x)}; a conv needs at least 3")
    attrs = _conv_attrs(ctx)
    # Convs of one network repeat the same shapes and attributes: the output computed
    # for one is the output of all (measured: a third of the time of a conv)
    key = _conv_key(op, x, w, dtype, attrs)
    memo = ctx.engine.memo
    if key is not None:
        out = memo.get(key)
        if out is not None:
            ctx.set(0, out, dtype)
            return
    out = _conv_out(x, w, sr, attrs)
    ctx.set(0, out, dtype)
    if key is not None:
        memo[key] = out


def _conv_out(x, w, sr, attrs):
    """conv()'s output shape (raises ShapeError on attributes no runtime accepts)."""
    _check_conv_attrs(attrs, x, w, sr)
    group, ks, pads, strides, dilations, auto_pad = attrs
    kernel = _kernel_from_weight(ks, w, sr)
    out_c = w[0] if w is not None and len(w) == sr + 2 else None
    if kernel is None:
        return (x[0], out_c) + (None,) * sr
    if len(kernel) != sr:
        raise ShapeError(f"kernel has {len(kernel)} spatial axes, input has {sr}")
    if w is not None and len(w) == sr + 2 and isinstance(w[1], int) and isinstance(x[1], int) and w[1] * group != x[1]:
        raise ShapeError(f"input has {x[1]} channels, weight expects {w[1]} x group {group}")
    strides, dilations = conv_params(sr, strides, dilations)
    begins, ends = resolve_conv_pads(auto_pad, x[2:], kernel, strides, dilations, pads)
    out = [x[0], out_c]
    for n, k, s, d, b, e in zip(x[2:], kernel, strides, dilations, begins, ends):
        out.append(pool_out(n, k, s, d, b, e) if b is not None else (_same_out(n, s)))
    return tuple(out)


def _same_out(n, s):
    """SAME_* output size: ceil(n / stride)."""
    return dim_ceildiv(n, s)


@register("ConvTranspose")
def conv_transpose(ctx):
    x, w = ctx.shape(0), ctx.shape(1)
    if x is None:
        return
    sr = len(x) - 2
    if sr < 1:
        raise ShapeError(f"input of rank {len(x)}; a conv needs at least 3")
    attrs = _conv_attrs(ctx)
    _check_conv_attrs(attrs, x, w, sr)
    group = attrs[0]
    kernel = _kernel_from_weight(attrs[1], w, sr)
    out_c = dim_mul(w[1], group) if w is not None and len(w) == sr + 2 else None
    if kernel is None:
        ctx.set(0, (x[0], out_c) + (None,) * sr, ctx.dtype(0))
        return
    strides, dilations = conv_params(sr, attrs[3], attrs[4])
    output_shape = ctx.attr("output_shape", None)
    output_padding = ctx.attr("output_padding", None)
    sizes = list(x[2:])
    if any(not isinstance(n, int) for n in sizes) and not output_shape:
        out = []
        pads = ctx.attr("pads", None) or [0] * (2 * sr)
        auto = ctx.attr("auto_pad", "NOTSET")
        op = output_padding or [0] * sr
        for ax, n in enumerate(sizes):
            if auto in ("SAME_UPPER", "SAME_LOWER"):
                out.append(dim_mul(n, strides[ax]))
            else:
                extra = op[ax] + (kernel[ax] - 1) * dilations[ax] + 1 - (0 if auto == "VALID" else pads[ax] + pads[ax + sr])
                out.append(dim_add(dim_mul(dim_add(n, -1), strides[ax]), extra))
        ctx.set(0, [x[0], out_c] + out, ctx.dtype(0))
        return
    _, _, outs = resolve_conv_transpose_pads(
        ctx.attr("auto_pad", "NOTSET"), sizes, kernel, strides, dilations, ctx.attr("pads", None), output_padding, output_shape
    )
    ctx.set(0, [x[0], out_c] + list(outs), ctx.dtype(0))


@register("MaxPool", "AveragePool", "LpPool")
def pool(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    sr = len(x) - 2
    kernel = ctx.attr("kernel_shape", None)
    if kernel is None or len(kernel) != sr:
        raise ShapeError("kernel_shape missing or of the wrong length")
    strides = list(ctx.attr("strides", None) or [1] * sr)
    dilations = list(ctx.attr("dilations", None) or [1] * sr)
    ceil_mode = bool(ctx.attr("ceil_mode", 0))
    begins, ends = resolve_conv_pads(ctx.attr("auto_pad", "NOTSET"), x[2:], kernel, strides, dilations, ctx.attr("pads", None))
    out = list(x[:2])
    for n, k, s, d, b, e in zip(x[2:], kernel, strides, dilations, begins, ends):
        if b is None:
            out.append(_same_out(n, s))
        else:
            out.append(pool_out(n, k, s, d, b, e, ceil_mode))
    ctx.set(0, out, ctx.dtype(0))
    ctx.set(1, out, INT64)


@register("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")
def global_pool(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    ctx.set(0, tuple(x[:2]) + (1,) * (len(x) - 2), ctx.dtype(0))


REDUCE_OPS = (
    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
    "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
)


def reduce_axes(ctx):
    """Axes of a Reduce*: input 1 (ReduceSum since opset 13, the others since 18) or attribute.
    Returns a list, [] for 'all axes', or None when not constant."""
    if ctx.has_input(1):
        return ctx.ints(1)
    return list(ctx.attr("axes", None) or [])


@register(*REDUCE_OPS)
def reduce(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    keep = ctx.attr("keepdims", 1)
    axes = reduce_axes(ctx)
    if axes is None:
        # Axes known only at run time: kept axes are 1 or unchanged, so a dim of 1 stays 1;
        # without keepdims the rank drops by the number of axes (when that is known).
        n = ctx.shape(1)
        if keep:
            out = tuple(1 if d == 1 else None for d in x)
        elif n is not None and len(n) == 1 and isinstance(n[0], int) and 0 < n[0] <= len(x):
            out = (None,) * (len(x) - n[0])
        else:
            out = None
        ctx.set(0, out, ctx.dtype(0))
        return
    if not axes:
        if ctx.attr("noop_with_empty_axes", 0) and ctx.has_input(1):
            ctx.same_as_input()
            return
        axes = list(range(len(x)))
    axes = {norm_axis(a, len(x)) for a in axes}
    out = [(1 if i in axes else d) for i, d in enumerate(x)] if keep else [d for i, d in enumerate(x) if i not in axes]
    value = None
    v = ctx.value(0)
    if v is not None and ctx.node.op_type in ("ReduceProd", "ReduceSum") or v is not None and v.size and ctx.node.op_type in ("ReduceMax", "ReduceMin"):
        fn = {"ReduceProd": np.prod, "ReduceSum": np.sum, "ReduceMax": np.max, "ReduceMin": np.min}[ctx.node.op_type]
        value = fn(v, axis=tuple(sorted(axes)), keepdims=bool(keep)).astype(v.dtype)
    ctx.set(0, out, ctx.dtype(0), value)


@register("ArgMax", "ArgMin")
def arg_reduce(ctx):
    x = ctx.shape(0)
    if x is None:
        return
    axis = norm_axis(ctx.attr("axis", 0), len(x))
    keep = ctx.attr("keepdims", 1)
    out = [(1 if i == axis else d) for i, d in enumerate(x)] if keep else [d for i, d in enumerate(x) if i != axis]
    ctx.set(0, out, INT64)


@register("MatMul", "MatMulInteger", "QLinearMatMul")
def matmul(ctx):
    op = ctx.node.op_type
    a_i, b_i = (0, 3) if op == "QLinearMatMul" else (0, 1)
    a, b = ctx.shape(a_i), ctx.shape(b_i)
    dtype = {"MatMulInteger": TensorProto.INT32, "QLinearMatMul": ctx.dtype(7)}.get(op, ctx.dtype(a_i))
    if a is None or b is None:
        return
    if len(a) == 0 or len(b) == 0:
        raise ShapeError("MatMul of a scalar")
    a1 = len(a) == 1
    b1 = len(b) == 1
    a2 = (1,) + tuple(a) if a1 else tuple(a)
    b2 = tuple(b) + (1,) if b1 else tuple(b)
    if isinstance(a2[-1], int) and isinstance(b2[-2], int) and a2[-1] != b2[-2]:
        raise ShapeError(f"inner dims differ: {a2[-1]} vs {b2[-2]}")
    batch = broadcast(a2[:-2], b2[:-2])
    out = list(batch) + ([] if a1 else [a2[-2]]) + ([] if b1 else [b2[-1]])
    ctx.set(0, out, dtype)


@register("Gemm")
def gemm(ctx):
    a, b = ctx.shape(0), ctx.shape(1)
    if a is None or b is None or len(a) != 2 or len(b) != 2:
        return
    m = a[1] if ctx.attr("transA", 0) else a[0]
    k1 = a[0] if ctx.attr("transA", 0) else a[1]
    k2 = b[1] if ctx.attr("transB", 0) else b[0]
    n = b[0] if ctx.attr("transB", 0) else b[1]
    if isinstance(k1, int) and isinstance(k2, int) and k1 != k2:
        raise ShapeError(f"inner dims differ: {k1} vs {k2}")
    ctx.set(0, (m, n), ctx.dtype(0))


def _parse_einsum_term(term):
    """('abc' letters with '.' standing for the ellipsis) -> list of labels, '...' once."""
    out = []
    i = 0
    while i < len(term):
        if term.startswith("...", i):
            out.append("...")
            i += 3
        elif term[i].isalpha():
            out.append(term[i])
            i += 1
        else:
            raise ShapeError(f"bad einsum term {term!r}")
    if out.count("...") > 1:
        raise ShapeError(f"two ellipses in einsum term {term!r}")
    return out


@register("Einsum")
def einsum(ctx):
    eq = str(ctx.attr("equation", "")).replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = [_parse_einsum_term(t) for t in lhs.split(",")]
    idx = [i for i in range(ctx.n_inputs) if ctx.has_input(i)]
    if len(terms) != len(idx):
        raise ShapeError(f"equation has {len(terms)} operands, the node {len(idx)}")
    letters: dict = {}
    ellipsis = ()
    ellipsis_known = True
    for term, i in zip(terms, idx):
        shape = ctx.shape(i)
        if shape is None:
            if "..." in term:
                ellipsis_known = False
            for lab in term:
                if lab != "...":
                    letters.setdefault(lab, None)
            continue
        n_fixed = len(term) - (1 if "..." in term else 0)
        n_ell = len(shape) - n_fixed
        if n_ell < 0 or (n_ell > 0 and "..." not in term):
            raise ShapeError(f"term {''.join(term)!r} does not fit a rank-{len(shape)} operand")
        pos = 0
        for lab in term:
            if lab == "...":
                ellipsis = broadcast(ellipsis, tuple(shape[pos:pos + n_ell]))
                pos += n_ell
                continue
            d = shape[pos]
            pos += 1
            old = letters.get(lab)
            if old is None or old == 1:
                letters[lab] = d if d is not None or old is None else old
            elif isinstance(old, int) and isinstance(d, int) and d not in (1, old):
                raise ShapeError(f"label {lab!r} has sizes {old} and {d}")
    if arrow:
        out_labels = _parse_einsum_term(rhs)
    else:
        counts: dict = {}
        for term in terms:
            for lab in term:
                counts[lab] = counts.get(lab, 0) + 1
        has_ell = any("..." in t for t in terms)
        out_labels = (["..."] if has_ell else []) + sorted(lab for lab, c in counts.items() if c == 1 and lab != "...")
    out = []
    for lab in out_labels:
        if lab == "...":
            if not ellipsis_known:
                ctx.set(0, None, ctx.dtype(idx[0]))
                return
            out.extend(ellipsis)
        else:
            if lab not in letters:
                raise ShapeError(f"output label {lab!r} is not an input label")
            out.append(letters[lab])
    ctx.set(0, out, ctx.dtype(idx[0]))
