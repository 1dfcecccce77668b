"""What the engine knows of values, and where it starts.

:class:`EngineState` is the engine's base: the infos stored on the value nodes, the
notes, the constant-value budget (MAX_TOTAL_VALUE_ELEMENTS per model), and the seeds:
graph inputs (with the ``--input-shape`` bindings) and initializers.  An initializer's
small value is read on first use (:class:`_LazyValueInfo`; most, such as conv biases,
never are); the value budget counts it as if read at seeding.
"""
from __future__ import annotations

from math import prod

from analyzer.graph.build import MAIN
from analyzer.io.load import one_line, read_tensor
from analyzer.io.proto import TensorProto
from analyzer.io.tensors import to_array
from analyzer.shapes.dims import MAX_DIM, MAX_RANK, substitute
from analyzer.shapes.registry import MAX_TRACKED_ELEMENTS, ShapeError, TensorInfo, type_to_shape
from analyzer.shapes.sandbox import tensor_numel

__all__ = ["EngineState", "MAX_TOTAL_VALUE_ELEMENTS"]

# Constant values are tracked up to MAX_TRACKED_ELEMENTS each, and up to this many
# elements in all, per model (a chain of a million ops on one constant must not keep a
# million copies).
MAX_TOTAL_VALUE_ELEMENTS = 1 << 24


# Element types whose every read path (raw bytes, typed fields, external or lazy data)
# ends in a reshape to the tensor's dims: a value read later has exactly the
# tensor's element count, so its share of the value budget can be reserved up front.
_LAZY_VALUE_TYPES = frozenset(
    getattr(TensorProto, n)
    for n in ("FLOAT", "DOUBLE", "FLOAT16", "INT8", "UINT8", "INT16", "UINT16", "INT32", "UINT32", "INT64", "UINT64", "BOOL")
)


def _read_value(loaded, t):
    """A small tensor's values: through the loaded file (lazy payloads, external data),
    or from the proto itself when there is no file (an in-memory model's inline data)."""
    return read_tensor(loaded, t, MAX_TRACKED_ELEMENTS) if loaded is not None else _read_inline(t)


class _LazyValueInfo(TensorInfo):
    """An initializer's TensorInfo whose small value is read on first use.

    Most small initializers (conv biases) are never read as values, and reading
    each one costs a decode, often a system call.  The engine reserves the value's
    elements in its budget when the info is made and gives them back if the read
    fails (:meth:`EngineState.over_budget`), so every budget decision is the one an
    eager read would have made."""

    def __init__(self, shape, dtype, source, loaded, tensor):
        self.shape = shape
        self.dtype = dtype
        self.sym = None
        self.source = source
        self._value = None
        self._src = (loaded, tensor)

    @property
    def value(self):
        if self._src is not None:
            self._read()
        return self._value

    @value.setter
    def value(self, v):
        self._src = None
        self._value = v

    def _read(self):
        loaded, t = self._src
        self._src = None
        self._value = _read_value(loaded, t)

    # Seen from outside, a plain TensorInfo (printed, compared, pickled, copied).
    def _plain(self):
        return TensorInfo(self.shape, self.dtype, self.value, self.sym, self.source)

    def __repr__(self):
        return repr(self._plain())

    def __eq__(self, other):
        if not isinstance(other, TensorInfo):
            return NotImplemented
        return (self.shape, self.dtype, self.value, self.sym, self.source) == (other.shape, other.dtype, other.value, other.sym, other.source)

    __hash__ = None

    def __reduce__(self):
        return self._plain().__reduce__()


def _read_inline(t):
    if any(d < 0 for d in t.dims) or tensor_numel(t) > MAX_TRACKED_ELEMENTS:
        return None
    try:
        return to_array(t)
    except Exception:
        return None


