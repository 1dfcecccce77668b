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
initializers and the ops' semantics, however many other dims stay unknown (an unnamed
``?`` batch dim hides no contradicted declaration downstream).  Never compared: sizes
taken from onnx's shape inference (the fallback for ops we have no shape function for;
it runs on a copy without the declarations, but is not our proof), sizes filled from a
declaration (labelled ``value_info``), and anything computed from such a size
downstream (the whole chain is treated as unproven); values of a Loop/Scan body whose loop-carried shapes
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

from .declared import CONTRADICTIONS, KINDS, compare, differing_declarations, int_or_none, maybe_filled_dtype, model_input_symbols, plain_shape
from .finding import make_finding
from .proven import graph_roots, unproven_values

CODE = "SH001"
NAME = "value-info-mismatch"
SEVERITY = "error"
OPTIONS = {"static-vs-symbolic": "1 (default): also report a declared static dim that is proven symbolic; 0: only contradictions"}


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
    roots = graph_roots(graph)
    candidates = []
    parsed: dict = {}
    input_symbols = model_input_symbols(model)
    for path, sub in graph.subgraphs.items():
        if sub is None or sub.proto is None or roots.get(path) != MAIN:
            continue  # function bodies (and what they hold) are analyzed per call
        differing = differing_declarations(nodes, parsed, path, sub.proto.value_info, None)
        differing += differing_declarations(nodes, parsed, path, sub.proto.output, sub.output_keys)
        for index, vi, key, attrs, info, (d_shape, d_dtype) in differing:
            declared_in = "value_info" if index is None else "output"
            if d_dtype is not None and info.dtype is not None and maybe_filled_dtype(attrs, vi, info.dtype):
                d_dtype = None
            found = compare(d_shape, d_dtype, plain_shape(info.shape), int_or_none(info.dtype), input_symbols)
            if not found:
                continue
            kinds = sorted({k for k, _ in found}, key=KINDS.index)
            if not report_symbolic and not CONTRADICTIONS.intersection(kinds):
                continue
            candidates.append((path, declared_in, index, key, d_shape, d_dtype, info, found, kinds))
    if not candidates:
        return
    unproven, visited = unproven_values(model)
    for path, declared_in, index, key, d_shape, d_dtype, info, found, kinds in candidates:
        if path in visited and key[1] in visited and key not in unproven:
            yield make_finding(CODE, NAME, model, path, declared_in, index, key, d_shape, d_dtype, info, found, kinds)
