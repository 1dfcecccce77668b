"""Building the networkx graph of a model (see core.py for its layout and the malformed
graphs it reports).

:func:`build_graph` works through a queue of graphs (the main graph, each model-local
function, then every subgraph found on the way: iterative, so deep nesting cannot exhaust
the Python stack).  Each graph is added construct by construct: its inputs (graph inputs
and initializers, or a function's inputs), its nodes and their outputs (first pass, so
names resolve regardless of order), the op nodes with their output edges, the input edges
(second pass, through enclosing scopes, with implicit edges to the control-flow nodes
between) together with the subgraphs the nodes hold, and its outputs and value_info.
"""
from __future__ import annotations

from collections import deque
from itertools import chain
from operator import attrgetter

import networkx as nx

from analyzer.graph.core import GRAPH_TYPES, MAIN, NO_NEIGHBOUR, Graph, GraphError, OneNeighbour, OpNode, SubGraph, gc_paused
from analyzer.io.load import shown, text
from analyzer.io.proto import AttributeProto, ModelProto, SparseTensorProto

__all__ = ["GraphError", "OpNode", "SubGraph", "Graph", "build_graph", "gc_paused", "MAIN"]


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


class _Scope:
    """One graph being built: what its construct builders share.

    A plain DiGraph's dicts are filled directly (``direct``), in the order add_node would
    give (this graph's values, then its ops), with the compact adjacencies of core.py
    (:class:`OneNeighbour`, :data:`NO_NEIGHBOUR`) where a node has one neighbour or none;
    anything else goes through networkx, from ``new_values`` (key, attrs) added in bulk.
    ``vkeys`` maps a name to the node key of this graph's value: every reader shares the
    one key tuple.  Until the second pass it holds exactly the names this graph defines
    (what defines one is looked up only for the error: a million-entry dict fewer).
    Edge attribute dicts are shared by every edge with the same data (``out_attrs`` by
    output position, ``in_attrs`` by input positions)."""

    __slots__ = ("g", "sub", "path", "fn", "G", "node_attrs", "direct", "succ", "pred", "new_values", "vkeys", "producer",
                 "out_attrs", "in_attrs")

    def __init__(self, g: Graph, sub: SubGraph, path, fn):
        self.g = g
        self.sub = sub
        self.path = path
        self.fn = fn
        self.G = G = g.nx
        self.node_attrs = G._node  # plain dict lookups: the loops run once per tensor of the model
        self.direct = _fast_internals(G)
        self.succ, self.pred = G._succ, G._pred
        self.new_values = []
        self.vkeys: dict[str, tuple] = {}
        self.producer = g._producer
        self.out_attrs: dict = {}  # output position -> {"kind": "output", "position": p}
        self.in_attrs: dict = {}  # input positions -> {"kind": "input", "positions": (p, ...)}

    def definer(self, name, current=None):
        """What defines ``name`` already (for the duplicate error); ``current`` is the
        (op key, id) of the node being declared, not yet in ``g.ops``."""
        key = self.vkeys[name]
        attrs = self.node_attrs[key] if self.direct else dict(self.new_values)[key]
        role = attrs.get("role")
        if role == "output":
            op_key = self.producer[key]
            return _what((current[1] if current and current[0] == op_key else self.g.ops[op_key].id,))
        if role == "input" or "value_info" in attrs:
            return "a function input" if self.fn is not None else "a graph input"
        return "an initializer"

    def declare(self, name, role, what, **attrs):
        path = self.path
        key = ("value", path, name)
        if name in self.vkeys:
            raise _duplicate(path, name, self.definer(name), _what(what))
        self.vkeys[name] = key
        attrs.update(kind="value", role=role, name=name)
        if self.direct:
            self.node_attrs[key] = attrs
            self.succ[key] = NO_NEIGHBOUR
            self.pred[key] = NO_NEIGHBOUR
        else:
            self.new_values.append((key, attrs))
        return key

    def add_missing(self, key, name) -> None:
        """A value node for a name nothing defines (role "missing")."""
        if self.direct:
            self.node_attrs[key] = {"kind": "value", "role": "missing", "name": name}
            self.succ[key] = NO_NEIGHBOUR
            self.pred[key] = NO_NEIGHBOUR
        else:
            self.G.add_node(key, kind="value", role="missing", name=name)


