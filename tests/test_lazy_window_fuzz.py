"""Differential fuzzing of the two ways ``analyzer.io.load.load`` reads a file.

A file of at least ``analyzer.io.load.LAZY_FILE_MIN`` bytes is read through
``analyzer.io.protoscan.FileSource`` (small ``os.pread`` windows around field
headers; large initializer payloads are skipped); a smaller one is read whole
into ``bytes``.  ``analyzer.io.lazy`` walks the wire format over either.  Both must
give the same result on any input: the same model fields, the same findings, or
the same error (kind and message), and never a traceback or an ``internal`` error.
``tests/test_fuzz.py`` mutates small models only, so there the windowed path
never sees damaged bytes; this test does.

One valid model of just over 1 MiB (a big float weight in ``raw_data``, a
second large initializer in ``raw_data`` and one in ``float_data``; a few hundred
small nodes, an If with subgraphs, a Constant with a tensor attribute, value_info)
is damaged by hypothesis in two ways.  Framed edits work on the seed's tree of wire
fields and re-encode the enclosing lengths, so the damage stays where it is put:
a key rewritten (another wire type or number, an over-long encoding), a length
made wrong or over-long, a varint or a string changed, a field dropped, duplicated
or moved.  They land mostly on the headers of the large initializers (dims,
data_type, name, the key and length prefix of their payload), on the main
graph's own fields and on deeper structure, seldom on a payload.  Raw edits
flip, set, insert, delete or repeat bytes, mostly outside the payloads but also
anywhere, or cut the file (mostly at or past LAZY_FILE_MIN).  Most damaged files
stay at least LAZY_FILE_MIN bytes long, so they take the windowed path.

Each file is linted in-process twice with ``analyzer.linter.runner.lint_file``: as is
(FileSource) and with ``LAZY_FILE_MIN`` raised above any file size (whole bytes);
status, error kind and message, findings (rule, node, message), notes and stats
must be equal, and neither may be an ``internal`` error or raise.  It is loaded
both ways with ``analyzer.io.load.load`` too, to compare the models field by field,
the payloads' positions and values; and the lazy load is compared with the full
parse (``lazy=False``, what onnx.load reads): the same error kind, or the same
model once the skipped payloads are put aside (and they hold the full parse's
values).  A failure names the edits and keeps the file as ``last-failure.onnx``
in the test's temporary folder.

Deterministic (``derandomize=True``): 500 examples, about 15 s on the 2-core
reference machine.  ``ONNXLINT_FUZZ_EXAMPLES=N`` runs N instead (the variable
tests/test_fuzz.py reads too); ``ONNXLINT_FUZZ_RANDOM=1`` draws new examples.
"""
from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from onnx import ModelProto, TensorProto, helper, numpy_helper

import analyzer.io.load
from analyzer.io.load import LAZY_FILE_MIN, LoadError, iter_tensors, load, read_tensor
from analyzer.io.protoscan import read_varint
from analyzer.linter.runner import lint_file
from analyzer.linter.registry import select_rules
from tests.wire import encode_varint

EXAMPLES = int(os.environ.get("ONNXLINT_FUZZ_EXAMPLES", "500"))
DERANDOMIZE = not os.environ.get("ONNXLINT_FUZZ_RANDOM")
RULES = select_rules(None, None)
# Payloads at least this long are what analyzer.io.lazy cuts out (LAZY_MIN_BYTES).
PAYLOAD_MIN = 4096


# --- the seed model ------------------------------------------------------------------------------


