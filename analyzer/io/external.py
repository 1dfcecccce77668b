"""External data: references of tensors whose bytes live in other files, validated
without opening anything (relative, no ``..``, resolving inside the model's folder, one
hard link, offset and length inside the file and matching the dims), then read or
copied only through a descriptor checked to be the very file that was validated.

Nothing here follows a FIFO or a device: data files are ``stat``-ed first and opened
non-blocking and without following a symlink.
"""
from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from analyzer.io.errors import LoadError, shown, text
from analyzer.io.proto import TensorProto
from analyzer.io.protoscan import pread_upto
from analyzer.io.tensors import expected_nbytes

__all__ = ["ExternalRef", "external_key", "validate_external", "read_external_bytes", "read_ref", "copy_external_bytes", "O_FLAGS", "MAX_OPEN_DATA_FILES"]

O_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


@dataclass
class ExternalRef:
    """A validated external-data reference of one tensor."""

    path: Path
    offset: int
    length: int
    device: int = 0  # st_dev and st_ino of the validated file: reading checks
    inode: int = 0  # that the descriptor opened is still that very file


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


def validate_external(tensor: TensorProto, base: Path, path, checked: dict, entries=None) -> ExternalRef:
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
    expected = expected_nbytes(tensor)
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
    fd = os.open(ref.path, O_FLAGS | getattr(os, "O_NOFOLLOW", 0))
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


def read_ref(loaded, ref: ExternalRef) -> bytes:
    """:func:`read_external_bytes`, through a descriptor the model (a LoadedModel, or
    None) keeps open: the
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
        fd = os.open(ref.path, O_FLAGS | getattr(os, "O_NOFOLLOW", 0))
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
