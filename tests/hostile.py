"""A corpus of hostile model files, built by the tests themselves (issue 6).

One function per case, ``case_<name>(folder, canary) -> (files, expected)``:

* it writes the case's files into ``folder`` (its own, empty), ``files[0]`` being
  the path to give ``onnxlint check``;
* ``expected`` is the error kind the file must get (exit code 2), or ``"ok"`` /
  ``"ok-with-note"`` when analysis must go on (exit 0 or 1); for the latter,
  :data:`NOTES` holds a fragment the notes must contain;
* ``canary`` is a file outside every case folder with unique content: the
  external-data tricks all point at it, and no output may ever show it;
* a case that cannot be built here (no FIFOs, running as root...) returns None.

Everything is tiny (a few KB) except where the size itself is the point, and then
the bytes are a sparse file.  :data:`CASES` lists the cases in order; the tests
in ``test_hostile.py`` run them through the CLI.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, helper, numpy_helper

from tests.wire import length_delimited, varint_field

__all__ = [
    "CASES", "NOTES", "CANARY_TOKEN", "EVIL", "EXTERNAL_TRICKS", "make_canary", "build", "all_files",
    "raw_deep_if_model", "in_memory_deep_if", "evil_model", "pooled_conv",
]  # fmt: skip

CANARY_TOKEN = b"ONNXLINT-CANARY-7f3a9c1e-DO-NOT-READ"
F, I64 = TensorProto.FLOAT, TensorProto.INT64

CASES: dict = {}  # name -> builder
NOTES: dict = {}  # name -> fragment the notes of an ok-with-note case contain
EXTERNAL_TRICKS: list = []  # cases that try to reach the canary through external data


def case(expected_note=None, trick=False):
    def deco(fn):
        name = fn.__name__.removeprefix("case_")
        CASES[name] = fn
        if expected_note is not None:
            NOTES[name] = expected_note
        if trick:
            EXTERNAL_TRICKS.append(name)
        return fn

    return deco


def make_canary(root: Path) -> Path:
    """``root/outside/secret.bin``: the token, repeated to 4 KiB (big enough for any
    offset/length a case uses)."""
    folder = root / "outside"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "secret.bin"
    data = (CANARY_TOKEN + b"\n") * (4096 // (len(CANARY_TOKEN) + 1) + 1)
    path.write_bytes(data[:4096])
    return path


def build(root: Path, names=None) -> dict:
    """Build the cases (all, or ``names``) under ``root``: name -> (files, expected)."""
    root = Path(root)
    canary = make_canary(root)
    out = {}
    for name, fn in CASES.items():
        if names is not None and name not in names:
            continue
        folder = root / "cases" / name
        folder.mkdir(parents=True, exist_ok=True)
        built = fn(folder, canary)
        if built is not None:
            out[name] = built
    return out


# --- helpers ---------------------------------------------------------------------------------


def _vi(name, shape, dtype=F):
    return helper.make_tensor_value_info(name, dtype, shape)


def _model(nodes, inputs, outputs, inits=(), opset=17, functions=(), opsets=None):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    m = helper.make_model(graph, opset_imports=opsets or [helper.make_opsetid("", opset)], functions=list(functions))
    m.ir_version = 8 if not functions else 10
    return m


def _save(model, folder, name="model.onnx") -> Path:
    path = Path(folder) / name
    path.write_bytes(model.SerializeToString() if hasattr(model, "SerializeToString") else model)
    return path


def _w(name, shape, dtype=np.float32):
    return numpy_helper.from_array(np.ones(shape, dtype=dtype), name)


def pooled_conv(conv_name="conv", **conv_attrs):
    """GlobalAveragePool -> 3x3 conv with dilation 3, pads 3 on 4 channels: DT001 fires."""
    attrs = {"dilations": [3, 3], "pads": [3, 3, 3, 3]}
    attrs.update(conv_attrs)
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"),
        helper.make_node("Conv", ["p", "W"], ["y"], name=conv_name, **attrs),
    ]
    return _model(nodes, [_vi("x", [1, 4, 6, 6])], [_vi("y", None)], [_w("W", (2, 4, 3, 3))])


def _external(tensor, location, offset=None, length=None, **extra):
    """Point ``tensor`` at external data (its inline data dropped)."""
    tensor.ClearField("raw_data")
    tensor.ClearField("int64_data")
    tensor.ClearField("float_data")
    del tensor.external_data[:]
    entries = {"location": location}
    if offset is not None:
        entries["offset"] = str(offset)
    if length is not None:
        entries["length"] = str(length)
    entries.update(extra)
    for k, v in entries.items():
        e = tensor.external_data.add()
        e.key, e.value = k, v
    tensor.data_location = TensorProto.EXTERNAL
    return tensor


def _shape_tensor(name="shape"):
    """A 4-element int64 tensor (32 bytes): small enough that analysis would read it."""
    return numpy_helper.from_array(np.array([1, 4, 1, 1], dtype=np.int64), name)


def reshape_model(shape_tensor, as_constant=False):
    """x -> GlobalAveragePool -> Reshape(shape) -> y; the shape tensor is what points outside."""
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool")]
    inits = []
    if as_constant:
        nodes.append(helper.make_node("Constant", [], ["shape"], name="const", value=shape_tensor))
    else:
        inits.append(shape_tensor)
    nodes.append(helper.make_node("Reshape", ["p", "shape"], ["y"], name="reshape"))
    return _model(nodes, [_vi("x", [1, 4, 6, 6])], [_vi("y", None)], inits)


def raw_deep_if_model(depth: int) -> bytes:
    """A ModelProto with If nested ``depth`` deep, written on the wire directly
    (onnx.helper cannot even build it: protobuf refuses the depth while copying)."""

    def value_info(name):
        return length_delimited(1, name.encode())

    def node(inputs, outputs, op_type, attrs=b""):
        body = b"".join(length_delimited(1, i.encode()) for i in inputs) + b"".join(length_delimited(2, o.encode()) for o in outputs)
        return body + length_delimited(4, op_type.encode()) + attrs

    def graph_attr(name, g):
        return length_delimited(5, length_delimited(1, name.encode()) + varint_field(20, AttributeProto.GRAPH) + length_delimited(6, g))

    leaf = length_delimited(1, node(["x"], ["o"], "Identity")) + length_delimited(2, b"leaf") + length_delimited(12, value_info("o"))
    g = leaf
    for level in range(depth):
        g = length_delimited(1, node(["c"], ["o"], "If", graph_attr("then_branch", g) + graph_attr("else_branch", leaf)))
        g += length_delimited(2, f"g{level}".encode()) + length_delimited(12, value_info("o"))
    main_graph = g + length_delimited(11, helper.make_tensor_value_info("c", TensorProto.BOOL, []).SerializeToString())
    main_graph += length_delimited(11, _vi("x", [2]).SerializeToString())
    return varint_field(1, 8) + length_delimited(7, main_graph) + length_delimited(8, varint_field(2, 17))


def in_memory_deep_if(depth: int):
    """The same nesting built in memory, level by level without copies (protobuf's
    parse limit does not apply): for the API path, where MAX_SUBGRAPH_DEPTH must hold."""
    m = onnx.ModelProto()
    m.ir_version = 8
    m.opset_import.add(domain="", version=17)
    g = m.graph
    g.name = "main"
    g.input.extend([helper.make_tensor_value_info("c", TensorProto.BOOL, []), _vi("x", [2])])
    g.output.add().name = "o"
    for level in range(depth):
        n = g.node.add(op_type="If", input=["c"], output=["o"], name=f"if{level}")
        els = n.attribute.add(name="else_branch", type=AttributeProto.GRAPH)
        els.g.node.add(op_type="Identity", input=["x"], output=["o"])
        els.g.output.add().name = "o"
        then = n.attribute.add(name="then_branch", type=AttributeProto.GRAPH)
        g = then.g
        g.name = f"g{level}"
        g.output.add().name = "o"
    g.node.add(op_type="Identity", input=["x"], output=["o"])
    return m


EVIL = "evil\x1b[31m\x1b]0;pwned\x07\n<script>alert('onnxlint-xss')</script>\r\u2028|"


def evil_model():
    """Every string a report might show carries ANSI/OSC escapes, newlines and HTML:
    node names (the finding's node and its cause), tensor names, doc strings,
    metadata, graph and producer names.  DT001 fires on the conv."""
    m = pooled_conv(conv_name="conv" + EVIL)
    m.graph.node[0].name = "pool" + EVIL
    m.graph.node[1].doc_string = EVIL
    m.graph.name = EVIL
    m.doc_string = EVIL
    m.producer_name = EVIL
    helper.set_model_props(m, {"author" + EVIL: EVIL})
    # rename the weight (its name is in DT001's details)
    m.graph.initializer[0].name = "W" + EVIL
    m.graph.node[1].input[1] = "W" + EVIL
    return m


# --- the file itself ------------------------------------------------------------------------


@case()
def case_missing(folder, canary):
    return [folder / "nowhere.onnx"], "not-found"


@case()
def case_empty(folder, canary):
    return [_save(b"", folder)], "empty"


@case()
def case_text(folder, canary):
    return [_save(b"# not a model\nhello\n", folder)], "not-onnx"


@case()
def case_lfs_pointer(folder, canary):
    data = b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"ab" * 32 + b"\nsize 123456\n"
    return [_save(data, folder)], "not-onnx"


@case()
def case_random_bytes(folder, canary):
    return [_save(np.random.default_rng(6).bytes(3000), folder)], "not-onnx"


@case()
def case_zip(folder, canary):
    return [_save(b"PK\x03\x04" + b"\0" * 200, folder)], "not-onnx"


@case()
def case_pickle(folder, canary):
    return [_save(b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n" + b"\0" * 100, folder)], "not-onnx"


@case()
def case_bare_graph(folder, canary):
    return [_save(pooled_conv().graph.SerializeToString(), folder)], "not-onnx"


@case()
def case_bare_tensor(folder, canary):
    return [_save(numpy_helper.from_array(np.arange(64, dtype=np.float32), "t").SerializeToString(), folder)], "not-onnx"


@case()
def case_truncated(folder, canary):
    data = pooled_conv().SerializeToString()
    return [_save(data[: len(data) * 2 // 3], folder)], "truncated"


@case()
def case_corrupt_inside(folder, canary):
    """The top-level framing is intact; the graph's bytes are garbage (a varint that never ends)."""
    m = pooled_conv()
    graph_bytes = m.graph.SerializeToString()
    data = varint_field(1, 8) + length_delimited(7, b"\xff" * len(graph_bytes)) + length_delimited(8, varint_field(2, 17))
    return [_save(data, folder)], "corrupt"


@case()
def case_no_ir_version(folder, canary):
    m = pooled_conv()
    m.ClearField("ir_version")
    return [_save(m, folder)], "not-onnx"


@case()
def case_future_ir_version(folder, canary):
    m = pooled_conv()
    m.ir_version = 999
    return [_save(m, folder)], "unsupported"


@case()
def case_no_opset_import(folder, canary):
    m = pooled_conv()
    del m.opset_import[:]
    return [_save(m, folder)], "not-onnx"


@case()
def case_fifo(folder, canary):
    if not hasattr(os, "mkfifo"):
        return None
    os.mkfifo(folder / "fifo.onnx")  # opening it for reading would block forever
    return [folder / "fifo.onnx"], "not-a-file"


@case()
def case_device_symlink(folder, canary):
    if not os.path.exists("/dev/zero"):
        return None
    os.symlink("/dev/zero", folder / "zero.onnx")  # reading it would never end
    return [folder / "zero.onnx"], "not-a-file"


@case()
def case_symlink_loop(folder, canary):
    os.symlink("loop.onnx", folder / "loop.onnx")
    return [folder / "loop.onnx"], "unreadable"


@case()
def case_unreadable(folder, canary):
    if not hasattr(os, "geteuid") or os.geteuid() == 0:
        return None  # root reads anything
    p = _save(pooled_conv(), folder)
    os.chmod(p, 0)
    return [p], "unreadable"


@case()
def case_over_2gib(folder, canary):
    p = folder / "huge.onnx"
    with open(p, "wb") as f:
        f.write(pooled_conv().SerializeToString())
        f.truncate((1 << 31) + 16)  # sparse: no disk used
    return [p], "too-large"


@case()
def case_deep_if_nesting(folder, canary):
    return [_save(raw_deep_if_model(500), folder)], "too-deep"


@case()
def case_deep_type_nesting(folder, canary):
    """A graph input of type sequence(sequence(...(tensor))) 300 deep."""
    tp = helper.make_tensor_type_proto(F, [2])
    for _ in range(300):
        tp = length_delimited(4, length_delimited(1, tp if isinstance(tp, bytes) else tp.SerializeToString()))
    vi = length_delimited(1, b"x") + length_delimited(2, tp)
    node = length_delimited(1, b"x") + length_delimited(2, b"y") + length_delimited(4, b"Identity")
    graph = length_delimited(1, node) + length_delimited(2, b"g") + length_delimited(11, vi) + length_delimited(12, length_delimited(1, b"y"))
    data = varint_field(1, 8) + length_delimited(7, graph) + length_delimited(8, varint_field(2, 17))
    return [_save(data, folder)], "too-deep"


@case()
def case_model_is_hard_link(folder, canary):
    """The model file itself may be a hard link: the user named it; only external data is confined."""
    p = _save(pooled_conv(), folder)
    os.link(p, folder / "alias.onnx")
    return [folder / "alias.onnx"], "ok"


# --- external data: the canary ----------------------------------------------------------------


def _trick(folder, location, as_constant=False):
    return [_save(reshape_model(_external(_shape_tensor(), location, 0, 32), as_constant), folder)]


@case(trick=True)
def case_ext_absolute(folder, canary):
    return _trick(folder, str(canary)), "external-data-outside-folder"


@case(trick=True)
def case_ext_dotdot(folder, canary):
    rel = os.path.relpath(canary, folder)
    return _trick(folder, rel), "external-data-outside-folder"


@case(trick=True)
def case_ext_dotdot_backslash(folder, canary):
    rel = os.path.relpath(canary, folder).replace("/", "\\")
    return _trick(folder, rel), "external-data-outside-folder"


@case(trick=True)
def case_ext_drive_letter(folder, canary):
    return _trick(folder, "C:" + str(canary)), "external-data-outside-folder"


@case(trick=True)
def case_ext_symlink_file(folder, canary):
    os.symlink(canary, folder / "weights.bin")
    return _trick(folder, "weights.bin") + [folder / "weights.bin"], "external-data-outside-folder"


@case(trick=True)
def case_ext_symlinked_folder(folder, canary):
    os.symlink(canary.parent, folder / "data", target_is_directory=True)
    return _trick(folder, "data/" + canary.name) + [folder / "data" / canary.name], "external-data-outside-folder"


@case(trick=True)
def case_ext_hard_link(folder, canary):
    try:
        os.link(canary, folder / "weights.bin")
    except OSError:
        return None
    return _trick(folder, "weights.bin") + [folder / "weights.bin"], "external-data-outside-folder"


@case(trick=True)
def case_ext_in_constant_attribute(folder, canary):
    return _trick(folder, os.path.relpath(canary, folder), as_constant=True), "external-data-outside-folder"


@case(trick=True)
def case_ext_in_subgraph(folder, canary):
    """The external tensor is an initializer of an If branch."""
    loc = os.path.relpath(canary, folder)
    then = helper.make_graph(
        [helper.make_node("Reshape", ["p", "shape"], ["t"], name="inner")],
        "then",
        [],
        [_vi("t", None)],
        initializer=[_external(_shape_tensor(), loc, 0, 32)],
    )
    other = helper.make_graph([helper.make_node("Identity", ["p"], ["e"])], "else", [], [_vi("e", None)])
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"),
        helper.make_node("If", ["c"], ["y"], name="branch", then_branch=then, else_branch=other),
    ]
    m = _model(nodes, [_vi("x", [1, 4, 6, 6]), _vi("c", [], TensorProto.BOOL)], [_vi("y", None)])
    return [_save(m, folder)], "external-data-outside-folder"