def _vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def seed_model():
    """About 1.1 MB, nearly all of it the weight of ``conv_big`` (raw_data)."""
    rng = np.random.default_rng(8)
    w_big = numpy_helper.from_array(rng.standard_normal((112, 256, 3, 3)).astype(np.float32), "W_big")  # 1,032,192 bytes
    w_1x1 = numpy_helper.from_array(rng.standard_normal((16, 256, 1, 1)).astype(np.float32), "W_1x1")  # 16 KB
    as_float = helper.make_tensor("as_float_data", TensorProto.FLOAT, [16, 128], rng.standard_normal(2048).astype(np.float32).tolist())
    shape = numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "flat_shape")
    inner_w = numpy_helper.from_array(rng.standard_normal((4, 256, 3, 3)).astype(np.float32), "inner_w")  # 36 KB, in a subgraph
    then = helper.make_graph(
        [helper.make_node("Conv", ["p", "inner_w"], ["t"], name="inner_conv", pads=[1, 1, 1, 1], dilations=[1, 1])],
        "then", [], [_vi("t", None)], initializer=[inner_w],
    )  # fmt: skip
    other = helper.make_graph([helper.make_node("Identity", ["q"], ["e"], name="inner_id")], "else", [], [_vi("e", None)])
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"),
        # 3x3 with dilation 2 on a 1x1 map: 8 of 9 taps dead (DT001), same as the 1x1 conv beside it (DT002)
        helper.make_node("Conv", ["p", "W_big"], ["a"], name="conv_big", pads=[2, 2, 2, 2], dilations=[2, 2]),
        helper.make_node("Conv", ["p", "W_1x1"], ["b"], name="conv_1x1"),
        helper.make_node("Concat", ["a", "b"], ["cat"], name="cat", axis=1),
        helper.make_node("Relu", ["cat"], ["r0"], name="relu0"),
        helper.make_node("Constant", [], ["shp"], name="const_shape", value=numpy_helper.from_array(np.array([1, 128, 1, 1], np.int64))),
        helper.make_node("Reshape", ["r0", "shp"], ["q"], name="reshape"),
        helper.make_node("If", ["c"], ["branch"], name="if", then_branch=then, else_branch=other),
        helper.make_node("Reshape", ["q", "flat_shape"], ["flat"], name="flatten"),
    ]
    # a long chain of small nodes: the graph's structure spans several read windows
    prev = "flat"
    for i in range(240):
        op = ("Relu", "Sigmoid", "Neg", "Abs")[i % 4]
        nodes.append(helper.make_node(op, [prev], [f"chain_{i}"], name=f"chain_node_{i}_{op.lower()}"))
        prev = f"chain_{i}"
    value_info = [_vi(f"chain_{i}", [1, 128]) for i in range(0, 240, 3)]
    value_info.append(_vi("r0", [1, 128, 2, 2]))  # wrong: the map is 1x1 (SH001)
    graph = helper.make_graph(
        nodes,
        "g",
        [_vi("x", [1, 256, 7, 7]), _vi("c", [], TensorProto.BOOL)],
        [_vi(prev, [1, 128]), _vi("branch", None)],
        initializer=[w_big, shape, w_1x1, as_float],
        value_info=value_info,
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="onnxlint-window-fuzz")
    m.ir_version = 8
    helper.set_model_props(m, {"purpose": "differential fuzzing of the windowed reader"})
    return m


SEED = seed_model().SerializeToString()


# --- the seed as a tree of wire fields ----------------------------------------------------------

# message -> {field number: message} for the length-delimited fields walked into (others are leaves)
_SCHEMA = {
    "model": {7: "graph", 8: "leaf", 14: "leaf"},
    "graph": {1: "node", 5: "tensor", 11: "value_info", 12: "value_info", 13: "value_info"},
    "node": {5: "attribute"},
    "attribute": {5: "tensor", 6: "graph"},
    "tensor": {},
    "value_info": {2: "type"},
    "type": {1: "tensor_type"},
    "tensor_type": {2: "shape"},
    "shape": {1: "leaf"},
    "leaf": {},
}
_PAYLOAD_FIELDS = (4, 9, 10)  # TensorProto float_data, raw_data, double_data


class Field:
    """One wire field.  ``value``: a list of Fields (a message walked into), bytes
    (a length-delimited leaf, or the 8 / 4 bytes of a fixed-width field) or an int
    (a varint).  ``key`` / ``length``: None for the canonical encoding, or the bytes
    a mutation put there (another key, a wrong or an over-long length)."""

    __slots__ = ("number", "wire", "value", "key", "length")

    def __init__(self, number, wire, value, key=None, length=None):
        self.number, self.wire, self.value, self.key, self.length = number, wire, value, key, length

    def copy(self, **changes):
        f = Field(self.number, self.wire, self.value, self.key, self.length)
        for k, v in changes.items():
            setattr(f, k, v)
        return f


