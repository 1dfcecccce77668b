"""Read a model file safely.

Every failure is a :class:`LoadError` with a ``kind`` (a short, stable word that
JSON output and exit codes use, listed in :data:`ERROR_KINDS`) and a one-line
message.  Weights stored as external data stay where they are: their references
are validated (relative, no ``..``, resolving inside the model's folder, one hard
link, offset and length inside the file) before anything opens them, and values
are read later only for the few small tensors analysis needs (:func:`read_tensor`),
through a descriptor checked to be the very file that was validated.

Nothing here follows a FIFO or a device: the model and its data files are
``stat``-ed first and opened non-blocking, so a hostile path cannot hang a scan.
"""
from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from analyzer.io import proto
from analyzer.io.errors import ERROR_KINDS, LoadError, one_line, shown, text
from analyzer.io.external import O_FLAGS, ExternalRef, copy_external_bytes, external_key, read_external_bytes, read_ref, validate_external
from analyzer.io.lazy import reduce_model
from analyzer.io.proto import ModelProto, TensorProto
from analyzer.io.protoscan import PROTOBUF_DEPTH_LIMIT, FileSource, ScanError, nesting_depth, scan_model_fields
from analyzer.io.tensors import MAX_ITEMSIZE, element_dtype, iter_tensors, plain_array, tensor_numel, to_array

__all__ = [
    "ERROR_KINDS",
    "LoadError",
    "LoadedModel",
    "ExternalRef",
    "load",
    "from_proto",
    "read_tensor",
    "read_tensor_blocks",
    "read_external_bytes",
    "copy_external_bytes",
    "iter_tensors",
    "external_key",
    "text",
    "shown",
    "one_line",
]

# protobuf cannot parse a message over 2 GiB; larger files must keep weights outside.
MAX_PROTO_BYTES = (1 << 31) - 1
# Files at least this big are memory-mapped and their weight payloads read lazily.
LAZY_FILE_MIN = 1 << 20
# Default cap of read_tensor: values materialized for analysis (shape sub-graphs, small weights).
MAX_VALUE_ELEMENTS = 1 << 16


@dataclass
class LoadedModel:
    model: ModelProto
    path: Path | None
    # external_key(tensor) -> validated reference, for tensors whose data is outside the file
    external: dict[tuple, ExternalRef] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # main-graph initializer name -> LazyPayload: payloads left in the file, read on demand
    lazy: dict = field(default_factory=dict)
    buffer: object = field(default=None, repr=False)  # the file (a FileSource) while payloads are lazy
    # nodes in all graphs and functions, counted while loading (None: not counted)
    node_count: int | None = None
    # external-data files opened (and checked) once for reading small tensors:
    # (path, device, inode) -> (descriptor, size); closed with the model
    _files: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def base_dir(self) -> Path | None:
        return self.path.parent if self.path else None

    def close(self) -> None:
        """Close the files kept open for on-demand reads (also done when collected)."""
        files, self._files = self._files, {}
        for fd, _ in files.values():
            try:
                os.close(fd)
            except OSError:
                pass
        if isinstance(self.buffer, FileSource):
            self.buffer.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

def load(path, max_bytes: int = MAX_PROTO_BYTES, lazy: bool = True) -> LoadedModel:
    """Read ``path`` into a :class:`LoadedModel` or raise :class:`LoadError`.

    With ``lazy`` (the default), the large initializer payloads of a file are not
    parsed (``analyzer.io.lazy``): :func:`read_tensor` fetches them on demand.  A file
    of at least LAZY_FILE_MIN bytes is not even read whole: only the regions around
    field headers are, with ``os.pread`` (``analyzer.io.protoscan.FileSource``).
    Pass ``lazy=False`` to get a complete ModelProto (to rewrite and save the model)."""
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise LoadError(path, "not-found", "no such file") from None
    except (OSError, ValueError) as e:  # ValueError: a NUL byte in the path
        raise LoadError(path, "unreadable", getattr(e, "strerror", None) or str(e)) from None
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
        # Non-blocking and checked again after opening: the path may have been
        # swapped for a FIFO since the stat above.
        fd = os.open(p, O_FLAGS)
    except OSError as e:
        raise LoadError(path, "unreadable", e.strerror or str(e)) from None
    source = None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise LoadError(path, "not-a-file", "not a regular file (device, FIFO or socket)")
        if lazy and st.st_size >= LAZY_FILE_MIN:
            # Read through a window (no memory map: see FileSource); the descriptor
            # stays open, owned by the source, while payloads may still be read.
            source, fd = FileSource(fd, min(st.st_size, max_bytes + 1)), -1
            data = source
        else:
            try:
                with os.fdopen(fd, "rb") as f:
                    fd = -1
                    # st_size + 1, not max_bytes + 1: reserving 2 GiB per file fails under a memory limit
                    data = f.read(min(st.st_size, max_bytes) + 1)
            except (OSError, ValueError) as e:
                if getattr(e, "errno", None) == errno.ENOMEM:
                    raise MemoryError(f"cannot read {st.st_size} bytes") from None  # a memory limit, not a bad file
                raise LoadError(path, "unreadable", getattr(e, "strerror", None) or str(e)) from None
        if not len(data):
            raise LoadError(path, "empty", "file is empty")
        if len(data) > max_bytes:
            raise LoadError(path, "too-large", f"more than {max_bytes} bytes; a protobuf model that large cannot be parsed")
        loaded = _parse(data, p, lazy=lazy)
    except BaseException:
        if source is not None:
            source.close()
        raise
    finally:
        if fd >= 0:
            os.close(fd)
    if source is not None and loaded.buffer is not source:
        source.close()  # nothing left to read lazily
    return loaded


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
        head_text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if head_text and all(c.isprintable() or c in "\r\n\t" for c in head_text):
        return "a text file, not a binary ONNX model"
    return None


