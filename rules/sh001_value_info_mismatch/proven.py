"""Which values are proven: a TensorInfo from a proof source, and nothing computed from
a claim (onnx's inference, a declaration) upstream, through inputs, captured values,
Loop/Scan bodies or function calls."""
from __future__ import annotations

__all__ = ["PROOF_SOURCES", "graph_roots", "unproven_values"]

# Sources of a TensorInfo that are proofs (ours, or the file's graph inputs and
# initializers, which define the model).  Anything else -- "onnx" (onnx's inference,
# which read the declarations), "value_info" (the declaration itself) -- is a claim,
# and so is everything computed from it.
PROOF_SOURCES = frozenset({"inferred", "input", "initializer", "unknown"})
# Control-flow nesting followed (the engine stops at 64; deeper bodies have no shapes).
MAX_DEPTH = 72


def graph_roots(graph) -> dict:
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


def unproven_values(model):
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
    roots = graph_roots(graph)
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