def parse(data: bytes, start: int, end: int, kind: str) -> list:
    fields = []
    pos = start
    while pos < end:
        key, pos = read_varint(data, pos, end)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = read_varint(data, pos, end)
        elif wire == 2:
            length, pos = read_varint(data, pos, end)
            child = _SCHEMA[kind].get(number)
            value = parse(data, pos, pos + length, child) if child else data[pos : pos + length]
            pos += length
        elif wire in (1, 5):
            n = 8 if wire == 1 else 4
            value, pos = data[pos : pos + n], pos + n
        else:
            raise AssertionError(f"the seed has wire type {wire}")
        fields.append(Field(number, wire, value))
    return fields


def serialize(fields: list) -> bytes:
    out = []
    for f in fields:
        out.append(f.key if f.key is not None else encode_varint((f.number << 3) | f.wire))
        if f.wire == 0:
            out.append(f.value if isinstance(f.value, bytes) else encode_varint(f.value))
        elif f.wire == 2 or isinstance(f.value, (bytes, list)):
            body = serialize(f.value) if isinstance(f.value, list) else f.value
            if f.wire == 2:
                out.append(f.length if f.length is not None else encode_varint(len(body)))
            out.append(body)
    return b"".join(out)


SEED_TREE = parse(SEED, 0, len(SEED), "model")
assert serialize(SEED_TREE) == SEED


_GRAPH_INDEX = next(i for i, f in enumerate(SEED_TREE) if f.number == 7)


def _sites():
    """Every field of the seed tree as (path, region); path: indices from the top.
    Regions: "model" (top-level fields), "graph" (the main graph's own fields),
    "big_tensor" (fields of a tensor of PAYLOAD_MIN bytes or more, but its payload:
    dims, data_type, name, the payload's key and length), "payload", "nested" (the rest)."""
    sites = []
    stack = [((), SEED_TREE, "model", False)]
    while stack:
        path, fields, kind, big = stack.pop()
        for i, f in enumerate(fields):
            p = path + (i,)
            if big:
                payload = f.number in _PAYLOAD_FIELDS and isinstance(f.value, bytes) and len(f.value) >= PAYLOAD_MIN
                region = "payload" if payload else "big_tensor"
            elif len(p) == 1:
                region = "model"
            elif len(p) == 2 and p[0] == _GRAPH_INDEX:
                region = "graph"
            else:
                region = "nested"
            sites.append((p, region))
            if isinstance(f.value, list):
                child = _SCHEMA[kind][f.number]
                stack.append((p, f.value, child, child == "tensor" and len(serialize(f.value)) >= PAYLOAD_MIN))
    return sites


REGIONS = {r: [] for r in ("model", "graph", "big_tensor", "payload", "nested")}
for _p, _r in _sites():
    REGIONS[_r].append(_p)

# the serialized seed's bytes outside every large payload, as (start, end) ranges (for raw edits)
PAYLOADS = []


def _payload_ranges(fields, pos, kind, big):
    for f in fields:
        pos += len(f.key if f.key is not None else encode_varint((f.number << 3) | f.wire))
        if f.wire == 0:
            pos += len(encode_varint(f.value))
            continue
        if f.wire != 2:
            pos += len(f.value)
            continue
        body = serialize(f.value) if isinstance(f.value, list) else f.value
        pos += len(encode_varint(len(body)))
        if big and f.number in _PAYLOAD_FIELDS and len(body) >= PAYLOAD_MIN:
            PAYLOADS.append((pos, pos + len(body)))
        if isinstance(f.value, list):
            child = _SCHEMA[kind][f.number]
            _payload_ranges(f.value, pos, child, child == "tensor" and len(body) >= PAYLOAD_MIN)
        pos += len(body)


_payload_ranges(SEED_TREE, 0, "model", False)
PAYLOADS.sort()
STRUCTURE = []
_at = 0
for _s, _e in PAYLOADS:
    STRUCTURE.append((_at, _s))
    _at = _e
STRUCTURE.append((_at, len(SEED)))
STRUCTURE_BYTES = sum(e - s for s, e in STRUCTURE)


# --- mutations -----------------------------------------------------------------------------------


def _new_varint(draw, value: int, width: int) -> bytes:
    choice = draw(st.sampled_from(["delta", "delta", "special", "special", "overlong", "file_relative"]))
    if choice == "delta":
        return encode_varint(max(value + draw(st.sampled_from([-8, -4, -2, -1, 1, 2, 4, 8, 64, -64, 4096, -4096])), 0))
    if choice == "special":
        return encode_varint(draw(st.sampled_from([0, 1, 2, 5, 7, 127, 128, 4095, 4096, 8191, 8192, 2**31 - 1, 2**31, 2**32,
                                             2**63 - 1, 2**64 - 1, -1, -(2**31), LAZY_FILE_MIN, len(SEED)])))  # fmt: skip
    if choice == "overlong":  # the same value in more bytes (protobuf takes keys and lengths of up to 5)
        return encode_varint(value, draw(st.integers(width + 1, 11)))
    return encode_varint(max(len(SEED) - draw(st.integers(0, 64)), 0))  # a length reaching (near) the end of the file