def _grow(adj: dict, key, other, data) -> None:
    """``adj[key]`` (a compact adjacency or a dict, direct fill) gains the new neighbour
    ``other``: none -> one -> a dict."""
    a = adj[key]
    if a is NO_NEIGHBOUR:
        adj[key] = OneNeighbour(other, data)
    elif a.__class__ is OneNeighbour:
        adj[key] = {a.key: a.data, other: data}
    else:
        a[other] = data


def _add_graph(g: Graph, proto, path, owner, parent, fn, pending):
    sub = SubGraph(path=path, proto=proto, owner=owner, parent=parent, function=fn)
    if parent is not None:
        sub.depth = g.subgraphs[parent].depth + 1
    g.subgraphs[path] = sub
    s = _Scope(g, sub, path, fn)
    if fn is not None:
        for raw in fn.input:
            sub.input_keys.append(s.declare(text(raw), "input", "a function input"))
        nodes = fn.node
        out_names = [text(n) for n in fn.output]
    else:
        _declare_graph_inputs(s, proto)
        nodes = proto.node
        out_names = [text(vi.name) for vi in proto.output]
    op_nodes, op_node_attrs, op_succ, op_pred, graph_attrs, deferred = _declare_nodes(s, nodes)
    # every op wired in the first pass read values defined at or before it (Graph._toposort)
    sub.op_nodes, sub.wired_in_order = op_nodes, s.direct and deferred == len(op_nodes)
    _add_ops(s, op_nodes, op_node_attrs, op_succ, op_pred)
    _wire_inputs(s, op_nodes, deferred, graph_attrs, pending)
    _add_outputs(s, out_names)
    if fn is None:
        node_attrs = s.node_attrs
        for infos in (proto.value_info, proto.output):
            for vi in infos:
                name = vi.name
                attrs = node_attrs.get(("value", path, name if name.__class__ is str else text(name)))
                if attrs is not None and "value_info" not in attrs:
                    attrs["value_info"] = vi


def _declare_graph_inputs(s: _Scope, proto) -> None:
    """A graph's inputs, then its initializers (dense and sparse)."""
    g, sub, path, direct = s.g, s.sub, s.path, s.direct
    node_attrs, succ, pred, new_values, vkeys = s.node_attrs, s.succ, s.pred, s.new_values, s.vkeys
    for vi in proto.input:
        name = text(vi.name)
        sub.input_keys.append(s.declare(name, "input", "a graph input", value_info=vi))
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
            s.declare(name, "initializer", "an initializer")  # raises
        else:  # declare(), inlined: a model has thousands of initializers
            vkeys[name] = key
            tensor_attrs["kind"] = "value"
            tensor_attrs["role"] = "initializer"
            tensor_attrs["name"] = name
            if direct:
                node_attrs[key] = tensor_attrs
                succ[key] = NO_NEIGHBOUR
                pred[key] = NO_NEIGHBOUR
            else:
                new_values.append((key, tensor_attrs))
        initializer_keys.append(key)


# a node's fields in one C-level call (each read of a repeated field makes a container)
_NODE_FIELDS = attrgetter("name", "op_type", "domain", "input", "output", "attribute")