@case(trick=True)
def case_ext_in_sparse_initializer(folder, canary):
    loc = os.path.relpath(canary, folder)
    values = _external(numpy_helper.from_array(np.ones(4, np.float32), "sp"), loc, 0, 16)
    indices = numpy_helper.from_array(np.array([0, 1, 2, 3], np.int64), "sp_idx")
    sparse = helper.make_sparse_tensor(values, indices, [8])
    m = _model([helper.make_node("Add", ["x", "sp"], ["y"], name="add")], [_vi("x", [8])], [_vi("y", None)])
    m.graph.sparse_initializer.append(sparse)
    return [_save(m, folder)], "external-data-outside-folder"


@case(trick=True)
def case_ext_in_sparse_constant(folder, canary):
    loc = os.path.relpath(canary, folder)
    values = _external(numpy_helper.from_array(np.ones(4, np.float32), "v"), loc, 0, 16)
    indices = numpy_helper.from_array(np.array([0, 1, 2, 3], np.int64), "i")
    node = helper.make_node("Constant", [], ["c"], name="const", sparse_value=helper.make_sparse_tensor(values, indices, [8]))
    m = _model([node, helper.make_node("Add", ["x", "c"], ["y"], name="add")], [_vi("x", [8])], [_vi("y", None)])
    return [_save(m, folder)], "external-data-outside-folder"


