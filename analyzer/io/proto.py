"""onnx's protobuf classes and operator schemas, without running ``onnx/__init__.py``.

``import onnx`` costs most of a ``check`` of a small model (about 0.7 s of 1.1 s on a
2-core VM): its ``__init__`` pulls in ``onnx.helper``, whose dtype tables import
``ml_dtypes`` and its C extension.  ``check`` needs none of that for common models.
It needs the message classes, which live in onnx's generated ``onnx/onnx_ml_pb2.py``
(it imports only ``google.protobuf``), and for the validity rules the operator
schemas, which live in onnx's C extension ``onnx.onnx_cpp2py_export`` (it imports no
Python module).  Both are loaded here from the installed onnx package's folder, under
their own names in ``sys.modules``, so that a later ``import onnx`` (fix, verify,
onnx's shape inference, exotic dtypes, tests) reuses the very same modules: the
protobuf descriptor pool never sees ``onnx/onnx-ml.proto`` twice, and a message built
here is an instance of ``onnx.ModelProto`` there (and the other way round).

If onnx is already imported, or its layout is not the one expected (another onnx
release), this falls back to a plain ``import onnx``: same classes, same behaviour,
only slower to start.

What onnx's Python helpers would add is re-implemented where ``check`` needs it:
:func:`get_attribute_value` (``onnx.helper``'s, line for line in behaviour) and the
schema calls (``onnx.defs.has``/``get_schema`` are the C extension's functions
themselves).  Element types and tensor values are in :mod:`analyzer.io.tensors`.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys

__all__ = [
    "IR_VERSION",
    "SHIMMED",
    "AttributeProto",
    "FunctionProto",
    "GraphProto",
    "ModelProto",
    "NodeProto",
    "OperatorSetIdProto",
    "SparseTensorProto",
    "StringStringEntryProto",
    "TensorProto",
    "TensorShapeProto",
    "TrainingInfoProto",
    "TypeProto",
    "ValueInfoProto",
    "get_attribute_value",
    "get_schema",
    "has_schema",
    "onnx_imported",
    "opset_version",
    "schema_defs",
    "shape_inference",
]

_PB2 = "onnx.onnx_ml_pb2"
_CPP = "onnx.onnx_cpp2py_export"


def onnx_imported() -> bool:
    """Whether the onnx package itself (its ``__init__``) has been imported."""
    return "onnx" in sys.modules


def _onnx_dir() -> str | None:
    """The installed onnx package's folder, found without importing it; None when the
    layout is not the expected one (then the caller imports onnx)."""
    spec = importlib.util.find_spec("onnx")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = next(iter(spec.submodule_search_locations))
    # onnx_pb.py is what onnx/__init__ imports the classes through; it must take them
    # from onnx_ml_pb2 (an ONNX_ML build, every wheel on PyPI), or the descriptor pool
    # would get two files defining onnx.ModelProto.
    try:
        with open(os.path.join(folder, "onnx_pb.py"), encoding="utf-8") as f:
            if "onnx_ml_pb2 import" not in f.read():
                return None
    except OSError:
        return None
    if not os.path.isfile(os.path.join(folder, "onnx_ml_pb2.py")):
        return None
    return folder


def _load_from(name: str, location: str):
    """Execute the file at ``location`` as module ``name`` (registered first, so that
    a later ``import`` of that name finds it; removed again if it fails)."""
    spec = importlib.util.spec_from_file_location(name, location)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {location}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _import_onnx_module(name: str):
    import importlib

    importlib.import_module("onnx")
    return importlib.import_module(name)


def _onnx_submodule(name: str, filenames):
    """onnx's submodule ``name``: the one already imported; else executed from the first of
    ``filenames`` present in onnx's folder, without importing onnx; else (another layout,
    or onnx already imported) through a plain ``import onnx``."""
    module = sys.modules.get(name)
    if module is not None:
        return module
    if not onnx_imported():
        try:
            folder = _onnx_dir()
            if folder is not None:
                for filename in filenames:
                    location = os.path.join(folder, filename)
                    if os.path.isfile(location):
                        return _load_from(name, location)
        except Exception:
            if name in sys.modules:  # built its classes, then failed: keep them, never build twice
                return sys.modules[name]
    return _import_onnx_module(name)


def _pb2():
    """The module holding onnx's message classes (``onnx.onnx_ml_pb2``)."""
    return _onnx_submodule(_PB2, ["onnx_ml_pb2.py"])