def _declare_nodes(s: _Scope, nodes):
    """First pass: an OpNode per node and every node output declared (with its producer
    edge when filling directly), so that names resolve regardless of order.  While every
    name a node reads is already defined in this graph (exporters write nodes in
    topological order), its input edges are made here too, with the node in cache; from
    the first node that reads anything else on, the second pass (:func:`_wire_inputs`)
    makes them, so edges still enter the adjacencies in node order.  Returns the ops,
    their node attribute dicts (shared by op type), their successor and predecessor
    adjacencies (direct fill), by node index their GRAPH/GRAPHS attributes, and the index
    of the first op left to the second pass."""
    g, sub, path, direct = s.g, s.sub, s.path, s.direct
    node_attrs, succ, pred, new_values, vkeys, producer = s.node_attrs, s.succ, s.pred, s.new_values, s.vkeys, s.producer
    out_attrs, in_attrs = s.out_attrs, s.in_attrs
    out0 = out_attrs.get(0)
    if out0 is None:
        out0 = out_attrs[0] = {"kind": "output", "position": 0}
    in0 = in_attrs.get((0,))
    ops, op_keys, attributed = g.ops, sub.op_keys, sub.attributed_keys
    domains = {"": "", "ai.onnx": ""}
    graph_attrs: dict = {}  # node index -> its GRAPH/GRAPHS attributes
    op_nodes = []
    op_succ = []  # direct fill: each op's successor adjacency, built here with its outputs
    op_pred = []  # and its predecessor adjacency, when its inputs are wired here
    wiring = direct
    deferred = len(nodes) if wiring else 0  # index of the first op whose inputs the second pass wires
    # Op nodes' attribute dicts are shared, one per op type (the op's id and the rest
    # are on its OpNode, ``graph.ops[key]``): 200 bytes fewer per op.
    op_attrs, op_node_attrs = g._op_attrs, []
    # op_type, or (domain, op_type) outside the default domain -> (one str object for the
    # op type, not one per node; its attribute dict; the kind's ops.append, first input
    # and output counts, odd.append: SubGraph.kinds)
    kinds: dict = {}
    for index, (name, op_type, domain, inputs, outputs, attributes) in enumerate(map(_NODE_FIELDS, nodes)):
        if name.__class__ is not str or op_type.__class__ is not str or domain.__class__ is not str:
            name, op_type, domain = text(name), text(op_type), text(domain)
        if domain:
            domain = domains.get(domain, domain)
        kind_key = (domain, op_type) if domain else op_type
        kind = kinds.get(kind_key)
        if kind is None:
            attrs = op_attrs.get(op_type)
            if attrs is None:
                attrs = op_attrs[op_type] = {"kind": "op", "op_type": op_type}
            ops_of, odd = [], []
            sub.kinds.append((domain, op_type, ops_of, len(inputs), len(outputs), odd))
            kind = kinds[kind_key] = (op_type, attrs, ops_of.append, len(inputs), len(outputs), odd.append)
        op_type, attrs, kind_append, n_in, n_out, odd_append = kind
        op_node_attrs.append(attrs)
        # The id each node gets when no two ids clash (checked once at the end: see _ids)
        nid = name or f"{op_type}#{index}"
        key = ("op", path, index)
        omits = False  # whether the op omits an input or an output (an empty name)
        out0_attrs = None  # output 0's node attribute dict (OpNode.out0)
        if direct and len(outputs) == 1:  # most ops: one output (its name read alone, no list of names)
            out = outputs[0]
            if out.__class__ is not str:
                out = text(out)
            if out:
                vkey = ("value", path, out)
                if vkeys.setdefault(out, vkey) is not vkey:
                    nid = _fix_ids(op_nodes, nodes, index, op_type)
                    raise _duplicate(path, out, s.definer(out, (key, nid)), _what((nid,)))
                node_attrs[vkey] = out0_attrs = {"kind": "value", "role": "output", "name": out}
                succ[vkey] = NO_NEIGHBOUR
                pred[vkey] = OneNeighbour(key, out0)
                producer[vkey] = key
                outputs = [vkey]
                op_succ.append(OneNeighbour(vkey, out0))
            else:
                outputs = [None]
                omits = True
                op_succ.append(NO_NEIGHBOUR)
        else:
            outputs = outputs[:]  # names, replaced in place by value keys
            out_edges = NO_NEIGHBOUR
            for pos, out in enumerate(outputs):
                if out.__class__ is not str:
                    out = text(out)
                if not out:
                    outputs[pos] = None
                    omits = True
                    continue
                vkey = ("value", path, out)
                if vkeys.setdefault(out, vkey) is not vkey:
                    nid = _fix_ids(op_nodes, nodes, index, op_type)
                    raise _duplicate(path, out, s.definer(out, (key, nid)), _what((nid,)))
                if direct:
                    attrs = out_attrs.get(pos)
                    if attrs is None:
                        attrs = out_attrs[pos] = {"kind": "output", "position": pos}
                    node_attrs[vkey] = value_attrs = {"kind": "value", "role": "output", "name": out}
                    if not pos:
                        out0_attrs = value_attrs
                    succ[vkey] = NO_NEIGHBOUR
                    pred[vkey] = OneNeighbour(key, attrs)
                    if out_edges is NO_NEIGHBOUR:
                        out_edges = OneNeighbour(vkey, attrs)
                    elif out_edges.__class__ is OneNeighbour:
                        out_edges = {out_edges.key: out_edges.data, vkey: attrs}
                    else:
                        out_edges[vkey] = attrs
                else:
                    new_values.append((vkey, {"kind": "value", "role": "output", "name": out}))
                producer[vkey] = key
                outputs[pos] = vkey
            op_succ.append(out_edges)
        # Subgraph attributes are read now, while the node is in cache (measured: the
        # second pass slowed 3x from 1k to 1M nodes re-reading protos).
        if attributes:
            attributed.append(key)
            for attr in attributes:
                if attr.type in GRAPH_TYPES:
                    graph_attrs.setdefault(index, []).append(attr)
        in_edges = NO_NEIGHBOUR
        if wiring and len(inputs) == 1:  # most ops: one input, one edge (its name read alone)
            name = inputs[0]
            if name.__class__ is not str:
                name = text(name)
            if not name:
                inputs = [None]
                omits = True
            else:
                vkey = vkeys.get(name)
                # defined later, in an enclosing graph, or nowhere; or by this very op (a
                # cycle): the second pass wires it, so first-pass wiring means file order
                if vkey is None or vkey in outputs:
                    wiring = False
                    deferred = index
                    inputs = [name]  # the name, for the second pass
                else:
                    inputs = [vkey]
                    if in0 is None:
                        in0 = in_attrs[(0,)] = {"kind": "input", "positions": (0,)}
                    in_edges = OneNeighbour(vkey, in0)
                    readers = succ[vkey]  # _grow, inlined
                    if readers is NO_NEIGHBOUR:
                        succ[vkey] = OneNeighbour(key, in0)
                    elif readers.__class__ is OneNeighbour:
                        succ[vkey] = {readers.key: readers.data, key: in0}
                    else:
                        readers[key] = in0
        else:
            inputs = inputs[:]  # names, replaced in place by value keys once wired
            if wiring and inputs:
                keys = []
                for name in inputs:
                    if name.__class__ is not str:
                        name = text(name)
                    if not name:
                        keys.append(None)
                        omits = True
                        continue
                    vkey = vkeys.get(name)
                    if vkey is None or vkey in outputs:
                        wiring = False
                        deferred = index
                        break
                    keys.append(vkey)
                if wiring:
                    inputs = keys
                    in_edges = _wire_direct(s, key, keys)
            if not wiring and not all(inputs):  # names for the second pass: an empty one is omitted
                omits = True
        # key, id, index, graph, node list, inputs, outputs, op_type, domain, out0
        op = OpNode(key, nid, index, path, nodes, inputs, outputs, op_type, domain, out0_attrs)
        ops[key] = op
        op_keys.append(key)
        op_nodes.append(op)
        op_pred.append(in_edges)
        kind_append(op)
        if omits or len(inputs) != n_in or len(outputs) != n_out:
            odd_append(op)
    renamed = _fix_ids(op_nodes, nodes) if len(set(map(_ID, op_nodes))) != len(op_nodes) else None
    if renamed:
        first_name, first_id = renamed[0]
        g.notes.append(
            f"{path}: {len(renamed)} node(s) share a name with an earlier node and are reported by position "
            f"(first: {shown(first_name)} as {shown(first_id)})"
        )
    return op_nodes, op_node_attrs, op_succ, op_pred, graph_attrs, deferred


