"""Shape propagation over the networkx graph.

Walks each graph in topological order and calls the shape function registered
for the op type (``analyzer/shapes/ops_*.py``).  Results are stored on the value
nodes of the networkx graph (attribute ``info``, a :class:`TensorInfo`).

Constant propagation rides along: small tensors whose values are known
(initializers, Constant, Shape of a tensor with known dims...) carry them in
``TensorInfo.value`` (numpy) or, for 1-D integer vectors that contain symbols,
in ``TensorInfo.sym`` (a list of dims), so exporters' Shape -> Gather -> Concat
-> Reshape chains resolve.

An op without a shape function of ours takes the shape onnx's own inference
gives for that output (computed once, lazily, only if such an op exists);
otherwise its outputs are unknown.  Never a guess.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto

from ..graph import MAIN, Graph
from ..load import MAX_VALUE_ELEMENTS, LoadedModel, read_tensor
from .dims import MAX_DIM

__all__ = ["TensorInfo", "ShapeError", "infer_shapes", "SHAPE_FUNCTIONS", "register"]

# Control-flow nesting deeper than this is not analyzed (outputs unknown, with a note).
MAX_SUBGRAPH_DEPTH = 64


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


class Ctx:
    """What a shape function sees of one node."""

    def __init__(self, engine: "_Engine", op, attr_bindings=None):
        self.engine = engine
        self.op = op
        self.node = op.proto
        self._bindings = attr_bindings or {}
        self.opset = engine.opset_for(op.domain)

    # inputs
    @property
    def n_inputs(self):
        return len(self.op.inputs)

    @property
    def n_outputs(self):
        return len(self.op.outputs)

    def has_input(self, i) -> bool:
        return i < len(self.op.inputs) and self.op.inputs[i] is not None

    def info(self, i) -> TensorInfo:
        if not self.has_input(i):
            return TensorInfo()
        return self.engine.info(self.op.inputs[i])

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
        for a in self.node.attribute:
            if a.name == name and a.ref_attr_name:
                v = self._bindings.get(a.ref_attr_name)
                return default if v is None else v
        return self.op.attr(name, default)

    # outputs
    def set(self, i, shape=None, dtype=None, value=None, sym=None):
        if i >= len(self.op.outputs) or self.op.outputs[i] is None:
            return
        if shape is not None:
            shape = tuple(shape)
            for d in shape:
                if isinstance(d, int) and not 0 <= d <= MAX_DIM:
                    raise ShapeError(f"output {i} would have dim {d}")
        if value is not None:
            value = np.asarray(value)
            if value.size > MAX_VALUE_ELEMENTS:
                value = None
            elif shape is None:
                shape = value.shape
        if sym is not None and all(isinstance(x, int) for x in sym) and value is None:
            value = np.array(sym, dtype=np.int64)
            if shape is not None and len(shape) == 0 and value.size == 1:
                value = value.reshape(())
            sym = None
        self.engine.store(self.op.outputs[i], TensorInfo(shape, dtype, value, sym, "inferred"))

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
        self.opsets = {imp.domain or "": imp.version for imp in graph.model.opset_import}
        self.functions = {(f.domain, f.name): f for f in graph.model.functions}
        self.depth = 0

    def opset_for(self, domain):
        return self.opsets.get(domain or "", self.opsets.get("ai.onnx", 0))

    def info(self, key) -> TensorInfo:
        return self.graph.nx.nodes[key].get("info") or TensorInfo()

    def store(self, key, info: TensorInfo):
        self.graph.nx.nodes[key]["info"] = info

    def note(self, msg):
        self.result.notes.append(msg)

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
                if shape is not None:
                    for d, b in zip(shape, bound):
                        if isinstance(d, int) and d != b:
                            raise ShapeError(f"--input-shape {attrs['name']}: dim {d} is fixed in the model, {b} given")
                        if isinstance(d, str):
                            symbol_values[d] = b
                shape = tuple(bound)
            self.store(key, TensorInfo(shape, dtype, None, None, "input"))
        if symbol_values:
            # A symbol bound through one input is bound everywhere it appears.
            for key in sub.input_keys:
                inf = self.info(key)
                if inf.shape is not None:
                    inf.shape = tuple(symbol_values.get(d, d) if isinstance(d, str) else d for d in inf.shape)
        for key in sub.initializer_keys:
            attrs = self.graph.nx.nodes[key]
            t = attrs.get("tensor")
            if t is None:  # sparse
                sp = attrs["sparse"]
                self.store(key, TensorInfo(tuple(int(d) for d in sp.dims), sp.values.data_type, None, None, "initializer"))
                continue
            self.store(key, self.tensor_info(t, "initializer"))

    def tensor_info(self, t: TensorProto, source) -> TensorInfo:
        dims = tuple(int(d) for d in t.dims)
        if any(d < 0 or d > MAX_DIM for d in dims):
            return TensorInfo(None, t.data_type, None, None, source)
        value = None
        if self.loaded is not None or t.data_location != TensorProto.EXTERNAL:
            value = read_tensor(self.loaded, t) if self.loaded is not None else _read_inline(t)
        return TensorInfo(dims, t.data_type, value, None, source)

    # -- walking ---------------------------------------------------------
    def run(self, path=MAIN, attr_bindings=None):
        for op in self.graph.topological_order(path):
            self.run_op(op, attr_bindings)

    def run_op(self, op, attr_bindings=None):
        key = (op.domain if op.domain != "ai.onnx" else "", op.op_type)
        fn = SHAPE_FUNCTIONS.get(key)
        ctx = Ctx(self, op, attr_bindings)
        try:
            if fn is not None:
                fn(ctx)
            elif (op.domain, op.op_type) in self.functions:
                self.run_function(ctx, self.functions[(op.domain, op.op_type)])
        except ShapeError as e:
            self.note(f"{op.graph}:{op.id} ({op.op_type}): {e}")
        except (ValueError, TypeError, IndexError, KeyError, OverflowError, ZeroDivisionError, MemoryError) as e:
            self.note(f"{op.graph}:{op.id} ({op.op_type}): shape function failed ({type(e).__name__}: {e})")
        for i, vkey in enumerate(op.outputs):
            if vkey is None:
                continue
            inf = self.info(vkey)
            if inf.shape is None or any(d is None for d in inf.shape):
                self.fill_from_onnx(op, vkey, inf)

    def run_subgraph(self, path, bind):
        """Run subgraph ``path`` with its formal inputs bound to ``bind`` (list of TensorInfo)."""
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

    def run_function(self, ctx: Ctx, fn):
        path = f"function:{fn.domain}:{fn.name}"
        sub = self.graph.subgraphs[path]
        if self.depth >= MAX_SUBGRAPH_DEPTH:
            self.note(f"{path}: nested deeper than {MAX_SUBGRAPH_DEPTH} levels; not analyzed")
            return
        bindings = {}
        for a in fn.attribute_proto:
            bindings[a.name] = onnx.helper.get_attribute_value(a)
        for a in ctx.node.attribute:
            bindings[a.name] = ctx.op.attrs.get(a.name)
        body_keys = list(sub.input_keys) + [v for k in sub.op_keys for v in self.graph.ops[k].outputs if v is not None]
        # A function called more than once keeps, on its body, only what holds for
        # every call: rules reading the body must not see one call's sizes as the truth.
        earlier = {k: self.graph.nx.nodes[k]["info"] for k in body_keys if "info" in self.graph.nx.nodes[k]}
        for key, i in zip(sub.input_keys, range(len(sub.input_keys))):
            self.store(key, ctx.info(i) if ctx.has_input(i) else TensorInfo())
        self.depth += 1
        try:
            for op in self.graph.topological_order(path):
                self.run_op(op, bindings)
        finally:
            self.depth -= 1
        for i, key in enumerate(sub.output_keys):
            inf = self.info(key)
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
        if inf.shape is not None:
            shape = tuple(a if a is not None else b for a, b in zip(inf.shape, shape))
        self.store(vkey, TensorInfo(shape, inf.dtype if inf.dtype is not None else dtype, inf.value, inf.sym, "onnx"))
        self.result.used_onnx_fallback = True

    def onnx_types(self) -> dict:
        if self._onnx_types is None:
            self._onnx_types = {}
            try:
                model = _without_big_weights(self.graph.model)
                inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
                for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
                    self._onnx_types[vi.name] = vi
            except Exception as e:
                self.note(f"onnx shape inference failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
        return self._onnx_types


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


def _without_big_weights(model):
    """A copy of the model whose large initializers carry no data (onnx's inference
    needs only their dims; small ones keep values for constant folding)."""
    m = onnx.ModelProto()
    m.CopyFrom(model) if model.ByteSize() < (64 << 20) else _copy_shallow(model, m)
    for t in m.graph.initializer:
        if _numel(t) > MAX_VALUE_ELEMENTS:
            _strip(t)
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
        if _numel(t) > MAX_VALUE_ELEMENTS:
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
    if any(d < 0 for d in t.dims) or _numel(t) > MAX_VALUE_ELEMENTS:
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
    if not tt.HasField("shape"):
        return None, dtype
    dims = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value) if 0 <= d.dim_value <= MAX_DIM else None)
        elif d.HasField("dim_param") and d.dim_param:
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return tuple(dims), dtype


def infer_shapes(graph: Graph, loaded: LoadedModel | None = None, input_shapes=None) -> Shapes:
    """Propagate shapes through every graph of the model; results land on the value nodes."""
    from . import ops_nn, ops_tensor, ops_elementwise, ops_control  # noqa: F401  (registers shape functions)

    eng = _Engine(graph, loaded, input_shapes)
    eng.seed_inputs(MAIN)
    eng.run(MAIN)
    # Local functions never called from the main graph still get their body analyzed
    # (with unknown input shapes), so rules see every node.
    for path, sub in graph.subgraphs.items():
        if sub.function is not None and not any(graph.nx.nodes[k].get("info") for k in sub.output_keys):
            try:
                eng.run(path)
            except Exception as e:  # a malformed body must not stop the rest
                eng.note(f"{path}: {e}")
    eng.result.notes.extend(graph.notes)
    return eng.result
