"""SH001 value-info-mismatch: a declared type (value_info, graph output) that shape propagation disproves.

## What it does
Compares every type the file declares for a computed tensor -- the entries of
``graph.value_info`` and the types of ``graph.output``, in the main graph and in
If/Loop/Scan bodies -- with what onnxlint's own shape propagation *proves* for that
tensor, and reports a declaration that disagrees:

* ``rank``: the declared rank is not the proven one;
* ``dtype``: the declared element type is not the proven one;
* ``dim``: a dim declared as a number is proven to be another number;
* ``static-vs-symbolic``: a dim declared as a number is proven to be an expression of
  the graph inputs' symbolic dims (``height``, ``floor((width - 1)/2) + 1``): the file
  claims a fixed size that changes with the input size.  The declaration holds for
  one input size only.

Only proofs are compared: sizes our engine computed from the graph inputs, the
initializers and the ops' semantics.  Never compared: sizes taken from onnx's shape
inference (which reads the declarations it is being checked against), sizes filled
from a declaration, and anything computed from such a size downstream (the whole
chain is treated as unproven); values of a Loop/Scan body whose loop-carried shapes
change between iterations; values inside model-local functions (their subgraphs
run once per call, with each call's shapes).  A declared ``dim_param``, an
undeclared dim or an undeclared shape contradicts nothing: a symbol may take any
value.  Nor does a static declaration of a size the engine only knows as a fresh
symbol (NonZero's count, a Loop's iteration count, a Range whose bounds were not
folded): such a size is data dependent or merely not computed, not proven to vary.
With ``--input-shape``, bound input dims are numbers: a declaration is then checked
at that size (``224`` declared, ``H`` bound to 256: a ``dim`` contradiction).

## Why is this bad?
Tools downstream trust declared types.  onnxruntime refuses to load a model whose
declared element type is wrong, merges wrong shapes into its own inference
("Error merging shape info ... Falling back to lenient merge") and warns at every
run whose output does not have the declared shape; tools that plan memory or
specialize kernels from declared shapes fail late, at a size the exporter never
tried.  ``onnx.checker.check_model(model, full_check=True)`` (strict shape
inference) rejects a file with a contradiction.  Exporters get
this wrong most often when a model is exported with dynamic axes but the
intermediate types keep the trace's sizes.

## Example
```
x: float32[1, 3, H, W]
y = Relu(x)            # value_info declares y: float32[1, 3, 224, 224]   (static-vs-symbolic)
z = Conv(y, W[8,3,3,3], pads=[1,1,1,1])
                       # graph output declares z: float32[1, 16, H, W]    (dim 1: 8 proven)
```

## How to fix
Re-export the model (with the dynamic axes declared, for ``static-vs-symbolic``).
Or regenerate the declarations from the graph: delete them (``del
model.graph.value_info[:]``; for a graph output, clear its shape with
``model.graph.output[i].type.tensor_type.ClearField("shape")``; for a body, the
same on the If/Loop/Scan attribute's graph) and run
``onnx.shape_inference.infer_shapes(model)``, which rebuilds them from the graph
inputs.

## Severity
``error`` for a contradiction (``rank``, ``dtype``, ``dim``): the declaration is false
for every input.  ``warning`` when the only disagreements are ``static-vs-symbolic``:
the declaration is true at one input size (usually the export size) and false at
the others.

## Options
``static-vs-symbolic`` (configuration ``[tool.onnxlint.rules.SH001]``): 0 stops
reporting declarations whose only disagreement is ``static-vs-symbolic``
(default 1: report them).

## Details
``tensor``, ``graph`` (the graph whose ``value_info`` or ``output`` holds the
declaration), ``declared_in`` (``value_info`` or ``output``), ``output_index`` (for
``output``, else null), ``producer`` (``{"node", "op_type", "graph"}`` of the node that
computes the tensor: for a Loop/Scan body input, the Loop/Scan), ``kind`` (the most
serious of ``kinds``, in the order ``rank``, ``dtype``, ``dim``,
``static-vs-symbolic``), ``kinds``, ``declared_shape`` and ``inferred_shape`` (lists of
dims: an int, a symbol as a string, or null for unknown; null for an unknown
rank), ``declared_rank``, ``inferred_rank``, ``declared_dtype`` and ``inferred_dtype``
(``"float32"``, ``"int64"``...; null when unknown), ``declared_elem_type`` and
``inferred_elem_type`` (the ``TensorProto`` codes), ``dims`` (the disagreeing dims:
``{"axis", "declared", "inferred", "kind"}``).
"""
from __future__ import annotations