@case(trick=True)
def case_ext_in_function(folder, canary):
    """A model-local function whose body has a Constant with external data."""
    loc = os.path.relpath(canary, folder)
    body = [
        helper.make_node("Constant", [], ["s"], value=_external(_shape_tensor(), loc, 0, 32)),
        helper.make_node("Reshape", ["a", "s"], ["b"]),
    ]
    fn = helper.make_function("local", "Flat", ["a"], ["b"], body, [helper.make_opsetid("", 17)])
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"),
        helper.make_node("Flat", ["p"], ["y"], name="call", domain="local"),
    ]
    m = _model(nodes, [_vi("x", [1, 4, 6, 6])], [_vi("y", None)], functions=[fn],
               opsets=[helper.make_opsetid("", 17), helper.make_opsetid("local", 1)])  # fmt: skip
    return [_save(m, folder)], "external-data-outside-folder"


@case(trick=True)
def case_ext_in_function_attribute_default(folder, canary):
    """A function attribute's default value (FunctionProto.attribute_proto) is external."""
    loc = os.path.relpath(canary, folder)
    body = [helper.make_node("Identity", ["a"], ["b"])]
    fn = helper.make_function("local", "F", ["a"], ["b"], body, [helper.make_opsetid("", 17)])
    default = helper.make_attribute("dflt", _external(_shape_tensor(), loc, 0, 32))
    fn.attribute_proto.append(default)
    m = _model([helper.make_node("F", ["x"], ["y"], name="call", domain="local")], [_vi("x", [4])], [_vi("y", None)],
               functions=[fn], opsets=[helper.make_opsetid("", 17), helper.make_opsetid("local", 1)])  # fmt: skip
    return [_save(m, folder)], "external-data-outside-folder"


