"""The model as a ``networkx.DiGraph`` of op nodes and value nodes.

Node keys:

* ``("op", graph_path, index)``: the ``index``-th node of the graph at ``graph_path``;
* ``("value", graph_path, name)``: a tensor (graph input, initializer, node output)
  defined in the scope of ``graph_path``.

An op node's attributes are ``kind="op"`` and ``op_type``, one dict shared by every op
of that type (its id, proto and the rest are on the :class:`OpNode`, ``graph.ops[key]``);
a value node's are ``kind="value"``, ``role`` and ``name`` (the shape engine adds
``info``).
Edges go value -> op (``kind="input"``, ``positions``: a tuple of the input positions)
and op -> value (``kind="output"``, ``position``).  Edge attribute dicts with the same
data are one shared dict: the graph is read-only.  So are the adjacency mappings of a
node with one neighbour or none in a direction (most of them: a value has at most one
producer, most ops one output and one distinct input): ``G._succ[key]`` and
``G._pred[key]`` are then a read-only mapping (:class:`OneNeighbour`, or the shared
:data:`NO_NEIGHBOUR`) instead of a dict: 48 bytes instead of 224, about 700 MB fewer on
a million-node chain.  Every networkx query reads them (``G.succ[key]``, ``G.edges``,
``has_edge``, algorithms); adding to the built graph raises ``TypeError``.  An op inside an If/Loop/Scan body
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

This module holds the graph's data (:class:`Graph`, :class:`OpNode`, :class:`SubGraph`)
and its queries; build.py builds it from a ModelProto.
"""
from __future__ import annotations

import gc
import heapq
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import networkx as nx

from analyzer.io.load import shown, text
from analyzer.io.proto import AttributeProto, GraphProto, ModelProto, NodeProto, get_attribute_value

__all__ = ["MAIN", "GraphError", "OpNode", "SubGraph", "Graph", "gc_paused", "GRAPH_TYPES", "OneNeighbour", "NO_NEIGHBOUR"]

MAIN = "main"


class OneNeighbour(Mapping):
    """A node's adjacency with exactly one neighbour: ``{key: data}``, read-only.

    ``items()`` and ``values()`` are tuples (what the graph's readers iterate); the
    rest is :class:`collections.abc.Mapping`'s."""

    __slots__ = ("key", "data")

    def __init__(self, key, data):
        self.key = key
        self.data = data

    def __getitem__(self, key):
        if key == self.key:
            return self.data
        raise KeyError(key)

    def get(self, key, default=None):
        return self.data if key == self.key else default

    def __contains__(self, key):
        return key == self.key

    def __iter__(self):
        return iter((self.key,))

    def __len__(self):
        return 1

    def items(self):
        return ((self.key, self.data),)

    def values(self):
        return (self.data,)

    def __repr__(self):
        return f"{{{self.key!r}: {self.data!r}}}"


class _NoNeighbour(Mapping):
    """An adjacency without neighbours, read-only: one instance (:data:`NO_NEIGHBOUR`)
    serves every node."""

    __slots__ = ()

    def __getitem__(self, key):
        raise KeyError(key)

    def get(self, key, default=None):
        return default

    def __contains__(self, key):
        return False

    def __iter__(self):
        return iter(())

    def __len__(self):
        return 0

    def items(self):
        return ()

    def values(self):
        return ()

    def __repr__(self):
        return "{}"

    def __reduce__(self):
        return "NO_NEIGHBOUR"  # unpickles as the one instance