def _edit_at(draw, data: bytearray, op: str, pos: int) -> str:
    """Apply the byte edit ``op`` at ``pos`` of ``data`` (in place); what was done."""
    if op == "flip":
        bit = draw(st.integers(0, 7))
        data[pos] ^= 1 << bit
        return f"flip bit {bit} at {pos}"
    if op == "set":
        data[pos] = draw(st.sampled_from([0x00, 0x01, 0x02, 0x7F, 0x80, 0xFF, 0x08, 0x0A, 0x12, 0x3A, 0x4A]))
        return f"byte {pos} = {data[pos]:#04x}"
    if op == "insert":
        new = draw(st.binary(min_size=1, max_size=8))
        data[pos:pos] = new
        return f"insert {new!r} at {pos}"
    if op == "delete":
        n = draw(st.integers(1, 16))
        del data[pos : pos + n]
        return f"delete {n} bytes at {pos}"
    n = draw(st.integers(1, 64))  # "duplicate"
    data[pos:pos] = data[pos : pos + n]
    return f"repeat {n} bytes at {pos}"


def _edit_bytes(draw, value: bytes, log: list) -> bytes:
    data = bytearray(value)
    op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
    pos = draw(st.integers(0, max(len(data) - 1, 0)))
    if op == "truncate":
        del data[pos:]
        log.append(f"cut at {pos}")
    elif data or op in ("insert", "delete"):
        log.append(_edit_at(draw, data, op, pos))
    else:  # an empty value: no byte to flip or set
        log.append(f"cut at {pos}")
    return bytes(data)


def _framed_edit(draw, field: Field, siblings_next, log: list):
    """Replacement fields for ``field`` (its enclosing lengths are recomputed, so the
    damage stays inside one message unless the edit is to a length itself)."""
    op = draw(st.sampled_from(["key", "length", "length", "value", "drop", "duplicate", "swap", "first"]))
    if op == "key":
        how = draw(st.sampled_from(["wire", "number", "overlong"]))
        key = (field.number << 3) | field.wire
        if how == "wire":
            key = (field.number << 3) | draw(st.integers(0, 7))
        elif how == "number":
            key = (draw(st.sampled_from([0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 13, 14, 16, 25, 64, 65, 1000, 2**29 - 1])) << 3) | field.wire
        encoded = encode_varint(key, draw(st.integers(0, 11)) if how == "overlong" else 0)
        log.append(f"key {encoded.hex()}")
        return [field.copy(key=encoded)]
    if op == "length" and field.wire == 2:
        body_len = len(serialize(field.value)) if isinstance(field.value, list) else len(field.value)
        encoded = _new_varint(draw, body_len, len(encode_varint(body_len)))
        log.append(f"length {body_len} -> {encoded.hex()}")
        return [field.copy(length=encoded)]
    if op in ("length", "value"):
        if field.wire == 0:
            v = field.value if isinstance(field.value, int) else 0
            encoded = _new_varint(draw, v, len(encode_varint(v)))
            log.append(f"varint {v} -> {encoded.hex()}")
            return [field.copy(value=encoded)]
        if isinstance(field.value, bytes):
            return [field.copy(value=_edit_bytes(draw, field.value, log))]
        log.append("drop its last field")
        return [field.copy(value=field.value[:-1] if field.value else [])]
    if op == "swap" and siblings_next is not None:
        log.append("swap with the next field")
        return [siblings_next, field]  # the caller drops the next one
    if op in ("swap", "first"):
        log.append("move to the front")
        return ["first", field]
    log.append(op)
    return [] if op == "drop" else [field, field]


