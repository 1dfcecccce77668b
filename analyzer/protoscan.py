"""A walk over the top-level protobuf fields of a serialized ModelProto.

protobuf's own parser says only "Error parsing message" for a cut-off file and
happily parses an empty file, or a serialized GraphProto, as an empty ModelProto.
Walking the wire format of the outer message first gives precise errors:
a field that runs past the end of the data means the file is truncated; a field
number or wire type that ModelProto never uses means it is not a model at all.
"""
from __future__ import annotations

__all__ = ["ScanError", "scan_model_fields"]

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


def _varint(data, pos: int, end: int):
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
        key, pos = _varint(data, pos, end)
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
            _, pos = _varint(data, pos, end)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = _varint(data, pos, end)
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