from analyzer.findings import Finding

CODE = "SH001"
NAME = "value-info-mismatch"
SEVERITY = "error"
OPTIONS = {"static-vs-symbolic": "1 (default): also report a declared static dim that is proven symbolic; 0: only contradictions"}

# Sources of a TensorInfo that are proofs (ours, or the file's graph inputs and
# initializers, which define the model).  Anything else -- "onnx" (onnx's inference,
# which read the declarations), "value_info" (the declaration itself) -- is a claim,
# and so is everything computed from it.
PROOF_SOURCES = frozenset({"inferred", "input", "initializer", "unknown"})

KINDS = ("rank", "dtype", "dim", "static-vs-symbolic")
CONTRADICTIONS = frozenset({"rank", "dtype", "dim"})

MAX_DIMS_IN_MESSAGE = 4
MAX_RANK_IN_MESSAGE = 16
MAX_DIM_TEXT = 80
MAX_DIM_TEXT_IN_DETAILS = 256
# Control-flow nesting followed (the engine stops at 64; deeper bodies have no shapes).
MAX_DEPTH = 72


def check(model, options=None):
    from analyzer.graph.build import gc_paused

    report_symbolic = bool(int((options or {}).get("static-vs-symbolic", 1)))
    # Many small objects, no garbage cycles: the collector would walk the whole model graph.
    with gc_paused():
        found = list(_check(model, report_symbolic))
    yield from found


def _check(model, report_symbolic):
    """First the declarations that disagree with a value's TensorInfo (cheap: most
    models have none), then, only if there are any, which of those values are proven."""
    from analyzer.graph.build import MAIN

    graph = model.graph
    nodes = graph.nx._node
    roots = _roots(graph)
    candidates = []
    parsed: dict = {}
    input_symbols = _input_symbols(model)
    for path, sub in graph.subgraphs.items():
        if sub is None or sub.proto is None or roots.get(path) != MAIN:
            continue  # function bodies (and what they hold) are analyzed per call
        differing = _differing(nodes, parsed, path, sub.proto.value_info, None)
        differing += _differing(nodes, parsed, path, sub.proto.output, sub.output_keys)
        for index, vi, key, attrs, info, (d_shape, d_dtype) in differing:
            declared_in = "value_info" if index is None else "output"
            if d_dtype is not None and info.dtype is not None and _maybe_filled_dtype(attrs, vi, info.dtype):
                d_dtype = None
            found = _compare(d_shape, d_dtype, _plain_shape(info.shape), _int_or_none(info.dtype), input_symbols)
            if not found:
                continue
            kinds = sorted({k for k, _ in found}, key=KINDS.index)
            if not report_symbolic and not CONTRADICTIONS.intersection(kinds):
                continue
            candidates.append((path, declared_in, index, key, d_shape, d_dtype, info, found, kinds))
    if not candidates:
        return
    unproven, visited = _unproven_values(model)
    for path, declared_in, index, key, d_shape, d_dtype, info, found, kinds in candidates:
        if path in visited and key[1] in visited and key not in unproven:
            yield _finding(model, path, declared_in, index, key, d_shape, d_dtype, info, found, kinds)


# --- what the file declares ---------------------------------------------------------------------


