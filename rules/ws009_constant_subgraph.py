"""WS009 constant-subgraph: nodes that compute the same constant at every inference.

## What it does
Finds the maximal subgraphs of the main graph whose every input is a constant, and reports
each once, at its last node.  A node is constant when every input is an initializer (not
one that is also a graph input: those can be overridden at run time), the output of a
``Constant`` node, or the output of a constant node; ``Shape`` / ``Size`` of a tensor whose
shape the shape engine proved static are constant too (the ``Shape -> Gather -> Unsqueeze
-> Concat -> Reshape`` chains exporters leave for a static input).  Never constant:
``Constant`` itself (it is the folded form), random generators, control flow, sequence and
optional ops, operators outside the ONNX domain.

Not reported, by design:

* a subgraph made only of ``Cast`` / ``CastLike`` / ``Identity`` / ``DequantizeLinear``:
  weights stored in a small type and decoded at run time (fp16 weights cast to fp32) are a
  deliberate size/speed trade, and folding them would enlarge the file (a lone no-op
  ``Identity`` or same-type ``Cast`` is WS007's);
* any subgraph with a ``DequantizeLinear``: quantized models keep weights quantized on purpose;
* with ``--input-shape`` binding a dim the file leaves open, ``Shape`` / ``Size`` of a
  computed tensor (its shape would be that of one input size).

## Why is this bad?
The subgraph runs at every inference (or at every session start, in runtimes that fold
constants themselves) and gives the same result each time; it hides the real weights behind
arithmetic (a transposed weight, a scale folded into another), blocks pattern-matching
fusions that expect an initializer, and bloats the graph with shape bookkeeping.  The
exporter could have folded it (``do_constant_folding=True`` in ``torch.onnx.export``).

## Example
```
w_t = Transpose(W[64, 128], perm=[1, 0])        # every inference
y   = MatMul(x, w_t)
s   = Concat(Unsqueeze(Gather(Shape(x[1, 3, 8, 8]), 0)), [-1])
```

## How to fix
`onnxlint fix --select WS009` evaluates each subgraph on its constants alone, with onnx's
reference evaluator (``onnx.reference``: the rules never import onnxruntime, whose run of the
whole model then proves the fold in ``onnxlint verify`` and ``fix --verify``), and replaces it
by its results: results of at most 64 elements (or that are
graph outputs, or in an IR < 4 model) become ``Constant`` nodes, as exporters write shape
constants; larger ones become initializers.  Initializers and Constant nodes that only the
subgraph read go away.  Refused (with the reason), and its ``waste`` weights and bytes then 0:
when folding would store more elements or bytes than it frees (a ``ConstantOfShape`` that
builds a large tensor, a weight decoded and then transposed: a size/speed trade-off the
exporter may have made on purpose), when a result's size or type is not known statically
or is not a plain numeric type, or when the subgraph's tensors exceed ``max-fold-elements``.

## Options
``max-fold-elements`` (``[tool.onnxlint.rules.WS009]``): the largest number of elements
(every tensor the subgraph computes, summed) the fix evaluates; larger subgraphs are still
reported, with ``fold`` saying why they are not folded (default 4,194,304).

## Details
``nodes`` (ids, in order), ``op_types``, ``results`` (each ``name``, ``shape``, ``dtype``,
``stored_as``: ``constant-node`` or ``initializer``), ``freed_initializers``,
``bytes_freed`` (inputs that would become unused), ``bytes_added`` (the folded results'
sizes, Constant nodes included), ``elements`` (every tensor the subgraph computes),
``fold`` (``yes``, or why the fix refuses).  ``waste``: ``macs`` of the subgraph; ``weights``
/ ``bytes``: what folding removes, net (initializers freed minus results stored as
initializers).
"""
from __future__ import annotations

CODE = "WS009"
NAME = "constant-subgraph"
SEVERITY = "warning"

OPTIONS = {"max-fold-elements": "the fix evaluates a subgraph only when its tensors hold at most this many elements (default 4194304)"}

DEFAULT_MAX_FOLD = 1 << 22
SMALL_CONSTANT = 64  # results up to this many elements become Constant nodes, as exporters write shapes
_PLAIN = {1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13}  # plain numeric types (numpy has them)


def _elements(shape):
    from analyzer.common import element_count

    return element_count(shape)