_ID = attrgetter("id")


def _ids(names_and_types):
    """Node ids from (name as str, op type) in node order: a node's name, or
    ``<op_type>#<index>`` for a node without one or whose name an earlier node's id
    already is (``~2``, ``~3``... when a node is literally named like that).  Returns the
    ids and the (name, id) of the named nodes renamed."""
    taken: set = set()
    ids, renamed = [], []
    for index, (name, op_type) in enumerate(names_and_types):
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
        ids.append(nid)
    return ids, renamed


def _fix_ids(op_nodes, nodes, current=None, op_type=None):
    """The first pass gives each op its name, or ``<op_type>#<index>`` without one: the
    ids :func:`_ids` gives when no two of them clash (one C-level set at the end instead
    of a million-entry set grown and probed per node).  When two clash, the ops get
    :func:`_ids`' ids; with ``current`` (the index of the node being declared, not yet in
    ``op_nodes``, of type ``op_type``), those of the ops so far and that node's id are
    worked out (for an error message); else the renamed (name, id) list is returned."""
    pairs = [(text(nodes[op.index].name), op.op_type) for op in op_nodes]
    if current is not None:
        pairs.append((text(nodes[current].name), op_type))
    ids, renamed = _ids(pairs)
    for op, nid in zip(op_nodes, ids):
        op.id = nid
    return ids[-1] if current is not None else renamed