def _differing(nodes, parsed, path, entries, output_keys):
    """The declarations in ``entries`` (a graph's ``value_info``, or with ``output_keys``
    its ``output``) of values our engine inferred whose declared type is not exactly
    the inferred one: ``(output index or None, vi, value key, node attrs, TensorInfo,
    (declared shape, declared dtype))``.  Only a value's first declaration in the list
    counts.  ``parsed`` keeps the declared types by their bytes (models repeat a few
    types many times).

    Measured hot (exporters declare every value): a declaration that is exactly what
    we infer, the common case, costs a name, a dict lookup and the type's bytes;
    which declarations come first is worked out only when some differ."""
    from analyzer.io.load import text
    from analyzer.shapes.dims import MAX_DIM, MAX_RANK

    n_keys = None if output_keys is None else len(output_keys)
    get = nodes.get
    found = []
    for pos, vi in enumerate(entries):
        if n_keys is None:
            name = vi.name
            key = ("value", path, name if name.__class__ is str else text(name))
        elif pos < n_keys:
            key = output_keys[pos]
        else:
            break
        info = get(key, _NO_ATTRS).get("info") if key is not None else None
        if info is None or info.source != "inferred":
            continue
        raw = vi.type.SerializeToString()
        declared = parsed.get(raw, _UNPARSED)
        if declared is _UNPARSED:
            declared = parsed[raw] = _declared(vi, MAX_DIM, MAX_RANK)
        if declared is None or (declared[0] == info.shape and declared[1] == info.dtype):
            continue  # the common case: the declaration is exactly what we prove
        attrs = nodes[key]
        if attrs.get("kind") == "value":
            found.append((pos, vi, key, attrs, info, declared))
    if not found:
        return found
    keys = [("value", path, text(vi.name)) for vi in entries] if n_keys is None else output_keys
    first: dict = {}
    for pos, key in enumerate(keys):
        first.setdefault(key, pos)
    return [(None if output_keys is None else pos, vi, key, attrs, info, declared)
            for pos, vi, key, attrs, info, declared in found if first[key] == pos]  # fmt: skip


_NO_ATTRS: dict = {}
_UNPARSED = object()


class _LongShape:
    """A declared shape of more dims than the engine tracks: only its rank is used."""

    __slots__ = ("rank",)

    def __init__(self, rank: int):
        self.rank = rank



def _declared(vi, max_dim, max_rank):
    """(shape, elem type) declared by a ValueInfoProto: shape None when undeclared (any
    rank), else a tuple of int / str (dim_param) / None (no value, or a value no tensor
    can have); elem type None when undeclared.  None for a non-tensor type."""
    from analyzer.io.load import text

    tp = vi.type
    if tp.WhichOneof("value") != "tensor_type":
        return None
    tt = tp.tensor_type
    dtype = int(tt.elem_type) or None
    if not tt.HasField("shape"):
        return None, dtype
    dim_list = tt.shape.dim
    if len(dim_list) > max_rank:
        return _LongShape(len(dim_list)), dtype  # too long to list; only its rank is used
    dims = []
    for d in dim_list:
        which = d.WhichOneof("value")
        if which == "dim_value":
            v = d.dim_value
            dims.append(v if 0 <= v <= max_dim else None)
        elif which == "dim_param" and d.dim_param:
            dims.append(text(d.dim_param))
        else:
            dims.append(None)
    return tuple(dims), dtype


def _maybe_filled_dtype(attrs, vi, dtype) -> bool:
    """Whether ``dtype`` may have been copied from the value's *other* declaration
    (the engine fills an unknown element type from the value_info graph.py attached
    to the value, keeping the source "inferred"): then it proves nothing against this one."""
    other = attrs.get("value_info")
    if other is None or not other.type.HasField("tensor_type"):
        return False
    return int(other.type.tensor_type.elem_type) == dtype and int(vi.type.tensor_type.elem_type) != dtype


# --- comparison ---------------------------------------------------------------------------------


