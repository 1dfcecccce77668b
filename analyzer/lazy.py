"""Read a model's graph without its weight payloads.

A model file is mostly weight bytes; the graph is a few hundred KB.  Instead of
parsing every weight, the serialized ModelProto is rewritten at the wire level:
in the main graph's initializers, large ``raw_data`` fields (and packed
``float_data`` / ``double_data``, which have the same little-endian layout) are
cut out and their position in the file is recorded.  protobuf then parses the
small remainder; a tensor's values are fetched from a memory map of the file only
when a rule asks (``analyzer.load.read_tensor``).  Pages of the payload that
nothing reads are never touched, so peak memory stays near the graph's size.

Only fields whose bytes are copied verbatim are kept, so the reduced model is
exactly onnx.load's model minus those payloads (tests compare the two field by
field).  Anything unexpected in the wire format makes :func:`reduce_model`
return None and the caller parses the whole file the ordinary way.
"""
from __future__ import annotations

from dataclasses import dataclass

from .protoscan import ScanError, read_varint

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


def _fields(buf, start, end):
    """Yield (number, wire, field_start, value_start, value_end) of a message's fields."""
    pos = start
    while pos < end:
        fstart = pos
        key, pos = read_varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, vend = read_varint(buf, pos, end)
            yield number, wire, fstart, pos, vend
            pos = vend
        elif wire == 2:
            length, pos = read_varint(buf, pos, end)
            if pos + length > end:
                raise _Malformed
            yield number, wire, fstart, pos, pos + length
            pos += length
        elif wire == 1:
            if pos + 8 > end:
                raise _Malformed
            yield number, wire, fstart, pos, pos + 8
            pos += 8
        elif wire == 5:
            if pos + 4 > end:
                raise _Malformed
            yield number, wire, fstart, pos, pos + 4
            pos += 4
        else:
            raise _Malformed


def _len_field(number: int, body: bytes) -> bytes:
    return _encode_varint((number << 3) | 2) + _encode_varint(len(body)) + body


def _reduce_tensor(buf, start, end, payloads):
    """The TensorProto at buf[start:end] without a large payload, or None to keep it as is."""
    data_type = None
    name = None
    cut = None
    location = 0
    for number, wire, fs, vs, ve in _fields(buf, start, end):
        if number == _T_DATA_TYPE and wire == 0:
            data_type, _ = read_varint(buf, vs, ve)
        elif number == _T_NAME and wire == 2:
            name = bytes(buf[vs:ve]).decode("utf-8", "surrogateescape")
        elif number == _T_DATA_LOCATION and wire == 0:
            location, _ = read_varint(buf, vs, ve)
        elif wire == 2 and ve - vs >= LAZY_MIN_BYTES and number in (_T_RAW, _T_FLOAT_DATA, _T_DOUBLE_DATA):
            if cut is not None:
                return None  # two payload fields: leave it to protobuf
            cut = (number, fs, vs, ve)
    if cut is None or name is None or location != 0:
        return None
    number, fs, vs, ve = cut
    if number == _T_FLOAT_DATA and data_type not in _FLOAT_DATA_TYPES:
        return None
    if number == _T_DOUBLE_DATA and data_type not in _DOUBLE_DATA_TYPES:
        return None
    if name in payloads:
        return None  # duplicate names: the side table could not tell them apart
    payloads[name] = LazyPayload(vs, ve - vs, {_T_RAW: "raw_data", _T_FLOAT_DATA: "float_data", _T_DOUBLE_DATA: "double_data"}[number])
    return bytes(buf[start:fs]) + bytes(buf[ve:end])


def _reduce_graph(buf, start, end, payloads):
    parts = []
    changed = False
    for number, wire, fs, vs, ve in _fields(buf, start, end):
        if number == _GRAPH_INITIALIZER and wire == 2:
            body = _reduce_tensor(buf, vs, ve, payloads)
            if body is not None:
                parts.append(_len_field(_GRAPH_INITIALIZER, body))
                changed = True
                continue
        parts.append(bytes(buf[fs:ve]))
    return b"".join(parts) if changed else None


def reduce_model(buf):
    """``(reduced_bytes, {initializer name: LazyPayload})`` or None when nothing is
    worth cutting or the bytes are not what we expect (the caller then parses
    the whole file)."""
    end = len(buf)
    try:
        parts = []
        payloads: dict = {}
        changed = False
        for number, wire, fs, vs, ve in _fields(buf, 0, end):
            if number == _MODEL_GRAPH and wire == 2 and not changed:
                body = _reduce_graph(buf, vs, ve, payloads)
                if body is not None:
                    parts.append(_len_field(_MODEL_GRAPH, body))
                    changed = True
                    continue
            parts.append(bytes(buf[fs:ve]))
    except (_Malformed, ScanError):  # ScanError: a varint running off the end
        return None
    if not changed:
        return None
    return b"".join(parts), payloads