class EngineState:
    """The engine's values, notes and seeds (its walking is in engine.py).  The
    subclass's ``__init__`` sets: graph, loaded, input_shapes, result (Shapes), opsets,
    _nodes (the value nodes' attribute dicts), value_budget, _pending, _said."""

    def opset_for(self, domain):
        return self.opsets.get(domain or "", self.opsets.get("ai.onnx", 0))

    def info(self, key) -> TensorInfo:
        return self._nodes[key].get("info") or TensorInfo()

    def store(self, key, info: TensorInfo):
        self._nodes[key]["info"] = info

    def note(self, msg):
        self.result.notes.append(one_line(msg))

    def record_unchecked(self, kind, msg, op=None, graph=None, reason="", count=1):
        """A coverage record (``analyzer.graph.coverage``) next to a note: what was not
        analyzed, at ``op`` (or in ``graph``, or the whole file)."""
        from analyzer.graph.coverage import Unchecked

        if op is not None:
            rec = Unchecked(kind, one_line(msg), op.graph, op.id, op.index, op.op_type, op.domain, one_line(reason), count, "shapes")
        else:
            rec = Unchecked(kind, one_line(msg), graph, reason=one_line(reason), count=count, source="shapes")
        self.result.unchecked.append(rec)

    def note_once(self, topic, msg):
        if topic not in self._said:
            self._said.add(topic)
            self.note(msg)

    def keep_value(self, value):
        """``value`` if it may be tracked (size and the model's budget), else None."""
        if value is None or value.size > MAX_TRACKED_ELEMENTS:
            return None
        if self.over_budget(value.size):
            self.budget_spent()
            return None
        self.value_budget -= value.size
        return value

    def over_budget(self, numel) -> bool:
        """Whether ``numel`` more elements exceed the value budget.  Before saying so,
        the initializers whose values were reserved but not read yet are read: those
        that fail give their reservation back, as if read eagerly at seeding."""
        if numel <= self.value_budget:
            return False
        pending, self._pending = self._pending, []
        for info, n in pending:
            if info.value is None:
                self.value_budget += n
        return numel > self.value_budget

    def budget_spent(self):
        self.note_once(
            "value-budget",
            f"constant propagation stopped after {MAX_TOTAL_VALUE_ELEMENTS} elements; later constants are unknown",
        )

    # -- seeds -----------------------------------------------------------
    def seed_inputs(self, path):
        sub = self.graph.subgraphs[path]
        symbol_values = {}
        if path == MAIN and self.input_shapes:
            names = [self.graph.nx.nodes[k]["name"] for k in sub.input_keys if self.graph.nx.nodes[k].get("role") == "input"]
            unknown = sorted(set(self.input_shapes) - set(names))
            if unknown:
                raise ShapeError(f"--input-shape names {', '.join(map(repr, unknown))}, not a graph input (inputs: {', '.join(names) or 'none'})")
        for key in sub.input_keys:
            attrs = self.graph.nx.nodes[key]
            if attrs.get("role") == "initializer":
                continue
            shape, dtype = type_to_shape(attrs.get("value_info"))
            bound = self.input_shapes.get(attrs["name"]) if path == MAIN else None
            if bound is not None:
                if shape is not None and len(shape) != len(bound):
                    raise ShapeError(f"--input-shape {attrs['name']}: {len(bound)} dims given, the input has {len(shape)}")
                if shape is None and any(b is None for b in bound):
                    raise ShapeError(f"--input-shape {attrs['name']}: '?' keeps the model's dim, but the model declares no shape for this input")
                if shape is not None:
                    for d, b in zip(shape, bound):
                        if b is None:
                            continue
                        if isinstance(d, int) and d != b:
                            raise ShapeError(f"--input-shape {attrs['name']}: dim {d} is fixed in the model, {b} given")
                        if isinstance(d, str):
                            if symbol_values.get(d, b) != b:
                                raise ShapeError(f"--input-shape {attrs['name']}: symbol {d} is bound to {symbol_values[d]} elsewhere, {b} given here")
                            symbol_values[d] = b
                    shape = tuple(d if b is None else b for d, b in zip(shape, bound))
                else:
                    shape = tuple(bound)
            self.store(key, TensorInfo(shape, dtype, None, None, "input"))
        if symbol_values:
            # A symbol bound through one input is bound everywhere it appears.
            for key in sub.input_keys:
                inf = self.info(key)
                if inf.shape is not None:
                    inf.shape = tuple(substitute(d, symbol_values) if isinstance(d, str) else d for d in inf.shape)
        nodes = self._nodes
        for key in sub.initializer_keys:
            attrs = nodes[key]
            t = attrs.get("tensor")
            if t is None:  # sparse
                sp = attrs["sparse"]
                dims = tuple(int(d) for d in sp.dims)
                ok = len(dims) <= MAX_RANK and all(0 <= d <= MAX_DIM for d in dims)
                attrs["info"] = TensorInfo(dims if ok else None, sp.values.data_type, None, None, "initializer")
                continue
            attrs["info"] = self.tensor_info(t, "initializer")

    def tensor_info(self, t: TensorProto, source) -> TensorInfo:
        # measured hot (every initializer): each protobuf field read once, the
        # repeated dims copied by slicing (faster than iterating them)
        dtype = t.data_type
        dims = t.dims
        if len(dims) > MAX_RANK:
            return TensorInfo(None, dtype, None, None, source)
        dims = tuple(dims[:])  # protobuf int64s: Python ints already
        if dims and (min(dims) < 0 or max(dims) > MAX_DIM):
            return TensorInfo(None, dtype, None, None, source)
        value = None
        numel = prod(dims)
        if numel <= MAX_TRACKED_ELEMENTS and (numel <= self.value_budget or not self.over_budget(numel)):
            if dtype in _LAZY_VALUE_TYPES and (self.loaded is not None or t.data_location != TensorProto.EXTERNAL):
                self.value_budget -= numel
                info = _LazyValueInfo(dims, dtype, source, self.loaded, t)
                self._pending.append((info, numel))
                return info
            if self.loaded is not None or t.data_location != TensorProto.EXTERNAL:
                value = _read_value(self.loaded, t)
            value = self.keep_value(value)
        return TensorInfo(dims, dtype, value, None, source)