def _compare(d_shape, d_dtype, shape, dtype, input_symbols):
    """[(kind, detail)] where the declaration disagrees with the proof."""
    found = []
    if d_dtype is not None and dtype is not None and d_dtype != dtype:
        found.append(("dtype", None))
    if d_shape is None or shape is None:
        return found
    if _rank(d_shape) != len(shape):
        found.append(("rank", None))
        return found
    for axis, (a, b) in enumerate(zip(d_shape, shape)):
        if not isinstance(a, int) or b is None:
            continue  # a declared symbol or unknown contradicts nothing; neither does our unknown
        if isinstance(b, str):
            if _follows_inputs(b, input_symbols):
                found.append(("static-vs-symbolic", (axis, a, b)))
        elif a != b:
            found.append(("dim", (axis, a, b)))
    return found


def _input_symbols(model) -> frozenset:
    """Names of the symbolic dims of the main graph's inputs (not bound by --input-shape)."""
    from analyzer.graph.build import MAIN
    from analyzer.shapes.dims import free_symbols

    names = set()
    for key in model.graph.subgraphs[MAIN].input_keys:
        info = model.info(key)
        if info.source == "input" and info.shape is not None:
            for d in info.shape:
                if isinstance(d, str):
                    names |= free_symbols(d)
    return frozenset(names)


def _follows_inputs(d, input_symbols) -> bool:
    """Whether symbolic size ``d`` is an expression of the graph inputs' dims only: it then
    changes with the input size.  A fresh symbol (NonZero's count, a Loop's iteration
    count, a Range whose bounds were not folded) is an unknown size that may well be
    constant: a static declaration of it is not disproven."""
    from analyzer.shapes.dims import free_symbols

    try:
        names = free_symbols(d)
    except (TypeError, ValueError):
        return False
    return bool(names) and names <= input_symbols


def _rank(shape):
    if shape is None:
        return None
    return shape.rank if isinstance(shape, _LongShape) else len(shape)


def _plain_shape(shape):
    if shape is None:
        return None
    return tuple(d if d is None or isinstance(d, str) else int(d) for d in shape)


def _int_or_none(x):
    return None if x is None else int(x)


# --- which values are proven --------------------------------------------------------------------


def _roots(graph) -> dict:
    """graph path -> the path of the main graph or function it is nested in."""
    roots = {}
    for path in graph.subgraphs:
        chain = []
        p = path
        while p is not None and p not in roots:
            chain.append(p)
            sub = graph.subgraphs.get(p)
            p = None if sub is None else sub.parent
        root = roots[p] if p is not None else chain[-1]
        for q in chain:
            roots[q] = root
    return roots


