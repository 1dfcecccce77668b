"""Shape propagation over the networkx graph.

Walks each graph in topological order and calls the shape function registered
for the op type (``analyzer/shapes/ops_*.py``).  Results are stored on the value
nodes of the networkx graph (attribute ``info``, a :class:`TensorInfo`).

Constant propagation rides along: small tensors whose values are known
(initializers, Constant, Shape of a tensor with known dims...) carry them in
``TensorInfo.value`` (numpy) or, for 1-D integer vectors that contain symbols,
in ``TensorInfo.sym`` (a list of dims), so exporters' Shape -> Gather -> Concat
-> Reshape chains resolve.  An initializer's value is read on first use (most, such
as conv biases, never are); the value budget counts it as if read at seeding.

An op without a shape function of ours takes the shape onnx's own inference
gives for that output (computed once, lazily, only if such an op exists);
otherwise its outputs are unknown.  Never a guess.  onnx's inference is native
code that has crashed on hostile attributes before, so on Linux it runs in a
forked child with a time limit: a crash or hang there costs only its shapes.

Bounded work on hostile input: ranks above MAX_RANK, values above
MAX_TRACKED_ELEMENTS and constant folding beyond MAX_TOTAL_VALUE_ELEMENTS are
dropped (unknown, with a note), control flow deeper than MAX_SUBGRAPH_DEPTH and
function expansion beyond a budget proportional to the model are not followed,
and a function that calls itself is not expanded again.
"""
from __future__ import annotations

import os
import select
import signal
import sys
import time
from dataclasses import dataclass, field
from math import prod
from types import MappingProxyType

import numpy as np
import onnx
import onnx.shape_inference
from onnx import TensorProto

from analyzer.graph.build import MAIN, Graph, gc_paused
from analyzer.io.load import LoadedModel, iter_tensors, one_line, read_tensor, shown, text
from analyzer.shapes.dims import MAX_DIM, MAX_RANK, substitute, symbol

__all__ = ["TensorInfo", "ShapeError", "infer_shapes", "SHAPE_FUNCTIONS", "register", "MAX_TRACKED_ELEMENTS"]

# Control-flow nesting deeper than this is not analyzed (outputs unknown, with a note).
MAX_SUBGRAPH_DEPTH = 64
# Constant values (initializers, folded results) are tracked up to this many elements:
# shape sub-graphs need a handful; weights are never needed as values.
MAX_TRACKED_ELEMENTS = 4096
# ... and up to this many elements in all, per model (a chain of a million ops on
# one constant must not keep a million copies).
MAX_TOTAL_VALUE_ELEMENTS = 1 << 24
# Op evaluations per model: every op once (or a few times), plus function bodies per call
# site up to this (calls with the same input shapes are computed once).
MIN_OP_BUDGET = 250_000
# onnx's own shape inference (the fallback) gets this long, in a child process, and
# this much address space beyond what the process already had.
ONNX_INFERENCE_TIMEOUT = 30.0
ONNX_INFERENCE_MEMORY = 4 << 30


class ShapeError(Exception):
    """A shape function found inconsistent inputs (the model is wrong there)."""


@dataclass
class TensorInfo:
    shape: tuple | None = None  # None: rank unknown
    dtype: int | None = None  # onnx TensorProto data type
    value: np.ndarray | None = None  # concrete constant value (small tensors only)
    sym: list | None = None  # 1-D int vector (or scalar as 1 element) whose entries may be symbols
    source: str = "unknown"  # inferred | onnx | input | initializer | unknown

    @property
    def rank(self):
        return None if self.shape is None else len(self.shape)

    @property
    def fully_known(self) -> bool:
        return self.shape is not None and all(d is not None for d in self.shape)


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
    fails (:meth:`_Engine.over_budget`), so every budget decision is the one an
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


SHAPE_FUNCTIONS: dict = {}