@case(trick=True)
def case_ext_in_training_info(folder, canary):
    loc = os.path.relpath(canary, folder)
    m = pooled_conv()
    info = m.training_info.add()
    info.initialization.name = "init"
    info.initialization.initializer.append(_external(_shape_tensor("t0"), loc, 0, 32))
    return [_save(m, folder)], "external-data-outside-folder"


# --- external data: broken but not escaping -----------------------------------------------------


def _with_data(folder, nbytes=64):
    (folder / "weights.bin").write_bytes(np.arange(nbytes // 8, dtype=np.int64).tobytes())
    return folder / "weights.bin"


@case()
def case_ext_offset_beyond_file(folder, canary):
    _with_data(folder)
    return [_save(reshape_model(_external(_shape_tensor(), "weights.bin", 48, 32)), folder)], "external-data"


@case()
def case_ext_length_beyond_file(folder, canary):
    _with_data(folder)
    return [_save(reshape_model(_external(_shape_tensor(), "weights.bin", 0, 1 << 40)), folder)], "external-data"


@case()
def case_ext_negative_offset(folder, canary):
    _with_data(folder)
    return [_save(reshape_model(_external(_shape_tensor(), "weights.bin", -8, 32)), folder)], "external-data"


@case()
def case_ext_offset_not_a_number(folder, canary):
    _with_data(folder)
    return [_save(reshape_model(_external(_shape_tensor(), "weights.bin", "0x10", 32)), folder)], "external-data"


@case()
def case_ext_length_not_matching_dims(folder, canary):
    _with_data(folder)
    return [_save(reshape_model(_external(_shape_tensor(), "weights.bin", 0, 16)), folder)], "external-data"


@case()
def case_ext_unknown_key(folder, canary):
    _with_data(folder)
    return [_save(reshape_model(_external(_shape_tensor(), "weights.bin", 0, 32, run="rm -rf /")), folder)], "external-data"


@case()
def case_ext_missing_file(folder, canary):
    return [_save(reshape_model(_external(_shape_tensor(), "nowhere.bin", 0, 32)), folder)], "external-data"


@case()
def case_ext_no_location(folder, canary):
    t = _external(_shape_tensor(), "x", 0, 32)
    del t.external_data[0]
    return [_save(reshape_model(t), folder)], "external-data"


@case()
def case_ext_fifo(folder, canary):
    if not hasattr(os, "mkfifo"):
        return None
    os.mkfifo(folder / "weights.bin")  # reading it would block: it must never be opened
    return [_save(reshape_model(_external(_shape_tensor(), "weights.bin", 0, 32)), folder)], "external-data"


@case()
def case_ext_directory(folder, canary):
    (folder / "weights.bin").mkdir()
    return [_save(reshape_model(_external(_shape_tensor(), "weights.bin", 0, 32)), folder)], "external-data"


@case()
def case_ext_string_tensor(folder, canary):
    _with_data(folder)
    t = helper.make_tensor("s", TensorProto.STRING, [1], [b"x"])
    t.ClearField("string_data")
    _external(t, "weights.bin", 0, 64)
    m = _model([helper.make_node("Identity", ["s"], ["y"], name="id")], [], [_vi("y", None, TensorProto.STRING)], [t])
    return [_save(m, folder)], "external-data"


@case()
def case_ext_huge_sparse_data_file(folder, canary):
    """A weight of 2**33 floats in a 32 GiB (sparse) data file: valid, and never read."""
    p = folder / "weights.bin"
    with open(p, "wb") as f:
        f.truncate(1 << 35)
    w = TensorProto(name="W", data_type=F, dims=[1 << 31, 4, 1, 1])
    _external(w, "weights.bin", 0, 1 << 35)
    m = _model([helper.make_node("Conv", ["x", "W"], ["y"], name="conv")], [_vi("x", [1, 4, 8, 8])], [_vi("y", None)], [w])
    return [_save(m, folder), p], "ok"


@case()
def case_ext_data_is_the_model_itself(folder, canary):
    """location names the model file: odd but inside the folder; bytes that are not a
    valid shape just leave the Reshape unresolved."""
    m = reshape_model(_external(_shape_tensor(), "model.onnx", 0, 32))
    return [_save(m, folder)], "ok"


# --- malformed graphs ---------------------------------------------------------------------------


@case()
def case_cycle(folder, canary):
    nodes = [
        helper.make_node("Relu", ["b"], ["a"], name="first"),
        helper.make_node("Neg", ["a"], ["b"], name="second"),
    ]
    return [_save(_model(nodes, [_vi("x", [4])], [_vi("a", None)]), folder)], "graph-cycle"


@case()
def case_cycle_in_subgraph(folder, canary):
    body = helper.make_graph(
        [helper.make_node("Relu", ["v"], ["u"], name="u"), helper.make_node("Neg", ["u"], ["v"], name="v")], "then", [], [_vi("u", None)]
    )
    other = helper.make_graph([helper.make_node("Identity", ["x"], ["e"])], "else", [], [_vi("e", None)])
    nodes = [helper.make_node("If", ["c"], ["y"], name="branch", then_branch=body, else_branch=other)]
    m = _model(nodes, [_vi("x", [4]), _vi("c", [], TensorProto.BOOL)], [_vi("y", None)])
    return [_save(m, folder)], "graph-cycle"


@case()
def case_cycle_through_captured_value(folder, canary):
    """The If's branch reads 'late', which is computed from the If's own output."""
    then = helper.make_graph([helper.make_node("Identity", ["late"], ["t"])], "then", [], [_vi("t", None)])
    other = helper.make_graph([helper.make_node("Identity", ["x"], ["e"])], "else", [], [_vi("e", None)])
    nodes = [
        helper.make_node("If", ["c"], ["y"], name="branch", then_branch=then, else_branch=other),
        helper.make_node("Relu", ["y"], ["late"], name="late"),
    ]
    m = _model(nodes, [_vi("x", [4]), _vi("c", [], TensorProto.BOOL)], [_vi("late", None)])
    return [_save(m, folder)], "graph-cycle"


@case()
def case_cycle_in_uncalled_function(folder, canary):
    body = [helper.make_node("Relu", ["q"], ["p"]), helper.make_node("Neg", ["p"], ["q"])]
    fn = helper.make_function("local", "Loopy", ["a"], ["p"], body, [helper.make_opsetid("", 17)])
    m = _model([helper.make_node("Relu", ["x"], ["y"], name="r")], [_vi("x", [4])], [_vi("y", None)], functions=[fn],
               opsets=[helper.make_opsetid("", 17), helper.make_opsetid("local", 1)])  # fmt: skip
    return [_save(m, folder)], "graph-cycle"


@case()
def case_two_producers(folder, canary):
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="one"), helper.make_node("Neg", ["x"], ["a"], name="two")]
    return [_save(_model(nodes, [_vi("x", [4])], [_vi("a", None)]), folder)], "graph-duplicate-tensor"


