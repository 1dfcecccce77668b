"""What the engine does where our shape functions know nothing: an op without a shape
function of ours takes the shape onnx's own inference gives for that output (the engine's
``onnx_types``, run in the sandbox, once and only if needed); an op unknown to onnx too
gets a note; and after propagation a dim still unknown takes the file's declaration
(value_info, graph output), marked as such.  Never a guess.
"""
from __future__ import annotations

from analyzer.graph.build import MAIN, Graph
from analyzer.io.load import shown
from analyzer.io.proto import has_schema
from analyzer.shapes.registry import TensorInfo, type_to_shape

__all__ = ["OnnxFallback", "fill_from_value_info", "unknown_dims_from"]


class OnnxFallback:
    """The engine's fallback methods (mixed into ``_Engine``, which provides
    ``onnx_types``, ``note``, ``record_unchecked``, ``store``, ``result``, ``opsets`` and ``_unknown_ops``)."""

    def fill_from_onnx(self, op, vkey, inf: TensorInfo):
        if op.graph != MAIN:
            return
        types = self.onnx_types()
        tp = types.get(vkey[2])
        if tp is None:
            return
        shape, dtype = type_to_shape(tp)
        if shape is None:
            return
        if inf.shape is not None and len(inf.shape) != len(shape):
            self.note(f"{op.graph}:{op.id}: rank {len(inf.shape)} here, onnx infers {len(shape)}")
            return
        shape = unknown_dims_from(inf.shape, shape)
        self.store(vkey, TensorInfo(shape, inf.dtype if inf.dtype is not None else dtype, inf.value, inf.sym, "onnx"))
        self.result.used_onnx_fallback = True

    def unknown_op(self, op):
        """An op we have no shape function for: onnx may know it (fallback); an op of a
        domain that no opset_import declares, or unknown to onnx, gets a note."""
        key = (op.domain, op.op_type)
        if key in self._unknown_ops:
            self._unknown_ops[key][0] += 1
            return
        known = False
        if op.domain in ("", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training"):
            try:
                known = has_schema(op.op_type, op.domain)
            except Exception:
                known = False
        self._unknown_ops[key] = [1, op, known]

    def unknown_op_notes(self):
        for (domain, op_type), (count, op, known) in sorted(self._unknown_ops.items(), key=lambda kv: (kv[1][1].graph, kv[1][1].index)):
            if known:
                continue
            where = f"domain {shown(domain)}" if domain else "the default domain"
            declared = "" if not domain or domain in self.opsets else f" (no opset_import declares {shown(domain)})"
            more = f" and {count - 1} more node(s)" if count > 1 else ""
            self.note(
                f"{op.graph}:{op.id} ({op_type}): operator {shown(op_type)} of {where} is unknown{declared}; "
                f"its outputs are not analyzed{more}"
            )
            qualified = f"{domain}.{op_type}" if domain else op_type
            self.record_unchecked(
                "unknown-op",
                f"operator {shown(qualified)} is unknown{declared}; the outputs of {shown(op.id)}{more} are not analyzed",
                op, reason="unknown operator", count=count,
            )  # fmt: skip


def unknown_dims_from(ours, theirs):
    """``ours`` with its unknown dims (or, if its rank is unknown, all of it) taken from
    ``theirs``, a shape of the same rank."""
    if ours is None:
        return theirs
    return tuple(b if a is None else a for a, b in zip(ours, theirs))


def fill_from_value_info(graph: Graph) -> None:
    """Where propagation (ours, then onnx's) left a dim or a whole shape unknown and the
    file declares one (value_info, graph output), take the declaration, marked with
    source "value_info": the file's claim, not a proof (the shape-declaration rule compares
    only proofs)."""
    nodes = graph.nx._node
    for attrs in nodes.values():
        vi = attrs.get("value_info")
        if vi is None:
            continue
        inf = attrs.get("info") or TensorInfo()
        if inf.dtype is not None and inf.shape is not None:
            for d in inf.shape:  # measured hot: TensorInfo.fully_known without its generator
                if d is None:
                    break
            else:
                continue
        if attrs.get("role") in ("input", "initializer"):
            continue
        shape, dtype = type_to_shape(vi)
        new_shape = inf.shape
        if shape is not None and (inf.shape is None or len(inf.shape) == len(shape)):
            new_shape = unknown_dims_from(inf.shape, shape)
        filled = new_shape != inf.shape
        new_dtype = inf.dtype if inf.dtype is not None else dtype
        if filled or new_dtype != inf.dtype:
            attrs["info"] = TensorInfo(new_shape, new_dtype, inf.value, inf.sym, "value_info" if filled else inf.source)