def _apply_framed(tree: list, path: tuple, draw, log: list) -> list:
    """A copy of ``tree`` with the field at ``path`` edited (copy-on-write along the path)."""
    top = list(tree)
    fields = top
    for i in path[:-1]:
        if i >= len(fields) or not isinstance(fields[i].value, list):
            return top  # an earlier edit removed or replaced it
        f = fields[i].copy()
        f.value = list(f.value)
        fields[i] = f
        fields = f.value
    i = path[-1]
    if i >= len(fields):  # an earlier edit removed it
        return top
    nxt = fields[i + 1] if i + 1 < len(fields) else None
    what: list = []
    new = _framed_edit(draw, fields[i], nxt, what)
    log.append(f"field {fields[i].number}/wire {fields[i].wire} at {list(path)}: {', '.join(what)}")
    if new[:1] == ["first"]:
        fields[i : i + 1] = []
        fields.insert(0, new[1])
    elif len(new) == 2 and new[0] is nxt and nxt is not None:
        fields[i : i + 2] = new
    else:
        fields[i : i + 1] = new
    return top


def _raw_position(draw, size: int) -> int:
    where = draw(st.sampled_from(["structure"] * 3 + ["payload_edge", "anywhere"]))
    if where == "structure":
        k = draw(st.integers(0, STRUCTURE_BYTES - 1))
        for s, e in STRUCTURE:
            if k < e - s:
                return min(s + k, size - 1)
            k -= e - s
    if where == "payload_edge":
        edge = draw(st.sampled_from([x for p in PAYLOADS for x in p]))
        return min(max(edge + draw(st.integers(-12, 12)), 0), size - 1)
    return draw(st.integers(0, size - 1))


def _apply_raw(draw, data: bytes, log: list) -> bytes:
    data = bytearray(data)
    op = draw(st.sampled_from(["flip", "set", "insert", "delete", "duplicate", "truncate"]))
    if op == "truncate":  # mostly at or past LAZY_FILE_MIN: the file still takes the windowed path
        lo = LAZY_FILE_MIN if draw(st.integers(0, 4)) and len(data) > LAZY_FILE_MIN else 0
        pos = draw(st.integers(lo, len(data) - 1))
        log.append(f"raw: cut the file at {pos}")
        return bytes(data[:pos])
    pos = _raw_position(draw, len(data))
    log.append("raw: " + _edit_at(draw, data, op, pos))
    return bytes(data)


class Damaged:
    """A damaged seed: ``data``, and what was done to it (shown when a test fails)."""

    def __init__(self, data: bytes, edits: list):
        self.data = data
        self.edits = edits

    def __repr__(self):
        return f"Damaged({len(self.data)} bytes: {'; '.join(self.edits)})"


@st.composite
def damaged(draw):
    """Framed edits of fields (keys, lengths, values, dropped, duplicated and moved
    fields; enclosing lengths recomputed), raw byte edits, or both."""
    mode = draw(st.sampled_from(["framed"] * 4 + ["raw", "both"]))
    tree = SEED_TREE
    log: list = []
    if mode != "raw":
        for _ in range(draw(st.integers(1, 3))):
            region = draw(st.sampled_from(["big_tensor"] * 4 + ["graph"] * 3 + ["nested"] * 3 + ["model", "payload"]))
            tree = _apply_framed(tree, draw(st.sampled_from(REGIONS[region])), draw, log)
    data = serialize(tree)
    if mode != "framed":
        for _ in range(draw(st.integers(1, 3))):
            if not data:
                break
            data = _apply_raw(draw, data, log)
    return Damaged(data, log)


# --- the comparison ------------------------------------------------------------------------------


def _outcome(result):
    error = result.error or {}
    return {
        "status": result.status,
        "kind": error.get("kind"),
        "message": error.get("message"),
        "findings": [(f.rule, f.node, f.message) for f in result.findings],
        "notes": list(result.notes),
        "stats": dict(result.stats),
    }


def _digest(b: bytes) -> str:
    return f"{len(b)} bytes, sha256 {hashlib.sha256(b).hexdigest()[:16]}"


