"""An analyzed model: loaded file + networkx graph + shapes; what rules see.

The stable, documented surface for users' scripts (``analyzer.analyze(...)``):

* ``am.graph.nx``: the ``networkx.DiGraph`` (node keys ``("op", graph, index)`` and
  ``("value", graph, name)``; see :mod:`analyzer.graph.build`), ``am.graph.topological_order(graph)``;
* ``am.values(graph="main")``: ``{tensor name: ValueShape}`` of one graph, graph inputs
  first, then in topological order; ``am.value(name, graph="main")``: one of them;
* ``am.graph_paths()``: ``"main"``, then the If/Loop/Scan bodies (``main/Loop#3.body``),
  then model-local functions (``function:<domain>:<name>``); ``am.all_values()``: every
  value of every graph, in that order.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from analyzer.graph.build import MAIN, Graph, build_graph
from analyzer.io.load import LoadedModel, from_proto, load
from analyzer.io.proto import ModelProto, TensorProto
from analyzer.shapes import Shapes, TensorInfo, infer_shapes

__all__ = ["AnalyzedModel", "ValueShape", "analyze", "analyze_loaded", "load_any", "dtype_name"]

# onnx element type -> name: numpy's name where numpy has the type ("float32", "int64",
# "bool", "complex64"), else onnx's own name in lower case ("bfloat16", "string", "float8e4m3fn").
_DTYPE_NAMES = {int(v): n.lower() for n, v in TensorProto.DataType.items() if v}
_DTYPE_NAMES[TensorProto.FLOAT] = "float32"
_DTYPE_NAMES[TensorProto.DOUBLE] = "float64"


def dtype_name(elem_type) -> str | None:
    """``TensorProto`` element type (int) -> ``"float32"``, ``"int64"``, ``"bfloat16"``...;
    None when unknown (0, absent, or a code onnx does not define)."""
    if not elem_type:
        return None
    return _DTYPE_NAMES.get(int(elem_type))


@dataclass(frozen=True)
class ValueShape:
    """What analysis knows about one tensor (a value of one graph).

    * ``name``: the tensor's name; unique within ``graph``, not across graphs.
    * ``graph``: the graph path (``"main"``, ``"main/If#1.then_branch"``,
      ``"function:<domain>:<name>"``).
    * ``shape``: ``None`` when the rank is unknown, else a tuple of dims, each an ``int``,
      a symbol (a ``str``, or a ``str`` subclass, whose text is the canonical expression:
      ``"batch"``, ``"floor((W - 1)/2) + 1"``) or ``None`` (unknown).
    * ``dtype``: ``"float32"``, ``"int64"``, ``"bool"``... (numpy's name; onnx's in lower
      case for types numpy lacks: ``"bfloat16"``, ``"string"``), or ``None``.
    * ``source``: who gave the shape: ``inferred`` (our engine), ``onnx`` (onnx's shape
      inference, for ops we have no shape function for), ``input`` / ``initializer``
      (declared by the file as a graph input / initializer), ``value_info`` (a shape the
      file declares for an intermediate value or output, used where propagation found
      none), ``unknown`` (nothing known).
    * ``constant``: the value (read-only ``numpy.ndarray``) when analysis knows it (small
      tensors only: initializers, shape arithmetic), else ``None``.
    * ``role``: ``input``, ``initializer``, ``output`` (of a node) or ``missing`` (read,
      but defined nowhere).
    """

    name: str
    graph: str
    shape: tuple | None
    dtype: str | None
    source: str
    constant: np.ndarray | None = field(compare=False, repr=False)
    role: str

    @property
    def key(self) -> tuple:
        """The value's node key in ``am.graph.nx``."""
        return ("value", self.graph, self.name)

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    @property
    def is_static(self) -> bool:
        """Rank known and every dim an int."""
        return self.shape is not None and all(isinstance(d, int) for d in self.shape)


