"""Tensors of a model as protos: every TensorProto in it (:func:`iter_tensors`), element
types as numpy dtypes, element counts and byte sizes, and the plain raw-bytes decoding
that :func:`analyzer.io.load.read_tensor` uses."""
from __future__ import annotations

import sys
from operator import attrgetter

import numpy as np

from analyzer.io.proto import ModelProto, TensorProto

__all__ = [
    "MAX_ITEMSIZE",
    "element_dtype",
    "expected_nbytes",
    "iter_tensors",
    "plain_array",
    "tensor_dtype_to_np_dtype",
    "tensor_numel",
    "to_array",
]


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
            # million-node graph must not hold a million attribute lists at once);
            # nodes without attributes (most) are passed over in C
            attr_lists.append(filter(None, map(_ATTRIBUTES, reversed(node_lists.pop()))))
            continue
        top = attr_lists[-1]
        if top.__class__ is filter:
            attrs = next(top, None)
            if attrs is None:
                attr_lists.pop()
                continue
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


# a node's attribute list (attr_lists holds iterators of the non-empty ones and attribute lists)
_ATTRIBUTES = attrgetter("attribute")

# onnx's numpy dtype of each element type numpy has natively (what onnx.helper.
# tensor_dtype_to_np_dtype gives, known here without importing onnx.helper, whose table
# imports ml_dtypes); the other types (bfloat16, float8, int4, ...) ask onnx.
_T = TensorProto
_NATIVE_DTYPES = {
    _T.FLOAT: np.dtype("float32"), _T.UINT8: np.dtype("uint8"), _T.INT8: np.dtype("int8"),
    _T.UINT16: np.dtype("uint16"), _T.INT16: np.dtype("int16"), _T.INT32: np.dtype("int32"),
    _T.INT64: np.dtype("int64"), _T.STRING: np.dtype(object), _T.BOOL: np.dtype("bool"),
    _T.FLOAT16: np.dtype("float16"), _T.DOUBLE: np.dtype("float64"), _T.UINT32: np.dtype("uint32"),
    _T.UINT64: np.dtype("uint64"), _T.COMPLEX64: np.dtype("complex64"), _T.COMPLEX128: np.dtype("complex128"),
}  # fmt: skip
# the element types onnx.proto defines (onnx's dtype table has no others)
_DEFINED_TYPES = frozenset(v for v in _T.DataType.values() if v != _T.UNDEFINED)


def tensor_dtype_to_np_dtype(data_type: int) -> np.dtype:
    """``onnx.helper.tensor_dtype_to_np_dtype``: KeyError for a type onnx has no dtype for;
    onnx is imported only for the types numpy lacks (ml_dtypes' bfloat16, float8, ...)."""
    found = _NATIVE_DTYPES.get(data_type)
    if found is not None:
        return found
    if data_type not in _DEFINED_TYPES:
        raise KeyError(data_type)
    from onnx import helper  # imports ml_dtypes: only for these types

    return helper.tensor_dtype_to_np_dtype(data_type)


def element_dtype(data_type: int):
    """onnx's numpy dtype of a TensorProto data type (cached), or None when onnx has none."""
    try:
        return _NP_DTYPES[data_type]
    except (KeyError, TypeError):
        pass
    try:
        found = np.dtype(tensor_dtype_to_np_dtype(data_type))
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


def to_array(tensor: TensorProto) -> np.ndarray:
    """``onnx.numpy_helper.to_array(tensor)``, computed here for the element types numpy
    has natively, stored as raw bytes or in the typed fields (float_data, int32_data...);
    onnx's own function (and its import) for the rest: external data, segments, big-endian
    hosts, bfloat16/float8/int4 and the other ml_dtypes types.  Same values, same dtype,
    same errors."""
    data_type = tensor.data_type
    if data_type in _NATIVE_DTYPES and _LITTLE_ENDIAN and not tensor.HasField("segment") and tensor.data_location != _T.EXTERNAL:
        dims = tuple(tensor.dims)
        if tensor.HasField("raw_data"):
            if data_type != _T.STRING:
                return np.frombuffer(tensor.raw_data, dtype=_NATIVE_DTYPES[data_type]).reshape(dims)
        else:
            decode = _FIELD_DECODERS.get(data_type)
            if decode is not None:
                return decode(tensor).reshape(dims)
    from onnx import numpy_helper  # imports ml_dtypes: only for these cases

    return numpy_helper.to_array(tensor)


def _from_int32_bits(dtype):
    """16- and 8-bit types whose values onnx keeps, bit pattern in the low bits, in int32_data."""
    narrow = np.uint16 if dtype.itemsize == 2 else np.uint8
    return lambda t: np.array(t.int32_data, dtype=np.int32).view(np.uint32).astype(narrow).view(dtype)


def _from_field(field, storage):
    return lambda t: np.asarray(getattr(t, field), dtype=storage).astype(_NATIVE_DTYPES[t.data_type])


_FIELD_DECODERS = {
    _T.FLOAT: _from_field("float_data", np.float32),
    _T.UINT8: _from_field("int32_data", np.int32),
    _T.INT8: _from_field("int32_data", np.int32),
    _T.INT32: _from_field("int32_data", np.int32),
    _T.INT64: _from_field("int64_data", np.int64),
    _T.DOUBLE: _from_field("double_data", np.float64),
    _T.UINT32: _from_field("uint64_data", np.uint64),
    _T.UINT64: _from_field("uint64_data", np.uint64),
    _T.FLOAT16: _from_int32_bits(np.dtype("float16")),
    _T.INT16: _from_int32_bits(np.dtype("int16")),
    _T.UINT16: _from_int32_bits(np.dtype("uint16")),
    _T.BOOL: _from_int32_bits(np.dtype("bool")),
    _T.COMPLEX64: lambda t: np.array(t.float_data, dtype=np.float32).view(np.complex64),
    _T.COMPLEX128: lambda t: np.array(t.double_data, dtype=np.float64).view(np.complex128),
    _T.STRING: lambda t: np.asarray([s.decode("utf-8") for s in t.string_data]).astype(object),
}
