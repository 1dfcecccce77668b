"""Shape propagation over the networkx graph.

Walks each graph in topological order and calls the shape function registered
for the op type (``analyzer/shapes/ops_*.py``, registered in registry.py).  Results are
stored on the value nodes of the networkx graph (attribute ``info``, a :class:`TensorInfo`).

Constant propagation rides along: small tensors whose values are known
(initializers, Constant, Shape of a tensor with known dims...) carry them in
``TensorInfo.value`` (numpy) or, for 1-D integer vectors that contain symbols,
in ``TensorInfo.sym`` (a list of dims), so exporters' Shape -> Gather -> Concat
-> Reshape chains resolve.  An initializer's value is read on first use (most, such
as conv biases, never are); the value budget counts it as if read at seeding
(state.py: values, notes, budget, seeds).

An op without a shape function of ours takes the shape onnx's own inference
gives for that output (computed once, lazily, only if such an op exists);
otherwise its outputs are unknown.  Never a guess (fallback.py).  onnx's inference is
native code that has crashed on hostile attributes before, so on Linux it runs in a
forked child with a time limit: a crash or hang there costs only its shapes (sandbox.py).

Bounded work on hostile input: ranks above MAX_RANK, values above
MAX_TRACKED_ELEMENTS and constant folding beyond MAX_TOTAL_VALUE_ELEMENTS are
dropped (unknown, with a note), control flow deeper than MAX_SUBGRAPH_DEPTH and
function expansion beyond a budget proportional to the model are not followed,
and a function that calls itself is not expanded again.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from analyzer.graph.build import MAIN, Graph, gc_paused
from analyzer.io.load import LoadedModel, one_line, shown, text
from analyzer.io.proto import get_attribute_value
from analyzer.shapes.context import Ctx
from analyzer.shapes.consteval import _FLOAT_OPS, _MOVE_OPS
from analyzer.shapes.consteval import after_op as _consteval
from analyzer.shapes.fallback import OnnxFallback
from analyzer.shapes.fallback import fill_from_value_info as _fill_from_value_info
from analyzer.shapes.registry import MAX_TRACKED_ELEMENTS, SHAPE_FUNCTIONS, ShapeError, TensorInfo, register
from analyzer.shapes.registry import type_to_shape as _type_to_shape  # noqa: F401  (its old home)
from analyzer.shapes.sandbox import ONNX_INFERENCE_MEMORY, ONNX_INFERENCE_TIMEOUT, InferenceFailed, model_for_onnx, onnx_inference
from analyzer.shapes.state import MAX_TOTAL_VALUE_ELEMENTS, EngineState

__all__ = [
    "TensorInfo", "ShapeError", "infer_shapes", "SHAPE_FUNCTIONS", "register", "MAX_TRACKED_ELEMENTS",
    "Ctx", "Shapes", "MAX_SUBGRAPH_DEPTH", "MAX_TOTAL_VALUE_ELEMENTS", "MIN_OP_BUDGET",
    "ONNX_INFERENCE_TIMEOUT", "ONNX_INFERENCE_MEMORY",
]  # fmt: skip

# Control-flow nesting deeper than this is not analyzed (outputs unknown, with a note).
MAX_SUBGRAPH_DEPTH = 64
# Op evaluations per model: every op once (or a few times), plus function bodies per call
# site up to this (calls with the same input shapes are computed once).
MIN_OP_BUDGET = 250_000
# onnx's own shape inference (the fallback) gets ONNX_INFERENCE_TIMEOUT seconds and
# ONNX_INFERENCE_MEMORY bytes of address space in its child (sandbox.py); the values
# read here, at each run, are the ones that count (tests lower the timeout).


@dataclass
class Shapes:
    """The result of propagation."""

    graph: Graph
    notes: list = field(default_factory=list)
    used_onnx_fallback: bool = False
    unchecked: list = field(default_factory=list)  # coverage records (analyzer.graph.coverage.Unchecked)
    # onnx's inference runs (0 or 1), and the nodes our own shape function found invalid,
    # whose outputs were therefore not handed to it (fallback.py)
    onnx_runs: int = 0
    withheld_from_onnx: list = field(default_factory=list)

    def __post_init__(self):
        # measured hot: rules ask per input of every node (400k lookups on a 100k-node
        # graph), so the lookup reads the NodeView's own dict, and skips the ``proven``
        # key when propagation declared that no value has one (infer_shapes)
        self._nodes = self.graph.nx._node
        self._proven = True
        # What the walk of the main graph did, op by op, for analyses that would
        # otherwise read every op's infos again (analyzer.analyses.macs): ``(ran, given,
        # remembered)``, the ops it ran a shape function for (run_op), for each other op
        # (in walk order) the index in ``remembered`` of the entry ``(input infos, output
        # info, (domain, op_type), index)`` whose output info it was given (_Engine.run,
        # _remember); None when there was no such walk.
        # Infos of main-graph values are not changed once made (each has one writer,
        # which the walk visits before any reader), so these hold at the end too.
        self.main_walk = None

    def info(self, value_key) -> TensorInfo:
        """What is proven of a value: a size only the file declares is not in it (the
        declaration-filled info, labelled ``value_info``, is for display; fallback.py)."""
        if value_key is not None:
            attrs = self._nodes[value_key]
            inf = (attrs.get("proven") or attrs.get("info")) if self._proven else attrs.get("info")
            if inf is not None:
                return inf
        return TensorInfo()

    def shape(self, value_key):
        # info(value_key).shape, inlined (measured hot: rules and MACs ask per op)
        if value_key is not None:
            attrs = self._nodes[value_key]
            inf = (attrs.get("proven") or attrs.get("info")) if self._proven else attrs.get("info")
            if inf is not None:
                return inf.shape
        return None

    def constant(self, value_key):
        """info(value_key).value: the value when known, else None."""
        if value_key is not None:
            attrs = self._nodes[value_key]
            inf = (attrs.get("proven") or attrs.get("info")) if self._proven else attrs.get("info")
            if inf is not None:
                return inf.value
        return None


_ONE = object()  # (run: the missing second input of a one-input memo hit)


class _Engine(EngineState, OnnxFallback):
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
        self._withheld: set = set()  # main-graph node indices onnx's fallback must not see
        # (shape, dtype) -> the one TensorInfo without a value that outputs of that shape
        # and dtype share (context.py: Ctx.set)
        self._shared: dict = {}
        # ((domain, op_type), id of each input's info...) -> (input infos, output info)
        # of shape-only ops (run_op, _remember)
        self._outputs_of: dict = {}
        self._remembered: list = []  # the values of _outputs_of, in the order made (main_walk)
        self._shape_only: dict = {}  # (domain, op_type) -> whether its shape function is shape-only

    # -- walking ---------------------------------------------------------
    def run(self, path=MAIN, attr_bindings=None):
        run_op = self.run_op
        functions = SHAPE_FUNCTIONS
        outputs_of = self._outputs_of
        nodes = self._nodes
        shape_only = self._shape_only
        # Measured per op (a million-node chain): what the last op had is kept in locals,
        # so that a run of ops of one kind on one info skips the look-ups: the kind of the
        # last op (by its op_type and domain objects: one str per op type, build.py), the
        # last value the fast path below set and its info (most ops read the one before),
        # the input infos of the last memo hit (_ONE for the second of one) and what it
        # gave; op_budget is counted by the fast path's ops in ``given`` (``paid`` of them
        # paid), paid before anything reads it (run_op).
        last_type = last_domain = kind = so = None
        last_key = last_info = None
        hit_kind = hit_a = hit_b = got = None
        # the ops run_op ran, and the memo entry's index of each op the fast path gave its
        # output (Shapes.main_walk; kept for the main graph only: a list append per op)
        ran = []
        given = []
        ran_append = ran.append
        given_append = given.append
        paid = 0
        try:
            for op in self.graph.topological_order(path):
                t = op.op_type
                d = op.domain
                if t is not last_type or d is not last_domain:
                    last_type, last_domain = t, d
                    kind = (d, t)
                    so = shape_only.get(kind)
                    if so is None:
                        fn = functions.get(kind)
                        so = shape_only[kind] = fn is not None and bool(fn.__dict__.get("shape_only"))
                if so:
                    # measured hot (every elementwise op of a network): an op whose output
                    # follows from its inputs' infos alone, seen before with the very same
                    # input infos, gets the very same output info without a Ctx (_remember)
                    ins = op.inputs
                    n = len(ins)
                    if n == 1:
                        a = ins[0]
                        if a is None:
                            found = None
                        else:
                            ia = last_info if a is last_key else nodes[a].get("info")
                            if ia is hit_a and hit_b is _ONE and kind is hit_kind:
                                found = got
                            else:
                                found = outputs_of.get((kind, id(ia)))
                                if found is not None:
                                    hit_kind, hit_a, hit_b, got = kind, ia, _ONE, found
                    elif n == 2:
                        a, b = ins
                        if a is None or b is None:
                            found = None
                        else:
                            ia = last_info if a is last_key else nodes[a].get("info")
                            ib = last_info if b is last_key else nodes[b].get("info")
                            if ia is hit_a and ib is hit_b and kind is hit_kind:
                                found = got
                            else:
                                found = outputs_of.get((kind, id(ia), id(ib)))
                                if found is not None:
                                    hit_kind, hit_a, hit_b, got = kind, ia, ib, found
                    else:
                        found = None
                    if found is not None:
                        # (a key is only kept for an op with output 0: see run_op; id(None)
                        # is in no key: _remember keeps no input without an info)
                        outs = op.outputs
                        out = outs[0] if outs else None
                        if out is not None:
                            last_info = found[1]
                            (op.out0 or nodes[out])["info"] = last_info  # (the node's dict: OpNode.out0)
                            last_key = out
                            given_append(found[3])
                            continue
                if len(given) != paid:
                    self.op_budget -= len(given) - paid
                    paid = len(given)
                last_key = None  # (run_op may set any value)
                ran_append(op)
                run_op(op, attr_bindings)
        finally:
            self.op_budget -= len(given) - paid
        if path == MAIN and self.depth == 0:
            self.result.main_walk = (ran, given, self._remembered)

    def run_op(self, op, attr_bindings=None):
        self.op_budget -= 1
        kind = (op.domain, op.op_type)
        fn = SHAPE_FUNCTIONS.get(kind)
        if fn is not None and fn.__dict__.get("shape_only"):
            # a shape-only op with one or two inputs, each with an info, and an output 0:
            # what it gives is kept for the next op of its kind on the same infos (run)
            nodes = self._nodes
            ins = op.inputs
            outs = op.outputs
            if 1 <= len(ins) <= 2 and None not in ins and outs and outs[0] is not None:
                infos = [nodes[k].get("info") for k in ins]
                if None not in infos:
                    if self._run_op(op, fn, attr_bindings):
                        self._remember((kind, *map(id, infos)), op, outs[0])
                    return
        self._run_op(op, fn, attr_bindings)

    def _remember(self, key, op, out):
        """Keep what a shape-only op (a shape function marked ``shape_only``: its only
        output is output 0, a pure function of its inputs' infos, no attribute read)
        gave for these input infos, when the consteval hook did nothing and would do
        nothing again for the same infos: one present input without a value or symbols
        (nothing to evaluate), an output without a value or symbols (not a size vector
        either: rank above 1 or unknown, so no float size arithmetic, consteval.py).
        The memo holds the input infos, so their ids in the key stay theirs, and infos
        are not changed once made."""
        nodes = self._nodes
        inf = nodes[out].get("info")
        if inf is None or inf.__class__ is not TensorInfo or inf.value is not None or inf.sym is not None:
            return
        if op.op_type in _MOVE_OPS or inf.shape is not None and len(inf.shape) <= 1 and op.op_type in _FLOAT_OPS:
            return
        ins = []
        open_input = False
        for k in op.inputs:
            if k is None:
                continue
            i = nodes[k]["info"]
            ins.append(i)
            if i.__class__ is TensorInfo and i.value is None and i.sym is None:
                open_input = True
        if open_input:
            remembered = self._remembered
            self._outputs_of[key] = entry = (ins, inf, key[0], len(remembered))
            remembered.append(entry)

    def _run_op(self, op, fn, attr_bindings):
        """Run one op; True when its shape function returned (no exception)."""
        ctx = Ctx(self, op, attr_bindings)
        ok = False
        try:
            if fn is not None:
                fn(ctx)
            else:
                fpath = self.graph.function_path(op.domain, op.op_type, op.overload)
                if fpath is not None:
                    self.run_function(ctx, fpath)
                else:
                    self.unknown_op(op)
            ok = True
        except ShapeError as e:
            self.note(f"{op.graph}:{op.id} ({op.op_type}): {e}")
            self.record_unchecked("shape-error", f"{op.op_type} {shown(op.id)}: outputs not analyzed ({e})", op, reason=str(e))
            self.withhold_from_onnx(op)  # known invalid: onnx's fallback is not asked (fallback.py)
            return False
        except (ValueError, TypeError, IndexError, KeyError, AttributeError, OverflowError, ZeroDivisionError, MemoryError) as e:
            msg = str(e).splitlines()[0][:200] if str(e) else ""
            self.note(f"{op.graph}:{op.id} ({op.op_type}): shape function failed ({type(e).__name__}: {msg})")
            why = f"shape function failed ({type(e).__name__}: {msg})"
            self.record_unchecked("shape-function-failed", f"{op.op_type} {shown(op.id)}: outputs not analyzed: {why}", op, reason=why)
        if op.domain == "" or op.domain == "ai.onnx":
            _consteval(self, ctx)  # all inputs constant: evaluated; sizes through float (consteval.py)
        if fn is not None:
            return ok  # ours has the last word: onnx's fallback is not asked (fill_from_onnx)
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
        return ok

    def run_subgraph(self, path, bind):
        """Run subgraph ``path`` with its formal inputs bound to ``bind`` (list of TensorInfo)."""
        if path is None:
            return []
        sub = self.graph.subgraphs[path]
        if self.depth >= MAX_SUBGRAPH_DEPTH:
            self.note(f"{path}: nested deeper than {MAX_SUBGRAPH_DEPTH} levels; not analyzed")
            self.record_unchecked("skipped-subgraph", f"{path}: nested deeper than {MAX_SUBGRAPH_DEPTH} levels; not analyzed", graph=path, reason="nested too deep")
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
            if ("depth", path) not in self._said:
                self.record_unchecked("skipped-subgraph", f"{path}: nested deeper than {MAX_SUBGRAPH_DEPTH} levels; not analyzed", ctx.op, reason="nested too deep")
            self.note_once(("depth", path), f"{path}: nested deeper than {MAX_SUBGRAPH_DEPTH} levels; not analyzed")
            return
        if path in self._active_functions:
            if ("recursive", path) not in self._said:
                self.record_unchecked("skipped-subgraph", f"{path}: calls itself; the inner call is not analyzed", ctx.op, reason="recursive function")
            self.note_once(("recursive", path), f"{path}: calls itself (recursive functions are not valid ONNX); the inner call is not analyzed")
            return
        if self.op_budget < len(sub.op_keys):
            if "op-budget" not in self._said:
                self.record_unchecked(
                    "skipped-subgraph", f"{path}: function calls expand to too many nodes; this and later calls are not analyzed",
                    ctx.op, reason="function expansion budget spent",
                )  # fmt: skip
            self.note_once(
                "op-budget",
                f"{ctx.op.graph}:{ctx.op.id} ({ctx.op.op_type}): function calls expand to too many nodes; "
                "this and later calls are not analyzed",
            )
            return
        bindings = {}
        for a in fn.attribute_proto:
            try:
                bindings[text(a.name)] = get_attribute_value(a)
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
            self.run(path, bindings)
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
    def onnx_types(self) -> dict:
        if self._onnx_types is None:
            self._onnx_types = {}
            try:
                model = self.without_declarations(model_for_onnx(self.graph.model, self.loaded))
                self.result.onnx_runs += 1
                graph = onnx_inference(model, ONNX_INFERENCE_TIMEOUT, ONNX_INFERENCE_MEMORY)
                for vi in list(graph.value_info) + list(graph.output):
                    self._onnx_types[text(vi.name)] = vi
            except InferenceFailed as e:
                self.note(f"onnx shape inference failed: {e}")
                self.record_unchecked("onnx-fallback-failed", f"onnx shape inference failed: {e}; ops without a shape function of ours are not analyzed", reason=str(e))
            except Exception as e:
                why = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
                self.note(f"onnx shape inference failed: {why}")
                self.record_unchecked("onnx-fallback-failed", f"onnx shape inference failed: {why}; ops without a shape function of ours are not analyzed", reason=why)
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


def infer_shapes(graph: Graph, loaded: LoadedModel | None = None, input_shapes=None) -> Shapes:
    """Propagate shapes through every graph of the model; results land on the value nodes."""
    # importing the ops_* modules registers their shape functions (registry.py)
    from analyzer.shapes import (  # noqa: F401
        ops_attention,
        ops_contrib_attention, ops_contrib_nn, ops_contrib_quant, ops_nchwc,  # com.microsoft(.nchwc): onnxruntime's own ops
        ops_control,
        ops_elementwise,
        ops_ml,
        ops_nn,
        ops_sequence,
        ops_signal,
        ops_tensor,
    )

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
    # whether a value has a ``proven`` info beside its displayed one (False: none has)
    eng.result._proven = _fill_from_value_info(graph) is not False
    eng.result.notes.extend(one_line(n) for n in graph.notes)
    return eng.result