def register(*op_types, domain=""):
    def deco(fn):
        for t in op_types:
            SHAPE_FUNCTIONS[(domain, t)] = fn
        return fn

    return deco


@dataclass
class Shapes:
    """The result of propagation."""

    graph: Graph
    notes: list = field(default_factory=list)
    used_onnx_fallback: bool = False

    def info(self, value_key) -> TensorInfo:
        if value_key is None:
            return TensorInfo()
        return self.graph.nx.nodes[value_key].get("info") or TensorInfo()

    def shape(self, value_key):
        return self.info(value_key).shape


_NO_BINDINGS = MappingProxyType({})  # attribute values of no function call (read-only, shared)


class Ctx:
    """What a shape function sees of one node.

    One is made per op evaluation, and its input accessors run a few times per op:
    they are measured hot (bench/phases.py), so they read the value-node dicts
    directly instead of going through :meth:`_Engine.info`."""

    __slots__ = ("engine", "op", "_bindings", "_inputs", "_nodes")

    def __init__(self, engine: "_Engine", op, attr_bindings=None):
        self.engine = engine
        self.op = op
        self._bindings = attr_bindings or _NO_BINDINGS
        self._inputs = op.inputs
        self._nodes = engine._nodes

    @property
    def node(self):
        """The NodeProto."""
        return self.op.proto

    @property
    def opset(self):
        return self.engine.opset_for(self.op.domain)

    # inputs
    @property
    def n_inputs(self):
        return len(self._inputs)

    @property
    def n_outputs(self):
        return len(self.op.outputs)

    def has_input(self, i) -> bool:
        return i < len(self._inputs) and self._inputs[i] is not None

    def info(self, i) -> TensorInfo:
        inputs = self._inputs
        if i < len(inputs):
            key = inputs[i]
            if key is not None:
                inf = self._nodes[key].get("info")
                if inf is not None:
                    return inf
        return TensorInfo()

    def shape(self, i):
        return self.info(i).shape

    def dtype(self, i):
        return self.info(i).dtype

    def value(self, i):
        return self.info(i).value

    def sym(self, i):
        """A 1-D integer vector's entries as dims (ints or symbols), or None."""
        inf = self.info(i)
        if inf.sym is not None:
            return list(inf.sym)
        v = inf.value
        if v is not None and v.dtype.kind in "iu" and v.ndim <= 1:
            return [int(x) for x in v.reshape(-1)]
        return None

    def ints(self, i):
        """A constant integer input as a list of Python ints, or None."""
        s = self.sym(i)
        if s is None or not all(isinstance(x, int) for x in s):
            return None
        return s

    def attr(self, name, default=None):
        # an attribute referring to the caller's (ref_attr_name) takes the bound value
        return self.op.attr_in(name, default, self._bindings)

    def can_fold(self, numel) -> bool:
        """Whether a constant result of ``numel`` elements may be computed (call before
        materializing it: broadcasting two small constants can make a huge one)."""
        if numel is None or numel > MAX_TRACKED_ELEMENTS:
            return False
        if self.engine.over_budget(numel):
            self.engine.budget_spent()
            return False
        return True

    # outputs
    def set(self, i, shape=None, dtype=None, value=None, sym=None):
        outputs = self.op.outputs
        if i >= len(outputs):
            return
        key = outputs[i]
        if key is None:
            return
        if shape is not None:
            shape = tuple(shape)
            if len(shape) > MAX_RANK:
                raise ShapeError(f"output {i} would have rank {len(shape)} (more than {MAX_RANK})")
            for d in shape:
                if isinstance(d, int) and not 0 <= d <= MAX_DIM:
                    raise ShapeError(f"output {i} would have dim {d}")
        if value is not None:
            value = np.asarray(value)
            if shape is None:
                shape = value.shape
            value = self.engine.keep_value(value)
        if sym is not None and len(sym) > MAX_TRACKED_ELEMENTS:
            sym = None
        if sym is not None and all(isinstance(x, int) for x in sym) and value is None:
            value = self.engine.keep_value(np.array(sym, dtype=np.int64))
            if value is not None and shape is not None and len(shape) == 0 and value.size == 1:
                value = value.reshape(())
            sym = None
        self._nodes[key]["info"] = TensorInfo(shape, dtype, value, sym, "inferred")

    def same_as_input(self, out=0, inp=0, dtype=None):
        inf = self.info(inp)
        self.set(out, inf.shape, dtype if dtype is not None else inf.dtype)