def _describe(am, comp, ix, budget):
    """Results, storage and sizes of one component (see the module doc's Details)."""
    from rules._waste_ops import BITS, removal_waste, trusted_shape

    keys = {op.key for op in comp}
    results, total, known = [], 0, True
    for op in comp:
        for k in op.outputs:
            if k is None:
                continue
            shape = trusted_shape(am, k)
            static = shape is not None and all(isinstance(d, int) for d in shape)
            known = known and static
            total += _elements(shape) if static else 0
            outside = k[2] in ix.outputs or any(u.key not in keys for u, _ in am.graph.consumers(k))
            if not outside:
                continue
            dtype = am.info(k).dtype
            n = _elements(shape) if static else None
            small = am.model.ir_version < 4 or k[2] in ix.outputs or (n is not None and n <= SMALL_CONSTANT)
            results.append({
                "name": k[2], "shape": list(shape) if static else None, "dtype": int(dtype) if dtype else None,
                "elements": n, "bytes": None if n is None else (n * BITS.get(int(dtype or 0), 0) + 7) // 8,
                "stored_as": "constant-node" if small else "initializer",
            })  # fmt: skip
    dead, _ = removal_waste(am, [op.index for op in comp], keep=[r["name"] for r in results])
    freed_el, freed_b = sum(d[1] for d in dead), sum(d[2] for d in dead)
    stored = [r for r in results if r["stored_as"] == "initializer"]
    if not known:
        fold = "a tensor's size is not known statically"
    elif any(r["dtype"] not in _PLAIN for r in results):
        fold = "a result is not a plain numeric tensor"
    elif total > budget:
        fold = f"its tensors hold {total} elements, over max-fold-elements {budget}"
    elif sum(r["elements"] for r in stored) > freed_el or sum(r["bytes"] for r in stored) > freed_b:
        fold = "folding would store more than it frees (a size/speed trade-off)"
    else:
        fold = "yes"
    return {
        "nodes": [op.id for op in comp], "op_types": [op.op_type for op in comp],
        "results": [{k: r[k] for k in ("name", "shape", "dtype", "stored_as")} for r in results],
        "freed_initializers": [n for n, _, _ in dead], "bytes_freed": freed_b,
        "bytes_added": sum(r["bytes"] or 0 for r in results), "elements": total if known else None, "fold": fold,
        "_net": (freed_el - sum(r["elements"] for r in stored), freed_b - sum(r["bytes"] for r in stored)) if fold == "yes" else (0, 0),
    }  # fmt: skip


def check(model, options=None):
    from rules._waste_ops import finding, index, reported_components, waste_dict

    am = model
    budget = int((options or {}).get("max-fold-elements", DEFAULT_MAX_FOLD))
    comps = reported_components(am)
    ix = index(am) if comps else None  # the readers index: only components need it
    for comp in comps:
        last = comp[-1]
        details = _describe(am, comp, ix, budget)
        weights, nbytes = details.pop("_net")
        waste = waste_dict(am, comp, [], [])
        waste.update(weights=weights, bytes=nbytes)
        kinds = sorted(set(details["op_types"]))
        msg = (f"{len(comp)} node(s) ending at {last.op_type} {last.id!r} ({', '.join(kinds)}) compute a constant at every "
               f"inference: {len(details['results'])} result(s) that could be folded at export time")
        if details["fold"] != "yes":
            msg += f" (not folded by the fix: {details['fold']})"
        yield finding(CODE, NAME, SEVERITY, last, msg, details, waste, related=comp[:-1])


# --------------------------------------------------------------------------- fix


def _render(change, esc) -> str:
    a = change.after
    return (f"{len(change.before['nodes'])} node(s) folded into {a['constant_nodes']} Constant node(s) and "
            f"{a['initializers']} initializer(s); {change.params_removed} parameters removed")


