"""Multiply-accumulates per inference, per op and for the whole model, at the analyzed
input size.  Rules state the MACs a finding wastes (``Finding.waste["macs"]``) with
:func:`op_macs`; the runner puts the model's total in the file's stats, so that a summary
can say what share of the compute is waste.

What counts (one MAC = one multiply and one add, the usual figure for convs and matmuls):

* Conv / ConvInteger / QLinearConv and onnxruntime's FusedConv, NhwcConv:
  ``N x C_out x prod(out_spatial) x (C_in / group) x prod(kernel)``;
* ConvTranspose: ``N x C_in x prod(in_spatial) x (C_out / group) x prod(kernel)``;
* MatMul / MatMulInteger / QLinearMatMul / FusedMatMul: ``prod(batch) x M x K x N``;
  Gemm / FusedGemm: ``M x K x N`` (+ ``M x N`` for C);
* element-wise arithmetic (Add, Sub, Mul, Div, Pow, Sqrt, activations, ...), BatchNormalization,
  InstanceNormalization, LayerNormalization: one per output element;
* AveragePool / MaxPool / LpPool: ``prod(out) x prod(kernel)``; GlobalAveragePool,
  ReduceMean/ReduceSum and the like: one per input element;
* everything else (data movement: Reshape, Transpose, Concat, Gather, Slice, Cast, ...): 0.

``None`` when a size the count needs is unknown or symbolic.  A subgraph's ops count once
(a Loop body is not multiplied by its trip count).
"""
from __future__ import annotations

from collections import Counter
from math import prod

import numpy as np

from analyzer.graph.build import MAIN

__all__ = ["op_macs", "model_macs"]

_CONVS = {("", "Conv"), ("", "ConvInteger"), ("", "QLinearConv"), ("com.microsoft", "FusedConv"),
          ("com.microsoft", "QLinearConv"), ("com.microsoft.nchwc", "Conv")}  # fmt: skip
_CHANNEL_LAST = {("com.microsoft", "NhwcConv"), ("com.microsoft", "NhwcFusedConv")}
_MATMULS = {"MatMul", "MatMulInteger", "QLinearMatMul", "FusedMatMul", "TransposeMatMul"}
_GEMMS = {"Gemm", "FusedGemm", "QGemm"}
_PER_ELEMENT = {
    "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Reciprocal", "Exp", "Log", "Neg", "Abs", "Max", "Min", "Mean", "Sum",
    "Relu", "LeakyRelu", "PRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Elu", "Selu", "Celu", "Gelu",
    "FastGelu", "BiasGelu", "QuickGelu", "Softplus", "Softsign", "Mish", "Erf", "Clip", "Softmax", "LogSoftmax",
    "BatchNormalization", "InstanceNormalization", "LayerNormalization", "GroupNormalization",
    "SkipLayerNormalization", "SimplifiedLayerNormalization", "SkipSimplifiedLayerNormalization", "BiasAdd",
}  # fmt: skip
_POOLS = {"AveragePool", "MaxPool", "LpPool"}
_PER_INPUT = {"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "ReduceMean", "ReduceSum", "ReduceMax",
              "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"}  # fmt: skip


def _static(shape):
    if shape is None:
        return None
    for d in shape:
        if not isinstance(d, int) or d < 0:
            return None
    return tuple(shape)


def _shape(model, key):
    return None if key is None else _static(model.shape(key))


def _input(op, i):
    return op.inputs[i] if len(op.inputs) > i else None


def _output(model, op):
    return _shape(model, op.outputs[0]) if op.outputs else None


def op_macs(model, op) -> int | None:
    """MACs of one op per inference (see the module doc), or None when unknown (also when
    a hostile file's sizes make the count absurd: past 2**63)."""
    m = _op_macs(model, op)
    return None if m is None or m >= (1 << 63) else m


def _op_macs(model, op) -> int | None:
    # one table look-up per op (measured per node: model_macs reads every op of the model)
    count = _BY_KIND.get((op.domain, op.op_type)) or _BY_TYPE.get(op.op_type)
    return 0 if count is None else count(model, op)


def _conv(model, op):
    out = _output(model, op)
    kind = (op.domain, op.op_type)
    w_index = 3 if op.op_type == "QLinearConv" else 1
    w = _shape(model, _input(op, w_index))
    if out is None or w is None or len(out) < 3 or len(w) < 3:
        return None
    spatial = out[1:-1] if kind in _CHANNEL_LAST else out[2:]
    if op.domain == "com.microsoft.nchwc":
        spatial = out[2:4]
    return out[0] * w[0] * prod(spatial) * prod(w[1:])


def _conv_transpose(model, op):
    x, w = _shape(model, _input(op, 0)), _shape(model, _input(op, 1))
    if x is None or w is None or len(x) < 3 or len(w) < 3:
        return None
    return x[0] * prod(x[2:]) * w[0] * prod(w[1:])


def _matmul(model, op):
    out = _output(model, op)
    a, b = _shape(model, _input(op, 0)), _shape(model, _input(op, 3 if op.op_type == "QLinearMatMul" else 1))
    if out is None or a is None or b is None or not a or not b:
        return None
    k = a[-1]
    return prod(out) * k


def _gemm(model, op):
    out = _output(model, op)
    a = _shape(model, _input(op, 0))
    if out is None or a is None or len(a) != 2 or len(out) != 2:
        return None
    trans_a = int(op.attrs.get("transA", 0) or 0) if isinstance(op.attrs, dict) else 0
    k = a[0] if trans_a else a[1]
    return out[0] * out[1] * k + (out[0] * out[1] if len(op.inputs) > 2 and op.inputs[2] is not None else 0)