@dataclass
class AnalyzedModel:
    """A loaded model, its graph (``.graph``, networkx in ``.graph.nx``) and the shapes
    propagated over it (``.shapes``); see the module docstring for the stable API."""

    path: str | None
    loaded: LoadedModel
    graph: Graph
    shapes: Shapes
    notes: list = field(default_factory=list)
    _memo: dict = field(default_factory=dict, repr=False)
    # Coverage records (``analyzer.graph.coverage.Unchecked``): what analysis and the
    # rules could not check; filled by the shape engine, by rules through
    # ``record_unchecked`` and by the linter (stale suppressions).
    unchecked: list = field(default_factory=list)

    def record_unchecked(self, kind: str, message: str, source: str = "", op=None, reason: str = "", count: int = 1):
        """Declare something not checked (see :mod:`analyzer.graph.coverage`): at ``op``
        (an ``OpNode``; None: the whole file).  A rule passes its own code as ``source``.
        Every format shows the record; a coverage rule may turn it into a finding."""
        from analyzer.graph.coverage import Unchecked

        if op is not None:
            rec = Unchecked(kind, message, op.graph, op.id, op.index, op.op_type, op.domain, reason, count, source)
        else:
            rec = Unchecked(kind, message, None, reason=reason, count=count, source=source)
        self.unchecked.append(rec)
        return rec

    @property
    def model(self) -> ModelProto:
        return self.loaded.model

    def __post_init__(self):
        # info / shape / constant: measured hot (rules ask per input of every node, 400k
        # times on a 100k-node graph), so on the instance each is the engine's own lookup
        # (a bound method of ``shapes``: one call, no frame of ours); the methods below
        # say what they return, and serve a model whose ``shapes`` is replaced later
        shapes = self.shapes
        if isinstance(shapes, Shapes):
            self.info = shapes.info
            self.shape = shapes.shape
            self.constant = shapes.constant

    def __setattr__(self, name, value):
        object.__setattr__(self, name, value)
        if name == "shapes" and "info" in self.__dict__:
            # the bound lookups follow a replaced ``shapes``
            for attr in ("info", "shape", "constant"):
                self.__dict__.pop(attr, None)
            self.__post_init__()

    def info(self, value_key) -> TensorInfo:
        return self.shapes.info(value_key)

    def shape(self, value_key):
        return None if value_key is None else self.shapes.info(value_key).shape

    def constant(self, value_key) -> np.ndarray | None:
        return None if value_key is None else self.shapes.info(value_key).value

    def ints(self, value_key):
        v = self.constant(value_key)
        if v is None or v.dtype.kind not in "iu":
            return None
        return [int(x) for x in v.reshape(-1)]

    # -- values by name (the documented API) ---------------------------------
    def graph_paths(self) -> list:
        """``"main"``, then control-flow bodies (in the order they were found), then functions."""
        subs = self.graph.subgraphs
        bodies = [p for p, s in subs.items() if p != MAIN and s.function is None]
        functions = [p for p, s in subs.items() if s.function is not None]
        return [MAIN] + bodies + functions

    def values(self, graph: str = MAIN) -> dict:
        """``{tensor name: ValueShape}`` of one graph: its inputs first, then every other
        value in topological order (an initializer or undefined tensor just before its
        first reader; unread ones at the end).  Raises ``KeyError`` for an unknown graph."""
        return dict(self._values_map(graph))

    def value(self, name: str, graph: str = MAIN) -> ValueShape:
        """One tensor of one graph.  Raises ``KeyError`` when ``graph`` has no such value
        (a value an inner graph reads from an enclosing one belongs to the enclosing one)."""
        memo = self._memo.get("values")
        if memo is not None and graph in memo:
            got = memo[graph].get(name)
        else:
            got = self._one_value(name, graph)
        if got is None:
            raise KeyError(f"no value {name!r} in graph {graph!r}")
        return got

    def all_values(self) -> Iterator[ValueShape]:
        """Every value of every graph, graph by graph in ``graph_paths()`` order."""
        for path in self.graph_paths():
            yield from self.values(path).values()

    def _values_map(self, graph) -> dict:
        memo = self._memo.setdefault("values", {})
        if not isinstance(graph, str) or graph not in memo:
            if not isinstance(graph, str) or graph not in self.graph.subgraphs:
                raise KeyError(f"no graph {graph!r} in this model (graphs: {', '.join(self.graph_paths())})")
            memo[graph] = {k[2]: self._value_shape(k) for k in self._ordered_value_keys(graph)}
        return memo[graph]

    def _one_value(self, name, graph):
        """``value(name, graph)`` without building the graph's whole map (rules ask for a
        few graph inputs by name; the map of a million-node graph costs seconds)."""
        if not isinstance(graph, str) or graph not in self.graph.subgraphs:
            self._values_map(graph)  # raises the KeyError naming the graphs
        key = ("value", graph, name)
        attrs = self.graph.nx._node.get(key) if isinstance(name, str) else None
        if attrs is None or attrs.get("kind") != "value":
            return None
        singles = self._memo.setdefault("value_singles", {})
        got = singles.get(key)
        if got is None:
            got = singles[key] = self._value_shape(key)
        return got

    def _value_keys_by_graph(self) -> dict:
        by_graph = self._memo.get("value_keys")
        if by_graph is None:
            by_graph = {}
            for key, attrs in self.graph.nx.nodes(data=True):
                if attrs.get("kind") == "value":
                    by_graph.setdefault(key[1], []).append(key)
            self._memo["value_keys"] = by_graph
        return by_graph

    def _ordered_value_keys(self, path) -> list:
        g = self.graph
        sub = g.subgraphs[path]
        nodes = g.nx.nodes
        seen = set()
        order = []

        def add(k):
            if k is not None and k[1] == path and k not in seen:
                seen.add(k)
                order.append(k)

        for k in sub.input_keys:
            if nodes[k].get("role") != "initializer":  # an IR<4 initializer listed as input comes with its reader
                add(k)
        for op in g.topological_order(path):
            for k in op.inputs:
                add(k)
            for k in op.outputs:
                add(k)
        for k in list(sub.initializer_keys) + list(sub.input_keys) + list(sub.output_keys):
            add(k)
        for k in sorted(self._value_keys_by_graph().get(path, ()), key=lambda k: k[2]):
            add(k)
        return order

    def _value_shape(self, key) -> ValueShape:
        attrs = self.graph.nx.nodes[key]
        inf = attrs.get("info") or TensorInfo()
        shape = None if inf.shape is None else tuple(_plain_dim(d) for d in inf.shape)
        value = inf.value
        if value is not None:
            value = value.view()
            value.flags.writeable = False
        return ValueShape(
            name=key[2],
            graph=key[1],
            shape=shape,
            dtype=dtype_name(inf.dtype),
            source=inf.source,
            constant=value,
            role=attrs.get("role", "output"),
        )


def _plain_dim(d):
    """ints as Python ints (numpy integers can reach a shape through folded values);
    symbols (str) and None as they are."""
    if d is None or isinstance(d, str):
        return d
    return int(d)


def load_any(path_or_model) -> LoadedModel:
    if isinstance(path_or_model, ModelProto):
        return from_proto(path_or_model)
    return load(path_or_model)


def analyze(path_or_model, input_shapes=None) -> AnalyzedModel:
    """Load (a path, or an in-memory ``onnx.ModelProto``), build the graph and
    propagate shapes.  Raises ``LoadError`` / ``GraphError`` / ``ShapeError``."""
    return analyze_loaded(load_any(path_or_model), path_or_model, input_shapes)


def analyze_loaded(loaded: LoadedModel, path_or_model=None, input_shapes=None) -> AnalyzedModel:
    path = None if path_or_model is None or isinstance(path_or_model, ModelProto) else str(path_or_model)
    graph = build_graph(loaded.model)
    shapes = infer_shapes(graph, loaded, input_shapes)
    notes = list(loaded.notes) + list(shapes.notes)
    am = AnalyzedModel(path=path, loaded=loaded, graph=graph, shapes=shapes, notes=notes)
    am.unchecked.extend(shapes.unchecked)
    return am
