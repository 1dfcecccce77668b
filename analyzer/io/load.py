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

import contextlib
import errno
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import ModelProto, TensorProto

from analyzer.io.lazy import reduce_model
from analyzer.io.protoscan import PROTOBUF_DEPTH_LIMIT, FileSource, ScanError, nesting_depth, pread_upto, scan_model_fields

__all__ = [
    "ERROR_KINDS",
    "LoadError",
    "LoadedModel",
    "ExternalRef",
    "load",
    "from_proto",
    "read_tensor",
    "read_external_bytes",
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
# Names quoted in messages are cut to this many characters (a name can be megabytes).
MAX_NAME_IN_MESSAGE = 120

# Every error kind a file result can carry (JSON ``error.kind``), with what it means.
# The words are stable: scripts match on them.
ERROR_KINDS = {
    "not-found": "the path does not exist",
    "not-a-file": "a directory, FIFO, device or socket (never opened, so it cannot block)",
    "unreadable": "the file exists but cannot be read (permissions, I/O error)",
    "empty": "the file has 0 bytes",
    "not-onnx": "not an ONNX model: text, a Git LFS pointer, a zip or pickle, random bytes, another protobuf "
    "message (a bare GraphProto or TensorProto), or a ModelProto without graph / ir_version / opset_import",
    "truncated": "an ONNX model cut short: a top-level field runs past the end of the file",
    "corrupt": "framed like an ONNX model, but its content does not parse (bytes damaged inside)",
    "too-deep": "messages nested deeper than protobuf's parse limit (100 levels, e.g. If inside If ... "
    "about 33 deep), or too deep for analysis",
    "too-large": "a file over 2 GiB, more nodes than --max-nodes, or out of memory while analyzing",
    "unsupported": "an IR version newer than the installed onnx supports",
    "external-data": "external data that cannot be used: missing file, not a regular file, offset/length "
    "outside the file or not matching the dims, unknown key, string tensor, model without a folder",
    "external-data-outside-folder": "an external-data location that is absolute, contains '..', or resolves "
    "(through symlinks) outside the model's folder, or a data file with more than one hard link",
    "graph-cycle": "the graph (or a subgraph / function body) has a cycle",
    "graph-duplicate-tensor": "one tensor defined twice in a graph: two producers, a node output named like "
    "a graph input or initializer, or a repeated graph input",
    "bad-input-shape": "an --input-shape binding that does not fit the model",
    "internal": "a bug in onnxlint (please report it with the file)",
}


class LoadError(Exception):
    """A model could not be read.  ``kind`` is one of :data:`ERROR_KINDS`."""

    def __init__(self, path, kind: str, message: str):
        super().__init__(message)
        self.path = str(path)
        self.kind = kind
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}: {self.kind}: {self.message}"


def text(s) -> str:
    """A protobuf string field as ``str``.  ONNX strings are proto2, so protobuf does
    not validate them: invalid UTF-8 comes back as ``bytes``; decode it with
    replacement characters so that names are always text downstream."""
    if isinstance(s, bytes):
        return s.decode("utf-8", "replace")
    return s