class _Engine:
    def __init__(self, graph: Graph, loaded: LoadedModel | None, input_shapes=None):
        self.graph = graph
        self.loaded = loaded
        self.input_shapes = dict(input_shapes or {})
        self.result = Shapes(graph)
        self._onnx_types = None
        self.opsets = {text(imp.domain) or "": imp.version for imp in graph.model.opset_import}
        self.depth = 0
        self._nodes = graph.nx._node  # value key -> attribute dict (plain dict: hot path)
        self.value_budget = MAX_TOTAL_VALUE_ELEMENTS
        # (info, elements) of _LazyValueInfo not known to have been read successfully;
        # their elements are reserved in value_budget
        self._pending: list = []
        self.op_budget = MIN_OP_BUDGET + 2 * len(graph.ops)
        self._calls: dict = {}  # (function path, input signature, attributes) -> output infos
        # shape functions' own memos of pure computations, for this run (e.g. ops_nn.conv)
        self.memo: dict = {}
        self._active_functions: set = set()
        self._said: set = set()  # one-time notes already given
        self._unknown_ops: dict = {}  # (domain, op_type) -> [count, first node]

    def opset_for(self, domain):
        return self.opsets.get(domain or "", self.opsets.get("ai.onnx", 0))

    def info(self, key) -> TensorInfo:
        return self._nodes[key].get("info") or TensorInfo()

    def store(self, key, info: TensorInfo):
        self._nodes[key]["info"] = info

    def note(self, msg):
        self.result.notes.append(one_line(msg))

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
            shape, dtype = _type_to_shape(attrs.get("value_info"))
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

    # -- walking ---------------------------------------------------------
    def run(self, path=MAIN, attr_bindings=None):
        run_op = self.run_op
        for op in self.graph.topological_order(path):
            run_op(op, attr_bindings)

    def run_op(self, op, attr_bindings=None):
        self.op_budget -= 1
        fn = SHAPE_FUNCTIONS.get((op.domain, op.op_type))
        ctx = Ctx(self, op, attr_bindings)
        try:
            if fn is not None:
                fn(ctx)
            else:
                fpath = self.graph.function_path(op.domain, op.op_type, op.overload)
                if fpath is not None:
                    self.run_function(ctx, fpath)
                else:
                    self.unknown_op(op)
        except ShapeError as e:
            self.note(f"{op.graph}:{op.id} ({op.op_type}): {e}")
        except (ValueError, TypeError, IndexError, KeyError, AttributeError, OverflowError, ZeroDivisionError, MemoryError) as e:
            msg = str(e).splitlines()[0][:200] if str(e) else ""
            self.note(f"{op.graph}:{op.id} ({op.op_type}): shape function failed ({type(e).__name__}: {msg})")
        # measured hot (every op): the infos read from the node dicts, a loop for "a dim unknown"
        nodes = self._nodes
        for vkey in op.outputs:
            if vkey is None:
                continue
            inf = nodes[vkey].get("info") or TensorInfo()
            shape = inf.shape
            if shape is None:
                self.fill_from_onnx(op, vkey, inf)
                continue
            for d in shape:
                if d is None:
                    self.fill_from_onnx(op, vkey, inf)
                    break

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
                known = onnx.defs.has(op.op_type, op.domain)
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

    def run_subgraph(self, path, bind):
        """Run subgraph ``path`` with its formal inputs bound to ``bind`` (list of TensorInfo)."""
        if path is None:
            return []
        sub = self.graph.subgraphs[path]
        if self.depth >= MAX_SUBGRAPH_DEPTH:
            self.note(f"{path}: nested deeper than {MAX_SUBGRAPH_DEPTH} levels; not analyzed")
            return [TensorInfo() for _ in sub.output_keys]
        self.depth += 1
        try:
            self.seed_inputs(path)
            for key, inf in zip(sub.input_keys, bind):
                declared = self.info(key)
                shape = inf.shape if inf.shape is not None else declared.shape
                dtype = inf.dtype if inf.dtype is not None else declared.dtype
                self.store(key, TensorInfo(shape, dtype, inf.value, inf.sym, "inferred"))
            self.run(path)
        finally:
            self.depth -= 1
        return [self.info(k) for k in sub.output_keys]

    def run_function(self, ctx: Ctx, path):
        sub = self.graph.subgraphs[path]
        fn = sub.function
        if self.depth >= MAX_SUBGRAPH_DEPTH:
            self.note_once(("depth", path), f"{path}: nested deeper than {MAX_SUBGRAPH_DEPTH} levels; not analyzed")
            return
        if path in self._active_functions:
            self.note_once(("recursive", path), f"{path}: calls itself (recursive functions are not valid ONNX); the inner call is not analyzed")
            return
        if self.op_budget < len(sub.op_keys):
            self.note_once(
                "op-budget",
                f"{ctx.op.graph}:{ctx.op.id} ({ctx.op.op_type}): function calls expand to too many nodes; "
                "this and later calls are not analyzed",
            )
            return
        bindings = {}
        for a in fn.attribute_proto:
            try:
                bindings[text(a.name)] = onnx.helper.get_attribute_value(a)
            except Exception:
                bindings[text(a.name)] = None
        for name, value in ctx.op.attrs.items():
            bindings[name] = value
        inputs = [ctx.info(i) if ctx.has_input(i) else TensorInfo() for i in range(len(sub.input_keys))]
        signature = _call_signature(path, inputs, bindings)
        if signature is not None and signature in self._calls:
            # Same function, same input shapes/values, same attributes: same result
            # (and the body already holds what this call would merge into it).
            for i, inf in enumerate(self._calls[signature]):
                ctx.set(i, inf.shape, inf.dtype, inf.value, inf.sym)
            return
        body_keys = list(sub.input_keys) + [v for k in sub.op_keys for v in self.graph.ops[k].outputs if v is not None]
        # A function called more than once keeps, on its body, only what holds for
        # every call: rules reading the body must not see one call's sizes as the truth.
        earlier = {k: self._nodes[k]["info"] for k in body_keys if "info" in self._nodes[k]}
        for key, inf in zip(sub.input_keys, inputs):
            self.store(key, inf)
        self.depth += 1
        self._active_functions.add(path)
        try:
            for op in self.graph.topological_order(path):
                self.run_op(op, bindings)
        finally:
            self.depth -= 1
            self._active_functions.discard(path)
        outputs = [self.info(key) for key in sub.output_keys]
        if signature is not None:
            self._calls[signature] = outputs
        for i, inf in enumerate(outputs):
            ctx.set(i, inf.shape, inf.dtype, inf.value, inf.sym)
        for key, old in earlier.items():
            self.store(key, _merge_infos(old, self.info(key)))

    # -- onnx fallback ---------------------------------------------------
    def fill_from_onnx(self, op, vkey, inf: TensorInfo):
        if op.graph != MAIN:
            return
        types = self.onnx_types()
        tp = types.get(vkey[2])
        if tp is None:
            return
        shape, dtype = _type_to_shape(tp)
        if shape is None:
            return
        if inf.shape is not None and len(inf.shape) != len(shape):
            self.note(f"{op.graph}:{op.id}: rank {len(inf.shape)} here, onnx infers {len(shape)}")
            return
        shape = _unknown_dims_from(inf.shape, shape)
        self.store(vkey, TensorInfo(shape, inf.dtype if inf.dtype is not None else dtype, inf.value, inf.sym, "onnx"))
        self.result.used_onnx_fallback = True

    def onnx_types(self) -> dict:
        if self._onnx_types is None:
            self._onnx_types = {}
            try:
                model = _for_onnx(self.graph.model, self.loaded)
                graph = _onnx_inference(model)
                for vi in list(graph.value_info) + list(graph.output):
                    self._onnx_types[text(vi.name)] = vi
            except _InferenceFailed as e:
                self.note(f"onnx shape inference failed: {e}")
            except Exception as e:
                self.note(f"onnx shape inference failed: {str(e).splitlines()[0][:200] if str(e) else type(e).__name__}")
        return self._onnx_types


