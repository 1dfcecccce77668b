"""What the engine does where our shape functions know nothing: an op without a shape
function of ours takes the shape onnx's own inference gives for that output (the engine's
``onnx_types``, run in the sandbox, once and only if needed); an op unknown to onnx too
gets a note; and after propagation a dim still unknown takes the file's declaration
(value_info, graph output), marked as such.  Never a guess.

A declaration is never inference:

* onnx's inference runs on a copy without the file's declarations (``value_info`` and
  the graph outputs' shapes, in every body; :meth:`OnnxFallback.without_declarations`):
  given them, it repeats them.  The copy keeps the graph inputs' shapes and gets what we
  have proven so far (concrete dims and the inputs' own symbols) as ``value_info``.
  onnx's made-up ``unk__N`` dims are not taken (a placeholder, not a size).  A value is
  labelled ``onnx`` only where onnx actually gave it a dim or a rank we did not have.
* onnx is asked only about the outputs of ops without a shape function of ours (vendor
  ops, ZipMap, Gradient): where ours leaves a dim unknown, onnx's inference on the same
  copy never knew more over the corpus of ``bench/runtime_coverage.py`` (0 values of
  2053 models), and a run costs an onnx import and a fork (an unnamed ``?`` batch dim made
  every such model pay it).
* A node whose own shape function found it invalid (``ShapeError``) is not handed to
  onnx: its outputs are not filled, and the node is left out of the copy (onnx's
  inference may take its whole time limit on it, e.g. an Einsum term with two ellipses).
* A dim filled from a declaration after propagation is labelled ``value_info`` and is
  for display only: ``Shapes.info`` (what rules and analyses read) gives the proven info
  kept under the value's ``proven`` attribute, without the declared sizes.
"""
from __future__ import annotations

import re

from analyzer.graph.build import MAIN, Graph
from analyzer.io.load import shown, text
from analyzer.io.proto import ValueInfoProto, has_schema
from analyzer.shapes.registry import SHAPE_FUNCTIONS, TensorInfo, type_to_shape

__all__ = ["OnnxFallback", "fill_from_value_info", "unknown_dims_from"]


class OnnxFallback:
    """The engine's fallback methods (mixed into ``_Engine``, which provides
    ``onnx_types``, ``note``, ``record_unchecked``, ``store``, ``result``, ``opsets`` and ``_unknown_ops``)."""

    def fill_from_onnx(self, op, vkey, inf: TensorInfo):
        if op.graph != MAIN or op.index in self._withheld:
            return
        if (op.domain, op.op_type) in SHAPE_FUNCTIONS or self.graph.function_path(op.domain, op.op_type, op.overload) is not None:
            # Ours (or our analysis of the function's body) has the last word: onnx's
            # inference, on the same copy, never gave a dim ours lacked over the corpus of
            # bench/runtime_coverage.py, and each run costs an onnx import and a fork.
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
        kept = getattr(self, "_input_symbols", ())
        shape = tuple(None if isinstance(d, str) and d not in kept and _PLACEHOLDER.match(d) else d for d in shape)
        filled = unknown_dims_from(inf.shape, shape)
        new_dtype = inf.dtype if inf.dtype is not None else dtype
        if filled == inf.shape and new_dtype == inf.dtype:
            return  # onnx knows no more: the value keeps its own label
        # Only a dim (or a rank) onnx gave makes the value onnx's; a dtype alone does not.
        source = "onnx" if filled != inf.shape else inf.source
        self.store(vkey, TensorInfo(filled, new_dtype, inf.value, inf.sym, source))
        self.result.used_onnx_fallback = True

    def withhold_from_onnx(self, op):
        """``op`` is invalid by our own shape function: onnx's fallback is not asked
        about its outputs, and (main graph) leaves the node out of its copy."""
        if op.graph == MAIN:
            self._withheld.add(op.index)
        self.result.withheld_from_onnx.append(f"{op.graph}:{op.id}")

    def without_declarations(self, m):
        """``m`` (a copy of the model, changed in place and returned) without the file's
        declarations of computed values, without the nodes we found invalid, and with
        what we have proven so far as ``value_info``."""
        names = set()
        _strip_declarations(m.graph, names, top=True)
        if self._withheld:
            kept = [n for i, n in enumerate(m.graph.node) if i not in self._withheld]
            del m.graph.node[:]
            m.graph.node.extend(kept)
        produced = set()
        for n in m.graph.node:
            produced.update(n.output)
        nodes = self._nodes
        for name in produced:
            attrs = nodes.get(("value", MAIN, name))
            inf = attrs.get("info") if attrs is not None else None
            if inf is None or inf.source != "inferred" or inf.shape is None:
                continue
            vi = _proven_value_info(name, inf)
            if vi is not None:
                m.graph.value_info.append(vi)
        self._input_symbols = frozenset(names)  # an input's own unk__N is a real symbol
        return m

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


