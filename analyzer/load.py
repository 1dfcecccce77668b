"""Read a model file safely.

Every failure is a :class:`LoadError` with a ``kind`` (a short, stable word that
JSON output and exit codes use) and a one-line message.  Weights stored as
external data stay where they are: their references are validated (relative,
no ``..``, resolving inside the model's folder, offset and length inside the
file) before anything opens them, and values are read later only for the few
small tensors analysis needs (:func:`read_tensor`).
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import ModelProto, TensorProto

from .protoscan import ScanError, scan_model_fields

__all__ = ["LoadError", "LoadedModel", "load", "from_proto", "read_tensor", "iter_tensors"]

# protobuf cannot parse a message over 2 GiB; larger files must keep weights outside.
MAX_PROTO_BYTES = (1 << 31) - 1
# Constant values materialized for analysis (shape sub-graphs, small weights).
MAX_VALUE_ELEMENTS = 1 << 16


class LoadError(Exception):
    """A model could not be read.  ``kind`` is one of:

    not-found, not-a-file, unreadable, empty, not-onnx, truncated, too-large,
    unsupported, external-data
    """

    def __init__(self, path, kind: str, message: str):
        super().__init__(message)
        self.path = str(path)
        self.kind = kind
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}: {self.kind}: {self.message}"


@dataclass
class ExternalRef:
    """A validated external-data reference of one tensor."""

    path: Path
    offset: int
    length: int


@dataclass
class LoadedModel:
    model: ModelProto
    path: Path | None
    # external_key(tensor) -> validated reference, for tensors whose data is outside the file
    external: dict[tuple, ExternalRef] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def base_dir(self) -> Path | None:
        return self.path.parent if self.path else None


def load(path, max_bytes: int = MAX_PROTO_BYTES) -> LoadedModel:
    """Read ``path`` into a :class:`LoadedModel` or raise :class:`LoadError`."""
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise LoadError(path, "not-found", "no such file") from None
    except OSError as e:
        raise LoadError(path, "unreadable", e.strerror or str(e)) from None
    if stat.S_ISDIR(st.st_mode):
        raise LoadError(path, "not-a-file", "is a directory")
    if not stat.S_ISREG(st.st_mode):
        raise LoadError(path, "not-a-file", "not a regular file (device, FIFO or socket)")
    if st.st_size == 0:
        raise LoadError(path, "empty", "file is empty")
    if st.st_size > max_bytes:
        raise LoadError(
            path,
            "too-large",
            f"{st.st_size} bytes; a protobuf model over {max_bytes} bytes cannot be parsed (store weights as external data)",
        )
    try:
        with open(p, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise LoadError(path, "unreadable", e.strerror or str(e)) from None
    return _parse(data, p)


def from_proto(model: ModelProto, path=None) -> LoadedModel:
    """Wrap an in-memory model (API use); external data resolves against ``path``'s folder."""
    if not isinstance(model, ModelProto):
        raise LoadError(path or "<model>", "not-onnx", f"expected an onnx.ModelProto, got {type(model).__name__}")
    p = Path(path) if path else None
    loaded = LoadedModel(model, p)
    _check_model(loaded, path or "<model>")
    return loaded


def _describe_non_model(data: bytes) -> str | None:
    head = data[:200]
    if head.startswith(b"version https://git-lfs"):
        return "a Git LFS pointer, not the model (run `git lfs pull`)"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive (a PyTorch checkpoint?), not an ONNX model"
    if head.startswith(b"\x80") and b"torch" in data[:4096]:
        return "a Python pickle, not an ONNX model"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text and all(c.isprintable() or c in "\r\n\t" for c in text):
        return "a text file, not a binary ONNX model"
    return None


def _parse(data: bytes, path: Path) -> LoadedModel:
    what = _describe_non_model(data)
    if what:
        raise LoadError(path, "not-onnx", what)
    # Walk the top-level fields first: this tells a truncated model from garbage
    # and refuses other protobuf messages that would parse as an empty ModelProto.
    try:
        scan_model_fields(data)
    except ScanError as e:
        raise LoadError(path, e.kind, e.message) from None
    model = ModelProto()
    try:
        model.ParseFromString(data)
    except Exception as e:  # protobuf raises DecodeError, RecursionError or RuntimeError variants
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise LoadError(path, "not-onnx", f"cannot parse as an ONNX ModelProto ({msg})") from None
    loaded = LoadedModel(model, path)
    _check_model(loaded, path)
    return loaded


def _check_model(loaded: LoadedModel, path) -> None:
    model = loaded.model
    if not model.HasField("graph"):
        raise LoadError(path, "not-onnx", "no graph in the file (not an ONNX model)")
    if model.ir_version <= 0:
        raise LoadError(path, "not-onnx", "ir_version is missing (not an ONNX model, or an older serialized message)")
    if model.ir_version > onnx.IR_VERSION:
        raise LoadError(
            path, "unsupported", f"IR version {model.ir_version} is newer than this onnx supports ({onnx.IR_VERSION})"
        )
    if not model.opset_import:
        raise LoadError(path, "not-onnx", "no opset_import (every ONNX model declares its opsets; a file cut short?)")
    default_opset = None
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            default_opset = imp.version
    if default_opset is not None:
        latest = onnx.defs.onnx_opset_version()
        if default_opset > latest:
            loaded.notes.append(f"opset {default_opset} is newer than this onnx knows ({latest}); analysis uses the latest known operator definitions")
    base = loaded.base_dir
    for tensor in iter_tensors(model):
        if tensor.data_location == TensorProto.EXTERNAL:
            if base is None:
                raise LoadError(path, "external-data", f"tensor {tensor.name!r} has external data but the model has no folder")
            loaded.external[external_key(tensor)] = _validate_external(tensor, base, path)