def _cpp():
    """onnx's C extension (``onnx.onnx_cpp2py_export``): the operator schema registry."""
    return _onnx_submodule(_CPP, ["onnx_cpp2py_export" + suffix for suffix in importlib.machinery.EXTENSION_SUFFIXES])


_pb = _pb2()
# True when the classes came from the file, onnx's __init__ not run (tests look at it)
SHIMMED = not onnx_imported()

AttributeProto = _pb.AttributeProto
FunctionProto = _pb.FunctionProto
GraphProto = _pb.GraphProto
ModelProto = _pb.ModelProto
NodeProto = _pb.NodeProto
OperatorSetIdProto = _pb.OperatorSetIdProto
SparseTensorProto = _pb.SparseTensorProto
StringStringEntryProto = _pb.StringStringEntryProto
TensorProto = _pb.TensorProto
TensorShapeProto = _pb.TensorShapeProto
TrainingInfoProto = _pb.TrainingInfoProto
TypeProto = _pb.TypeProto
ValueInfoProto = _pb.ValueInfoProto
# the IR version this onnx writes and reads (onnx.IR_VERSION, an enum value of onnx.proto)
IR_VERSION = int(_pb.IR_VERSION)
del _pb


def schema_defs():
    """onnx's schema registry functions (the module ``onnx.defs`` takes ``has``,
    ``get_schema``, ``get_all_schemas_with_history`` and ``schema_version_map`` from),
    loaded on first use."""
    return _cpp().defs


def shape_inference():
    """onnx's shape inference functions (the C module ``onnx.shape_inference`` calls):
    ``infer_shapes(model_bytes, check_type, strict_mode, data_prop)`` returns the
    inferred model, serialized.  Without ``onnx/__init__`` (and ml_dtypes, about 0.6 s
    to import), which ``onnx.shape_inference.infer_shapes`` adds only to parse that
    result into a ModelProto."""
    return _cpp().shape_inference


def has_schema(op_type: str, domain: str = "") -> bool:
    """``onnx.defs.has``."""
    return schema_defs().has_schema(op_type, domain)


def get_schema(op_type: str, max_inclusive_version: int, domain: str = ""):
    """``onnx.defs.get_schema`` (raises ``SchemaError`` when there is none)."""
    return schema_defs().get_schema(op_type, max_inclusive_version, domain)


def opset_version(domain: str = "") -> int:
    """The newest opset of ``domain`` the installed onnx knows (``onnx.defs.onnx_opset_version()``
    for the default domain, ``onnx_ml_opset_version()`` for ``ai.onnx.ml``)."""
    return int(schema_defs().schema_version_map()[domain][1])


def get_attribute_value(attr):
    """The value of an AttributeProto, as ``onnx.helper.get_attribute_value`` gives it:
    the scalar or message for single values, a list for repeated ones, None for
    UNDEFINED; ValueError for a reference attribute or an unknown type."""
    if attr.ref_attr_name:
        raise ValueError(f"Cannot get value of reference attribute: {attr}")
    getter = _ATTR_GETTERS.get(attr.type)
    if getter is None:
        raise ValueError(f"Unsupported ONNX attribute: {attr}")
    return getter(attr)


_A = AttributeProto
_ATTR_GETTERS = {
    _A.FLOAT: lambda a: a.f,
    _A.INT: lambda a: a.i,
    _A.STRING: lambda a: a.s,
    _A.TENSOR: lambda a: a.t,
    _A.SPARSE_TENSOR: lambda a: a.sparse_tensor,
    _A.GRAPH: lambda a: a.g,
    _A.TYPE_PROTO: lambda a: a.tp,
    _A.FLOATS: lambda a: list(a.floats),
    _A.INTS: lambda a: list(a.ints),
    _A.STRINGS: lambda a: list(a.strings),
    _A.TENSORS: lambda a: list(a.tensors),
    _A.SPARSE_TENSORS: lambda a: list(a.sparse_tensors),
    _A.GRAPHS: lambda a: list(a.graphs),
    _A.TYPE_PROTOS: lambda a: list(a.type_protos),
    _A.UNDEFINED: lambda a: None,
}
del _A