# onnx names every dim it cannot infer unk__N: a placeholder, not a size
_PLACEHOLDER = re.compile(r"unk__\d+\Z")
# symbols written into the copy for onnx: plain names (an expression would be an opaque
# dim_param to onnx, and come back as a symbol that only looks like ours)
_PLAIN_SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_.:]*\Z")


def _strip_declarations(g, input_symbols, top):
    """Delete ``value_info`` and the outputs' shapes of ``g`` and of every body in it;
    collect the main graph inputs' dim_params into ``input_symbols``."""
    stack = [(g, top)]
    while stack:
        g, top = stack.pop()
        del g.value_info[:]
        for o in g.output:
            if o.type.HasField("tensor_type"):
                o.type.tensor_type.ClearField("shape")
        if top:
            for vi in g.input:
                if vi.type.HasField("tensor_type"):
                    input_symbols.update(d.dim_param for d in vi.type.tensor_type.shape.dim if d.dim_param)
        for n in g.node:
            for a in n.attribute:
                if a.HasField("g"):
                    stack.append((a.g, False))
                stack.extend((sg, False) for sg in a.graphs)


def _proven_value_info(name, inf):
    """A ValueInfoProto stating what we proved of a value (unknown and expression dims
    left unset), or None when nothing is worth saying."""
    if inf.dtype is None:
        return None
    vi = ValueInfoProto()
    vi.name = name
    tt = vi.type.tensor_type
    tt.elem_type = int(inf.dtype)
    shape = tt.shape
    useful = False
    for d in inf.shape:
        dim = shape.dim.add()
        if d is None:
            continue
        if isinstance(d, str):
            if _PLAIN_SYMBOL.match(d):
                dim.dim_param = d
                useful = True
        else:
            dim.dim_value = int(d)
            useful = True
    return vi if useful or not inf.shape else None


def unknown_dims_from(ours, theirs):
    """``ours`` with its unknown dims (or, if its rank is unknown, all of it) taken from
    ``theirs``, a shape of the same rank."""
    if ours is None:
        return theirs
    return tuple(b if a is None else a for a, b in zip(ours, theirs))


def _declared(graph: Graph):
    """The attribute dicts of the values that may hold a declaration: build.py puts
    ``value_info`` on a graph's inputs and on the values its value_info and outputs name.
    Few of them (most large graphs declare little): looked up from the graphs (measured:
    the pass over every node's dict cost ~70 ms on a million-node chain that declares two);
    else that pass, in the graph's order."""
    nodes = graph.nx._node
    subs = graph.subgraphs.items()
    if any(sub is None for _, sub in subs):
        return nodes.values()
    n = 0
    for _, sub in subs:
        if sub.proto is not None:
            n += len(sub.input_keys) + len(sub.proto.value_info) + len(sub.proto.output)
    if 8 * n > len(nodes):
        return nodes.values()
    keys = {}  # (each value once)
    for path, sub in subs:
        proto = sub.proto
        if proto is None:  # a function: its inputs have no declaration
            continue
        keys.update(dict.fromkeys(sub.input_keys))
        for infos in (proto.value_info, proto.output):
            for vi in infos:
                name = vi.name
                keys[("value", path, name if name.__class__ is str else text(name))] = None
    return [attrs for attrs in map(nodes.get, keys) if attrs is not None]


def fill_from_value_info(graph: Graph) -> bool:
    """Where propagation (ours, then onnx's) left a dim or a whole shape unknown and the
    file declares one (value_info, graph output), take the declaration, marked with
    source "value_info": the file's claim, not a proof (the shape-declaration rule compares
    only proofs).  The info without the declared sizes stays under ``proven``, which is
    what ``Shapes.info`` gives rules and analyses.  Returns whether any value has one."""
    proven = False
    for attrs in _declared(graph):
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
        if filled:
            # the declared sizes are for display; rules read what is proven (Shapes.info)
            attrs["proven"] = TensorInfo(inf.shape, new_dtype, inf.value, inf.sym, inf.source)
            proven = True
        if filled or new_dtype != inf.dtype:
            attrs["info"] = TensorInfo(new_shape, new_dtype, inf.value, inf.sym, "value_info" if filled else inf.source)
    return proven