def _mini_model(rw, ops, results):
    """The subgraph alone, as a model with no inputs whose outputs are its results."""
    import onnx
    from onnx import helper, numpy_helper

    from analyzer.fix.records import Refused

    g = rw.model.graph
    am = rw.am
    produced = {o for op in ops for o in g.node[op.index].output if o}
    nodes, inits, seen, external = [], [], set(), False
    for op in ops:
        node = g.node[op.index]
        for name in node.input:
            if not name or name in produced or name in seen:
                continue
            seen.add(name)
            if name in rw.init_index:
                arr, ext = rw.initializer(name, "input")
                external = external or ext
                inits.append(numpy_helper.from_array(arr, name))
                continue
            p = am.graph.producer(("value", "main", name))
            if p is not None and p.op_type == "Constant" and p.index not in rw.removed_nodes:
                nodes.append(g.node[p.index])
            elif op.op_type not in ("Shape", "Size"):
                raise Refused(f"input {name!r} is no longer a constant")
        if op.op_type in ("Shape", "Size") and node.input[0] not in produced and node.input[0] not in rw.init_index \
                and node.input[0] not in {n.output[0] for n in nodes}:  # fmt: skip
            value = am.constant(op.outputs[0])
            if value is None:
                raise Refused(f"the value of {op.id!r} is not known")
            nodes.append(helper.make_node("Constant", [], [node.output[0]], value=numpy_helper.from_array(value.copy())))
        else:
            nodes.append(node)
    outs = [helper.make_tensor_value_info(r["name"], r["dtype"], None) for r in results]
    mg = helper.make_graph(nodes, "fold", [], outs, inits)
    m = helper.make_model(mg, opset_imports=list(rw.model.opset_import))
    m.ir_version = max(rw.model.ir_version, 4)
    return onnx.ModelProto.FromString(m.SerializeToString()), external


def _fold(rw, f, ops):
    import numpy as np
    from onnx import helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    from analyzer.fix.records import Refused

    results = f.details["results"]
    mini, external = _mini_model(rw, ops, results)
    try:
        got = ReferenceEvaluator(mini).run([r["name"] for r in results], {}) if results else []
    except Exception as e:  # noqa: BLE001 - any evaluator error refuses the fold
        raise Refused(f"the subgraph cannot be evaluated: {(str(e).splitlines() or [type(e).__name__])[0][:200]}") from None
    first = min(op.index for op in ops)
    consts = inits = 0
    values = []
    for r, arr in zip(results, got):
        arr = np.asarray(arr)
        if list(arr.shape) != r["shape"] or arr.dtype.kind not in "biuf":
            raise Refused(f"the evaluation gives {r['name']!r} shape {list(arr.shape)} ({arr.dtype}), analysis {r['shape']}")
        values.append(arr.astype(helper.tensor_dtype_to_np_dtype(r["dtype"]), copy=False))
    for r, arr in zip(results, values):
        if r["stored_as"] == "constant-node":
            node = helper.make_node("Constant", [], [r["name"]], name=rw.names.fresh(f"{r['name']}_folded"),
                                    value=numpy_helper.from_array(arr))
            rw.new_nodes.setdefault(first, []).append(node)
            consts += 1
        else:
            rw.new_initializer(r["name"], arr, external)
            inits += 1
    g = rw.model.graph
    rw.removed_nodes.update(op.index for op in ops)
    rw.orphans.extend(name for op in ops for name in g.node[op.index].input if name)
    return consts, inits


def fix_findings(rewriter, findings) -> None:
    """``onnxlint fix``: evaluate each constant subgraph (onnx's reference evaluator) and
    replace it by its results (one Change per finding)."""
    from analyzer.fix.records import Change, Refused

    rw = rewriter
    for f in findings:
        try:
            if f.graph != "main":
                raise Refused(f"inside {f.graph}: only main-graph nodes are folded")
            if f.details.get("fold") != "yes":
                raise Refused(f"not folded: {f.details.get('fold')}")
            ops = [rw.ops_by_id.get(n) for n in f.details["nodes"]]
            if any(op is None or op.index in rw.removed_nodes for op in ops):
                raise Refused("a node of the subgraph is already removed by another fix")
            consts, inits = _fold(rw, f, ops)
        except Refused as e:
            rw.changes.append(Change(CODE, f.node, f.op_type, "refused", str(e)))
            continue
        rw.changes.append(Change(
            CODE, f.node, f.op_type, "fixed",
            before={"nodes": list(f.details["nodes"]), "op_types": list(f.details["op_types"])},
            after={"constant_nodes": consts, "initializers": inits, "results": [r["name"] for r in f.details["results"]]},
            params_removed=int(f.waste.get("weights") or 0), bytes_removed=int(f.waste.get("bytes") or 0),
            render=_render))  # fmt: skip