def _unproven_values(model):
    """(unproven, visited): value keys whose TensorInfo is not a proof -- not from a
    proof source, or computed (through inputs, captured values, bodies or function
    calls) from one that is not -- and the graph paths walked (values elsewhere are
    not compared at all).

    Walks the main graph and its bodies in topological order without recursion (an
    explicit stack), so nesting depth costs no Python stack."""
    from analyzer.graph.build import MAIN

    graph = model.graph
    children: dict = {}
    for path, sub in graph.subgraphs.items():
        if sub is not None and sub.owner is not None:
            children.setdefault(sub.owner, []).append(path)
    dirty_functions = _dirty_functions(model, children)
    unproven: set = set()
    visited = {MAIN}

    def claim(key) -> bool:
        return model.info(key).source not in PROOF_SOURCES

    def seed(path):
        sub = graph.subgraphs[path]
        for key in list(sub.input_keys) + list(sub.initializer_keys):
            if claim(key):
                unproven.add(key)

    def enter_body(op, path):
        """Mark the body's formal inputs that are not proven (before walking the body)."""
        sub = graph.subgraphs[path]
        formal = list(sub.input_keys)
        if op.op_type == "If" and op.domain == "":
            clean = set(range(len(formal)))  # If bodies take no inputs
        elif op.op_type in ("Loop", "Scan") and op.domain == "":
            clean = _clean_formal_inputs(model, op, sub)
        else:
            clean = set()  # an op whose body the engine does not bind
        for i, key in enumerate(formal):
            if i not in clean:
                unproven.add(key)

    def finish(op, bodies):
        dirty = any(k is not None and k in unproven for k in op.inputs)
        for path in bodies:
            if any(k in unproven for k in graph.subgraphs[path].output_keys):
                dirty = True
            if op.op_type in ("Loop", "Scan") and op.domain == "" and not _loop_invariant(model, op, graph.subgraphs[path]):
                dirty = True
        fpath = graph.function_path(op.domain, op.op_type, op.overload)
        if fpath is not None and fpath in dirty_functions:
            dirty = True
        for k in op.outputs:
            if k is not None and (dirty or claim(k)):
                unproven.add(k)

    seed(MAIN)
    # frames: [path, ops, next index, op waiting for its bodies, its bodies, depth]
    stack = [[MAIN, graph.topological_order(MAIN), 0, None, (), 0]]
    while stack:
        fr = stack[-1]
        if fr[3] is not None:
            finish(fr[3], fr[4])
            fr[3] = None
        if fr[2] >= len(fr[1]):
            stack.pop()
            continue
        op = fr[1][fr[2]]
        fr[2] += 1
        bodies = [p for p in children.get(op.key, ()) if graph.subgraphs.get(p) is not None]
        if not bodies:
            finish(op, ())
            continue
        if fr[5] >= MAX_DEPTH:
            for p in bodies:  # never analyzed that deep: nothing there is proven
                unproven.update(graph.subgraphs[p].output_keys)
            finish(op, bodies)
            continue
        fr[3], fr[4] = op, bodies
        for p in reversed(bodies):
            visited.add(p)
            seed(p)
            enter_body(op, p)
            stack.append([p, graph.topological_order(p), 0, None, (), fr[5] + 1])
    return unproven, visited


def _n_scan_inputs(op, n_formal):
    n = op.attr("num_scan_inputs", 0)
    return n if isinstance(n, int) and 0 <= n <= n_formal else None


def _carried(op, n_formal):
    """(formal input index, body output index) of each loop-carried value; None when the
    op is malformed."""
    if op.op_type == "Loop":
        return [(2 + i, 1 + i) for i in range(max(n_formal - 2, 0))]
    n_scan = _n_scan_inputs(op, n_formal)
    return None if n_scan is None else [(i, i) for i in range(n_formal - n_scan)]


def _clean_formal_inputs(model, op, sub) -> set:
    """Indices of a Loop/Scan body's formal inputs that hold what the engine bound from
    the op's inputs (not the body's own declaration), and hold it in every iteration."""
    n = len(sub.input_keys)
    if op.op_type == "Loop":
        clean = {i for i in (0, 1) if i < n}  # iteration number and condition: scalars, bound exactly
        bound_from = [(2 + i, 2 + i) for i in range(n - 2)]  # (formal input, op input)
    else:
        clean = set()
        bound_from = [(i, i) for i in range(n)] if _n_scan_inputs(op, n) is not None else []
    for formal, outer in bound_from:
        if outer >= len(op.inputs) or op.inputs[outer] is None:
            continue
        inf, bound = model.info(op.inputs[outer]), model.info(sub.input_keys[formal])
        # Where the op's input was unknown the engine used the body's declaration.
        if (inf.shape is None and bound.shape is not None) or (inf.dtype is None and bound.dtype is not None):
            continue
        clean.add(formal)
    if not _loop_invariant(model, op, sub):
        # The body was analyzed for the first iteration only: carried state that changes
        # shape proves nothing about later iterations.
        clean -= {formal for formal, _ in _carried(op, n) or ()}
    return clean


