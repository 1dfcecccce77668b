"""The model as a ``networkx.DiGraph`` of op nodes and value nodes.

Node keys:

* ``("op", graph_path, index)``: the ``index``-th node of the graph at ``graph_path``;
* ``("value", graph_path, name)``: a tensor (graph input, initializer, node output)
  defined in the scope of ``graph_path``.

Edges go value -> op (``kind="input"``, ``positions``: a tuple of the input positions)
and op -> value (``kind="output"``, ``position``).  Edge attribute dicts with the same
data are one shared dict: the graph is read-only.  An op inside an If/Loop/Scan body
that reads a tensor of an enclosing graph gets its ``input`` edge from that outer
value node, and the control-flow node of the outer graph gets an ``implicit`` edge
from it too, so ordering each graph on its own still respects captured values.

``graph_path`` is ``"main"`` for the model's graph, ``"<parent>/<node id>.<attribute>"``
for a subgraph (``main/Loop#3.body``), and ``"function:<domain>:<name>"`` for a
model-local function (``...:<overload>`` for an overloaded one).  A node without a
name, or whose name an earlier node of its graph already has, gets the stable id
``<op_type>#<index>``.  Look subgraphs up with :meth:`Graph.subgraph_path` rather
than by building the string: names are arbitrary text, so two paths that would
read the same get a ``~2`` suffix.

Malformed graphs (all reported, none crashes):

1. a cycle: :class:`GraphError` ``graph-cycle`` when the graph is ordered;
2. one tensor defined twice in a graph (two producers, a node output named like a
   graph input or initializer, a repeated graph input): ``graph-duplicate-tensor``
   at build time, as onnx's checker and onnxruntime refuse it too: which of the two
   values a consumer sees is undefined;
3. a tensor read but defined nowhere, a graph output nothing produces, a repeated
   initializer name (the last one wins, as in onnxruntime), repeated node names,
   a repeated function: a note, analysis goes on.

Strings come from protobuf undecoded when they are not valid UTF-8; every name is
decoded here (invalid bytes become U+FFFD), so downstream code only sees ``str``.
Building never recurses, so deep nesting cannot exhaust the Python stack; the
garbage collector is paused while millions of small objects are created.
"""
from __future__ import annotations

import gc
import heapq
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain

import networkx as nx
from onnx import AttributeProto, GraphProto, ModelProto, NodeProto, SparseTensorProto, helper

from analyzer.io.load import shown, text

__all__ = ["GraphError", "OpNode", "SubGraph", "Graph", "build_graph", "gc_paused"]

MAIN = "main"


class GraphError(Exception):
    """The graph is malformed in a way that stops analysis (e.g. a cycle)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector: building a graph creates millions of
    objects and no garbage cycles, and each generation-2 pass would walk them all
    (on a million-node model that is most of the time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(slots=True)
class OpNode:
    key: tuple
    id: str  # node name, or the synthesized <op_type>#<index>
    index: int
    graph: str
    proto: NodeProto
    inputs: list  # value keys; None for an omitted optional input
    outputs: list  # value keys; None for an omitted optional output
    op_type: str = ""  # decoded from the proto (always str)
    domain: str = ""  # "" for the default domain (also when written "ai.onnx")
    _attrs: dict | None = None
    _refs: dict | None = None  # raw attribute name -> ref_attr_name (function bodies)

    @property
    def name_given(self) -> bool:
        return bool(self.proto.name)

    @property
    def name(self) -> str:
        """The node's name as written ("" when unnamed), always ``str``; ``id`` is unique."""
        return text(self.proto.name)

    @property
    def overload(self) -> str:
        return text(self.proto.overload)

    @property
    def attrs(self) -> dict:
        """Attribute values as Python objects (subgraphs stay GraphProto); the first
        of two attributes with one name wins."""
        if self._attrs is None:
            self._decode_attrs()
        return self._attrs

    def _decode_attrs(self) -> None:
        out = {}
        refs = {}
        for a in self.proto.attribute:
            raw = a.name
            name = raw if raw.__class__ is str else text(raw)
            ref = a.ref_attr_name
            if ref and raw.__class__ is str and raw not in refs:
                refs[raw] = ref
            if name in out:
                continue
            if ref:
                out[name] = None  # a function's attribute reference, bound at the call site
                continue
            t = a.type
            # the common types decoded as onnx.helper.get_attribute_value does
            if t == _INTS:
                v = a.ints[:]
            elif t == _INT:
                v = a.i
            elif t == _FLOAT:
                v = a.f
            elif t == _STRING:  # auto_pad, mode...: bytes decoded as below
                v = a.s.decode("utf-8", "replace")
            else:
                try:
                    v = helper.get_attribute_value(a)
                except Exception:
                    v = None
                if isinstance(v, bytes):
                    v = v.decode("utf-8", "replace")
            out[name] = v
        self._refs = refs
        self._attrs = out

    def attr(self, name, default=None):
        if self._attrs is None:
            self._decode_attrs()
        v = self._attrs.get(name)
        return default if v is None else v

    def attr_in(self, name, default, bindings):
        """:meth:`attr` inside a function body called with attribute values
        ``bindings``: the first attribute named ``name`` that refers to a caller's
        attribute (``ref_attr_name``) takes the bound value."""
        if self._attrs is None:
            self._decode_attrs()
        if self._refs:
            ref = self._refs.get(name)
            if ref is not None:
                v = bindings.get(ref)
                return default if v is None else v
        v = self._attrs.get(name)
        return default if v is None else v