def _parse(data, path: Path, lazy: bool = False) -> LoadedModel:
    """``data`` is ``bytes`` or a FileSource (read only where needed)."""
    try:
        what = _describe_non_model(data[:4096])
        if what:
            raise LoadError(path, "not-onnx", what)
        # Walk the top-level fields first: this tells a truncated model from garbage
        # and refuses other protobuf messages that would parse as an empty ModelProto.
        scan_model_fields(data)
        payloads = {}
        parse_bytes = data
        if lazy:
            reduced = reduce_model(data)
            if reduced is not None:
                parse_bytes, payloads = reduced
        if isinstance(parse_bytes, FileSource):
            parse_bytes = parse_bytes.read(0, len(parse_bytes))
    except ScanError as e:
        raise LoadError(path, e.kind, e.message) from None
    model = ModelProto()
    try:
        model.ParseFromString(parse_bytes)
    except RecursionError:  # the pure-Python protobuf recurses per nesting level
        raise LoadError(path, "too-deep", "messages nested too deeply for protobuf to parse") from None
    except Exception as e:  # protobuf raises DecodeError or RuntimeError variants
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        stop = 10 * PROTOBUF_DEPTH_LIMIT
        depth = nesting_depth(data, stop)
        if "depth" in msg.lower() or depth > PROTOBUF_DEPTH_LIMIT:
            levels = f"more than {stop}" if depth > stop else str(depth)
            raise LoadError(
                path,
                "too-deep",
                f"messages nested {levels} levels deep; protobuf parses at most {PROTOBUF_DEPTH_LIMIT} "
                "(subgraphs inside subgraphs: If inside If about 33 deep is the limit)",
            ) from None
        raise LoadError(path, "corrupt", f"framed like an ONNX model but does not parse ({msg}); damaged bytes inside") from None
    loaded = LoadedModel(model, path, lazy=payloads, buffer=data if payloads else None)
    try:
        _check_model(loaded, path)
    except _SharedPayloadName:
        # read_tensor finds a payload left in the file by its tensor's name, and another
        # tensor has that name too (a repeated initializer, a subgraph's, a Constant's):
        # it could be given the wrong bytes.  Such a model is parsed whole.
        loaded.buffer = None  # the source stays open for the parse (load() closes it)
        return _parse(data, path, lazy=False)
    return loaded


class _SharedPayloadName(Exception):
    pass


def _check_model(loaded: LoadedModel, path) -> None:
    model = loaded.model
    if not model.HasField("graph"):
        raise LoadError(path, "not-onnx", "no graph in the file (not an ONNX model)")
    if model.ir_version <= 0:
        raise LoadError(path, "not-onnx", "ir_version is missing (not an ONNX model, or an older serialized message)")
    if model.ir_version > proto.IR_VERSION:
        raise LoadError(
            path, "unsupported", f"IR version {model.ir_version} is newer than this onnx supports ({proto.IR_VERSION})"
        )
    if not model.opset_import:
        raise LoadError(path, "not-onnx", "no opset_import (every ONNX model declares its opsets; a file cut short?)")
    default_opset = None
    for imp in model.opset_import:
        if text(imp.domain) in ("", "ai.onnx"):
            default_opset = imp.version
    if default_opset is not None:
        latest = proto.opset_version("")
        if default_opset > latest:
            loaded.notes.append(f"opset {default_opset} is newer than this onnx knows ({latest}); analysis uses the latest known operator definitions")
        elif default_opset < 1:
            loaded.notes.append(f"opset {default_opset} for the default domain is not a valid opset version")
    base = loaded.base_dir
    checked: dict = {}
    count = [0]
    lazy = loaded.lazy
    lazy_seen = set()
    for tensor in iter_tensors(model, count):
        if lazy:
            name = tensor.name
            if name in lazy:
                if name in lazy_seen:
                    raise _SharedPayloadName
                lazy_seen.add(name)
        if tensor.data_location == TensorProto.EXTERNAL:
            if base is None:
                raise LoadError(path, "external-data", f"tensor {shown(tensor.name)} has external data but the model has no folder")
            key = external_key(tensor)
            if key not in loaded.external:
                loaded.external[key] = validate_external(tensor, base, path, checked, key)
    # The walk above visited every node: counted here, not in one more pass (training
    # graphs are not analyzed, so a model with any is counted the long way).
    loaded.node_count = None if model.training_info else count[0]