@case()
def case_output_redefines_input(folder, canary):
    nodes = [helper.make_node("Relu", ["x"], ["x"], name="self")]
    return [_save(_model(nodes, [_vi("x", [4])], [_vi("x", None)]), folder)], "graph-duplicate-tensor"


@case()
def case_output_redefines_initializer(folder, canary):
    nodes = [helper.make_node("Relu", ["x"], ["W"], name="clobber")]
    m = _model(nodes, [_vi("x", [4])], [_vi("W", None)], [_w("W", (4,))])
    return [_save(m, folder)], "graph-duplicate-tensor"


@case()
def case_duplicate_graph_input(folder, canary):
    m = _model([helper.make_node("Relu", ["x"], ["y"], name="r")], [_vi("x", [4]), _vi("x", [8])], [_vi("y", None)])
    return [_save(m, folder)], "graph-duplicate-tensor"


@case()
def case_two_producers_in_subgraph(folder, canary):
    then = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["t"], name="a"), helper.make_node("Neg", ["x"], ["t"], name="b")], "then", [], [_vi("t", None)]
    )
    other = helper.make_graph([helper.make_node("Identity", ["x"], ["e"])], "else", [], [_vi("e", None)])
    nodes = [helper.make_node("If", ["c"], ["y"], name="branch", then_branch=then, else_branch=other)]
    m = _model(nodes, [_vi("x", [4]), _vi("c", [], TensorProto.BOOL)], [_vi("y", None)])
    return [_save(m, folder)], "graph-duplicate-tensor"