def _loaded(path):
    """What load() gives: the model (fields compared one by one), its lazy payloads
    and their values, or the error."""
    try:
        loaded = load(path)
    except LoadError as e:
        return {"error": (e.kind, e.message)}
    try:
        model = loaded.model
        out = {"error": None, "lazy": dict(loaded.lazy), "notes": list(loaded.notes), "node_count": loaded.node_count}
        for name in ("ir_version", "producer_name", "opset_import", "metadata_props", "functions", "training_info"):
            v = getattr(model, name)
            out[f"model.{name}"] = v if isinstance(v, (int, str, bytes)) else _digest(b"".join(x.SerializeToString() for x in v))
        for name in ("node", "initializer", "input", "output", "value_info", "sparse_initializer"):
            out[f"graph.{name}"] = _digest(b"".join(x.SerializeToString(deterministic=True) for x in getattr(model.graph, name)))
        out["model"] = _digest(model.SerializeToString(deterministic=True))
        for t in model.graph.initializer:
            if t.name in loaded.lazy:
                arr = read_tensor(loaded, t, max_elements=None)
                out[f"value of {t.name}"] = None if arr is None else (arr.dtype.str, arr.shape, _digest(arr.tobytes()))
        return out
    finally:
        loaded.close()


def both_ways(path):
    """``(windowed, whole)``: lint_file's outcome and load()'s result read through the
    FileSource window (as is) and read whole (LAZY_FILE_MIN raised above any size)."""
    windowed = (_outcome(lint_file(path, RULES)), _loaded(path))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(analyzer.io.load, "LAZY_FILE_MIN", 1 << 62)
        whole = (_outcome(lint_file(path, RULES)), _loaded(path))
    return windowed, whole


def _same_values(x, y) -> bool:
    if x is None or y is None:
        return x is None and y is None
    if x.dtype != y.dtype or x.shape != y.shape:
        return False
    if x.tobytes() == y.tobytes():
        return True
    try:
        return bool(np.array_equal(x, y, equal_nan=x.dtype.kind in "fc"))  # NaN bits may change on the way
    except TypeError:
        return False


def full_parse_differences(path) -> list:
    """How the lazy load of ``path`` differs from the full parse (``lazy=False``, what
    onnx.load reads): the same error kind, or the same model once the skipped payloads
    are put aside (they must hold the full parse's data), and the same values of every
    tensor through ``read_tensor``."""
    try:
        full = load(path, lazy=False)
    except LoadError as e:
        full = e
    try:
        loaded = load(path)
    except LoadError as e:
        loaded = e
    try:
        if isinstance(full, LoadError) or isinstance(loaded, LoadError):
            kinds = [x.kind if isinstance(x, LoadError) else "ok" for x in (loaded, full)]
            return [] if kinds[0] == kinds[1] else [f"lazy load {kinds[0]!r} != full parse {kinds[1]!r}"]
        out = []
        model = ModelProto()
        model.CopyFrom(full.model)
        inits = model.graph.initializer
        if len(inits) != len(loaded.model.graph.initializer):
            return [f"{len(loaded.model.graph.initializer)} initializers, full parse {len(inits)}"]
        for ours, theirs in zip(loaded.model.graph.initializer, inits):
            payload = loaded.lazy.get(ours.name)
            if payload is None or getattr(ours, payload.field) or not getattr(theirs, payload.field):
                continue  # not the tensor cut out (of two initializers of one name, one may be)
            raw = bytes(loaded.buffer[payload.offset : payload.offset + payload.length])
            if payload.field == "raw_data":
                same = theirs.raw_data == raw
            else:
                dtype = np.dtype("<f4" if payload.field == "float_data" else "<f8")
                same = _same_values(np.asarray(getattr(theirs, payload.field), dtype), np.frombuffer(raw, dtype))
            if not same:
                out.append(f"initializer {ours.name!r}: the payload at {payload} is not the full parse's {payload.field}")
            theirs.ClearField(payload.field)
        if model != loaded.model:
            return out + ["the lazily read model differs from the full parse beyond the skipped payloads"]
        if loaded.notes != full.notes:
            out.append(f"notes {loaded.notes} != full parse {full.notes}")
        for i, (ours, theirs) in enumerate(zip(iter_tensors(loaded.model), iter_tensors(full.model))):
            if not _same_values(read_tensor(loaded, ours, max_elements=None), read_tensor(full, theirs, max_elements=None)):
                out.append(f"tensor {i} ({ours.name!r}): read_tensor gives other values than from the full parse")
        return out
    finally:
        for x in (full, loaded):
            if not isinstance(x, LoadError):
                x.close()