def one_line(s: str) -> str:
    """A message safe for one line of any report: control characters (newlines,
    ANSI/OSC escapes) and line separators from model strings become ``\\xNN``."""
    if s.isprintable():
        return s
    return "".join(c if c.isprintable() or c == " " else (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}") for c in s)


def shown(s) -> str:
    """``repr`` of a name for a message, cut to a sane length."""
    s = text(s)
    if len(s) > MAX_NAME_IN_MESSAGE:
        s = s[:MAX_NAME_IN_MESSAGE] + "..."
    return repr(s)


@dataclass
class ExternalRef:
    """A validated external-data reference of one tensor."""

    path: Path
    offset: int
    length: int
    device: int = 0  # st_dev and st_ino of the validated file: reading checks
    inode: int = 0  # that the descriptor opened is still that very file


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


_O_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


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
        fd = os.open(p, _O_FLAGS)
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
    if model.ir_version > onnx.IR_VERSION:
        raise LoadError(
            path, "unsupported", f"IR version {model.ir_version} is newer than this onnx supports ({onnx.IR_VERSION})"
        )
    if not model.opset_import:
        raise LoadError(path, "not-onnx", "no opset_import (every ONNX model declares its opsets; a file cut short?)")
    default_opset = None
    for imp in model.opset_import:
        if text(imp.domain) in ("", "ai.onnx"):
            default_opset = imp.version
    if default_opset is not None:
        latest = onnx.defs.onnx_opset_version()
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
                loaded.external[key] = _validate_external(tensor, base, path, checked, key)
    # The walk above visited every node: counted here, not in one more pass (training
    # graphs are not analyzed, so a model with any is counted the long way).
    loaded.node_count = None if model.training_info else count[0]


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


def external_key(tensor: TensorProto) -> tuple:
    """Identifies an external-data reference by its entries (protobuf wrapper
    objects have no stable identity to key on)."""
    out = []
    for e in tensor.external_data:
        k, v = e.key, e.value
        out.append((k if k.__class__ is str else text(k), v if v.__class__ is str else text(v)))
    return tuple(out)


_KNOWN_EXTERNAL_KEYS = {"location", "offset", "length", "checksum", "basepath"}


def _outside(path, name, message) -> LoadError:
    return LoadError(path, "external-data-outside-folder", f"tensor {shown(name)}: {message}")


def _bad(path, name, message) -> LoadError:
    return LoadError(path, "external-data", f"tensor {shown(name)}: {message}")


def _validate_external(tensor: TensorProto, base: Path, path, checked: dict, entries=None) -> ExternalRef:
    """Check one external-data reference without opening anything; ``checked``
    caches the file checks per location (thousands of tensors share one file).
    ``entries`` is ``external_key(tensor)`` when the caller has it already."""
    info = {}
    name = tensor.name
    for key, value in external_key(tensor) if entries is None else entries:
        if key not in _KNOWN_EXTERNAL_KEYS:
            raise _bad(path, name, f"unknown external-data key {shown(key)}")
        info[key] = value
    location = info.get("location", "")
    if not location:
        raise _bad(path, name, "external data without a location")
    if tensor.data_type == TensorProto.STRING:
        raise _bad(path, name, "a string tensor cannot keep its data in an external file")
    if location not in checked:
        try:
            target, st = _check_location(location, base)
            checked[location] = (Path(target), st)
        except _Refused as e:
            checked[location] = e
    found = checked[location]
    if isinstance(found, _Refused):
        raise (_outside if found.outside else _bad)(path, name, found.message)
    target, st = found
    try:
        offset = _decimal(info.get("offset", "0"))
        length = _decimal(info["length"]) if "length" in info else st.st_size - offset
    except ValueError:
        raise _bad(path, name, "offset/length are not non-negative decimal integers") from None
    if length < 0 or offset + length > st.st_size:
        raise _bad(path, name, f"bytes {offset}..{offset + length} lie outside {shown(location)} ({st.st_size} bytes)")
    expected = _expected_nbytes(tensor)
    if expected is not None and expected != length:
        raise _bad(path, name, f"{length} bytes in {shown(location)}, dims need {expected}")
    return ExternalRef(target, offset, length, st.st_dev, st.st_ino)


class _Refused(Exception):
    def __init__(self, message, outside=False):
        super().__init__(message)
        self.message = message
        self.outside = outside


def _decimal(s: str) -> int:
    s = s.strip()
    if not s.isdigit() or not s.isascii() or len(s) > 20:
        raise ValueError(s)
    return int(s)


def _check_location(location: str, base: Path):
    """(resolved path, stat result) of an external-data file, or raise _Refused."""
    if "\x00" in location:
        raise _Refused("location contains a NUL byte")
    norm = location.replace("\\", "/")
    if os.path.isabs(location) or norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        raise _Refused(f"absolute external-data location {shown(location)} refused", outside=True)
    if ".." in norm.split("/"):
        raise _Refused(f"external-data location {shown(location)} leaves the model's folder ('..' refused)", outside=True)
    base_real = os.path.realpath(base)
    target = os.path.realpath(os.path.join(base_real, norm))
    try:
        inside = os.path.commonpath([base_real, target]) == base_real
    except ValueError:  # different drives
        inside = False
    if not inside:
        raise _Refused(f"external-data location {shown(location)} resolves outside the model's folder", outside=True)
    try:
        st = os.stat(target)  # stat only: a FIFO or device is never opened
    except FileNotFoundError:
        raise _Refused(f"external-data file {shown(location)} not found") from None
    except (OSError, ValueError) as e:
        raise _Refused(f"external-data file {shown(location)} cannot be read ({getattr(e, 'strerror', None) or e})") from None
    if not stat.S_ISREG(st.st_mode):
        raise _Refused(f"external-data {shown(location)} is not a regular file (folder, FIFO, device or socket); not opened")
    if st.st_nlink > 1:
        # A hard link is indistinguishable from its other names, which may lie
        # outside the model's folder (onnx refuses these too).
        raise _Refused(
            f"external-data file {shown(location)} has {st.st_nlink} hard links; its other names may lie "
            "outside the model's folder (copy it to break the link)",
            outside=True,
        )
    return target, st


def _np_dtype(data_type: int):
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


def _expected_nbytes(tensor: TensorProto) -> int | None:
    np_dtype = _np_dtype(tensor.data_type)
    if np_dtype is None:
        return None
    n = 1
    for d in tensor.dims:
        if d < 0:
            return -1
        n *= d
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
_MAX_ITEMSIZE = 16


def tensor_numel(tensor: TensorProto) -> int:
    n = 1
    for d in tensor.dims:
        n *= max(int(d), 0)
    return n


def _check_opened(fd: int, ref: ExternalRef) -> None:
    """The descriptor must still be the regular file (same device and inode, one
    link) that was validated: swapping it after the check gains nothing."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (ref.inode and (st.st_dev, st.st_ino) != (ref.device, ref.inode)):
        raise OSError(f"{ref.path} changed since it was validated")
    if st.st_nlink > 1 or ref.offset + ref.length > st.st_size:
        raise OSError(f"{ref.path} changed since it was validated")


def _open_ref(ref: ExternalRef) -> int:
    """A descriptor of a validated reference's file, opened without following a
    symlink and without blocking, and checked (:func:`_check_opened`)."""
    fd = os.open(ref.path, _O_FLAGS | getattr(os, "O_NOFOLLOW", 0))
    try:
        _check_opened(fd, ref)
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def _open_validated(ref: ExternalRef):
    """The data file of a validated reference (see :func:`_open_ref`), positioned
    at the reference's offset."""
    with os.fdopen(_open_ref(ref), "rb") as f:
        f.seek(ref.offset)
        yield f


def read_external_bytes(ref: ExternalRef) -> bytes:
    """The bytes of a validated reference (see :func:`_open_ref`); fewer only if
    the file ends early."""
    fd = _open_ref(ref)
    try:
        return pread_upto(fd, ref.offset, ref.length)
    finally:
        os.close(fd)


# At most this many external-data files stay open per model; others are opened per read.
MAX_OPEN_DATA_FILES = 16


def _read_ref(loaded: LoadedModel | None, ref: ExternalRef) -> bytes:
    """:func:`read_external_bytes`, through a descriptor the model keeps open: the
    file is opened and checked once (not per tensor: a model reads a hundred small
    tensors from one data file), and every reference is still checked to lie
    inside the file as it was when opened."""
    files = getattr(loaded, "_files", None)
    if files is None:
        return read_external_bytes(ref)
    k = (ref.path, ref.device, ref.inode)
    got = files.get(k)
    if got is None:
        if len(files) >= MAX_OPEN_DATA_FILES:
            return read_external_bytes(ref)
        fd = os.open(ref.path, _O_FLAGS | getattr(os, "O_NOFOLLOW", 0))
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or (ref.inode and (st.st_dev, st.st_ino) != (ref.device, ref.inode)) or st.st_nlink > 1:
                raise OSError(f"{ref.path} changed since it was validated")
        except BaseException:
            os.close(fd)
            raise
        got = files[k] = (fd, st.st_size)
    fd, size = got
    if ref.offset + ref.length > size:
        raise OSError(f"{ref.path} changed since it was validated")
    return pread_upto(fd, ref.offset, ref.length)


def copy_external_bytes(ref: ExternalRef, dst, chunk: int = 1 << 24) -> None:
    """Copy a validated reference's bytes into the open file ``dst`` in chunks,
    never holding it all in memory."""
    with _open_validated(ref) as f:
        left = ref.length
        while left:
            piece = f.read(min(chunk, left))
            if not piece:
                raise OSError(f"{ref.path} ended early")
            dst.write(piece)
            left -= len(piece)


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
            if ref is None or (max_elements is not None and ref.length > max(max_elements, 1) * _MAX_ITEMSIZE):
                return None
            raw = _read_ref(loaded, ref)
            array = _plain_array(tensor, raw)
            if array is not None:
                return array
            copy = TensorProto()
            copy.CopyFrom(tensor)
            del copy.external_data[:]
            copy.data_location = TensorProto.DEFAULT
            copy.raw_data = raw
            tensor = copy
        if tensor.HasField("raw_data"):
            array = _plain_array(tensor, tensor.raw_data)
            if array is not None:
                return array
        return onnx.numpy_helper.to_array(tensor)
    except Exception:
        return None


# Data types whose raw little-endian bytes onnx.numpy_helper.to_array reads with a
# plain np.frombuffer (no unpacking, no ml_dtypes).
_PLAIN_TYPES = frozenset(
    getattr(TensorProto, n)
    for n in ("FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64", "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64", "COMPLEX128")
)
_LITTLE_ENDIAN = sys.byteorder == "little"


def _plain_array(tensor: TensorProto, raw: bytes) -> np.ndarray | None:
    """What ``onnx.numpy_helper.to_array`` returns for ``tensor`` with raw data ``raw``,
    computed the way it does (np.frombuffer + reshape) without its dispatch and
    without copying the tensor; None when the type needs onnx's own conversion."""
    if not _LITTLE_ENDIAN or tensor.data_type not in _PLAIN_TYPES or tensor.HasField("segment"):
        return None
    dtype = _np_dtype(tensor.data_type)
    if dtype is None:
        return None
    return np.frombuffer(raw, dtype=dtype).reshape(tuple(tensor.dims))


def _read_lazy(loaded: LoadedModel, tensor: TensorProto, payload) -> np.ndarray | None:
    """A payload left in the file by ``analyzer.io.lazy``: raw little-endian values."""
    try:
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)).newbyteorder("<")
    except Exception:
        return None
    n = tensor_numel(tensor)
    if dtype.itemsize == 0 or n * dtype.itemsize != payload.length or loaded.buffer is None:
        return None
    raw = loaded.buffer[payload.offset : payload.offset + payload.length]  # bytes or FileSource
    return np.frombuffer(raw, dtype=dtype).reshape(tuple(int(d) for d in tensor.dims)).astype(dtype.newbyteorder("="))