@case(expected_note="defined twice")
def case_duplicate_initializer(folder, canary):
    m = _model([helper.make_node("Add", ["x", "W"], ["y"], name="add")], [_vi("x", [4])], [_vi("y", None)], [_w("W", (4,)), _w("W", (4,))])
    return [_save(m, folder)], "ok-with-note"


@case(expected_note="share a name")
def case_duplicate_node_names(folder, canary):
    m = pooled_conv(conv_name="pool")  # the conv is named like the pool
    return [_save(m, folder)], "ok-with-note"


@case(expected_note="which nothing defines")
def case_undefined_input(folder, canary):
    nodes = [helper.make_node("Relu", ["ghost"], ["a"], name="haunted"), helper.make_node("Abs", ["x"], ["y"], name="ok")]
    return [_save(_model(nodes, [_vi("x", [4])], [_vi("a", None), _vi("y", None)]), folder)], "ok-with-note"


@case(expected_note="never produced")
def case_undefined_graph_output(folder, canary):
    nodes = [helper.make_node("Abs", ["x"], ["y"], name="ok")]
    return [_save(_model(nodes, [_vi("x", [4])], [_vi("y", None), _vi("never", None)]), folder)], "ok-with-note"


@case(expected_note="no opset_import declares 'com.evil'")
def case_unknown_domain(folder, canary):
    nodes = [helper.make_node("Mystery", ["x"], ["y"], name="custom", domain="com.evil")]
    return [_save(_model(nodes, [_vi("x", [4])], [_vi("y", None)]), folder)], "ok-with-note"


@case(expected_note="'NoSuchOp' of the default domain is unknown")
def case_unknown_operator(folder, canary):
    nodes = [helper.make_node("NoSuchOp", ["x"], ["y"], name="mystery")]
    return [_save(_model(nodes, [_vi("x", [4])], [_vi("y", None)]), folder)], "ok-with-note"


@case(expected_note="opset 99")
def case_future_opset(folder, canary):
    m = pooled_conv()
    m.opset_import[0].version = 99
    return [_save(m, folder)], "ok-with-note"


@case(expected_note="conv (Conv): negative pads")
def case_conv_negative_pads(folder, canary):
    return [_save(pooled_conv(pads=[-1, -1, 3, 3]), folder)], "ok-with-note"


@case(expected_note="conv (Conv): strides [0, 0] must be positive")
def case_conv_zero_strides(folder, canary):
    return [_save(pooled_conv(strides=[0, 0]), folder)], "ok-with-note"


@case(expected_note="conv (Conv): dilations [-3, 3] must be positive")
def case_conv_negative_dilations(folder, canary):
    return [_save(pooled_conv(dilations=[-3, 3]), folder)], "ok-with-note"


@case(expected_note="conv (Conv): kernel_shape [5, 5] disagrees with the weight")
def case_conv_kernel_shape_mismatch(folder, canary):
    return [_save(pooled_conv(kernel_shape=[5, 5]), folder)], "ok-with-note"


@case(expected_note="conv (Conv): 4 input channels do not divide into group 3")
def case_conv_group_not_dividing(folder, canary):
    return [_save(pooled_conv(group=3), folder)], "ok-with-note"


@case(expected_note="conv (Conv): group 0 must be a positive integer")
def case_conv_group_zero(folder, canary):
    return [_save(pooled_conv(group=0), folder)], "ok-with-note"


@case(expected_note="conv (Conv): weight of rank 3 for an input of rank 4")
def case_conv_weight_wrong_rank(folder, canary):
    m = pooled_conv()
    m.graph.initializer[0].CopyFrom(_w("W", (2, 4, 9)))
    return [_save(m, folder)], "ok-with-note"


@case(expected_note="conv (Conv): attribute strides is not a list of integers")
def case_conv_strides_wrong_type(folder, canary):
    m = pooled_conv()
    m.graph.node[1].attribute.append(helper.make_attribute("strides", "fast"))
    return [_save(m, folder)], "ok-with-note"


@case(expected_note="conv (Conv): attribute pads is not a list of integers")
def case_conv_pads_huge_list_of_floats(folder, canary):
    m = pooled_conv()
    del m.graph.node[1].attribute[:]
    m.graph.node[1].attribute.append(helper.make_attribute("pads", [0.5] * 100_000))
    return [_save(m, folder)], "ok-with-note"


@case(expected_note="strides/dilations do not match the number of spatial axes")
def case_conv_huge_int_lists(folder, canary):
    m = pooled_conv()
    del m.graph.node[1].attribute[:]
    m.graph.node[1].attribute.append(helper.make_attribute("strides", [1] * 100_000))
    return [_save(m, folder)], "ok-with-note"


@case(expected_note="two attributes named 'then_branch'")
def case_duplicate_subgraph_attribute(folder, canary):
    a = helper.make_graph([helper.make_node("Identity", ["x"], ["t"])], "a", [], [_vi("t", None)])
    b = helper.make_graph([helper.make_node("Neg", ["x"], ["t"])], "b", [], [_vi("t", None)])
    node = helper.make_node("If", ["c"], ["y"], name="branch", then_branch=a, else_branch=a)
    node.attribute.append(helper.make_attribute("then_branch", b))
    m = _model([node], [_vi("x", [4]), _vi("c", [], TensorProto.BOOL)], [_vi("y", None)])
    return [_save(m, folder)], "ok-with-note"


