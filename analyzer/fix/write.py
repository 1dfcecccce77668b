"""Writing a rewritten model: checked, atomic, with the input's weight layout.

When the input keeps weights as external data, the output does too, in ``OUT.data`` beside
``OUT`` (each tensor stays where it was; new tensors named in ``externalize`` go there too;
tensors of 1 MiB or more start on a 4 KiB boundary).  The output passes
``onnx.checker.check_model(full_check=True)`` before it replaces anything, and is written
atomically (temporary files in OUT's folder, then renamed: the data file first, then the
model).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import onnx
from onnx import TensorProto

from analyzer.io.atomic import user_path_error, write_bytes_atomic
from analyzer.io.load import copy_external_bytes, external_key, iter_tensors

__all__ = ["MAX_EXTERNAL_COPY", "FixError", "write_model"]

ALIGN_THRESHOLD, ALIGNMENT = 1 << 20, 4096  # big external tensors start on a page boundary
# fix rewrites the data file next to the output; it refuses to copy more than this.
MAX_EXTERNAL_COPY = 16 << 30


class FixError(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind, self.message = kind, message


def _first_line(e) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def _check(target, original=None) -> None:
    """``onnx.checker.check_model(full_check=True)`` on the output; when it fails and the
    input (``original``, a path) fails too, the input is to blame."""
    try:
        onnx.checker.check_model(target, full_check=True)
    except Exception as e:  # ValidationError, InferenceError
        msg = _first_line(e)
        if original is not None:
            try:
                onnx.checker.check_model(str(original), full_check=True)
            except Exception as e0:
                raise FixError("invalid-input", f"the input fails onnx.checker ({_first_line(e0)}); fix only writes models that pass it") from None
        raise FixError("invalid-output", f"the rewritten model fails onnx.checker ({msg}); please report it") from None


def _set_location(t: TensorProto, location: str, offset: int | None = None, length: int | None = None) -> None:
    entries = {e.key: e.value for e in t.external_data}
    entries["location"] = location
    if offset is not None:
        entries["offset"], entries["length"] = str(offset), str(length)
        entries.pop("checksum", None)
    del t.external_data[:]
    for k in ("location", "offset", "length"):
        if k in entries:
            t.external_data.add(key=k, value=entries.pop(k))
    for k, v in entries.items():
        t.external_data.add(key=k, value=v)
    t.data_location = TensorProto.EXTERNAL


def _file_mode(path) -> int:
    """The mode ``path`` keeps (a file being replaced) or gets (0o666 minus the umask), as in
    :mod:`analyzer.io.atomic`; the temporary files are created 0o600."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _located_in(t, location) -> bool:
    return any(e.key == "location" and e.value == location for e in t.external_data)


class _DataWriter:
    """Appends tensors to the open data file ``f`` (named ``location`` in the model)."""

    def __init__(self, f, location):
        self.f, self.location, self.offset = f, location, 0

    def _align(self, length):
        if length >= ALIGN_THRESHOLD and self.offset % ALIGNMENT:
            pad = ALIGNMENT - self.offset % ALIGNMENT
            self.f.write(b"\0" * pad)
            self.offset += pad

    def put(self, t, raw):
        """Move ``t``'s in-memory data to the file."""
        self._align(len(raw))
        self.f.write(raw)
        t.ClearField("raw_data")
        _set_location(t, self.location, self.offset, len(raw))
        self.offset += len(raw)

    def copy_external(self, t, ref):
        """Copy ``t``'s data from the input's external file ``ref``."""
        self._align(ref.length)
        copy_external_bytes(ref, self.f)  # in chunks: a tensor may be larger than memory
        _set_location(t, self.location, self.offset, ref.length)
        self.offset += ref.length


def _write_data(f, tmp_name, model, loaded, externalize) -> None:
    w = _DataWriter(f, tmp_name)
    for t in model.graph.initializer:
        if t.name in externalize and t.data_location != TensorProto.EXTERNAL:
            w.put(t, t.raw_data)
    for t in iter_tensors(model):
        if t.data_location != TensorProto.EXTERNAL or _located_in(t, tmp_name):
            continue
        ref = loaded.external.get(external_key(t))
        if ref is None:
            raise FixError("external-data", f"tensor {t.name!r}: external data not found in the input")
        w.copy_external(t, ref)
    f.flush()
    os.fsync(f.fileno())


def check_rewritten(model, loaded, original=None) -> None:
    """``fix --diff``: the check that :func:`write_model` runs before writing, without
    writing (a model with external data is checked only when written: its tensors point at
    files that do not exist yet).  Raises FixError."""
    if not loaded.external:
        _check(model, original)


def write_model(model, loaded, out, externalize, original=None) -> None:
    """Check and write ``model`` to ``out`` (and ``out.data`` when the input had external data).
    An OSError on our temporary files names ``out`` (see :func:`analyzer.io.atomic.user_path_error`)."""
    try:
        _write_model(model, loaded, Path(out), externalize, original)
    except OSError as e:
        raise user_path_error(e, out) from None


def _write_model(model, loaded, out, externalize, original=None) -> None:
    if not loaded.external:
        _check(model, original)
        write_bytes_atomic(out, model.SerializeToString())
        return
    total = sum(ref.length for ref in loaded.external.values())
    if total > MAX_EXTERNAL_COPY:
        raise FixError("too-large", f"{total} bytes of external data to copy; fix copies at most {MAX_EXTERNAL_COPY}")
    folder = out.resolve().parent
    data_name = out.name + ".data"
    fd, tmp_data = tempfile.mkstemp(prefix=".onnxlint-", suffix=".data.tmp", dir=folder)
    os.chmod(tmp_data, _file_mode(folder / data_name))
    tmp_name = os.path.basename(tmp_data)
    tmp_model = None
    try:
        with os.fdopen(fd, "wb") as f:
            _write_data(f, tmp_name, model, loaded, externalize)
        fd2, tmp_model = tempfile.mkstemp(prefix=".onnxlint-", suffix=".onnx.tmp", dir=folder)
        os.chmod(tmp_model, _file_mode(out))
        with os.fdopen(fd2, "wb") as f:
            f.write(model.SerializeToString())
        _check(tmp_model, original)  # checked with the data file as written, under its temporary name
        for t in iter_tensors(model):
            if _located_in(t, tmp_name):
                _set_location(t, data_name)
        with open(tmp_model, "wb") as f:
            f.write(model.SerializeToString())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_data, folder / data_name)
        tmp_data = None
        os.replace(tmp_model, out)
        tmp_model = None
    finally:
        for tmp in (tmp_data, tmp_model):
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
