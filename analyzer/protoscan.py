"""A walk over the top-level protobuf fields of a serialized ModelProto.

protobuf's own parser says only "Error parsing message" for a cut-off file and
happily parses an empty file, or a serialized GraphProto, as an empty ModelProto.
Walking the wire format of the outer message first gives precise errors:
a field that runs past the end of the data means the file is truncated; a field
number or wire type that ModelProto never uses means it is not a model at all.
"""
from __future__ import annotations

__all__ = ["ScanError", "scan_model_fields", "nesting_depth", "PROTOBUF_DEPTH_LIMIT"]

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