@case()
def case_subgraph_path_collision(folder, canary):
    """Node 'a.b' with attribute 'c' and node 'a' with attribute 'b.c' would both be
    'main/a.b.c': each must still get its own subgraph."""
    g1 = helper.make_graph([helper.make_node("Identity", ["x"], ["t"])], "g1", [], [_vi("t", None)])
    g2 = helper.make_graph([helper.make_node("Neg", ["x"], ["u"])], "g2", [], [_vi("u", None)])
    n1 = helper.make_node("If", ["c"], ["y1"], name="a.b", then_branch=g1, else_branch=g1)
    n1.attribute[0].name = "c"
    n2 = helper.make_node("If", ["c"], ["y2"], name="a", then_branch=g2, else_branch=g2)
    n2.attribute[0].name = "b.c"
    m = _model([n1, n2], [_vi("x", [4]), _vi("c", [], TensorProto.BOOL)], [_vi("y1", None), _vi("y2", None)])
    return [_save(m, folder)], "ok"


@case(expected_note="num_scan_inputs")
def case_scan_bad_num_inputs(folder, canary):
    body = helper.make_graph([helper.make_node("Identity", ["s"], ["t"])], "body", [_vi("s", [4])], [_vi("t", [4])])
    node = helper.make_node("Scan", ["x"], ["y"], name="scan", body=body, num_scan_inputs=-7)
    return [_save(_model([node], [_vi("x", [3, 4])], [_vi("y", None)]), folder)], "ok-with-note"


@case(expected_note="calls itself")
def case_recursive_function(folder, canary):
    body = [helper.make_node("Rec", ["a"], ["b"], domain="local")]
    fn = helper.make_function("local", "Rec", ["a"], ["b"], body, [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)])
    m = _model([helper.make_node("Rec", ["x"], ["y"], name="call", domain="local")], [_vi("x", [4])], [_vi("y", None)],
               functions=[fn], opsets=[helper.make_opsetid("", 17), helper.make_opsetid("local", 1)])  # fmt: skip
    return [_save(m, folder)], "ok-with-note"


@case()
def case_exponential_functions(folder, canary):
    """F0 calls F1 twice, F1 calls F2 twice, ... 40 levels: 2**40 expansions if followed
    blindly (calls with the same input shapes are computed once; a budget backs that up)."""
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)]
    fns = []
    levels = 40
    for i in range(levels):
        if i == levels - 1:
            body = [helper.make_node("Relu", ["a"], ["b"])]
        else:
            body = [
                helper.make_node(f"F{i + 1}", ["a"], ["m"], domain="local"),
                helper.make_node(f"F{i + 1}", ["m"], ["b"], domain="local"),
            ]
        fns.append(helper.make_function("local", f"F{i}", ["a"], ["b"], body, opsets))
    m = _model([helper.make_node("F0", ["x"], ["y"], name="call", domain="local")], [_vi("x", [4])], [_vi("y", None)], functions=fns, opsets=opsets)
    return [_save(m, folder)], "ok"


@case(expected_note="defined twice")
def case_duplicate_function(folder, canary):
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)]
    f1 = helper.make_function("local", "F", ["a"], ["b"], [helper.make_node("Relu", ["a"], ["b"])], opsets)
    f2 = helper.make_function("local", "F", ["a"], ["b"], [helper.make_node("Neg", ["a"], ["b"])], opsets)
    m = _model([helper.make_node("F", ["x"], ["y"], name="call", domain="local")], [_vi("x", [4])], [_vi("y", None)], functions=[f1, f2], opsets=opsets)
    return [_save(m, folder)], "ok-with-note"


# --- sizes and bombs -------------------------------------------------------------------------------


@case()
def case_dims_2_pow_62(folder, canary):
    m = pooled_conv()
    m.graph.input[0].CopyFrom(_vi("x", [1, 4, 1 << 62, 1 << 62]))
    return [_save(m, folder)], "ok"


@case()
def case_negative_dims(folder, canary):
    m = pooled_conv()
    m.graph.input[0].CopyFrom(_vi("x", [1, 4, -6, -1]))
    w = TensorProto(name="W", data_type=F, dims=[2, -4, 3, 3])
    m.graph.initializer[0].CopyFrom(w)
    return [_save(m, folder)], "ok"


@case()
def case_weight_dims_without_data(folder, canary):
    """A weight declaring 2**62 x 2**62 elements and carrying none."""
    m = pooled_conv()
    m.graph.initializer[0].CopyFrom(TensorProto(name="W", data_type=F, dims=[1 << 62, 1 << 62, 3, 3]))
    return [_save(m, folder)], "ok"


@case()
def case_initializer_dims_bomb(folder, canary):
    """An unused initializer declaring 250 dims of 2**62 (and no data): counting its
    elements gives an integer of ~4,700 digits, more than Python will print."""
    w = TensorProto(name="W", data_type=F, dims=[1 << 62] * 250)
    m = _model([helper.make_node("Identity", ["x"], ["y"], name="id")], [_vi("x", [1])], [_vi("y", None)], [w])
    return [_save(m, folder)], "ok"


@case(expected_note="cannot reshape")
def case_reshape_to_huge(folder, canary):
    shape = numpy_helper.from_array(np.array([1 << 62, 1 << 62, 4], dtype=np.int64), "shape")
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape"), helper.make_node("Tile", ["y", "reps"], ["z"], name="tile")]
    reps = numpy_helper.from_array(np.array([4, 4, 4], dtype=np.int64), "reps")
    return [_save(_model(nodes, [_vi("x", [4])], [_vi("z", None)], [shape, reps]), folder)], "ok-with-note"


