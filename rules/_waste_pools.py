"""Helpers shared by the waste rules WS013-WS015 (not a rule: the name starts with ``_``).

* :func:`pool_taps`: the window geometry of a MaxPool / AveragePool / LpPool at the analyzed
  size, through :mod:`analyzer.geometry` (the same tap arithmetic as DT001's convs).  A
  ``ceil_mode`` pool's extra output positions read past the end padding: they are expressed
  as extra end padding (the smallest amount that gives the output size the shape engine
  computed), so the tap analysis and a rewrite with ``ceil_mode=0`` see the same windows.
* :func:`window_reads`: which positions of one axis a strided window ever reads.
* :func:`only_initializers_of`: initializers read by the given nodes and nothing else
  (what pruning those nodes takes out of the parameter count).
* :func:`replace_node`: swap a node for a new proto through the Rewriter.

Nothing here imports onnx or numpy at module level.
"""
from __future__ import annotations

from analyzer.common import element_count

from dataclasses import dataclass

__all__ = [
    "MAX_AXIS",
    "POOLS",
    "NotChecked",
    "PoolTaps",
    "only_initializers_of",
    "opset_of",
    "pool_taps",
    "replace_node",
    "stored_bytes",
    "window_reads",
]  # fmt: skip

POOLS = ("MaxPool", "AveragePool", "LpPool")
MAX_AXIS = 1 << 16  # a spatial axis longer than this is not walked position by position

# onnx TensorProto data type -> bits per element (4-bit types two to a byte)
_BITS = {1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 9: 8, 10: 16, 11: 64, 12: 32, 13: 64, 14: 64, 15: 128, 16: 16,
         17: 8, 18: 8, 19: 8, 20: 8, 21: 4, 22: 4, 23: 4, 24: 8, 25: 2, 26: 2}  # fmt: skip


class NotChecked(Exception):
    """The node's geometry cannot be decided statically."""


@dataclass(frozen=True)
class PoolTaps:
    op: object
    spatial: tuple  # input spatial size
    out_spatial: tuple
    kernel: tuple
    strides: tuple
    dilations: tuple
    pads_begin: tuple  # resolved (auto_pad)
    pads_end: tuple  # resolved, without the ceil_mode extension
    ceil_extra: tuple  # end padding that ceil_mode adds per axis
    taps: object  # analyzer.geometry.TapAnalysis (end pads include ceil_extra)
    out_shape: tuple  # the whole output shape (static)

    @property
    def global_window(self) -> bool:
        """Whether the pool is a global pool in disguise: one output position per axis whose
        window reads every input position."""
        if any(o != 1 for o in self.out_spatial) or all(k == 1 for k in self.kernel):
            return False
        for n, k, d, b in zip(self.spatial, self.kernel, self.dilations, self.pads_begin):
            read = {j * d - b for j in range(k)}
            if any(i not in read for i in range(n)):
                return False
        return True

    @property
    def dead_positions(self) -> int:
        """Window positions (over the whole output, batch and channels included) that only read padding."""
        from analyzer.common import COUNT_CAP, element_count

        return min(element_count(self.out_shape) * self.taps.dead_count, COUNT_CAP)


def _ints(attr, name, n, default):
    v = attr(name, None)
    if v is None:
        return tuple(default)
    if not isinstance(v, (list, tuple)) or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        raise NotChecked(f"attribute {name} is not a list of integers")
    if n is not None and len(v) != n:
        raise NotChecked(f"attribute {name} has {len(v)} values, expected {n}")
    return tuple(int(x) for x in v)


