"""Tensors of a model as protos: every TensorProto in it (:func:`iter_tensors`), element
types as numpy dtypes, element counts and byte sizes, and the plain raw-bytes decoding
that :func:`analyzer.io.load.read_tensor` uses."""
from __future__ import annotations

import sys

import numpy as np
import onnx
from onnx import ModelProto, TensorProto

__all__ = ["iter_tensors", "element_dtype", "expected_nbytes", "tensor_numel", "plain_array", "MAX_ITEMSIZE"]


def iter_tensors(model: ModelProto, node_count: list | None = None):
    """Every TensorProto in the model: initializers, sparse initializers, tensor
    attributes (Constant values, ...), function attribute defaults, in the main
    graph, all subgraphs, training graphs and all local functions.  Iterative,
    so deep nesting cannot exhaust the Python stack.

    ``node_count``, a one-element list, gets the number of nodes walked added to
    it (every graph, subgraph and function; training graphs too)."""
    graphs = [model.graph]
    for info in model.training_info:
        graphs.append(info.initialization)
        graphs.append(info.algorithm)
    node_lists = [f.node for f in model.functions]
    attr_lists = [f.attribute_proto for f in model.functions]
    if node_count is not None:
        node_count[0] += sum(len(nodes) for nodes in node_lists)
    while graphs or node_lists or attr_lists:
        if graphs:
            g = graphs.pop()
            yield from g.initializer
            for sp in g.sparse_initializer:
                yield sp.values
                yield sp.indices
            node_lists.append(g.node)
            if node_count is not None:
                node_count[0] += len(g.node)
            continue
        if node_lists:
            # its nodes' attributes, last node first, taken one node at a time (a
            # million-node graph must not hold a million attribute lists at once)
            attr_lists.append(reversed(node_lists.pop()))
            continue
        top = attr_lists[-1]
        if top.__class__ in _NODE_ITERATORS:
            node = next(top, None)
            if node is None:
                attr_lists.pop()
                continue
            attrs = node.attribute
        else:
            attrs = attr_lists.pop()
        for attr in attrs:
            has_t = attr.HasField("t")
            tensors = attr.tensors
            sparse_list = attr.sparse_tensors
            has_sparse = attr.HasField("sparse_tensor")
            has_g = attr.HasField("g")
            subgraphs = attr.graphs
            if not (has_t or tensors or sparse_list or has_sparse or has_g or subgraphs):
                continue  # the common case: a plain attribute (ints, a float, a string)
            if has_t:
                yield attr.t
            yield from tensors
            sparse = list(sparse_list)
            if has_sparse:
                sparse.append(attr.sparse_tensor)
            for sp in sparse:
                yield sp.values
                yield sp.indices
            if has_g:
                graphs.append(attr.g)
            graphs.extend(subgraphs)


# the iterator types reversed() gives over node lists (attr_lists holds these and attribute lists)
_NODE_ITERATORS = (type(reversed([])), type(reversed(ModelProto().graph.node)))

def element_dtype(data_type: int):
    """onnx's numpy dtype of a TensorProto data type (cached), or None when onnx has none."""
    try:
        return _NP_DTYPES[data_type]
    except KeyError:
        pass
    try:
        found = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(data_type))
    except Exception:
        found = None
    if len(_NP_DTYPES) < 1024:  # data types come from files: keep the cache bounded
        _NP_DTYPES[data_type] = found
    return found


_NP_DTYPES: dict = {}


def expected_nbytes(tensor: TensorProto) -> int | None:
    np_dtype = element_dtype(tensor.data_type)
    if np_dtype is None:
        return None
    n = 1
    for d in tensor.dims:
        if d < 0:
            return -1
        # capped: hostile dims must not grow a 4,000-digit integer that no message can print
        n = min(n * d, 1 << 64)
    bits = _SUBBYTE_BITS.get(tensor.data_type)
    if bits is not None:
        return (n * bits + 7) // 8
    if np_dtype.itemsize == 0:
        return None
    return n * np_dtype.itemsize


_SUBBYTE_BITS = {
    getattr(TensorProto, name): bits
    for name, bits in (("INT4", 4), ("UINT4", 4), ("FLOAT4E2M1", 4), ("INT2", 2), ("UINT2", 2))
    if hasattr(TensorProto, name)
}
# The widest element type (complex128): no tensor of n elements needs more bytes per element.
MAX_ITEMSIZE = 16


def tensor_numel(tensor: TensorProto) -> int:
    n = 1
    for d in tensor.dims:
        n *= max(int(d), 0)
    return n

# Data types whose raw little-endian bytes onnx.numpy_helper.to_array reads with a
# plain np.frombuffer (no unpacking, no ml_dtypes).
_PLAIN_TYPES = frozenset(
    getattr(TensorProto, n)
    for n in ("FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64", "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64", "COMPLEX128")
)
_LITTLE_ENDIAN = sys.byteorder == "little"


def plain_array(tensor: TensorProto, raw: bytes) -> np.ndarray | None:
    """What ``onnx.numpy_helper.to_array`` returns for ``tensor`` with raw data ``raw``,
    computed the way it does (np.frombuffer + reshape) without its dispatch and
    without copying the tensor; None when the type needs onnx's own conversion."""
    if not _LITTLE_ENDIAN or tensor.data_type not in _PLAIN_TYPES or tensor.HasField("segment"):
        return None
    dtype = element_dtype(tensor.data_type)
    if dtype is None:
        return None
    return np.frombuffer(raw, dtype=dtype).reshape(tuple(tensor.dims))