@case()
def case_constant_of_huge_shape(folder, canary):
    shape = numpy_helper.from_array(np.array([1 << 40, 1 << 20], dtype=np.int64), "shape")
    nodes = [
        helper.make_node("ConstantOfShape", ["shape"], ["c"], name="fill"),
        helper.make_node("Range", ["zero", "big", "one"], ["r"], name="range"),
    ]
    inits = [shape] + [numpy_helper.from_array(np.array(v, dtype=np.int64), n) for n, v in (("zero", 0), ("big", 1 << 61), ("one", 1))]
    return [_save(_model(nodes, [], [_vi("c", None), _vi("r", None, I64)], inits), folder)], "ok"


@case()
def case_broadcast_bomb(folder, canary):
    """(4096, 1) + (1, 4096): folding the constants would make 16M elements."""
    a = numpy_helper.from_array(np.ones((4096, 1), np.float32), "a")
    b = numpy_helper.from_array(np.ones((1, 4096), np.float32), "b")
    nodes = [helper.make_node("Add", ["a", "b"], ["c"], name="add"), helper.make_node("Mul", ["c", "c"], ["d"], name="mul")]
    return [_save(_model(nodes, [], [_vi("d", None)], [a, b]), folder)], "ok"


@case()
def case_concat_bomb(folder, canary):
    """One 4096-element constant concatenated with itself 20,000 times (80M elements if folded)."""
    c = numpy_helper.from_array(np.ones(4096, np.int64), "c")
    nodes = [helper.make_node("Concat", ["c"] * 20_000, ["y"], name="cat", axis=0)]
    return [_save(_model(nodes, [], [_vi("y", None, I64)], [c]), folder)], "ok"


@case(expected_note="constant propagation stopped")
def case_value_chain_bomb(folder, canary):
    """5,000 Adds on a 4096-element constant: keeping every folded value would take 20M elements."""
    c = numpy_helper.from_array(np.ones(4096, np.int64), "v0")
    nodes = [helper.make_node("Add", [f"v{i}", "v0"], [f"v{i + 1}"], name=f"add{i}") for i in range(5000)]
    return [_save(_model(nodes, [], [_vi("v5000", None, I64)], [c]), folder)], "ok-with-note"


@case()
def case_huge_rank(folder, canary):
    """A rank-100,000 input flowing through 200 ops, each of which reads it 50 times."""
    nodes = [helper.make_node("Sum", ["x"] * 50, [f"s{i}"], name=f"sum{i}") for i in range(200)]
    nodes.append(helper.make_node("Shape", ["x"], ["shape"], name="shape"))
    m = _model(nodes, [_vi("x", [1] * 100_000)], [_vi("s0", None), _vi("shape", None, I64)])
    return [_save(m, folder)], "ok"


@case()
def case_symbolic_expression_explosion(folder, canary):
    """Concat(x, x) on a symbolic axis, 64 times: the size expression would double each step."""
    nodes = []
    prev = "x"
    for i in range(64):
        nodes.append(helper.make_node("Concat", [prev, prev], [f"c{i}"], name=f"cat{i}", axis=0))
        prev = f"c{i}"
    return [_save(_model(nodes, [_vi("x", ["N", 2])], [_vi(prev, None)]), folder)], "ok"


@case(expected_note="DT001")
def case_huge_kernels(folder, canary):
    """100 convs whose weights declare a 65536-wide kernel (and carry no data)."""
    w = TensorProto(name="W", data_type=F, dims=[1, 1, 65536, 1])
    nodes = [helper.make_node("Conv", ["x", "W"], [f"y{i}"], name=f"conv{i}", pads=[65535, 0, 65535, 0]) for i in range(100)]
    m = _model(nodes, [_vi("x", [1, 1, 2, 1])], [_vi(f"y{i}", None) for i in range(100)], [w])
    return [_save(m, folder)], "ok-with-note"


@case()
def case_conv_chain_on_tiny_map(folder, canary):
    """1,500 3x3 pad-1 convs on a 1x1 map: each has dead taps, and each finding names the
    op that made the map small; walking up from each conv must not be quadratic."""
    w = _w("W", (1, 1, 3, 3))
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["t0"], name="pool")]
    for i in range(1500):
        nodes.append(helper.make_node("Conv", [f"t{i}", "W"], [f"t{i + 1}"], name=f"conv{i}", pads=[1, 1, 1, 1]))
    m = _model(nodes, [_vi("x", [1, 1, 8, 8])], [_vi("t1500", None)], [w])
    return [_save(m, folder)], "ok"


@case()
def case_deep_if_30(folder, canary):
    return [_save(raw_deep_if_model(30), folder)], "ok"


# --- output injection ------------------------------------------------------------------------


@case()
def case_injection_names(folder, canary):
    return [_save(evil_model(), folder)], "ok"


@case()
def case_invalid_utf8_names(folder, canary):
    """Names that are not UTF-8 (protobuf hands them over as bytes)."""
    m = pooled_conv()
    data = m.SerializeToString()
    data = data.replace(b"\x1a\x04conv", b"\x1a\x04\xff\x1b\xfe\x80")  # NodeProto.name is field 3
    data = data.replace(b"\x1a\x04pool", b"\x1a\x04\xc3\x28\x1b\x07")
    return [_save(data, folder)], "ok"


@case()
def case_invalid_utf8_tensor_names(folder, canary):
    m = pooled_conv()
    data = m.SerializeToString().replace(b"\x0a\x01p", b"\x0a\x01\xff").replace(b"\x12\x01p", b"\x12\x01\xff")
    return [_save(data, folder)], "ok"


def all_files(built: dict) -> list:
    """Every input file of the built cases (for before/after comparisons)."""
    out = []
    for files, _ in built.values():
        for f in files:
            if os.path.lexists(f) and stat.S_ISREG(os.lstat(f).st_mode):
                out.append(Path(f))
    return out
