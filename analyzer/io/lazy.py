"""Read a model's graph without its weight payloads.

A model file is mostly weight bytes; the graph is a few hundred KB.  Instead of
parsing every weight, the serialized ModelProto is rewritten at the wire level:
in the main graph's initializers, large ``raw_data`` fields (and packed
``float_data`` / ``double_data``, which have the same little-endian layout) are
cut out and their position in the file is recorded.  protobuf then parses the
small remainder; a tensor's values are read from the file (``os.pread``) only
when a rule asks (``analyzer.io.load.read_tensor``).  The walk reads only a small
window around each field header and skips the values, so bytes of a payload that
nothing reads are never read or mapped, and peak memory stays near the graph's
size.

Only fields whose bytes are copied verbatim are kept, so the reduced model is
exactly onnx.load's model minus those payloads (tests compare the two field by
field).  Anything unexpected in the wire format makes :func:`reduce_model`
return None and the caller parses the whole file the ordinary way.
"""
from __future__ import annotations

from dataclasses import dataclass

from analyzer.io.protoscan import FileSource, ScanError, read_varint

__all__ = ["LazyPayload", "reduce_model", "LAZY_MIN_BYTES"]

# Payloads smaller than this stay inline (shape sub-graphs need small constants).
LAZY_MIN_BYTES = 4096

_MODEL_GRAPH = 7
_GRAPH_INITIALIZER = 5
_T_DATA_TYPE, _T_FLOAT_DATA, _T_NAME, _T_RAW, _T_DOUBLE_DATA, _T_DATA_LOCATION = 2, 4, 8, 9, 10, 14
# data types whose float_data / double_data payload is the raw little-endian layout
_FLOAT_DATA_TYPES = {1, 14}  # FLOAT, COMPLEX64
_DOUBLE_DATA_TYPES = {11, 15}  # DOUBLE, COMPLEX128


@dataclass(frozen=True)
class LazyPayload:
    """Where a tensor's payload lies in the model file."""

    offset: int
    length: int
    field: str = "raw_data"  # or float_data / double_data (same little-endian layout)


class _Malformed(Exception):
    pass


def _encode_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _fields(src, start, end, only=None):
    """Yield (number, wire, field_start, value_start, value_end) of a message's fields
    (with ``only``, of its fields with that number: the others are still walked and
    checked, not yielded).

    ``src`` is ``bytes`` or a :class:`~analyzer.io.protoscan.FileSource`; of a file only a
    window around each field header is read (the values are skipped, not read)."""
    windowed = isinstance(src, FileSource)
    if windowed:
        buf, base = src.window(start)
    else:
        buf, base = src, 0
    lim = base + len(buf)
    size = len(src)
    pos = start
    while pos < end:
        if pos + 21 > lim and lim < size:  # a key and a length (two varints) may cross the window
            buf, base = src.window(pos)
            lim = base + len(buf)
        fstart = pos
        stop = (end if end < lim else lim) - base
        i = pos - base
        if only is not None and i < stop:
            # A run of fields not asked for with a one-byte key and a length of one or
            # two bytes (a graph's nodes) is stepped over in a tight loop; the same
            # checks as below, which take over at the first field that is anything else.
            k0 = buf[i]
            if k0 & 7 == 2 and k0 < 0x80 and k0 >> 3 != only:
                last, e = stop - 2, end - base
                while i < last and buf[i] == k0:
                    length = buf[i + 1]
                    if length < 0x80:
                        j = i + 2 + length
                    elif buf[i + 2] < 0x80:
                        j = i + 3 + (length & 0x7F | buf[i + 2] << 7)
                    else:
                        break
                    if j > e:
                        break
                    i = j
                if i != pos - base:
                    pos = i + base
                    continue
        if i < stop and buf[i] < 0x80:
            key = buf[i]
            i += 1
        else:
            key, i = read_varint(buf, i, stop)
        wire = key & 7
        if wire == 2:
            if i < stop and buf[i] < 0x80:
                length = buf[i]
                i += 1
            else:
                length, i = read_varint(buf, i, stop)
            vs = i + base
            pos = vs + length
            if pos > end:
                raise _Malformed
            if only is None or key >> 3 == only:
                yield key >> 3, 2, fstart, vs, pos
        elif wire == 0:
            if i < stop and buf[i] < 0x80:
                j = i + 1
            else:
                _, j = read_varint(buf, i, stop)
            pos = j + base
            if only is None or key >> 3 == only:
                yield key >> 3, 0, fstart, i + base, pos
        elif wire == 1 or wire == 5:
            vs = i + base
            pos = vs + (8 if wire == 1 else 4)
            if pos > end:
                raise _Malformed
            if only is None or key >> 3 == only:
                yield key >> 3, wire, fstart, vs, pos
        else:
            raise _Malformed


