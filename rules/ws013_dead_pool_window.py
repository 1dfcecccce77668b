"""WS013 dead-pool-window: pooling window positions that only ever see padding, and pools that are global pools in disguise.

## What it does
For every MaxPool, AveragePool and LpPool whose input size is known, works out from the
input's spatial size, kernel, strides, dilations, pads (explicit, ``auto_pad``) and
``ceil_mode`` which kernel positions of the window ever read real input, with the same tap
arithmetic DT001 uses for convs (``analyzer.geometry``).  A kernel position that reads
padding at every output position is dead; the rule reports each pool that has one.

It also reports (severity info) a pool whose single window per axis covers the whole input:
a global pool in disguise (``GlobalMaxPool`` / ``GlobalAveragePool`` / ``GlobalLpPool``).

## Why is this bad?
Dead window positions are work a naive implementation does for nothing (pools have no
weights, so the waste is the multiply-accumulates / comparisons of those positions), and
they hide what the layer computes: a 5x5 max pool on a 2x2 map with pads 2 is a 3x3 one.
A pool that covers its whole input is clearer, and cheaper to dispatch, as a global pool.

## Example
```
y = MaxPool(x[N, C, 2, 2], kernel_shape=[5, 5], pads=[2, 2, 2, 2])   # 1 output per position
```
Rows and columns 0 and 4 of the window only read padding: 16 of 25 positions are dead;
the same output as ``MaxPool(kernel_shape=[3, 3], pads=[1, 1, 1, 1])``.

## How to fix
``onnxlint fix`` rewrites the pool with its live window positions only (per axis the live
positions become the kernel, dilation times their spacing; pads shrink by what was dropped;
``ceil_mode`` and ``auto_pad`` become explicit pads), which is exact for:

* MaxPool: padding is -inf, it never wins a max (the Indices output, when used, is refused);
* AveragePool with ``count_include_pad=0``: padding is neither summed nor counted;
* LpPool: padding is zero and adds ``|0|^p = 0`` to the sum.

AveragePool with ``count_include_pad=1`` has **no safe rewrite**: the dead positions add
zeros but count in the divisor, so a smaller kernel divides by less and changes every value
(it is refused, with that reason).  A global pool in disguise becomes the global op when that
is exact (MaxPool, LpPool, AveragePool without padding or with ``count_include_pad=0``).
Refused too: an effective pad not smaller than the new kernel (onnxruntime rejects such a
pool), negative effective pads, live positions not evenly spaced, a dilation the opset does
not allow, nodes outside the main graph.

## Details
``kernel_shape``, ``input_spatial_shape``, ``output_spatial_shape``, ``strides``,
``dilations``, ``pads`` (resolved, ONNX layout), ``ceil_extra`` (end padding ceil_mode adds),
``count_include_pad`` (AveragePool), ``live_taps_per_axis``, ``dead_taps`` (count of dead
window positions), ``total_taps``, ``dead_positions`` (dead window reads over the whole
output), ``effective_kernel_shape``, ``effective_dilations``, ``effective_pads``,
``global_pool`` (the window covers the whole input), ``exact_rewrite`` (``smaller-kernel``,
``global``, or null) and ``why_not`` (the reason there is none).
"""
from __future__ import annotations

CODE = "WS013"
NAME = "dead-pool-window"
SEVERITY = "warning"

_GLOBAL = {"MaxPool": "GlobalMaxPool", "AveragePool": "GlobalAveragePool", "LpPool": "GlobalLpPool"}


def _fmt(dims) -> str:
    return "x".join(map(str, dims))


def check(model, options=None):
    from analyzer.findings import Finding
    from rules._waste_graph import op_types
    from rules._waste_pools import POOLS, NotChecked, pool_taps

    if op_types(model).isdisjoint(POOLS):
        return  # no pooling op: no pass over the nodes
    for op in model.graph.all_ops():
        if op.op_type not in POOLS or op.domain not in ("", "ai.onnx"):
            continue
        try:
            pt = pool_taps(model, op)
        except NotChecked:
            continue
        dead = pt.taps.has_dead
        is_global = pt.global_window
        if not dead and not is_global:
            continue
        exact, why_not = _exact_rewrite(model, pt, is_global)
        taps = pt.taps
        details = {
            "kernel_shape": list(pt.kernel),
            "input_spatial_shape": list(pt.spatial),
            "output_spatial_shape": list(pt.out_spatial),
            "strides": list(pt.strides),
            "dilations": list(pt.dilations),
            "pads": [*pt.pads_begin, *pt.pads_end],
            "ceil_extra": list(pt.ceil_extra),
            "live_taps_per_axis": [list(a.live) for a in taps.axes],
            "dead_taps": taps.dead_count,
            "total_taps": taps.total_taps,
            "dead_positions": pt.dead_positions,
            "effective_kernel_shape": list(taps.effective_kernel_shape),
            "effective_dilations": list(taps.effective_dilations),
            "effective_pads": list(taps.effective_pads),
            "global_pool": is_global,
            "exact_rewrite": exact,
            "why_not": why_not,
        }
        if op.op_type == "AveragePool":
            details["count_include_pad"] = int(op.attr("count_include_pad", 0) or 0)
        parts = []
        if dead:
            parts.append(f"{taps.dead_count} of {taps.total_taps} window positions only read padding "
                         f"(same window as a {_fmt(taps.effective_kernel_shape)} kernel with pads {list(taps.effective_pads)})")  # fmt: skip
        if is_global:
            parts.append(f"the window covers the whole input: a {_GLOBAL[op.op_type]} in disguise")
        tail = f"; {why_not}" if exact is None and why_not else ""
        message = f"{_fmt(pt.kernel)} {op.op_type} window on a {_fmt(pt.spatial)} input: " + "; ".join(parts) + tail
        yield Finding(
            rule=CODE, name=NAME, severity=SEVERITY if dead else "info", node=op.id, node_index=op.index,
            graph=op.graph, op_type=op.op_type, message=message, details=details,
            waste={"weights": 0, "bytes": 0, "macs": pt.dead_positions},
        )  # fmt: skip