def _per_element(model, op):
    out = _output(model, op)
    return None if out is None else prod(out)


def _pool(model, op):
    out = _output(model, op)
    kernel = op.attrs.get("kernel_shape") if isinstance(op.attrs, dict) else None
    if out is None or not kernel:
        return None
    return prod(out) * prod(int(k) for k in kernel)


def _per_input(model, op):
    x = _shape(model, _input(op, 0))
    return None if x is None else prod(x)


# (domain, op_type) first, then op_type in any domain; an op in neither counts 0
_BY_KIND = {kind: _conv for kind in _CONVS | _CHANNEL_LAST}
_BY_KIND[("", "ConvTranspose")] = _conv_transpose
_BY_TYPE = {}
for _types, _count in ((_PER_INPUT, _per_input), (_POOLS, _pool), (_PER_ELEMENT, _per_element), (_GEMMS, _gemm), (_MATMULS, _matmul)):
    _BY_TYPE.update(dict.fromkeys(_types, _count))  # (the sets are disjoint)


# op types that some domain counts apart (_BY_KIND): only these need the domain
_KIND_TYPES = frozenset(t for _, t in _BY_KIND)


def model_macs(model) -> int | None:
    """Total MACs of every op in every graph; None when any op's count is unknown."""
    memo = model.graph.memo
    if "model_macs" in memo:
        return memo["model_macs"]
    total = _from_walk(model)
    if total is _NO_WALK:
        total = _sum(model, model.graph.all_ops(), {})
    memo["model_macs"] = total
    return total


_NO_WALK = object()
_CAP = 1 << 63


def _from_walk(model):
    """The total, with the main graph's ops taken from what the shape walk recorded
    (``Shapes.main_walk``): the ops it ran are counted one by one; the ops it gave a
    remembered output (most ops of a large network) are counted once per remembered
    entry, times the number of them (their input and output infos are the entry's;
    shape-only ops are element-wise: their count is their output info's elements).
    Measured: a second walk over every op's value nodes cost ~490 ms on a million-node
    chain.  _NO_WALK when there is no usable record (shapes made elsewhere, a replaced
    ``model.shapes``, an op given an output whose count is not per element)."""
    shapes = model.shapes
    walk = getattr(shapes, "main_walk", None)
    graph = model.graph
    if walk is None or shapes.graph is not graph:
        return _NO_WALK
    ran, given, remembered = walk
    main = graph.subgraphs.get(MAIN)
    if main is None or len(ran) + len(given) != len(main.op_keys):
        return _NO_WALK
    per_info: dict = {}
    total = _sum(model, ran, per_info)  # (first: a count unknown early ends it)
    if total is None:
        return None
    if given:
        # how many ops each remembered entry gave its output (C-level: ~15 ms a million;
        # numpy's fixed cost is more than counting a few hundred)
        if len(given) < 256:
            counts = Counter(given).items()
        else:
            tally = np.bincount(np.fromiter(given, dtype=np.int64, count=len(given)))
            counts = [(i, int(tally[i])) for i in np.flatnonzero(tally).tolist()]
        for i, n in counts:
            _, out, kind, _ = remembered[i]
            count = _BY_KIND.get(kind) or _BY_TYPE.get(kind[1])
            if count is None:
                continue
            if count is not _per_element:
                return _NO_WALK  # (a count that may read more than the output info)
            got = per_info.get(id(out))  # (as _sum: once per output info)
            if got is None:
                shape = _static(out.shape)
                got = per_info[id(out)] = (out, None if shape is None else prod(shape))
            m = got[1]
            if m is None or m >= _CAP:
                return None
            total += m * n
    for path in graph.subgraphs:
        if path != MAIN:
            m = _sum(model, graph.graph_ops(path), per_info)
            if m is None:
                return None
            total += m
    return None if total >= _CAP else total


def _sum(model, ops, per_info) -> int | None:
    """Total MACs of ``ops``; None when any op's count is unknown (or past 2**63)."""
    total = 0
    by_kind, by_type, kind_types = _BY_KIND, _BY_TYPE, _KIND_TYPES
    # measured per op (a network is mostly element-wise ops whose outputs share one
    # TensorInfo per shape): an element-wise count is a function of the output's info,
    # so it is worked out once per info (the memo holds the info: its id stays its own)
    shapes = model.shapes
    nodes, proven = shapes._nodes, shapes._proven  # (Shapes.info, inlined)
    # the last op's type and domain (objects: one str per op type, build.py) and count,
    # and the last element-wise output info and its count: a network's ops come in runs
    last_type = last_domain = count = last_inf = last_m = None
    split = False  # whether the last op's type is counted apart in some domain
    for op in ops:
        t = op.op_type
        if t is not last_type or split and op.domain is not last_domain:
            last_type, last_domain, split = t, op.domain, t in kind_types
            count = (by_kind.get((op.domain, t)) or by_type.get(t)) if split else by_type.get(t)
        if count is None:
            continue  # counts 0
        if count is _per_element:
            outs = op.outputs
            if not outs or outs[0] is None:
                return None  # (as _per_element: no output, unknown)
            attrs = nodes[outs[0]]
            inf = (attrs.get("proven") or attrs.get("info")) if proven else attrs.get("info")
            if inf is last_inf and inf is not None:
                m = last_m
            else:
                got = per_info.get(id(inf))
                if got is None:
                    shape = None if inf is None else _static(inf.shape)
                    got = per_info[id(inf)] = (inf, None if shape is None else prod(shape))
                last_inf, last_m = inf, got[1]
                m = last_m
        else:
            m = count(model, op)
        if m is None or m >= _CAP:
            return None
        total += m
        if total >= _CAP:
            return None
    return total