def _input_edges(s: _Scope, keys) -> dict:
    """``{value key: edge attrs}`` of an op reading the value keys ``keys`` (None for an
    omitted input), in first-read order; one attrs dict per tuple of positions, shared by
    every edge that feeds those positions."""
    in_attrs = s.in_attrs
    in_edges = {}
    for pos, vkey in enumerate(keys):
        if vkey is not None:
            positions = in_edges.get(vkey)
            in_edges[vkey] = (pos,) if positions is None else positions + (pos,)
    for vkey, positions in in_edges.items():
        attrs = in_attrs.get(positions)
        if attrs is None:
            attrs = in_attrs[positions] = {"kind": "input", "positions": positions}
        in_edges[vkey] = attrs
    return in_edges


def _wire_direct(s: _Scope, op_key, keys):
    """The input edges of op ``op_key`` reading the value keys ``keys`` (None for an
    omitted input), filled directly; returns the op's predecessor adjacency."""
    succ = s.succ
    in_edges = _input_edges(s, keys)  # the dict becomes the op's predecessors
    for vkey, attrs in in_edges.items():
        readers = succ[vkey]  # _grow, inlined: the first pass's hot loop
        if readers is NO_NEIGHBOUR:
            succ[vkey] = OneNeighbour(op_key, attrs)
        elif readers.__class__ is OneNeighbour:
            succ[vkey] = {readers.key: readers.data, op_key: attrs}
        else:
            readers[op_key] = attrs
    if not in_edges:
        return NO_NEIGHBOUR
    if len(in_edges) == 1:
        ((vkey, attrs),) = in_edges.items()
        return OneNeighbour(vkey, attrs)
    return in_edges


def _add_ops(s: _Scope, op_nodes, op_node_attrs, op_succ, op_pred) -> None:
    """The op nodes (after this graph's values) and their output edges (direct fill: the
    adjacencies made in the first pass; the second pass sets the predecessors it wires)."""
    G, node_attrs, succ, pred = s.G, s.node_attrs, s.succ, s.pred
    keys = s.sub.op_keys  # this graph's ops, in order
    if s.direct:  # three C-level loops rather than one in Python
        node_attrs.update(zip(keys, op_node_attrs))
        succ.update(zip(keys, op_succ))
        pred.update(zip(keys, op_pred))
    else:
        out_attrs = s.out_attrs
        _add_nodes(G, s.new_values)
        _add_nodes(G, list(zip(keys, op_node_attrs)))
        _add_edges(G, [(op.key, vkey, out_attrs.setdefault(pos, {"kind": "output", "position": pos}))
                       for op in op_nodes for pos, vkey in enumerate(op.outputs) if vkey is not None])