def _loop_invariant(model, op, sub) -> bool:
    """Whether every loop-carried value leaves the body with the type it entered with
    (then the first iteration's shapes hold in every iteration)."""
    pairs = _carried(op, len(sub.input_keys))
    if pairs is None:
        return False
    for formal, out in pairs:
        if out >= len(sub.output_keys):
            return False
        a, b = model.info(sub.input_keys[formal]), model.info(sub.output_keys[out])
        if b.source not in PROOF_SOURCES or a.shape != b.shape or a.dtype != b.dtype:
            return False
    return True


def _dirty_functions(model, children) -> set:
    """Local functions whose calls' results are not proofs: their body (or a body nested
    in it) holds a claimed value or a Loop/Scan/other body with bound inputs, or they
    call such a function.  Computed without recursion."""
    graph = model.graph
    roots = _roots(graph)
    dirty: set = set()
    callers: dict = {}  # callee -> functions calling it
    for path, sub in graph.subgraphs.items():
        if sub is None:
            continue
        root = roots.get(path)
        if root is None or not root.startswith("function:") or graph.subgraphs[root].function is None:
            continue
        if path != root and sub.input_keys:
            dirty.add(root)
        for key in list(sub.input_keys) + list(sub.initializer_keys):
            if model.info(key).source not in PROOF_SOURCES:
                dirty.add(root)
        for op_key in sub.op_keys:
            op = graph.ops[op_key]
            for k in op.outputs:
                if k is not None and model.info(k).source not in PROOF_SOURCES:
                    dirty.add(root)
            callee = graph.function_path(op.domain, op.op_type, op.overload)
            if callee is not None:
                callers.setdefault(callee, set()).add(root)
    work = list(dirty)
    while work:
        f = work.pop()
        for caller in callers.get(f, ()):
            if caller not in dirty:
                dirty.add(caller)
                work.append(caller)
    return dirty


# --- the finding ----------------------------------------------------------------------------------

def _dtype_name(elem_type):
    """``analyzer.model.dtype_name`` (the names ``onnxlint shapes`` prints), imported
    on first use: rule modules import nothing heavy at import time."""
    from analyzer.model import dtype_name

    return dtype_name(elem_type)


def _proto_dtype_name(elem_type) -> str:
    from onnx import TensorProto

    try:
        return TensorProto.DataType.Name(int(elem_type))
    except ValueError:
        return str(int(elem_type))


def _cut(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 3] + "..."


def _dim_text(d) -> str:
    return "?" if d is None else _cut(str(d), MAX_DIM_TEXT)


def _type_text(dtype, shape) -> str:
    name = _dtype_name(dtype) or "?"
    if shape is None:
        return f"{name} (shape undeclared)"
    if isinstance(shape, _LongShape) or len(shape) > MAX_RANK_IN_MESSAGE:
        return f"{name} of rank {_rank(shape)}"
    return f"{name}[{', '.join(_dim_text(d) for d in shape)}]"


def _json_dim(d):
    return _cut(str(d), MAX_DIM_TEXT_IN_DETAILS) if isinstance(d, str) else d


def _json_shape(shape):
    if shape is None or isinstance(shape, _LongShape):
        return None
    return [_json_dim(d) for d in shape]


def _producer(model, key):
    """The node that computes ``key``: its producer, or for a body's formal input the
    Loop/Scan that binds it."""
    graph = model.graph
    op = graph.producer(key)
    if op is None:
        sub = graph.subgraphs.get(key[1])
        if sub is not None and sub.owner is not None and key in sub.input_keys:
            op = graph.ops.get(sub.owner)
    return op