_INT, _INTS, _FLOAT, _STRING = AttributeProto.INT, AttributeProto.INTS, AttributeProto.FLOAT, AttributeProto.STRING
_GRAPH_TYPES = (AttributeProto.GRAPH, AttributeProto.GRAPHS)


@dataclass
class SubGraph:
    path: str
    proto: GraphProto | None  # None for functions (see ``function``)
    owner: tuple | None  # op key of the node holding this subgraph
    parent: str | None
    input_keys: list = field(default_factory=list)
    output_keys: list = field(default_factory=list)
    initializer_keys: list = field(default_factory=list)
    op_keys: list = field(default_factory=list)
    function: object = None  # FunctionProto for function bodies
    depth: int = 0  # subgraph nesting level (main and functions: 0)


class Graph:
    """Read-only queries over the networkx graph of one model."""

    def __init__(self, model: ModelProto):
        self.model = model
        self.nx = nx.DiGraph()
        self.subgraphs: dict[str, SubGraph] = {}
        self.ops: dict[tuple, OpNode] = {}
        self.notes: list[str] = []
        # (domain, name, overload) -> path of each model-local function
        self.functions: dict[tuple, str] = {}
        # Derived, read-only results that analysis code caches per model (e.g. convs).
        self.memo: dict = {}
        self._topo_cache: dict[str, list] = {}
        self._producer: dict[tuple, tuple] = {}  # value key -> op key
        self._implicit: dict[tuple, list] = {}  # op key -> values captured by its subgraphs
        self._subgraph_of: dict[tuple, str] = {}  # (op key, attribute name, index) -> path

    # -- queries ---------------------------------------------------------
    def op(self, key) -> OpNode:
        return self.ops[key]

    def value_attrs(self, key) -> dict:
        return self.nx.nodes[key]

    def producer(self, value_key) -> OpNode | None:
        op_key = self._producer.get(value_key)
        return None if op_key is None else self.ops[op_key]

    def consumers(self, value_key) -> list[tuple[OpNode, int]]:
        """Ops that read ``value_key`` as an explicit input, with the input position."""
        out = []
        for succ, data in self.nx.succ[value_key].items():
            if data.get("kind") == "input":
                for pos in data["positions"]:
                    out.append((self.ops[succ], pos))
        out.sort(key=lambda t: (t[0].graph, t[0].index, t[1]))
        return out

    def main_value(self, name: str):
        return ("value", MAIN, name)

    def is_initializer(self, value_key) -> bool:
        return self.nx.nodes[value_key].get("role") == "initializer"

    def initializer(self, value_key):
        return self.nx.nodes[value_key].get("tensor")

    def subgraph_path(self, op_key, attr_name: str, index: int | None = None) -> str | None:
        """Path of the subgraph in attribute ``attr_name`` (``index`` for a GRAPHS list) of an op."""
        return self._subgraph_of.get((op_key, attr_name, index))

    def function_path(self, domain: str, name: str, overload: str = "") -> str | None:
        return self.functions.get((domain, name, overload))

    def topological_order(self, path: str = MAIN) -> list[OpNode]:
        """Ops of one graph (not its subgraphs) in an order where producers come first.

        Ties are broken by the node's index in the file, so the order is stable.
        Raises :class:`GraphError` on a cycle.
        """
        if path not in self._topo_cache:
            self._topo_cache[path] = self._toposort(path)
        return self._topo_cache[path]

    def _toposort(self, path):
        keys = self.subgraphs[path].op_keys
        producer = self._producer
        # Exporters write nodes in topological order: when every in-graph producer
        # comes before its reader, the file order is the answer (Kahn's algorithm
        # with the smallest index first would return it too) and no heap is needed.
        ops = self.ops
        implicit = self._implicit
        in_order = True
        for k in keys:
            here = k[2]
            reads = ops[k].inputs
            if implicit and k in implicit:
                reads = reads + implicit[k]
            for vkey in reads:
                prod = producer.get(vkey)
                if prod is not None and prod[2] >= here and prod[1] == path:
                    in_order = False
                    break
            if not in_order:
                break
        if in_order:
            return [ops[k] for k in keys]
        indeg = [0] * len(keys)
        succs: list[list[int]] = [[] for _ in keys]
        for k in keys:
            op = self.ops[k]
            deps = set()
            for vkey in op.inputs:
                prod = producer.get(vkey) if vkey is not None else None
                if prod is not None and prod[1] == path:
                    deps.add(prod[2])
            for vkey in self._implicit.get(k, ()):
                prod = producer.get(vkey)
                if prod is not None and prod[1] == path:
                    deps.add(prod[2])
            for d in deps:
                succs[d].append(k[2])
            indeg[k[2]] = len(deps)
        ready = [i for i in range(len(keys)) if indeg[i] == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            i = heapq.heappop(ready)
            order.append(self.ops[keys[i]])
            for s in succs[i]:
                indeg[s] -= 1
                if indeg[s] == 0:
                    heapq.heappush(ready, s)
        if len(order) != len(keys):
            stuck = [keys[i] for i in range(len(keys)) if indeg[i] > 0][:5]
            names = ", ".join(shown(self.ops[k].id) for k in stuck)
            raise GraphError("graph-cycle", f"graph {shown(path)} has a cycle through nodes {names}")
        return order

    def all_ops(self):
        """Every op of every graph (main, subgraphs, functions), graph by graph."""
        for path in self.subgraphs:
            for key in self.subgraphs[path].op_keys:
                yield self.ops[key]


def build_graph(model: ModelProto) -> Graph:
    """Build the networkx graph of ``model`` (main graph, all subgraphs, local functions).

    Raises :class:`GraphError` (``graph-duplicate-tensor``) for a tensor defined twice."""
    g = Graph(model)
    with gc_paused():
        # Work list of (graph proto, path, owner op key, parent path, function); iterative on purpose.
        pending = deque([(model.graph, MAIN, None, None, None)])
        for fn in model.functions:
            domain, name, overload = text(fn.domain), text(fn.name), text(fn.overload)
            path = f"function:{domain}:{name}" + (f":{overload}" if overload else "")
            if (domain, name, overload) in g.functions:
                g.notes.append(f"function {shown(path[9:])} is defined twice; the first definition is used")
                continue
            g.functions[(domain, name, overload)] = path
            g.subgraphs[path] = None  # reserved: subgraphs found later come after the functions
            pending.append((None, path, None, None, fn))
        while pending:
            proto, path, owner, parent, fn = pending.popleft()
            _add_graph(g, proto, path, owner, parent, fn, pending)
    return g


def _scope_lookup(g: Graph, path: str, name: str):
    node_attrs = g.nx._node  # plain dict: the hot path of building
    p = path
    while p is not None:
        key = ("value", p, name)
        if key in node_attrs:
            return key
        p = g.subgraphs[p].parent
    return None


def _unique_path(g: Graph, path: str) -> str:
    if path not in g.subgraphs:
        return path
    n = 2
    while f"{path}~{n}" in g.subgraphs:
        n += 1
    return f"{path}~{n}"


def _fast_internals(G) -> bool:
    """Whether ``G`` is a plain DiGraph whose dict-of-dicts we may fill directly
    (networkx's documented layout: ``_node``, ``_succ``, ``_pred``)."""
    return type(G) is nx.DiGraph and all(type(getattr(G, a, None)) is dict for a in ("_node", "_succ", "_pred"))


def _add_nodes(G, items) -> None:
    """Add new nodes ``(key, attribute dict)``; the dicts become the node attributes."""
    if not _fast_internals(G):
        for key, attrs in items:
            G.add_node(key, **attrs)
        return
    node, succ, pred = G._node, G._succ, G._pred
    for key, attrs in items:
        if key in node:
            node[key].update(attrs)
            continue
        node[key] = attrs
        succ[key] = {}
        pred[key] = {}


def _add_edges(G, items) -> None:
    """Add edges ``(u, v, attribute dict)`` between existing nodes."""
    if not _fast_internals(G):
        G.add_edges_from(items)
        return
    succ, pred = G._succ, G._pred
    for u, v, attrs in items:
        old = succ[u].get(v)
        if old is not None:
            old.update(attrs)
            continue
        succ[u][v] = attrs
        pred[v][u] = attrs


def _what(definer) -> str:
    return f"an output of node {shown(definer[0])}" if isinstance(definer, tuple) else definer


def _duplicate(path, name, first, second) -> GraphError:
    where = "" if path == MAIN else f" in graph {shown(path)}"
    return GraphError("graph-duplicate-tensor", f"tensor {shown(name)}{where} is defined twice ({first} and {second})")


def _add_graph(g: Graph, proto, path, owner, parent, fn, pending):
    sub = SubGraph(path=path, proto=proto, owner=owner, parent=parent, function=fn)
    if parent is not None:
        sub.depth = g.subgraphs[parent].depth + 1
    g.subgraphs[path] = sub
    G = g.nx
    node_attrs = G._node  # plain dict lookups: this loop runs once per tensor of the model
    # A plain DiGraph's dicts are filled directly, in the order add_node would give
    # (this graph's values, then its ops); anything else goes through networkx.
    direct = _fast_internals(G)
    succ, pred = G._succ, G._pred
    new_values = []  # (key, attrs) to add in bulk when not direct
    # name -> the node key of this graph's value: every reader shares the one key tuple.
    # Until the second pass it holds exactly the names this graph defines (what defines
    # one is looked up only for the error: a million-entry dict fewer).
    vkeys: dict[str, tuple] = {}
    producer = g._producer

    def definer(name, current=None):
        """What defines ``name`` already (for the duplicate error); ``current`` is the
        (op key, id) of the node being declared, not yet in ``g.ops``."""
        key = vkeys[name]
        attrs = node_attrs[key] if direct else dict(new_values)[key]
        role = attrs.get("role")
        if role == "output":
            op_key = producer[key]
            return _what((current[1] if current and current[0] == op_key else g.ops[op_key].id,))
        if role == "input" or "value_info" in attrs:
            return "a function input" if fn is not None else "a graph input"
        return "an initializer"

    def declare(name, role, what, **attrs):
        key = ("value", path, name)
        if name in vkeys:
            raise _duplicate(path, name, definer(name), _what(what))
        vkeys[name] = key
        attrs.update(kind="value", role=role, name=name)
        if direct:
            node_attrs[key] = attrs
            succ[key] = {}
            pred[key] = {}
        else:
            new_values.append((key, attrs))
        return key

    if fn is not None:
        for raw in fn.input:
            sub.input_keys.append(declare(text(raw), "input", "a function input"))
        nodes = fn.node
        out_names = [text(n) for n in fn.output]
    else:
        for vi in proto.input:
            name = text(vi.name)
            sub.input_keys.append(declare(name, "input", "a graph input", value_info=vi))
        inputs_seen = {key: node_attrs[key] if direct else None for key in sub.input_keys}
        if not direct:
            inputs_seen = dict(new_values)
        inits: dict[str, object] = {}
        for t, raw_name in chain(((t, t.name) for t in proto.initializer), ((sp, sp.values.name) for sp in proto.sparse_initializer)):
            name = text(raw_name)
            if name in inits:
                g.notes.append(f"{path}: initializer {shown(name)} defined twice; the last one is used (as onnxruntime does)")
            inits[name] = t
        initializer_keys = sub.initializer_keys
        for name, t in inits.items():
            key = ("value", path, name)
            tensor_attrs = {"sparse": t} if isinstance(t, SparseTensorProto) else {"tensor": t}
            if key in inputs_seen:
                # IR < 4 style: an initializer that is also a graph input gives its default.
                inputs_seen[key].update(role="initializer", **tensor_attrs)
            elif name in vkeys:
                declare(name, "initializer", "an initializer")  # raises
            else:  # declare(), inlined: a model has thousands of initializers
                vkeys[name] = key
                tensor_attrs["kind"] = "value"
                tensor_attrs["role"] = "initializer"
                tensor_attrs["name"] = name
                if direct:
                    node_attrs[key] = tensor_attrs
                    succ[key] = {}
                    pred[key] = {}
                else:
                    new_values.append((key, tensor_attrs))
            initializer_keys.append(key)
        nodes = proto.node
        out_names = [text(vi.name) for vi in proto.output]

    # First pass: declare every node output so that names resolve regardless of order.
    taken: set = set()
    graph_attrs: dict = {}  # node index -> its GRAPH/GRAPHS attributes
    renamed = []
    op_nodes = []
    op_types: dict = {}  # one str object per op type, not one per node
    for index, node in enumerate(nodes):
        name, op_type, domain = node.name, node.op_type, node.domain
        if name.__class__ is not str or op_type.__class__ is not str or domain.__class__ is not str:
            name, op_type, domain = text(name), text(op_type), text(domain)
        op_type = op_types.setdefault(op_type, op_type)
        if name and name not in taken:
            nid = name
        else:
            nid = f"{op_type}#{index}"
            n = 2
            while nid in taken:  # a node literally named like a synthesized id
                nid = f"{op_type}#{index}~{n}"
                n += 1
            if name:
                renamed.append((name, nid))
        taken.add(nid)
        key = ("op", path, index)
        outputs = []
        for pos, out in enumerate(node.output):
            if out.__class__ is not str:
                out = text(out)
            if not out:
                outputs.append(None)
                continue
            if out in vkeys:
                raise _duplicate(path, out, definer(out, (key, nid)), _what((nid,)))
            vkey = vkeys[out] = ("value", path, out)
            if direct:
                node_attrs[vkey] = {"kind": "value", "role": "output", "name": out}
                succ[vkey] = {}
                pred[vkey] = {}
            else:
                new_values.append((vkey, {"kind": "value", "role": "output", "name": out}))
            producer[vkey] = key
            outputs.append(vkey)
        # Input names and subgraph attributes are read now, while the node is in cache
        # (measured: the second pass slowed 3x from 1k to 1M nodes re-reading protos);
        # the second pass replaces each name in ``inputs`` by its value key.
        for attr in node.attribute:
            if attr.type in _GRAPH_TYPES:
                graph_attrs.setdefault(index, []).append(attr)
        # key, id, index, graph, proto, inputs (names for now), outputs, op_type, domain
        op = OpNode(key, nid, index, path, node, list(node.input), outputs, op_type, "" if domain == "ai.onnx" else domain)
        g.ops[key] = op
        sub.op_keys.append(key)
        op_nodes.append(op)
    if renamed:
        first_name, first_id = renamed[0]
        g.notes.append(
            f"{path}: {len(renamed)} node(s) share a name with an earlier node and are reported by position "
            f"(first: {shown(first_name)} as {shown(first_id)})"
        )
    # Edge attribute dicts are shared by every edge with the same data (a graph of a
    # million ops would otherwise hold two million small dicts; the graph is read-only).
    out_attrs: dict = {}  # output position -> {"kind": "output", "position": p}
    in_attrs: dict = {}  # input positions -> {"kind": "input", "positions": (p, ...)}
    # the ops, then their output edges
    if direct:
        for op in op_nodes:
            key = op.key
            node_attrs[key] = {"kind": "op", "op_type": op.op_type, "id": op.id}
            out_edges = succ[key] = {}
            pred[key] = {}
            for pos, vkey in enumerate(op.outputs):
                if vkey is not None:
                    attrs = out_attrs.get(pos)
                    if attrs is None:
                        attrs = out_attrs[pos] = {"kind": "output", "position": pos}
                    out_edges[vkey] = pred[vkey][key] = attrs
    else:
        _add_nodes(G, new_values)
        _add_nodes(G, [(op.key, {"kind": "op", "op_type": op.op_type, "id": op.id}) for op in op_nodes])
        _add_edges(G, [(op.key, vkey, out_attrs.setdefault(pos, {"kind": "output", "position": pos}))
                       for op in op_nodes for pos, vkey in enumerate(op.outputs) if vkey is not None])
    edges = []
    # Second pass: wire inputs (inner graphs resolve names through enclosing scopes).
    missing = {}
    for op in op_nodes:
        in_edges = {}
        inputs = op.inputs  # input names from the first pass, replaced in place by keys
        for pos, name in enumerate(inputs):
            if name.__class__ is not str:
                name = text(name)
            if not name:
                inputs[pos] = None
                continue
            vkey = vkeys.get(name)
            if vkey is None:  # not defined in this graph: an enclosing scope's, or missing
                vkey = _scope_lookup(g, path, name)
                if vkey is None:
                    vkey = ("value", path, name)
                    if name not in missing:
                        missing[name] = op.id
                        G.add_node(vkey, kind="value", role="missing", name=name)
                        g.notes.append(f"{path}: node {shown(op.id)} reads {shown(name)}, which nothing defines")
                elif vkey[1] != path:
                    _add_implicit_edges(g, vkey, path)
                vkeys[name] = vkey  # the next reader resolves it the same way
            inputs[pos] = vkey
            positions = in_edges.get(vkey)
            in_edges[vkey] = (pos,) if positions is None else positions + (pos,)
        op_key = op.key
        for vkey, positions in in_edges.items():
            attrs = in_attrs.get(positions)
            if attrs is None:
                attrs = in_attrs[positions] = {"kind": "input", "positions": positions}
            if not direct:
                edges.append((vkey, op_key, attrs))
                continue
            out_edges = succ[vkey]  # _add_edges, inlined
            old = out_edges.get(op_key)
            if old is not None:
                old.update(attrs)
            else:
                out_edges[op_key] = attrs
                pred[op_key][vkey] = attrs
        seen_attrs = None
        for attr in graph_attrs.get(op.index, ()):
            if seen_attrs is None:
                seen_attrs = set()
            attr_name = text(attr.name)
            if attr_name in seen_attrs:
                g.notes.append(f"{path}: node {shown(op.id)} has two attributes named {shown(attr_name)}; the second is ignored")
                continue
            seen_attrs.add(attr_name)
            if attr.type == AttributeProto.GRAPH:
                sub_path = _unique_path(g, f"{path}/{op.id}.{attr_name}")
                g._subgraph_of[(op.key, attr_name, None)] = sub_path
                g.subgraphs[sub_path] = None  # reserve the path
                pending.append((attr.g, sub_path, op.key, path, None))
            else:
                for i, sg in enumerate(attr.graphs):
                    sub_path = _unique_path(g, f"{path}/{op.id}.{attr_name}[{i}]")
                    g._subgraph_of[(op.key, attr_name, i)] = sub_path
                    g.subgraphs[sub_path] = None
                    pending.append((sg, sub_path, op.key, path, None))
    _add_edges(G, edges)
    for name in out_names:
        vkey = _scope_lookup(g, path, name) if name else None
        if vkey is None:
            vkey = ("value", path, name)
            if vkey not in node_attrs:
                G.add_node(vkey, kind="value", role="missing", name=name)
            g.notes.append(f"{path}: graph output {shown(name)} is never produced")
        sub.output_keys.append(vkey)
    if fn is None:
        for infos in (proto.value_info, proto.output):
            for vi in infos:
                name = vi.name
                attrs = node_attrs.get(("value", path, name if name.__class__ is str else text(name)))
                if attrs is not None and "value_info" not in attrs:
                    attrs["value_info"] = vi


def _add_implicit_edges(g: Graph, vkey, path):
    """``vkey`` (defined in an enclosing graph) is read inside ``path``: every
    control-flow op between the two scopes depends on it."""
    p = path
    while p is not None and p != vkey[1]:
        owner = g.subgraphs[p].owner
        if owner is None:
            break
        if not g.nx.has_edge(vkey, owner):
            g.nx.add_edge(vkey, owner, kind="implicit", positions=())
            g._implicit.setdefault(owner, []).append(vkey)
        p = g.subgraphs[p].parent