def _call_signature(path, inputs, bindings):
    """A hashable summary of a function call, or None when it cannot be summarized."""
    try:
        parts = [path]
        for inf in inputs:
            v = inf.value
            parts.append((inf.shape, inf.dtype, None if v is None else (v.dtype.str, v.shape, v.tobytes()),
                          None if inf.sym is None else tuple(inf.sym)))  # fmt: skip
        parts.append(tuple(sorted((k, _attr_key(v)) for k, v in bindings.items())))
        key = tuple(parts)
        hash(key)
        return key
    except Exception:
        return None


def _attr_key(v):
    """An attribute value as part of a call signature: plain values as they are; anything
    else (tensors, graphs, long lists) by identity, which only costs a memo hit."""
    if v is None or isinstance(v, (int, float, str, bytes)):
        return v
    if isinstance(v, (list, tuple)) and len(v) <= 1024 and all(isinstance(x, (int, float, str, bytes)) for x in v):
        return tuple(v)
    return ("object", id(v))


class _InferenceFailed(Exception):
    pass


def _onnx_inference(model) -> onnx.GraphProto:
    """value_info and outputs of ``model`` as onnx's shape inference gives them.

    Native code on untrusted input: on Linux it runs in a forked child (which
    shares the model in memory), so a segfault or a hang there costs only the
    fallback shapes, never the process or the other files of a scan."""
    if not (sys.platform.startswith("linux") and hasattr(os, "fork")):
        inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
        return _types_only(inferred)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns, never runs the parent's exit handlers
        code = 1
        try:
            os.close(r)
            # Whatever the native code prints, or a crash dump, must not reach the user.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            if "faulthandler" in sys.modules:  # it may write to a saved copy of stderr
                sys.modules["faulthandler"].disable()
            _limit_memory(ONNX_INFERENCE_MEMORY)
            try:
                payload = b"\0" + _types_only(onnx.shape_inference.infer_shapes(model, data_prop=True)).SerializeToString()
            except Exception as e:
                payload = b"\1" + (str(e).splitlines()[0][:300] if str(e) else type(e).__name__).encode("utf-8", "replace")
            view = memoryview(payload)
            while view:
                view = view[os.write(w, view):]
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    chunks = []
    deadline = time.monotonic() + ONNX_INFERENCE_TIMEOUT
    timed_out = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([r], [], [], left)
            if not ready:
                continue
            chunk = os.read(r, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(r)
        if timed_out:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        _, status = os.waitpid(pid, 0)
    if timed_out:
        raise _InferenceFailed(f"it did not finish within {ONNX_INFERENCE_TIMEOUT:.0f} s; its shapes are not used")
    if os.WIFSIGNALED(status):
        raise _InferenceFailed(f"it crashed (signal {os.WTERMSIG(status)}); its shapes are not used")
    data = b"".join(chunks)
    if not data or os.WEXITSTATUS(status) != 0:
        raise _InferenceFailed("it exited without a result")
    if data[:1] == b"\1":
        raise _InferenceFailed(data[1:].decode("utf-8", "replace"))
    graph = onnx.GraphProto()
    graph.ParseFromString(data[1:])
    return graph


def _limit_memory(extra: int) -> None:
    """Cap this (child) process's address space at its current size plus ``extra``:
    a hostile dim must not let native code take the machine's memory."""
    try:
        import resource

        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[0])
        limit = pages * os.sysconf("SC_PAGE_SIZE") + extra
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except Exception:  # no /proc, no resource module: the time limit still holds
        pass