def read_tensor(loaded: LoadedModel, tensor: TensorProto, max_elements: int = MAX_VALUE_ELEMENTS) -> np.ndarray | None:
    """The values of ``tensor`` as a numpy array, or None when it is too big,
    of an unsupported type, or inconsistent (never raises on bad data)."""
    if any(d < 0 for d in tensor.dims) or (max_elements is not None and tensor_numel(tensor) > max_elements):
        return None
    try:
        payload = loaded.lazy.get(tensor.name) if loaded is not None else None
        if payload is not None and not tensor.raw_data and not tensor.float_data and not tensor.double_data:
            return _read_lazy(loaded, tensor, payload)
        if tensor.data_location == TensorProto.EXTERNAL:
            ref = loaded.external.get(external_key(tensor))
            if ref is None or (max_elements is not None and ref.length > max(max_elements, 1) * MAX_ITEMSIZE):
                return None
            raw = read_ref(loaded, ref)
            array = plain_array(tensor, raw)
            if array is not None:
                return array
            copy = TensorProto()
            copy.CopyFrom(tensor)
            del copy.external_data[:]
            copy.data_location = TensorProto.DEFAULT
            copy.raw_data = raw
            tensor = copy
        if tensor.HasField("raw_data"):
            array = plain_array(tensor, tensor.raw_data)
            if array is not None:
                return array
        return to_array(tensor)
    except Exception:
        return None


def read_tensor_blocks(loaded: LoadedModel, tensor: TensorProto, max_elements: int = MAX_VALUE_ELEMENTS, block_bytes: int = 1 << 20):
    """The values :func:`read_tensor` would give, flattened, as successive 1-D arrays of at
    most ``block_bytes`` over one reused buffer (each valid until the next one is made),
    for a payload left in the file (``analyzer.io.lazy``); None for any other tensor (use
    :func:`read_tensor`).  For a whole-tensor test that needs no copy of it: the file is
    read a block at a time into memory that stays in cache, with no new pages to fault in
    (a read errors out of the iteration: treat it as :func:`read_tensor`'s None)."""
    if loaded is None or any(d < 0 for d in tensor.dims) or (max_elements is not None and tensor_numel(tensor) > max_elements):
        return None
    payload = loaded.lazy.get(tensor.name)
    if payload is None or tensor.raw_data or tensor.float_data or tensor.double_data:
        return None
    buffer = loaded.buffer
    found = element_dtype(tensor.data_type)
    if found is None or not isinstance(buffer, FileSource):
        return None
    dtype = found.newbyteorder("<")
    n = tensor_numel(tensor)
    if dtype.itemsize == 0 or not dtype.isnative or dtype.kind == "O" or n * dtype.itemsize != payload.length:
        return None
    return _blocks(buffer, payload.offset, payload.length, dtype, max(block_bytes // dtype.itemsize, 1) * dtype.itemsize)


def _blocks(buffer, offset, length, dtype, step):
    scratch = np.empty(min(step, length), dtype=np.uint8)
    for start in range(0, length, step):
        k = min(step, length - start)
        out = scratch[:k]
        buffer.read_into(offset + start, out)
        yield out.view(dtype)


def _read_lazy(loaded: LoadedModel, tensor: TensorProto, payload) -> np.ndarray | None:
    """A payload left in the file by ``analyzer.io.lazy``: raw little-endian values."""
    found = element_dtype(tensor.data_type)
    if found is None:
        return None
    dtype = found.newbyteorder("<")
    n = tensor_numel(tensor)
    if dtype.itemsize == 0 or n * dtype.itemsize != payload.length or loaded.buffer is None:
        return None
    dims = tuple(int(d) for d in tensor.dims)
    buffer = loaded.buffer
    if isinstance(buffer, FileSource) and dtype.isnative and dtype.kind != "O":
        # read straight into the array (np.empty: no zero-filling): a 100 MB weight is
        # read once, not read into bytes and then copied
        out = np.empty(payload.length, dtype=np.uint8)
        buffer.read_into(payload.offset, out)
        return out.view(dtype).reshape(dims)
    raw = buffer[payload.offset : payload.offset + payload.length]  # bytes or FileSource
    return np.frombuffer(raw, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))
