"""The model as a ``networkx.DiGraph`` of op nodes and value nodes.

Node keys:

* ``("op", graph_path, index)``: the ``index``-th node of the graph at ``graph_path``;
* ``("value", graph_path, name)``: a tensor (graph input, initializer, node output)
  defined in the scope of ``graph_path``.

Edges go value -> op (``kind="input"``, with the input position) and op -> value
(``kind="output"``).  An op inside an If/Loop/Scan body that reads a tensor of an
enclosing graph gets its ``input`` edge from that outer value node, and the
control-flow node of the outer graph gets an ``implicit`` edge from it too, so
ordering each graph on its own still respects captured values.

``graph_path`` is ``"main"`` for the model's graph, ``"<parent>/<node id>.<attribute>"``
for a subgraph (``main/Loop#3.body``), and ``"function:<domain>:<name>"`` for a
model-local function.  A node without a name gets the stable id ``<op_type>#<index>``.
Building never recurses, so deep nesting cannot exhaust the Python stack.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import networkx as nx
from onnx import AttributeProto, GraphProto, ModelProto, NodeProto, helper

__all__ = ["GraphError", "OpNode", "SubGraph", "Graph", "build_graph"]

MAIN = "main"


class GraphError(Exception):
    """The graph is malformed in a way that stops analysis (e.g. a cycle)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass
class OpNode:
    key: tuple
    id: str  # node name, or the synthesized <op_type>#<index>
    index: int
    graph: str
    proto: NodeProto
    inputs: list  # value keys; None for an omitted optional input
    outputs: list  # value keys; None for an omitted optional output
    _attrs: dict | None = None

    @property
    def op_type(self) -> str:
        return self.proto.op_type

    @property
    def domain(self) -> str:
        return self.proto.domain or ""

    @property
    def name_given(self) -> bool:
        return bool(self.proto.name)

    @property
    def attrs(self) -> dict:
        """Attribute values as Python objects (subgraphs stay GraphProto)."""
        if self._attrs is None:
            out = {}
            for a in self.proto.attribute:
                if a.ref_attr_name:
                    out[a.name] = None  # a function's attribute reference, bound at the call site
                    continue
                try:
                    v = helper.get_attribute_value(a)
                except Exception:
                    v = None
                if isinstance(v, bytes):
                    v = v.decode("utf-8", "replace")
                out[a.name] = v
            self._attrs = out
        return self._attrs

    def attr(self, name, default=None):
        v = self.attrs.get(name)
        return default if v is None else v


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