def _types_only(model) -> onnx.GraphProto:
    g = onnx.GraphProto()
    g.value_info.extend(model.graph.value_info)
    g.output.extend(model.graph.output)
    return g


def _merge_infos(a: TensorInfo, b: TensorInfo) -> TensorInfo:
    """What holds for a value that is sometimes ``a`` and sometimes ``b``."""
    if a.shape is None or b.shape is None or len(a.shape) != len(b.shape):
        shape = None
    else:
        shape = tuple(x if x == y else None for x, y in zip(a.shape, b.shape))
    same_value = a.value is not None and b.value is not None and a.value.shape == b.value.shape and bool((a.value == b.value).all())
    return TensorInfo(
        shape,
        a.dtype if a.dtype == b.dtype else None,
        a.value if same_value else None,
        a.sym if a.sym is not None and a.sym == b.sym else None,
        a.source if a.source == b.source else "inferred",
    )


def _for_onnx(model, loaded):
    """A copy of the model for onnx's inference: large initializers carry no data
    (onnx needs only their dims; small ones keep values for constant folding), and
    no tensor refers to external data any more: onnx must never open a file for us
    (small main-graph initializers we read ourselves are inlined)."""
    m = onnx.ModelProto()
    m.CopyFrom(model) if model.ByteSize() < (64 << 20) else _copy_shallow(model, m)
    for t in m.graph.initializer:
        if _numel(t) > MAX_TRACKED_ELEMENTS:
            _strip(t)
        elif t.data_location == TensorProto.EXTERNAL:
            value = read_tensor(loaded, t, MAX_TRACKED_ELEMENTS) if loaded is not None else None
            if value is None:
                _strip(t)
            else:
                try:
                    t.CopyFrom(onnx.numpy_helper.from_array(value, t.name))
                except Exception:
                    _strip(t)
    for t in iter_tensors(m):
        if t.data_location == TensorProto.EXTERNAL or len(t.external_data):
            _strip(t)
    # onnx expands a local function at every call, recursively: functions calling
    # functions twice, 40 deep, would never finish.  Our engine handles functions
    # itself; onnx only needs to cover ops we have no shape function for.
    del m.functions[:]
    # Absurd ranks make onnx's inference as slow as ours would be: hide them.
    g = m.graph
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        if vi.type.HasField("tensor_type") and len(vi.type.tensor_type.shape.dim) > MAX_RANK:
            vi.type.tensor_type.ClearField("shape")
    if any(len(t.dims) > MAX_RANK for t in g.initializer):
        kept = [t for t in g.initializer if len(t.dims) <= MAX_RANK]
        del g.initializer[:]
        g.initializer.extend(kept)
    return m


