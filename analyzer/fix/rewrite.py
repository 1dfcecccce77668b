"""The toolkit behind ``onnxlint fix``: a :class:`Rewriter` that the rules' fixes edit a
model through, then apply in one pass.

A rule that can fix its findings defines ``fix_findings(rewriter, findings)``; ``fix`` runs
the selected rules' hooks in registry order on one Rewriter (a later rule sees what an
earlier one did: ``rewriter.changes``, ``rewriter.conv_states``), then :meth:`Rewriter.apply`
writes every edit and prunes what lost its last reader.  A fix edits through the Rewriter,
never the model's lists directly, so that node indices stay valid until ``apply``:

* ``initializer(name)`` reads a weight (Refused unless a plain initializer);
  ``replace_initializer`` / ``new_initializer`` set values (and keep external storage);
* ``rewrite_conv(index, state)`` rewrites a conv node in place (:mod:`analyzer.fix.convs`);
* ``new_nodes[index]`` inserts nodes before node ``index``; ``removed_nodes`` drops nodes;
* ``orphans`` lists names that may have lost their last reader (pruned if so);
* ``names.fresh(base)`` is a tensor / node name that collides with nothing;
* ``readers`` counts each name's readers; ``changes`` collects the :class:`Change` records.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, helper, numpy_helper

from analyzer.fix.convs import ConvState, write_conv
from analyzer.fix.records import Change, Refused, RewriteResult
from analyzer.fix.walk import iter_graphs, readers
from analyzer.io.load import read_tensor

__all__ = [
    "Change", "ConvState", "Names", "Refused", "RewriteResult", "Rewriter", "count_params", "iter_graphs",
    "readers", "replace_nodes", "rewrite_model",
]  # fmt: skip

MAX_WEIGHT_ELEMENTS = 1 << 34  # read weights of any realistic size


def count_params(model: onnx.ModelProto) -> tuple[int, int]:
    """(elements, bytes) of every initializer in every graph (from dims, data not read);
    bytes in the stored dtype: an int8 weight is one byte an element, a packed int4 one
    half (:func:`analyzer.io.tensors.expected_nbytes`)."""
    from analyzer.io.tensors import expected_nbytes

    n = nbytes = 0
    for init in _iter_initializers(model):
        size = int(np.prod(init.dims, dtype=np.int64)) if len(init.dims) else 1
        n += size
        b = expected_nbytes(init)
        nbytes += b if b is not None and b > 0 else 0
    return n, nbytes


def _iter_initializers(model):
    for g in iter_graphs(model):
        yield from g.initializer


class Names:
    """Fresh tensor / node names that collide with nothing in the model."""

    def __init__(self, model):
        self.taken = set()
        for g in iter_graphs(model):
            self.taken.update(n.name for n in g.node)
            self.taken.update(o for n in g.node for o in n.output)
            self.taken.update(i.name for i in g.input)
            self.taken.update(i.name for i in g.initializer)

    def fresh(self, base: str) -> str:
        name, i = base, 1
        while name in self.taken:
            i += 1
            name = f"{base}_{i}"
        self.taken.add(name)
        return name


def replace_nodes(g, nodes):
    """Set ``g.node`` to ``nodes`` (copied first: they may be elements of ``g.node`` itself)."""
    copies = []
    for n in nodes:
        c = onnx.NodeProto()
        c.CopyFrom(n)
        copies.append(c)
    del g.node[:]
    g.node.extend(copies)


class Rewriter:
    """Edits of one analyzed model (``am``, an AnalyzedModel), for the rules in ``codes``."""

    def __init__(self, am, codes):
        self.am = am
        self.model = am.model
        self.codes = set(codes)
        g = self.model.graph
        self.init_index = {t.name: i for i, t in enumerate(g.initializer)}
        self.graph_inputs = {i.name for i in g.input}
        self.readers = readers(self.model)
        self.ops_by_id = {op.id: op for op in am.graph.topological_order("main")}
        self.conv_states: dict[int, ConvState] = {}  # node index -> the conv it becomes
        self.replaced: dict[str, np.ndarray] = {}  # initializer name -> new value
        self.externalize: set = set()
        self.removed_nodes: set = set()
        self.new_nodes: dict[int, list] = {}  # node index -> nodes inserted before it
        self.orphans: list = []  # names that may have lost their last reader
        self.names = Names(self.model)
        self.changes: list = []

    # -- reading -------------------------------------------------------
    def main_op(self, finding):
        """The graph op of a finding's node, or None when it is not in the main graph."""
        if finding.graph != "main":
            return None
        return self.am.graph.ops.get(("op", "main", finding.node_index))

    def initializer(self, name, what="weight"):
        """``(values, stored externally)`` of initializer ``name``; Refused when ``name``
        is anything else (a graph input, a sparse initializer, a node's output)."""
        if name not in self.init_index:
            sparse = {t.values.name for t in self.model.graph.sparse_initializer}
            src = "a graph input" if name in self.graph_inputs else "a sparse initializer" if name in sparse else "computed by a node"
            raise Refused(f"{what} {name!r} is not an initializer ({src})")
        if name in self.graph_inputs:
            raise Refused(f"{what} {name!r} is also a graph input (it can be overridden at run time)")
        proto = self.model.graph.initializer[self.init_index[name]]
        arr = read_tensor(self.am.loaded, proto, max_elements=MAX_WEIGHT_ELEMENTS)
        if arr is None:
            raise Refused(f"{what} {name!r}: its data cannot be read")
        return arr, proto.data_location == TensorProto.EXTERNAL

    # -- editing -------------------------------------------------------
    def replace_initializer(self, name, arr, external):
        """Give initializer ``name`` new values (written by ``apply``)."""
        self.replaced[name] = arr
        if external:
            self.externalize.add(name)

    def new_initializer(self, name, arr, external):
        self.model.graph.initializer.append(numpy_helper.from_array(arr, name))
        self.init_index[name] = len(self.model.graph.initializer) - 1
        if external:
            self.externalize.add(name)

    def rewrite_conv(self, index, state: ConvState):
        """Node ``index`` becomes the conv ``state`` (its weight takes ``state.weight``)."""
        self.conv_states[index] = state
        self.replace_initializer(state.weight_name, state.weight, state.external)

    # -- apply ---------------------------------------------------------
    def apply(self):
        g = self.model.graph
        for name, arr in self.replaced.items():
            old = g.initializer[self.init_index[name]]
            t = numpy_helper.from_array(arr, name)
            t.doc_string = old.doc_string
            old.CopyFrom(t)
        for index, state in self.conv_states.items():
            self.orphans.append(write_conv(g.node[index], state))
        out = []
        for i, node in enumerate(g.node):
            out.extend(self.new_nodes.get(i, ()))
            if i not in self.removed_nodes:
                out.append(node)
        replace_nodes(g, out)
        self._prune()

    def _prune(self):
        """Remove what the rewrites left without a reader (and only that)."""
        g = self.model.graph
        work = set(self.orphans)
        dead_inits = set()
        while work:
            counts = readers(self.model)
            producers = {o: i for i, n in enumerate(g.node) for o in n.output if o}
            dead_nodes, nxt = set(), set()
            for name in work:
                if not name or counts.get(name, 0):
                    continue
                if name in self.init_index and name not in self.graph_inputs:
                    dead_inits.add(name)
                elif name in producers:
                    node = g.node[producers[name]]
                    if all(not counts.get(o, 0) for o in node.output if o):
                        dead_nodes.add(producers[name])
                        nxt.update(node.input)
            if dead_nodes:
                replace_nodes(g, [n for i, n in enumerate(g.node) if i not in dead_nodes])
            work = nxt
        for i in sorted((self.init_index[n] for n in dead_inits), reverse=True):
            del g.initializer[i]
        self.externalize -= dead_inits
        _prune_value_info(g, self.replaced)


def _prune_value_info(g, replaced):
    """Drop value_info of names that are gone; a replaced weight's declared shape follows it."""
    present = {o for n in g.node for o in n.output} | {t.name for t in g.initializer} | {i.name for i in g.input}
    kept_vi = [vi for vi in g.value_info if vi.name in present]
    for vi in kept_vi:
        if vi.name in replaced and vi.type.HasField("tensor_type"):
            shape = vi.type.tensor_type.shape
            del shape.dim[:]
            for d in replaced[vi.name].shape:
                shape.dim.add().dim_value = int(d)
    if kept_vi:
        copies = []
        for vi in kept_vi:
            c = onnx.ValueInfoProto()
            c.CopyFrom(vi)
            copies.append(c)
        del g.value_info[:]
        g.value_info.extend(copies)


def rewrite_model(am, findings, fixers) -> RewriteResult:
    """Rewrite ``am.model`` in place: ``fixers`` are ``(code, fix_findings)`` pairs, run in
    that order, each on the findings of its rule."""
    rw = Rewriter(am, [code for code, _ in fixers])
    for code, fix_findings in fixers:
        fix_findings(rw, [f for f in findings if f.rule == code])
    rw.apply()
    return RewriteResult(rw.changes, rw.externalize)
