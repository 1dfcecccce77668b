"""A walk over the top-level protobuf fields of a serialized ModelProto.

protobuf's own parser says only "Error parsing message" for a cut-off file and
happily parses an empty file, or a serialized GraphProto, as an empty ModelProto.
Walking the wire format of the outer message first gives precise errors:
a field that runs past the end of the data means the file is truncated; a field
number or wire type that ModelProto never uses means it is not a model at all.
"""
from __future__ import annotations

import os

__all__ = ["ScanError", "FileSource", "pread_upto", "scan_model_fields", "nesting_depth", "PROTOBUF_DEPTH_LIMIT"]

# protobuf (upb, C++) refuses messages nested deeper than this while parsing.
PROTOBUF_DEPTH_LIMIT = 100

# ModelProto field number -> (name, wire type): 0 varint, 2 length-delimited.
MODEL_FIELDS = {
    1: ("ir_version", 0),
    2: ("producer_name", 2),
    3: ("producer_version", 2),
    4: ("domain", 2),
    5: ("model_version", 0),
    6: ("doc_string", 2),
    7: ("graph", 2),
    8: ("opset_import", 2),
    14: ("metadata_props", 2),
    20: ("training_info", 2),
    25: ("functions", 2),
    26: ("configuration", 2),
}


# ModelProto uses numbers up to 26 today; leave room for new fields.
MAX_FIELD_NUMBER = 64