def _finding(model, path, declared_in, index, key, d_shape, d_dtype, info, found, kinds) -> Finding:
    from analyzer.io.load import shown

    shape = _plain_shape(info.shape)
    dtype = _int_or_none(info.dtype)
    name = key[2]
    op = _producer(model, key)
    kind = kinds[0]
    severity = "error" if CONTRADICTIONS.intersection(kinds) else "warning"
    d_rank = _rank(d_shape)
    dims = [
        {"axis": axis, "declared": a, "inferred": _json_dim(b), "kind": k}
        for k, detail in found
        if detail is not None
        for axis, a, b in [detail]
    ]
    details = {
        "tensor": name,
        "graph": path,
        "declared_in": declared_in,
        "output_index": index,
        "producer": {"node": op.id, "op_type": op.op_type, "graph": op.graph} if op is not None else None,
        "kind": kind,
        "kinds": list(kinds),
        "declared_shape": _json_shape(d_shape),
        "inferred_shape": _json_shape(shape),
        "declared_rank": d_rank,
        "inferred_rank": None if shape is None else len(shape),
        "declared_dtype": _dtype_name(d_dtype),
        "inferred_dtype": _dtype_name(dtype),
        "declared_elem_type": d_dtype,
        "inferred_elem_type": dtype,
        "dims": dims,
    }

    # What is wrong, most serious first.
    what = []
    if "rank" in kinds:
        what.append(f"rank {d_rank} declared, {len(shape)} proven")
    if "dtype" in kinds:
        what.append(f"element type {_dtype_name(d_dtype) or d_dtype} declared, {_dtype_name(dtype) or dtype} proven")
    contradicted = [d for d in dims if d["kind"] == "dim"]
    symbolic = [d for d in dims if d["kind"] == "static-vs-symbolic"]
    what += _dims_text(contradicted, lambda d: f"dim {d['axis']} is {d['inferred']}, not {d['declared']}")
    if symbolic:
        what += _dims_text(
            symbolic,
            lambda d: f"dim {d['axis']} is {_cut(str(d['inferred']), MAX_DIM_TEXT)}, not always {d['declared']}",
        )
        what.append("those sizes change with the model's inputs, so the declaration holds for one input size only")

    where = "" if path == "main" else f" in graph {shown(path)}"
    made_by = f" (computed by {op.op_type} {shown(op.id)})" if op is not None else ""
    graph_ref, for_g = ("model.graph", "") if path == "main" else ("g", f", g the GraphProto of {shown(path)}")
    redo = "re-export the model with these axes dynamic" if kind == "static-vs-symbolic" else "re-export the model"
    if declared_in == "output":
        subject = f"graph output {index} {shown(name)}{where}{made_by} is declared"
        repairs = []
        if "dtype" in kinds:
            repairs.append(f"set its elem_type to onnx.TensorProto.{_proto_dtype_name(dtype)}")
        if CONTRADICTIONS.intersection(kinds) - {"dtype"} or "static-vs-symbolic" in kinds:
            repairs.append(
                f"clear its shape ({graph_ref}.output[{index}].type.tensor_type.ClearField('shape'){for_g}) "
                "and run onnx.shape_inference.infer_shapes"
            )
        fix = f"{redo}, or {' and '.join(repairs)}"
    else:
        subject = f"value_info of {shown(name)}{where}{made_by} declares"
        fix = f"{redo}, or regenerate value_info: delete it (del {graph_ref}.value_info[:]{for_g}) and run onnx.shape_inference.infer_shapes"
    message = (
        f"{subject} {_type_text(d_dtype, d_shape)}, shape propagation proves {_type_text(dtype, shape)}: "
        f"{'; '.join(what)}. Fix: {fix}"
    )
    return Finding(
        rule=CODE,
        name=NAME,
        severity=severity,
        node=op.id if op is not None else name,
        node_index=op.index if op is not None else -1,
        graph=op.graph if op is not None else path,
        op_type=op.op_type if op is not None else "",
        message=message,
        details=details,
    )


def _dims_text(dims, fmt):
    out = [fmt(d) for d in dims[:MAX_DIMS_IN_MESSAGE]]
    if len(dims) > MAX_DIMS_IN_MESSAGE:
        out.append(f"{len(dims) - MAX_DIMS_IN_MESSAGE} more dim(s)")
    return out