def _differences(a: dict, b: dict) -> list:
    return [f"{k}: windowed {a.get(k)!r} != whole {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def check_file(path):
    """Lint and load ``path`` both ways; they must agree, and neither may fail internally."""
    windowed, whole = both_ways(path)
    for name, (outcome, _) in (("windowed", windowed), ("whole", whole)):
        assert outcome["kind"] != "internal", f"{name}: {outcome['message']}"
    diff = _differences(windowed[0], whole[0]) + _differences(windowed[1], whole[1])
    assert not diff, "\n".join(diff)
    # and what both read is what the full parse (onnx.load) reads, but the skipped payloads
    diff = full_parse_differences(path)
    assert not diff, "\n".join(diff)
    return windowed[0]


# --- the tests -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    # onnx's fallback inference (in a child) can be slow on absurd dims; a few seconds do here.
    import analyzer.shapes.engine as engine

    saved = engine.ONNX_INFERENCE_TIMEOUT
    engine.ONNX_INFERENCE_TIMEOUT = 3.0
    yield tmp_path_factory.mktemp("window_fuzz")
    engine.ONNX_INFERENCE_TIMEOUT = saved


def test_seed_is_big_and_reduced_by_the_windowed_walk(fuzz_dir):
    """The seed takes the windowed path, its payloads are cut out, and it has findings
    of every rule: so the mutations start from a model that exercises all of it."""
    assert LAZY_FILE_MIN <= len(SEED) < 1.1 * LAZY_FILE_MIN
    assert len(PAYLOADS) == 4 and len(REGIONS["payload"]) == 4 and len(REGIONS["big_tensor"]) > 12
    path = fuzz_dir / "seed.onnx"
    path.write_bytes(SEED)
    loaded = load(path)
    try:
        assert set(loaded.lazy) == {"W_big", "W_1x1", "as_float_data"}  # inner_w is in a subgraph: inline
        assert isinstance(loaded.buffer, analyzer.io.load.FileSource)
    finally:
        loaded.close()
    outcome = check_file(path)
    assert outcome["status"] == "ok"
    # (as_float_data is read by nothing: an unused initializer, WS001's)
    assert {f[0] for f in outcome["findings"]} == {"DT001", "DT002", "SH001", "WS001"}, outcome["findings"]


# examples: run; windowed: at least LAZY_FILE_MIN bytes; walked: the windowed wire walk ran
# (the top-level framing was sound); reduced: it cut payloads out; outcomes: error kinds
_stats = {"examples": 0, "windowed": 0, "walked": 0, "reduced": 0, "outcomes": {}}


@settings(
    max_examples=EXAMPLES,
    derandomize=DERANDOMIZE,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=damaged())
def test_windowed_and_whole_reads_agree_on_damaged_files(case, fuzz_dir):
    data = case.data
    path = fuzz_dir / "model.onnx"
    path.write_bytes(data)
    calls = []
    real_reduce = analyzer.io.load.reduce_model

    def spy(buf):
        got = real_reduce(buf)
        calls.append((isinstance(buf, analyzer.io.load.FileSource), got is not None))
        return got

    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(analyzer.io.load, "reduce_model", spy)
            outcome = check_file(path)
    except BaseException:
        # hypothesis replays the shrunk example last: this is the file to reproduce with
        # tests.test_lazy_window_fuzz.check_file(path)
        kept = fuzz_dir / "last-failure.onnx"
        kept.write_bytes(data)
        note(f"damaged file kept as {kept}")
        raise
    _stats["examples"] += 1
    if len(data) >= LAZY_FILE_MIN:
        _stats["windowed"] += 1
        _stats["walked"] += any(w for w, _ in calls)
        if any(w and r for w, r in calls):
            _stats["reduced"] += 1
    key = outcome["kind"] or ("findings" if outcome["findings"] else "clean")
    _stats["outcomes"][key] = _stats["outcomes"].get(key, 0) + 1


def test_window_fuzz_covered_the_windowed_path():
    """Most examples were big enough for the windowed path, many of them had their
    payloads cut out by it, and the outcomes range from findings to several errors."""
    if _stats["examples"] < EXAMPLES // 2:
        pytest.skip("run together with test_windowed_and_whole_reads_agree_on_damaged_files")
    n = _stats["examples"]
    print(_stats)  # shown with -s
    assert _stats["windowed"] >= 0.8 * n, _stats
    assert _stats["walked"] >= 0.45 * n, _stats
    assert _stats["reduced"] >= 0.35 * n, _stats
    assert "findings" in _stats["outcomes"] and len(_stats["outcomes"]) >= 4, _stats