def _wire_inputs(s: _Scope, op_nodes, deferred, graph_attrs, pending) -> None:
    """Second pass: the input edges of the ops from index ``deferred`` on (inner graphs
    resolve names through enclosing scopes; a name defined nowhere becomes a "missing"
    value with a note), and the subgraphs every op holds queued for building, in node
    order."""
    g, path, direct = s.g, s.path, s.direct
    succ, pred, vkeys, in_attrs = s.succ, s.pred, s.vkeys, s.in_attrs
    missing = {}

    def resolve(name, op):
        """The value key ``name`` reads when this graph does not define it."""
        vkey = _scope_lookup(g, path, name)
        if vkey is None:  # not defined in an enclosing scope either: missing
            vkey = ("value", path, name)
            if name not in missing:
                missing[name] = op.id
                s.add_missing(vkey, name)
                g.notes.append(f"{path}: node {shown(op.id)} reads {shown(name)}, which nothing defines")
        elif vkey[1] != path:
            _add_implicit_edges(s, vkey, path)
        vkeys[name] = vkey  # the next reader resolves it the same way
        return vkey

    for index, attrs_here in graph_attrs.items():  # ops wired in the first pass: no note comes between
        if index >= deferred:
            break
        _queue_subgraphs(g, path, op_nodes[index], attrs_here, pending)
    edges = []
    one = in_attrs.get((0,))
    for op in op_nodes[deferred:]:
        inputs = op.inputs  # input names from the first pass, replaced in place by keys
        op_key = op.key
        if len(inputs) == 1 and direct:  # most ops: one input, one edge
            name = inputs[0]
            if name.__class__ is not str:
                name = text(name)
            if not name:
                inputs[0] = None
            else:
                vkey = inputs[0] = vkeys.get(name) or resolve(name, op)
                if one is None:
                    one = in_attrs[(0,)] = {"kind": "input", "positions": (0,)}
                pred[op_key] = OneNeighbour(vkey, one)
                _grow(succ, vkey, op_key, one)
        else:
            for pos, name in enumerate(inputs):
                if name.__class__ is not str:
                    name = text(name)
                inputs[pos] = (vkeys.get(name) or resolve(name, op)) if name else None
            if direct:
                pred[op_key] = _wire_direct(s, op_key, inputs)
            else:
                edges.extend((vkey, op_key, attrs) for vkey, attrs in _input_edges(s, inputs).items())
        attrs_here = graph_attrs.get(op.index)
        if attrs_here:
            _queue_subgraphs(g, path, op, attrs_here, pending)
    _add_edges(s.G, edges)


def _queue_subgraphs(g: Graph, path, op: OpNode, graph_attrs, pending) -> None:
    """Reserve a path for each subgraph of ``op`` (GRAPH and GRAPHS attributes) and queue
    it for building."""
    seen_attrs = set()
    for attr in graph_attrs:
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


def _add_outputs(s: _Scope, out_names) -> None:
    g, path = s.g, s.path
    node_attrs, sub = s.node_attrs, s.sub
    for name in out_names:
        vkey = _scope_lookup(g, path, name) if name else None
        if vkey is None:
            vkey = ("value", path, name)
            if vkey not in node_attrs:
                s.add_missing(vkey, name)
            g.notes.append(f"{path}: graph output {shown(name)} is never produced")
        sub.output_keys.append(vkey)


def _add_implicit_edges(s: _Scope, vkey, path):
    """``vkey`` (defined in an enclosing graph) is read inside ``path``: every
    control-flow op between the two scopes depends on it."""
    g, G = s.g, s.G
    p = path
    while p is not None and p != vkey[1]:
        owner = g.subgraphs[p].owner
        if owner is None:
            break
        if not G.has_edge(vkey, owner):
            if s.direct:
                attrs = {"kind": "implicit", "positions": ()}
                _grow(s.succ, vkey, owner, attrs)
                _grow(s.pred, owner, vkey, attrs)
            else:
                G.add_edge(vkey, owner, kind="implicit", positions=())
            g._implicit.setdefault(owner, []).append(vkey)
        p = g.subgraphs[p].parent