class ScanError(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


def pread_upto(fd: int, pos: int, n: int) -> bytes:
    """Up to ``n`` bytes of ``fd`` from ``pos`` (``os.pread`` until done or end of file;
    fewer only where the file ends).  OSError propagates."""
    chunks = []
    while n > 0:
        piece = os.pread(fd, min(n, 1 << 30), pos)
        if not piece:
            break
        chunks.append(piece)
        pos += len(piece)
        n -= len(piece)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class FileSource:
    """A regular file's bytes, read with ``os.pread`` through a small window.

    Indexing (``src[i]``, ``src[a:b]``) and ``len`` behave like ``bytes``, so the
    wire walkers run on it unchanged, but only the regions they look at are read.
    A memory map would not do: touching one byte of a mapped file on a warm page
    cache maps the whole page-cache folio around it (fault-around, large folios),
    so reading the headers of a few hundred initializers made RSS grow by nearly
    the whole file.  Reads also never raise SIGBUS when the file shrinks under us.

    Owns the descriptor: :meth:`close` (or garbage collection) closes it."""

    WINDOW = 8192
    JUMP_WINDOW = 2048

    def __init__(self, fd: int, size: int):
        self.fd = fd
        self.size = size
        self._buf = b""
        self._base = 0

    def __len__(self) -> int:
        return self.size

    def read(self, start: int, stop: int) -> bytes:
        """Bytes ``[start, stop)``, clipped to the file's size as ``bytes`` slicing clips."""
        start, stop = max(start, 0), min(stop, self.size)
        if stop <= start:
            return b""
        j = start - self._base
        if 0 <= j and stop - self._base <= len(self._buf):
            return self._buf[j : stop - self._base]
        return self._pread(stop - start, start)

    def read_into(self, start: int, out) -> None:
        """Fill ``out`` (a writable buffer, e.g. a numpy array) with the bytes from ``start``
        on, read straight into it (``os.preadv``: no intermediate bytes object, no copy)."""
        view = memoryview(out).cast("B")
        n = len(view)
        if self.fd < 0:
            raise ScanError("unreadable", "file already closed")
        if start < 0 or start + n > self.size:
            raise ScanError("unreadable", "read past the end of the file")
        try:
            if not hasattr(os, "preadv"):
                view[:] = self._pread(n, start)
                return
            done = 0
            while done < n:
                got = os.preadv(self.fd, [view[done : done + (1 << 30)]], start + done)
                if got <= 0:
                    raise ScanError("unreadable", "the file became shorter while it was read")
                done += got
        except OSError as e:
            raise ScanError("unreadable", f"read failed ({e.strerror or e})") from None
        finally:
            view.release()

    def window(self, pos: int, need: int = 32):
        """``(buf, base)``: buf holds the file's bytes from ``base`` (<= pos) on, with
        at least ``need`` of them from ``pos`` on (fewer only where the file ends).
        A new window reads WINDOW bytes when the walk goes on where the last one
        ended, JUMP_WINDOW after a jump (over a payload: the next header is small)."""
        j = pos - self._base
        n = len(self._buf)
        if 0 <= j and (j + need <= n or self._base + n >= self.size):
            return self._buf, self._base
        size = self.WINDOW if 0 <= j <= n else self.JUMP_WINDOW
        self._buf = self._pread(min(max(size, need), self.size - pos), pos) if pos < self.size else b""
        self._base = pos
        return self._buf, pos

    def _pread(self, n: int, pos: int) -> bytes:
        if self.fd < 0:
            raise ScanError("unreadable", "file already closed")
        try:
            got = pread_upto(self.fd, pos, n)
        except OSError as e:
            raise ScanError("unreadable", f"read failed ({e.strerror or e})") from None
        if len(got) < n:
            raise ScanError("unreadable", "the file became shorter while it was read")
        return got

    def __getitem__(self, i):
        if isinstance(i, slice):
            if i.step not in (None, 1):
                raise ValueError("FileSource slices take no step")
            start, stop, _ = i.indices(self.size)
            return self.read(start, stop)
        if i < 0:
            i += self.size
        if not 0 <= i < self.size:
            raise IndexError(i)
        j = i - self._base
        if 0 <= j < len(self._buf):
            return self._buf[j]
        buf, base = self.window(i)
        return buf[i - base]

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        self._buf = b""
        if fd >= 0:
            os.close(fd)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def read_varint(data, pos: int, end: int):
    """Decode a protobuf varint at ``pos``; returns (value, next position)."""
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise ScanError("truncated", "file ends inside a field header")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ScanError("not-onnx", "malformed varint (not a protobuf file)")


def scan_model_fields(data) -> list[tuple[int, int, int]]:
    """Return ``(field_number, start, end)`` of every length-delimited top-level field.

    Raises :class:`ScanError` with kind ``truncated`` or ``not-onnx``.
    """
    end = len(data)
    pos = 0
    fields = []
    seen_graph = False
    while pos < end:
        key, pos = read_varint(data, pos, end)
        number, wire = key >> 3, key & 7
        expected = MODEL_FIELDS.get(number)
        if expected is not None and expected[1] != wire:
            raise ScanError(
                "not-onnx",
                f"field {number} has wire type {wire}, a ModelProto's {expected[0]} has {expected[1]} "
                "(another protobuf message, e.g. a bare GraphProto or TensorProto?)",
            )
        if expected is None and (number == 0 or number > MAX_FIELD_NUMBER):
            # Unknown fields are legal protobuf (newer ONNX versions add some),
            # but random bytes decode as a stream of far-off field numbers.
            raise ScanError("not-onnx", f"unexpected protobuf field {number} (not an ONNX model)")
        if wire == 0:
            _, pos = read_varint(data, pos, end)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = read_varint(data, pos, end)
            start = pos
            pos += length
            if pos > end:
                if expected is None:
                    # Only a known field cut short says "truncated model"; an unknown
                    # one running off the end is what random bytes look like.
                    raise ScanError("not-onnx", f"unexpected protobuf field {number} of {length} bytes (not an ONNX model)")
                name = expected[0]
                raise ScanError(
                    "truncated",
                    f"{name} needs {length} bytes from offset {start}, but the file ends at {end} (truncated or cut-off download)",
                )
            fields.append((number, start, pos))
            seen_graph = seen_graph or number == 7
        else:
            raise ScanError("not-onnx", f"invalid protobuf wire type {wire} at offset {pos} (not an ONNX model)")
        if pos > end:
            raise ScanError("truncated", f"file ends inside field {number}")
    if not seen_graph:
        raise ScanError("not-onnx", "no graph in the file (not an ONNX model)")
    return fields



# Which length-delimited fields of which ONNX message hold another message, for
# measuring nesting depth: message -> {field number: message}.
_SCHEMA = {
    "model": {7: "graph", 20: "training", 25: "function"},
    "training": {1: "graph", 2: "graph"},
    "graph": {1: "node", 5: "tensor", 11: "value_info", 12: "value_info", 13: "value_info", 15: "sparse"},
    "node": {5: "attribute"},
    "attribute": {5: "tensor", 6: "graph", 10: "tensor", 11: "graph", 14: "type", 15: "type", 22: "sparse", 23: "sparse"},
    "function": {7: "node", 11: "attribute", 12: "value_info"},
    "value_info": {2: "type"},
    "type": {1: "tensor_type", 4: "sequence", 5: "map", 8: "tensor_type", 9: "optional"},
    "sequence": {1: "type"},
    "optional": {1: "type"},
    "map": {2: "type"},
    "tensor_type": {2: "shape"},
    "shape": {1: "leaf"},
    "sparse": {1: "tensor", 2: "tensor"},
    "tensor": {3: "leaf", 13: "leaf", 16: "leaf"},
    "leaf": {},
}


def nesting_depth(data, stop_above: int = 10 * PROTOBUF_DEPTH_LIMIT) -> int:
    """How deeply messages nest in a serialized ModelProto (the model itself is
    level 1), walking the wire format without recursion.  Used to tell "nested
    too deeply for protobuf" from other parse failures; a malformed region just
    ends the walk of that message.  Stops counting above ``stop_above``."""
    deepest = 0
    stack = [(0, len(data), "model", 1)]
    while stack:
        pos, end, kind, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > stop_above:
            break
        children = _SCHEMA[kind]
        try:
            while pos < end:
                key, pos = read_varint(data, pos, end)
                number, wire = key >> 3, key & 7
                if wire == 0:
                    _, pos = read_varint(data, pos, end)
                elif wire == 1:
                    pos += 8
                elif wire == 5:
                    pos += 4
                elif wire == 2:
                    length, pos = read_varint(data, pos, end)
                    if pos + length > end:
                        break
                    child = children.get(number)
                    if child is not None:
                        stack.append((pos, pos + length, child, depth + 1))
                    pos += length
                else:
                    break
        except ScanError:
            continue
    return deepest