def _is_read(model, key) -> bool:
    """Whether value ``key`` is read: by a node, a subgraph, or as an output of its graph."""
    if key is None:
        return False
    return bool(model.graph.nx.succ[key]) or key in model.graph.subgraphs[key[1]].output_keys


def _exact_rewrite(model, pt, is_global):
    """``(kind, None)`` of the exact rewrite, or ``(None, why there is none)``."""
    op = pt.op
    padded = any(pt.pads_begin) or any(pt.pads_end) or any(pt.ceil_extra)
    cip = op.op_type == "AveragePool" and int(op.attr("count_include_pad", 0) or 0) == 1
    if op.op_type == "MaxPool" and len(op.outputs) > 1 and _is_read(model, op.outputs[1]):
        return None, "its Indices output is read (kept as it is)"
    if is_global and not (cip and padded):
        return "global", None
    if cip:
        return None, "no safe rewrite: count_include_pad=1 counts the dead positions in the divisor"
    for a in pt.taps.axes:
        live = list(a.live)
        if not live:
            return None, "a window axis never reads input"
        if len({b - c for b, c in zip(live[1:], live)}) > 1:
            return None, f"live window positions {live} are not evenly spaced"
    return "smaller-kernel", None


# --------------------------------------------------------------------------- fix


def fix_findings(rw, findings) -> None:
    """One Change per finding: the pool with its live window positions only, or the global
    pool it is (see the docstring); refused when no exact rewrite exists."""
    from analyzer.fix.records import fix_each

    fix_each(rw, CODE, findings, _fix_one)


def _fix_one(rw, f):
    from onnx import helper

    from analyzer.fix.records import Change, Refused
    from rules._waste_pools import NotChecked, opset_of, pool_taps, replace_node

    op = rw.main_op(f)
    if op is None:
        raise Refused(f"inside {f.graph}: only main-graph nodes are rewritten")
    if op.index in rw.removed_nodes:
        raise Refused("the node was already rewritten by another fix")
    try:
        pt = pool_taps(rw.am, op)
    except NotChecked as e:
        raise Refused(f"not analyzable: {e}") from None
    exact, why_not = _exact_rewrite(rw.am, pt, pt.global_window)
    if exact is None:
        raise Refused(why_not)
    node = op.proto
    outputs = [o for o in node.output]
    if exact == "global":
        attrs = {"p": int(op.attr("p", 2))} if op.op_type == "LpPool" else {}
        new = helper.make_node(_GLOBAL[op.op_type], [node.input[0]], outputs[:1], name=node.name, **attrs)
        before = {"op_type": op.op_type, "kernel_shape": list(pt.kernel)}
        after = {"op_type": new.op_type}
    else:
        kernel, dilations, begins, ends = [], [], [], []
        for a, extra in zip(pt.taps.axes, pt.ceil_extra):
            live = list(a.live)
            step = live[1] - live[0] if len(live) > 1 else 1
            first, last = live[0], live[-1]
            kernel.append(len(live))
            dilations.append(a.dilation * step if len(live) > 1 else 1)
            begins.append(a.pad_begin - first * a.dilation)
            ends.append(a.pad_end - (a.kernel - 1 - last) * a.dilation)
        pads = begins + ends
        if any(p < 0 for p in pads):
            raise Refused(f"effective pads {pads} are negative: the smaller pool would have to crop its input")
        if any(b >= k or e >= k for b, e, k in zip(begins, ends, kernel)):
            raise Refused(f"effective pads {pads} are not smaller than the kernel {kernel} (onnxruntime refuses such a pool)")
        min_opset = {"MaxPool": 10, "AveragePool": 19, "LpPool": 18}[op.op_type]
        if any(d != 1 for d in dilations) and opset_of(rw.model) < min_opset:
            raise Refused(f"dilations {dilations} need {op.op_type} opset {min_opset}")
        attrs = {"kernel_shape": kernel, "strides": list(pt.strides), "pads": pads}
        if any(d != 1 for d in dilations) or op.attr("dilations", None) is not None:
            attrs["dilations"] = dilations
        for name in ("count_include_pad", "p", "storage_order"):
            if op.attr(name, None) is not None:
                attrs[name] = op.attr(name)
        new = helper.make_node(op.op_type, list(node.input), outputs, name=node.name, **attrs)
        before = {"kernel_shape": list(pt.kernel), "dilations": list(pt.dilations), "pads": [*pt.pads_begin, *pt.pads_end],
                  "ceil_mode": int(op.attr("ceil_mode", 0) or 0)}  # fmt: skip
        after = {"kernel_shape": kernel, "dilations": dilations, "pads": pads, "ceil_mode": 0}
    new.domain = node.domain
    replace_node(rw, op.index, new)
    rw.changes.append(Change(CODE, f.node, f.op_type, "fixed", before=before, after=after, render=_render))


def _render(c, esc) -> str:
    if "op_type" in c.after:
        return f"{c.op_type} {'x'.join(map(str, c.before['kernel_shape']))} -> {c.after['op_type']}"
    k0 = "x".join(map(str, c.before["kernel_shape"]))
    k1 = "x".join(map(str, c.after["kernel_shape"]))
    return f"{c.op_type} {k0} pads {c.before['pads']} -> {k1} dilations {c.after['dilations']} pads {c.after['pads']}"