def _copy_shallow(model, m):
    g = model.graph
    m.ir_version = model.ir_version
    m.opset_import.extend(model.opset_import)
    m.functions.extend(model.functions)
    m.graph.name = g.name
    m.graph.input.extend(g.input)
    m.graph.output.extend(g.output)
    m.graph.node.extend(g.node)
    m.graph.value_info.extend(g.value_info)
    for t in g.initializer:
        if _numel(t) > MAX_TRACKED_ELEMENTS:
            stub = m.graph.initializer.add()
            stub.name, stub.data_type = t.name, t.data_type
            stub.dims.extend(t.dims)
            _strip(stub)
        else:
            m.graph.initializer.add().CopyFrom(t)


def _strip(t):
    """Keep dims and type, drop the payload (onnx infers shapes without it)."""
    t.ClearField("raw_data")
    t.ClearField("float_data")
    t.ClearField("int32_data")
    t.ClearField("int64_data")
    t.ClearField("double_data")
    t.ClearField("uint64_data")
    t.ClearField("external_data")
    t.data_location = TensorProto.DEFAULT


def _numel(t):
    n = 1
    for d in t.dims:
        n *= max(int(d), 0)
    return n


def _read_inline(t):
    if any(d < 0 for d in t.dims) or _numel(t) > MAX_TRACKED_ELEMENTS:
        return None
    try:
        return onnx.numpy_helper.to_array(t)
    except Exception:
        return None


