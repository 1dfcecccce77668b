"""MV025 sparse-tensor: a sparse tensor whose dims, values and indices disagree.

## What it does
Checks every SparseTensorProto (sparse initializers of every graph, sparse attributes
such as a Constant's ``sparse_value``):

* its dense ``dims`` must all be positive;
* ``values`` must have rank 1 (``NNZ`` values);
* ``indices`` must be INT64, of shape ``[NNZ]`` (linearized) or ``[NNZ, rank]``;
* every index must lie inside the dense shape;
* indices must be in strictly ascending order (lexicographic for ``[NNZ, rank]``).

Indices are read only when their tensor is consistent (MV024 reports the others) and
holds at most 16M values.

## Why is this bad?
onnx.proto, SparseTensorProto: "The sequence of non-default values are encoded as a
tensor of shape [NNZ]"; indices "can be a tensor of shape [NNZ, rank] ... or [NNZ] ...
the linearized-index"; "The indices must appear in ascending order without duplication.
In the first format, the ordering is lexicographic-ordering".  ``onnx.checker`` fails
with "Sparse tensor indices () has 3 values, but NNZ is 2", "index value at position [1]
out of range [0, 5]", "not in sorted order", "not in lexicographic sorted order",
"Sparse tensor values (s) must have rank 1", "dimensions are not positive"; onnxruntime
refuses the sizes, ranges and ranks at load time (it accepts unsorted indices, which the
spec forbids).

## Example
```
sparse_initializer s: dims [2, 3], values [1, 2], indices [4, 1]   # not ascending
```

## How to fix
Rebuild the sparse tensor with sorted, unique, in-range indices
(``onnx.helper.make_sparse_tensor``), or store the dense tensor.

## Details
``tensor``, ``where``, ``graph``, ``node`` / ``attribute`` for an attribute, ``problem``
(``dims``, ``values-rank``, ``indices-type``, ``indices-shape``, ``index-range``,
``unsorted``), ``dims``, ``position``.
"""
from __future__ import annotations

CODE = "MV025"
NAME = "sparse-tensor"
SEVERITY = "error"

MAX_INDICES = 1 << 24


def check(model, options=None):
    import sys

    from rules import _validity_attrs as va

    rule = sys.modules[__name__]
    for sp, loc in va.located_tensors(model, sparse=True):
        try:
            for problem, message, details in _problems(sp):
                yield va.tensor_finding(rule, loc, message, {**details, "problem": problem})
        except Exception:
            continue


def _problems(sp):
    from analyzer.io.proto import TensorProto
    from rules.mv024_tensor_payload import problems as payload_problems
    from rules._validity_attrs import TensorLocation

    dims = [int(d) for d in sp.dims]
    base = {"dims": dims[:64]}
    if any(d <= 0 for d in dims):
        yield "dims", f"dense dims {dims[:16]} are not all positive", base
        return
    values, indices = sp.values, sp.indices
    if len(values.dims) != 1:
        yield "values-rank", f"values have rank {len(values.dims)}; sparse values are a 1-D list of NNZ values", base
        return
    nnz = int(values.dims[0])
    if not sp.HasField("indices"):
        if nnz:
            yield "indices-shape", f"{nnz} values but no indices", base
        return
    if indices.data_type != TensorProto.INT64:
        yield "indices-type", f"indices are {TensorProto.DataType.Name(indices.data_type) if indices.data_type in TensorProto.DataType.values() else indices.data_type}, not INT64", base
        return
    idims = [int(d) for d in indices.dims]
    rank = len(dims)
    if not (idims == [nnz] or idims == [nnz, rank]):
        yield "indices-shape", f"indices have shape {idims[:8]}; NNZ is {nnz}, so [{nnz}] or [{nnz}, {rank}] is expected", {**base, "indices_shape": idims[:8]}
        return
    if nnz == 0 or nnz * len(idims) > MAX_INDICES or payload_problems(TensorLocation(indices, "", "", "")):
        return
    import numpy as np

    from analyzer.io.tensors import to_array

    idx = to_array(indices).astype(np.int64, copy=False)
    if len(idims) == 1:
        from analyzer.common import element_count

        total = element_count(dims)  # capped: absurd dims are reported by the checks above
        bad = np.nonzero((idx < 0) | (idx >= total))[0]
        if bad.size:
            p = int(bad[0])
            yield "index-range", f"index {int(idx[p])} at position {p} is outside [0, {total - 1}] (dense dims {dims[:16]})", {**base, "position": p}
            return
        order = np.nonzero(idx[1:] <= idx[:-1])[0]
        if order.size:
            p = int(order[0]) + 1
            yield "unsorted", f"index {int(idx[p])} at position {p} does not follow {int(idx[p - 1])}; indices must be strictly ascending", {**base, "position": p}
        return
    limits = np.array(dims, dtype=np.int64)
    bad = np.argwhere((idx < 0) | (idx >= limits))
    if bad.size:
        p, j = (int(x) for x in bad[0])
        yield "index-range", f"index {idx[p].tolist()[:16]} at position {p} is outside the dense dims {dims[:16]} (axis {j})", {**base, "position": p}
        return
    prev, nxt = idx[:-1], idx[1:]
    differs = prev != nxt
    first = differs.argmax(axis=1)
    rows = np.arange(nnz - 1)
    wrong = ~differs.any(axis=1) | (nxt[rows, first] < prev[rows, first])
    bad_rows = np.nonzero(wrong)[0]
    if bad_rows.size:
        p = int(bad_rows[0]) + 1
        yield "unsorted", f"index {idx[p].tolist()[:16]} at position {p} does not follow {idx[p - 1].tolist()[:16]}; indices must be in strictly ascending lexicographic order", {**base, "position": p}