def _read(src, start, stop) -> bytes:
    return src.read(start, stop) if isinstance(src, FileSource) else bytes(src[start:stop])


def _len_field(number: int, body: bytes) -> bytes:
    return _encode_varint((number << 3) | 2) + _encode_varint(len(body)) + body


def _canonical_header(number: int, fs: int, vs: int, ve: int) -> bool:
    """Whether the key and length of the length-delimited field at ``fs`` (value
    ``[vs, ve)``) are in their shortest encoding.  A header that is cut out or
    rewritten must be one protobuf accepts, or the reduced model would parse where
    the file does not: protobuf refuses keys and lengths longer than 5 bytes, and
    a non-canonical header is no exporter's; such a field is left as it is."""
    return vs - fs == len(_encode_varint((number << 3) | 2)) + len(_encode_varint(ve - vs))


def _reduce_tensor(src, start, end, payloads):
    """The TensorProto at src[start:end] without a large payload, or None to keep it as is."""
    data_type = None
    name = None
    cut = None
    location = 0
    for number, wire, fs, vs, ve in _fields(src, start, end):
        if number == _T_DATA_TYPE and wire == 0:
            data_type, _ = read_varint(_read(src, vs, ve), 0, ve - vs)
        elif number == _T_NAME and wire == 2:
            try:
                name = _read(src, vs, ve).decode("utf-8")
            except UnicodeDecodeError:
                # protobuf gives such a name as bytes: no str key of the side table
                # would ever match it, and its payload could not be read back
                return None
        elif number == _T_DATA_LOCATION and wire == 0:
            location, _ = read_varint(_read(src, vs, ve), 0, ve - vs)
        elif wire == 2 and ve - vs >= LAZY_MIN_BYTES and number in (_T_RAW, _T_FLOAT_DATA, _T_DOUBLE_DATA):
            if cut is not None or not _canonical_header(number, fs, vs, ve):
                return None  # two payload fields, or an odd header: leave it to protobuf
            cut = (number, fs, vs, ve)
    if cut is None or name is None or location != 0:
        return None
    number, fs, vs, ve = cut
    # packed floats / doubles: protobuf refuses a length that is not a whole number of them
    if number == _T_FLOAT_DATA and (data_type not in _FLOAT_DATA_TYPES or (ve - vs) % 4):
        return None
    if number == _T_DOUBLE_DATA and (data_type not in _DOUBLE_DATA_TYPES or (ve - vs) % 8):
        return None
    if name in payloads:
        return None  # duplicate names: the side table could not tell them apart
    payloads[name] = LazyPayload(vs, ve - vs, {_T_RAW: "raw_data", _T_FLOAT_DATA: "float_data", _T_DOUBLE_DATA: "double_data"}[number])
    return _read(src, start, fs) + _read(src, ve, end)


def _reduce_graph(src, start, end, payloads):
    """The GraphProto at src[start:end] with its initializers' large payloads cut out,
    or None when there is nothing to cut.  The bytes between cut tensors are copied
    as they are, in one piece each; an initializer smaller than LAZY_MIN_BYTES cannot
    hold a payload that large and is not even decoded."""
    parts = []
    copied = start  # src[copied:fs] is still to be copied verbatim
    for number, wire, fs, vs, ve in _fields(src, start, end, _GRAPH_INITIALIZER):  # the nodes: walked in the generator
        if number == _GRAPH_INITIALIZER and wire == 2 and ve - vs >= LAZY_MIN_BYTES and _canonical_header(number, fs, vs, ve):
            body = _reduce_tensor(src, vs, ve, payloads)
            if body is not None:
                if fs > copied:
                    parts.append(_read(src, copied, fs))
                parts.append(_len_field(_GRAPH_INITIALIZER, body))
                copied = ve
    if not parts:
        return None
    if end > copied:
        parts.append(_read(src, copied, end))
    return b"".join(parts)


def reduce_model(buf):
    """``(reduced_bytes, {initializer name: LazyPayload})`` or None when nothing is
    worth cutting or the bytes are not what we expect (the caller then parses
    the whole file).  ``buf`` is ``bytes`` or a :class:`~analyzer.io.protoscan.FileSource`."""
    end = len(buf)
    try:
        parts = []
        payloads: dict = {}
        changed = False
        for number, wire, fs, vs, ve in _fields(buf, 0, end):
            if number == _MODEL_GRAPH and wire == 2 and not changed and _canonical_header(number, fs, vs, ve):
                body = _reduce_graph(buf, vs, ve, payloads)
                if body is not None:
                    parts.append(_len_field(_MODEL_GRAPH, body))
                    changed = True
                    continue
            parts.append(_read(buf, fs, ve))
    except (_Malformed, ScanError):  # ScanError: a varint running off the end
        return None
    if not changed:
        return None
    return b"".join(parts), payloads