def iter_tensors(model: ModelProto):
    """Every TensorProto in the model: initializers, sparse initializers, Constant
    attributes, in the main graph, all subgraphs and all local functions.  Iterative,
    so deep nesting cannot exhaust the Python stack."""
    graphs = [model.graph]
    node_lists = [f.node for f in model.functions]
    while graphs or node_lists:
        if graphs:
            g = graphs.pop()
            yield from g.initializer
            for sp in g.sparse_initializer:
                yield sp.values
                yield sp.indices
            node_lists.append(g.node)
            continue
        for node in node_lists.pop():
            for attr in node.attribute:
                if attr.HasField("t"):
                    yield attr.t
                yield from attr.tensors
                if attr.HasField("sparse_tensor"):
                    yield attr.sparse_tensor.values
                    yield attr.sparse_tensor.indices
                if attr.HasField("g"):
                    graphs.append(attr.g)
                graphs.extend(attr.graphs)


def external_key(tensor: TensorProto) -> tuple:
    """Identifies an external-data reference by its entries (protobuf wrapper
    objects have no stable identity to key on)."""
    return tuple((e.key, e.value) for e in tensor.external_data)


_KNOWN_EXTERNAL_KEYS = {"location", "offset", "length", "checksum", "basepath"}


def _validate_external(tensor: TensorProto, base: Path, path) -> ExternalRef:
    info = {}
    for entry in tensor.external_data:
        if entry.key not in _KNOWN_EXTERNAL_KEYS:
            raise LoadError(path, "external-data", f"tensor {tensor.name!r}: unknown external-data key {entry.key!r}")
        info[entry.key] = entry.value
    name = tensor.name
    location = info.get("location", "")
    if not location:
        raise LoadError(path, "external-data", f"tensor {name!r}: external data without a location")
    if "\x00" in location:
        raise LoadError(path, "external-data", f"tensor {name!r}: location contains a NUL byte")
    norm = location.replace("\\", "/")
    if os.path.isabs(location) or norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        raise LoadError(path, "external-data", f"tensor {name!r}: absolute external-data location {location!r} refused")
    if ".." in norm.split("/"):
        raise LoadError(path, "external-data", f"tensor {name!r}: external-data location {location!r} leaves the model's folder")
    base_real = os.path.realpath(base)
    target = os.path.realpath(os.path.join(base_real, norm))
    if os.path.commonpath([base_real, target]) != base_real:
        raise LoadError(path, "external-data", f"tensor {name!r}: external-data location {location!r} resolves outside the model's folder")
    try:
        st = os.stat(target)
    except OSError:
        raise LoadError(path, "external-data", f"tensor {name!r}: external-data file {location!r} not found") from None
    if not stat.S_ISREG(st.st_mode):
        raise LoadError(path, "external-data", f"tensor {name!r}: external-data {location!r} is not a regular file")
    try:
        offset = int(info.get("offset", "0"))
        length = int(info["length"]) if "length" in info else st.st_size - offset
    except ValueError:
        raise LoadError(path, "external-data", f"tensor {name!r}: offset/length are not integers") from None
    if offset < 0 or length < 0 or offset + length > st.st_size:
        raise LoadError(
            path,
            "external-data",
            f"tensor {name!r}: bytes {offset}..{offset + length} lie outside {location!r} ({st.st_size} bytes)",
        )
    expected = _expected_nbytes(tensor)
    if expected is not None and expected != length:
        raise LoadError(path, "external-data", f"tensor {name!r}: {length} bytes in {location!r}, dims need {expected}")
    return ExternalRef(Path(target), offset, length)


def _expected_nbytes(tensor: TensorProto) -> int | None:
    try:
        np_dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)
    except Exception:
        return None
    if tensor.data_type in (TensorProto.STRING,) or np_dtype.itemsize == 0:
        return None
    if tensor.data_type in _SUBBYTE:
        return None
    n = 1
    for d in tensor.dims:
        if d < 0:
            return -1
        n *= d
    return n * np_dtype.itemsize


_SUBBYTE = {getattr(TensorProto, n) for n in ("INT4", "UINT4", "FLOAT4E2M1", "INT2", "UINT2") if hasattr(TensorProto, n)}


def tensor_numel(tensor: TensorProto) -> int:
    n = 1
    for d in tensor.dims:
        n *= max(int(d), 0)
    return n


def read_tensor(loaded: LoadedModel, tensor: TensorProto, max_elements: int = MAX_VALUE_ELEMENTS) -> np.ndarray | None:
    """The values of ``tensor`` as a numpy array, or None when it is too big,
    of an unsupported type, or inconsistent (never raises on bad data)."""
    if any(d < 0 for d in tensor.dims) or tensor_numel(tensor) > max_elements:
        return None
    try:
        if tensor.data_location == TensorProto.EXTERNAL:
            ref = loaded.external.get(external_key(tensor))
            if ref is None:
                return None
            with open(ref.path, "rb") as f:
                f.seek(ref.offset)
                raw = f.read(ref.length)
            copy = TensorProto()
            copy.CopyFrom(tensor)
            del copy.external_data[:]
            copy.data_location = TensorProto.DEFAULT
            copy.raw_data = raw
            tensor = copy
        return onnx.numpy_helper.to_array(tensor)
    except Exception:
        return None