class Graph:
    """Read-only queries over the networkx graph of one model."""

    def __init__(self, model: ModelProto):
        self.model = model
        self.nx = nx.DiGraph()
        self.subgraphs: dict[str, SubGraph] = {}
        self.ops: dict[tuple, OpNode] = {}
        self.notes: list[str] = []
        self._topo_cache: dict[str, list] = {}

    # -- queries ---------------------------------------------------------
    def op(self, key) -> OpNode:
        return self.ops[key]

    def value_attrs(self, key) -> dict:
        return self.nx.nodes[key]

    def producer(self, value_key) -> OpNode | None:
        for pred in self.nx.predecessors(value_key):
            if self.nx.edges[pred, value_key].get("kind") == "output":
                return self.ops[pred]
        return None

    def consumers(self, value_key) -> list[tuple[OpNode, int]]:
        """Ops that read ``value_key`` as an explicit input, with the input position."""
        out = []
        for succ in self.nx.successors(value_key):
            data = self.nx.edges[value_key, succ]
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

    def topological_order(self, path: str = MAIN) -> list[OpNode]:
        """Ops of one graph (not its subgraphs) in an order where producers come first.

        Ties are broken by the node's index in the file, so the order is stable.
        Raises :class:`GraphError` on a cycle.
        """
        if path not in self._topo_cache:
            self._topo_cache[path] = self._toposort(path)
        return self._topo_cache[path]

    def _toposort(self, path):
        sub = self.subgraphs[path]
        keys = sub.op_keys
        local = set(keys)
        indeg = {k: 0 for k in keys}
        succs = {k: [] for k in keys}
        for k in keys:
            deps = set()
            for vkey in self.nx.predecessors(k):
                for prod in self.nx.predecessors(vkey):
                    if prod in local and self.nx.edges[prod, vkey].get("kind") == "output":
                        deps.add(prod)
            for d in deps:
                succs[d].append(k)
                indeg[k] += 1
        ready = [k[2] for k in keys if indeg[k] == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            i = heapq.heappop(ready)
            k = ("op", path, i)
            order.append(self.ops[k])
            for s in succs[k]:
                indeg[s] -= 1
                if indeg[s] == 0:
                    heapq.heappush(ready, s[2])
        if len(order) != len(keys):
            stuck = sorted(k for k in keys if indeg[k] > 0)[:5]
            names = ", ".join(self.ops[k].id for k in stuck)
            raise GraphError("cycle", f"graph {path} has a cycle through nodes {names}")
        return order

    def all_ops(self):
        """Every op of every graph (main, subgraphs, functions), graph by graph."""
        for path in self.subgraphs:
            for key in self.subgraphs[path].op_keys:
                yield self.ops[key]


def _synth_id(node: NodeProto, index: int, taken: set) -> str:
    if node.name and node.name not in taken:
        return node.name
    base = f"{node.op_type}#{index}"
    return base if base not in taken else f"{base}.{len(taken)}"


def build_graph(model: ModelProto) -> Graph:
    """Build the networkx graph of ``model`` (main graph, all subgraphs, local functions)."""
    g = Graph(model)
    # Work list of (graph proto, path, owner op key, parent path); iterative on purpose.
    pending = [(model.graph, MAIN, None, None, None)]
    for fn in model.functions:
        pending.append((None, f"function:{fn.domain}:{fn.name}", None, None, fn))
    while pending:
        proto, path, owner, parent, fn = pending.pop(0)
        _add_graph(g, proto, path, owner, parent, fn, pending)
    return g


def _scope_lookup(g: Graph, path: str, name: str):
    p = path
    while p is not None:
        key = ("value", p, name)
        if key in g.nx:
            return key
        p = g.subgraphs[p].parent
    return None


def _add_value(g: Graph, key, role, **attrs):
    if key in g.nx:
        return
    g.nx.add_node(key, kind="value", role=role, **attrs)


def _add_graph(g: Graph, proto, path, owner, parent, fn, pending):
    sub = SubGraph(path=path, proto=proto, owner=owner, parent=parent, function=fn)
    g.subgraphs[path] = sub
    if fn is not None:
        for name in fn.input:
            key = ("value", path, name)
            _add_value(g, key, "input", name=name)
            sub.input_keys.append(key)
        nodes = fn.node
        out_names = list(fn.output)
    else:
        for vi in proto.input:
            key = ("value", path, vi.name)
            _add_value(g, key, "input", name=vi.name, value_info=vi)
            sub.input_keys.append(key)
        for t in proto.initializer:
            key = ("value", path, t.name)
            if key in g.nx and g.nx.nodes[key]["role"] == "input":
                # IR < 4 style: an initializer that is also a graph input gives its default.
                g.nx.nodes[key]["tensor"] = t
                g.nx.nodes[key]["role"] = "initializer"
            elif key in g.nx:
                g.notes.append(f"{path}: initializer {t.name!r} defined twice")
                continue
            else:
                _add_value(g, key, "initializer", name=t.name, tensor=t)
            sub.initializer_keys.append(key)
        for sp in proto.sparse_initializer:
            key = ("value", path, sp.values.name)
            _add_value(g, key, "initializer", name=sp.values.name, sparse=sp)
            sub.initializer_keys.append(key)
        nodes = proto.node
        out_names = [vi.name for vi in proto.output]
    taken: set = set()
    # First pass: declare every node output so that names resolve regardless of order.
    op_nodes = []
    for index, node in enumerate(nodes):
        nid = _synth_id(node, index, taken)
        taken.add(nid)
        key = ("op", path, index)
        outputs = []
        for pos, name in enumerate(node.output):
            if not name:
                outputs.append(None)
                continue
            vkey = ("value", path, name)
            if vkey in g.nx:
                role = g.nx.nodes[vkey]["role"]
                g.notes.append(f"{path}: tensor {name!r} is produced by node {nid!r} and also defined as {role}")
                g.nx.nodes[vkey].setdefault("extra_producers", []).append(key)
            else:
                _add_value(g, vkey, "output", name=name)
            outputs.append(vkey)
        op = OpNode(key=key, id=nid, index=index, graph=path, proto=node, inputs=[], outputs=outputs)
        g.ops[key] = op
        g.nx.add_node(key, kind="op", op_type=node.op_type, id=nid)
        sub.op_keys.append(key)
        op_nodes.append(op)
        for pos, vkey in enumerate(outputs):
            if vkey is not None and not g.nx.has_edge(key, vkey) and "extra_producers" not in g.nx.nodes[vkey]:
                g.nx.add_edge(key, vkey, kind="output", position=pos)
    # Second pass: wire inputs (inner graphs resolve names through enclosing scopes).
    for op in op_nodes:
        for pos, name in enumerate(op.proto.input):
            if not name:
                op.inputs.append(None)
                continue
            vkey = _scope_lookup(g, path, name)
            if vkey is None:
                vkey = ("value", path, name)
                _add_value(g, vkey, "missing", name=name)
                g.notes.append(f"{path}: node {op.id!r} reads {name!r}, which nothing defines")
            op.inputs.append(vkey)
            _add_input_edge(g, vkey, op.key, pos)
            if vkey[1] != path:
                _add_implicit_edges(g, vkey, path)
        for attr in op.proto.attribute:
            if attr.type == AttributeProto.GRAPH:
                pending.append((attr.g, f"{path}/{op.id}.{attr.name}", op.key, path, None))
            elif attr.type == AttributeProto.GRAPHS:
                for i, sg in enumerate(attr.graphs):
                    pending.append((sg, f"{path}/{op.id}.{attr.name}[{i}]", op.key, path, None))
    for name in out_names:
        vkey = _scope_lookup(g, path, name)
        if vkey is None:
            vkey = ("value", path, name)
            _add_value(g, vkey, "missing", name=name)
            g.notes.append(f"{path}: graph output {name!r} is never produced")
        sub.output_keys.append(vkey)
    if fn is None:
        for vi in list(proto.value_info) + list(proto.output):
            vkey = ("value", path, vi.name)
            if vkey in g.nx:
                g.nx.nodes[vkey].setdefault("value_info", vi)


def _add_input_edge(g: Graph, vkey, okey, pos):
    if g.nx.has_edge(vkey, okey):
        g.nx.edges[vkey, okey]["positions"].append(pos)
        g.nx.edges[vkey, okey]["kind"] = "input"
    else:
        g.nx.add_edge(vkey, okey, kind="input", positions=[pos])


def _add_implicit_edges(g: Graph, vkey, path):
    """``vkey`` (defined in an enclosing graph) is read inside ``path``: every
    control-flow op between the two scopes depends on it."""
    p = path
    while p is not None and p != vkey[1]:
        owner = g.subgraphs[p].owner
        if owner is None:
            break
        if not g.nx.has_edge(vkey, owner):
            g.nx.add_edge(vkey, owner, kind="implicit", positions=[])
        p = g.subgraphs[p].parent