def _type_to_shape(vi):
    """(shape, dtype) from a ValueInfoProto or TypeProto; (None, None) if not a tensor."""
    if vi is None:
        return None, None
    tp = vi.type if hasattr(vi, "type") else vi
    if not tp.HasField("tensor_type"):
        return None, None
    tt = tp.tensor_type
    dtype = tt.elem_type or None
    if not tt.HasField("shape") or len(tt.shape.dim) > MAX_RANK:
        return None, dtype
    dims = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value) if 0 <= d.dim_value <= MAX_DIM else None)
        elif d.HasField("dim_param") and d.dim_param:
            dims.append(symbol(text(d.dim_param)))
        else:
            dims.append(None)
    return tuple(dims), dtype


def infer_shapes(graph: Graph, loaded: LoadedModel | None = None, input_shapes=None) -> Shapes:
    """Propagate shapes through every graph of the model; results land on the value nodes."""
    from analyzer.shapes import ops_nn, ops_tensor, ops_elementwise, ops_control, ops_sequence, ops_signal, ops_attention, ops_ml  # noqa: F401  (registers shape functions)

    eng = _Engine(graph, loaded, input_shapes)
    with gc_paused():
        # A cycle anywhere (main graph, any subgraph, any function body) is a file
        # error, whether or not propagation would reach that graph.
        for path in graph.subgraphs:
            graph.topological_order(path)
        eng.seed_inputs(MAIN)
        eng.run(MAIN)
        # Local functions never called from the main graph still get their body analyzed
        # (with unknown input shapes), so rules see every node.
        for path, sub in graph.subgraphs.items():
            if sub.function is not None and not any(graph.nx.nodes[k].get("info") for k in sub.output_keys):
                eng._active_functions.add(path)
                try:
                    eng.run(path)
                finally:
                    eng._active_functions.discard(path)
    eng.unknown_op_notes()
    _fill_from_value_info(graph)
    eng.result.notes.extend(one_line(n) for n in graph.notes)
    return eng.result


def _unknown_dims_from(ours, theirs):
    """``ours`` with its unknown dims (or, if its rank is unknown, all of it) taken from
    ``theirs``, a shape of the same rank."""
    if ours is None:
        return theirs
    return tuple(b if a is None else a for a, b in zip(ours, theirs))


def _fill_from_value_info(graph: Graph) -> None:
    """Where propagation (ours, then onnx's) left a dim or a whole shape unknown and the
    file declares one (value_info, graph output), take the declaration, marked with
    source "value_info": the file's claim, not a proof (SH001 compares only proofs)."""
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
        shape, dtype = _type_to_shape(vi)
        new_shape = inf.shape
        if shape is not None and (inf.shape is None or len(inf.shape) == len(shape)):
            new_shape = _unknown_dims_from(inf.shape, shape)
        filled = new_shape != inf.shape
        new_dtype = inf.dtype if inf.dtype is not None else dtype
        if filled or new_dtype != inf.dtype:
            attrs["info"] = TensorInfo(new_shape, new_dtype, inf.value, inf.sym, "value_info" if filled else inf.source)