NO_NEIGHBOUR = _NoNeighbour()


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
    # the graph's (or function's) node list: ``proto`` is read from it when asked, so
    # no NodeProto wrapper per op stays alive (about 200 bytes each with its cache entry)
    _nodes: object = field(repr=False, compare=False)
    inputs: list  # value keys; None for an omitted optional input
    outputs: list  # value keys; None for an omitted optional output
    op_type: str = ""  # decoded from the proto (always str)
    domain: str = ""  # "" for the default domain (also when written "ai.onnx")
    # the attribute dict of output 0's value node, the graph's own (``G.nodes[outputs[0]]``)
    # when the builder filled the graph directly, else None: the shape walk writes each
    # op's output info without a look-up in the graph's node table
    out0: dict | None = field(default=None, repr=False, compare=False)
    _attrs: dict | None = None
    _refs: dict | None = None  # raw attribute name -> ref_attr_name (function bodies)

    @property
    def proto(self) -> NodeProto:
        return self._nodes[self.index]

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
                    v = get_attribute_value(a)
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
GRAPH_TYPES = (AttributeProto.GRAPH, AttributeProto.GRAPHS)


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
    attributed_keys: list = field(default_factory=list)  # keys of the ops with attributes, in order
    # the OpNodes of op_keys, in order (graph.ops[key] for key in op_keys), and whether the
    # builder saw every op read only values defined before it in this graph (captures by
    # its subgraphs aside): then the file order is the topological order (Graph._toposort)
    op_nodes: list = field(default_factory=list, repr=False)
    wired_in_order: bool = False
    # the ops by kind, noted while building (each op is at hand then; a pass over a
    # million ops afterwards touches each OpNode and its lists again): for each (domain,
    # op_type) in the order its first op comes, ``(domain, op_type, ops, n_in, n_out, odd)``
    # -- its ops in file order, the first one's input and output counts (as written,
    # omitted ones included), and the ops (in order) of another arity or with an omitted
    # (empty) input or output.  Read-only, like the graph.
    kinds: list = field(default_factory=list, repr=False)
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
        self._implicit_by_path: dict | None = None  # graph path -> its ops in _implicit (_toposort)
        self._subgraph_of: dict[tuple, str] = {}  # (op key, attribute name, index) -> path
        self._op_attrs: dict[str, dict] = {}  # op type -> the attribute dict its op nodes share

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
        sub = self.subgraphs[path]
        keys = sub.op_keys
        producer = self._producer
        if sub.wired_in_order and len(sub.op_nodes) == len(keys):
            # The builder wired every op's inputs while reading the file, each to a value
            # defined before it (an input, an initializer, an earlier op's output; build.py
            # leaves an op reading its own output to its second pass): only what ops'
            # subgraphs capture from this graph is left to check (measured: the check
            # below, a producer look-up per input, took ~0.7 s on a million-node chain).
            by_path = self._implicit_by_path
            if by_path is None:  # (once: the graph is built)
                by_path = self._implicit_by_path = {}
                for owner in self._implicit:
                    by_path.setdefault(owner[1], []).append(owner)
            for owner in by_path.get(path, ()):
                here = owner[2]
                for vkey in self._implicit[owner]:
                    prod = producer.get(vkey)
                    if prod is not None and prod[2] >= here and prod[1] == path:
                        break
                else:
                    continue
                break
            else:
                return sub.op_nodes
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

    def graph_ops(self, path: str = MAIN) -> list:
        """The ops of one graph (not its subgraphs), in file order: the builder's list of
        them (``SubGraph.op_nodes``, not a copy: read-only), or looked up from ``op_keys``
        for a graph filled otherwise."""
        sub = self.subgraphs[path]
        if len(sub.op_nodes) == len(sub.op_keys):
            return sub.op_nodes
        return [self.ops[key] for key in sub.op_keys]

    def all_ops(self):
        """Every op of every graph (main, subgraphs, functions), graph by graph.

        The list is made once (the graph is read-only once built): a dozen rules walk
        every op, and a generator through three dict lookups per op cost each of them
        more than its own check on a million-node chain."""
        listed = self.memo.get("all_ops")
        if listed is None:
            if len(self.subgraphs) == 1:
                listed = self.graph_ops(next(iter(self.subgraphs)))  # not copied: a copy touches every op (~45 ms a million)
            else:
                listed = []
                for path in self.subgraphs:
                    listed += self.graph_ops(path)
            self.memo["all_ops"] = listed
        return iter(listed)

    def attributed_ops(self) -> list:
        """The ops that have at least one attribute, in :meth:`all_ops` order (noted while
        building: most ops of a large graph have none, and asking each op's proto costs
        as much as the check that wants them).  A new list each time."""
        ops = self.ops
        return [ops[key] for sub in self.subgraphs.values() for key in sub.attributed_keys]