def pool_taps(model, op) -> PoolTaps:
    """The window geometry of pool ``op`` at the analyzed size (NotChecked if unknown)."""
    from analyzer.geometry import (
        GeometryError,
        analyze_taps,
        conv_output_size,
        resolve_conv_pads,
    )

    if op.op_type not in POOLS or op.domain not in ("", "ai.onnx") or not op.inputs or op.inputs[0] is None:
        raise NotChecked("not a pool")
    x = model.shape(op.inputs[0])
    y = model.shape(op.outputs[0]) if op.outputs and op.outputs[0] is not None else None
    if x is None or y is None or len(x) < 3 or len(y) != len(x):
        raise NotChecked("input or output rank unknown")
    if not all(isinstance(d, int) for d in x) or not all(isinstance(d, int) for d in y):
        raise NotChecked("input or output size not static")
    sr = len(x) - 2
    spatial, out_spatial = tuple(x[2:]), tuple(y[2:])
    if any(n < 1 or n > MAX_AXIS for n in spatial):
        raise NotChecked("spatial size out of range")
    kernel = _ints(op.attr, "kernel_shape", sr, ())
    if len(kernel) != sr:
        raise NotChecked("kernel_shape missing")
    strides = _ints(op.attr, "strides", sr, [1] * sr)
    dilations = _ints(op.attr, "dilations", sr, [1] * sr)
    pads = _ints(op.attr, "pads", 2 * sr, [0] * (2 * sr))
    auto_pad = op.attr("auto_pad", "NOTSET") or "NOTSET"
    ceil_mode = int(op.attr("ceil_mode", 0) or 0)
    try:
        begins, ends = resolve_conv_pads(auto_pad, spatial, kernel, strides, dilations, pads)
        extra = []
        for n, k, s, d, b, e, o in zip(spatial, kernel, strides, dilations, begins, ends, out_spatial):
            if k < 1 or s < 1 or d < 1 or b is None or b < 0 or e < 0 or k > MAX_AXIS:
                raise NotChecked("pool attributes out of range")
            options = range(s) if ceil_mode else range(1)
            found = next((x for x in options if conv_output_size(n, k, s, d, b, e + x) == o), None)
            if found is None:
                raise NotChecked(f"output size {o} does not follow from the window geometry")
            extra.append(found)
        taps = analyze_taps(spatial, kernel, strides, dilations, begins, [e + x for e, x in zip(ends, extra)])
    except GeometryError as e:
        raise NotChecked(str(e)) from None
    return PoolTaps(op, spatial, out_spatial, kernel, strides, dilations, tuple(begins), tuple(ends), tuple(extra), taps,
                    tuple(y))  # fmt: skip


def window_reads(n: int, out: int, k: int, stride: int, dilation: int, pad_begin: int) -> list:
    """Sorted positions in ``[0, n)`` that some window tap reads: ``o * stride - pad_begin +
    j * dilation`` for ``o < out``, ``j < k``."""
    read = set()
    for o in range(out):
        start = o * stride - pad_begin
        for j in range(k):
            i = start + j * dilation
            if 0 <= i < n:
                read.add(i)
    return sorted(read)


def stored_bytes(n: int, data_type) -> int | None:
    if not data_type:
        return None
    return (n * _BITS.get(int(data_type), 32) + 7) // 8


def only_initializers_of(model, ops) -> list:
    """``(name, elements, bytes)`` of the main-graph initializers read by ``ops`` and by
    nothing else (not graph inputs, not graph outputs): what pruning ``ops`` removes."""

    keys = {op.key for op in ops}
    g = model.graph
    outputs = {o.name for o in model.model.graph.output}
    inputs = {i.name for i in model.model.graph.input}
    protos = {t.name: t for t in model.model.graph.initializer}
    found, seen = [], set()
    for op in ops:
        for k in op.inputs:
            if k is None or k in seen or not g.is_initializer(k) or k[1] != "main":
                continue
            seen.add(k)
            name = k[2]
            if name in outputs or name in inputs or name not in protos:
                continue
            if any(user.key not in keys for user, _pos in g.consumers(k)):
                continue
            t = protos[name]
            n = element_count(t.dims)
            found.append((name, n, stored_bytes(n, t.data_type) or 0))
    return found


def replace_node(rw, index: int, proto) -> None:
    """Node ``index`` of the main graph becomes ``proto`` (applied by ``rw.apply``)."""
    rw.removed_nodes.add(index)
    rw.new_nodes.setdefault(index, []).append(proto)


def opset_of(model_proto, domain: str = "") -> int:
    for o in model_proto.opset_import:
        if o.domain in (domain, "ai.onnx" if domain == "" else domain):
            return int(o.version)
    return 0
