"""analyzer.io.load: every LoadError kind, and external data that is validated but not read."""
from __future__ import annotations

import copy
import os
import pathlib
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import analyzer
from analyzer.io.load import MAX_VALUE_ELEMENTS, LoadError, load

DATA_NAME = "model.onnx.data"
ROOT = pathlib.Path(__file__).resolve().parent.parent


# --- models ---------------------------------------------------------------------------


def _model(weight_elements_out=64, shape_external=False):
    """GlobalAveragePool -> Reshape (shape from an initializer) -> Conv with a big weight.

    The weight (64 x 32 x 7 x 7 = 100,352 floats) is bigger than anything analysis
    materializes; the Reshape shape is a small tensor analysis must read.
    """
    rng = np.random.default_rng(0)
    w = rng.standard_normal((weight_elements_out, 32, 7, 7)).astype(np.float32)
    assert w.size > MAX_VALUE_ELEMENTS
    shape = np.array([1, 32, 1, 1], dtype=np.int64)
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"),
        helper.make_node("Reshape", ["p", "shape"], ["r"], name="reshape"),
        helper.make_node("Conv", ["r", "W"], ["y"], name="conv", kernel_shape=[7, 7], pads=[3, 3, 3, 3]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32, 9, 9])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(w, "W"), numpy_helper.from_array(shape, "shape")],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def _save_external(model, folder, size_threshold=1024):
    """Save with the weights in ``folder/model.onnx.data``; returns the model path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    onnx.save_model(
        copy.deepcopy(model),
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=DATA_NAME,
        size_threshold=size_threshold,
    )
    assert (folder / DATA_NAME).exists()
    return path


def _edit_external(path, edit):
    """Rewrite the external-data entries of tensor W in the model file (data untouched)."""
    m = onnx.load(str(path), load_external_data=False)
    (w,) = [t for t in m.graph.initializer if t.name == "W"]
    assert w.data_location == TensorProto.EXTERNAL
    entries = {e.key: e.value for e in w.external_data}
    edit(entries)
    del w.external_data[:]
    for k, v in entries.items():
        e = w.external_data.add()
        e.key, e.value = k, v
    path.write_bytes(m.SerializeToString())


def _kind(path):
    with pytest.raises(LoadError) as info:
        load(path)
    err = info.value
    assert err.path == str(path)
    assert err.message and "\n" not in err.message
    assert str(path) in str(err)
    return err


@pytest.fixture
def model_bytes():
    return _model().SerializeToString()


# --- errors about the file itself -------------------------------------------------------


def test_not_found(tmp_path):
    assert _kind(tmp_path / "missing.onnx").kind == "not-found"


def test_directory_is_not_a_file(tmp_path):
    (tmp_path / "dir.onnx").mkdir()
    assert _kind(tmp_path / "dir.onnx").kind == "not-a-file"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_is_not_a_file(tmp_path):
    os.mkfifo(tmp_path / "fifo.onnx")
    assert _kind(tmp_path / "fifo.onnx").kind == "not-a-file"  # and it must not block reading it


def test_empty(tmp_path):
    p = tmp_path / "empty.onnx"
    p.write_bytes(b"")
    assert _kind(p).kind == "empty"


def test_size_limit(tmp_path, model_bytes):
    p = tmp_path / "m.onnx"
    p.write_bytes(model_bytes)
    with pytest.raises(LoadError) as info:
        load(p, max_bytes=1000)
    assert info.value.kind == "too-large"


@pytest.mark.parametrize(
    "content, hint",
    [
        (b"hello, this is a README, not a model\n", "text"),
        (
            b"version https://git-lfs.github.com/spec/v1\n"
            b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
            b"size 12345\n",
            "LFS",
        ),
    ],
    ids=["text", "lfs-pointer"],
)
def test_text_is_not_onnx(tmp_path, content, hint):
    p = tmp_path / "m.onnx"
    p.write_bytes(content)
    err = _kind(p)
    assert err.kind == "not-onnx"
    assert hint.lower() in err.message.lower()


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 20, 55])
def test_random_bytes_are_not_onnx(tmp_path, seed):
    p = tmp_path / "m.onnx"
    p.write_bytes(np.random.default_rng(seed).bytes(4096))
    assert _kind(p).kind == "not-onnx"


def test_unknown_huge_field_number_is_not_onnx_rather_than_truncated(tmp_path):
    # field 5182, wire type 2, length 12735: a field number ModelProto can never have
    # (the scanner's own limit is 64), so this is garbage, not a cut-off model.
    p = tmp_path / "m.onnx"
    p.write_bytes(bytes.fromhex("f2c302bf63") + b"\x00" * 100)
    assert _kind(p).kind == "not-onnx"


def test_serialized_graph_is_not_onnx(tmp_path):
    p = tmp_path / "m.onnx"
    p.write_bytes(_model().graph.SerializeToString())
    assert _kind(p).kind == "not-onnx"


def test_serialized_tensor_is_not_onnx(tmp_path):
    p = tmp_path / "m.onnx"
    p.write_bytes(numpy_helper.from_array(np.arange(100, dtype=np.float32), "t").SerializeToString())
    assert _kind(p).kind == "not-onnx"


@pytest.mark.parametrize("fraction", [0.02, 0.25, 0.5, 0.9, 0.999])
def test_truncated(tmp_path, model_bytes, fraction):
    cut = max(1, int(len(model_bytes) * fraction))
    p = tmp_path / "m.onnx"
    p.write_bytes(model_bytes[:cut])
    err = _kind(p)
    assert err.kind == "truncated", err


def test_truncated_by_one_byte(tmp_path, model_bytes):
    p = tmp_path / "m.onnx"
    p.write_bytes(model_bytes[:-1])
    assert _kind(p).kind == "truncated"


def test_truncated_sample_model(tmp_path):
    data = (ROOT / "sample_models" / "drln_attention_legacy.onnx").read_bytes()
    for cut in (len(data) // 3, len(data) // 2, len(data) - 7):
        p = tmp_path / f"cut{cut}.onnx"
        p.write_bytes(data[:cut])
        assert _kind(p).kind == "truncated"


def test_cut_at_a_field_boundary_after_the_graph(tmp_path):
    # The graph is complete but opset_import (the last field) is gone: a model
    # without opset_import is not valid ONNX (IR >= 3), so this cut must not pass
    # as a clean model.
    from analyzer.io.protoscan import scan_model_fields

    data = (ROOT / "sample_models" / "drln_attention_legacy.onnx").read_bytes()
    (graph_end,) = [end for number, _, end in scan_model_fields(data) if number == 7]
    assert graph_end < len(data)
    p = tmp_path / "cut.onnx"
    p.write_bytes(data[:graph_end])
    assert _kind(p).kind in ("truncated", "not-onnx")


def test_unsupported_ir_version(tmp_path):
    m = _model()
    m.ir_version = onnx.IR_VERSION + 100
    p = tmp_path / "m.onnx"
    p.write_bytes(m.SerializeToString())
    err = _kind(p)
    assert err.kind == "unsupported"
    assert str(onnx.IR_VERSION + 100) in err.message


def test_missing_ir_version_is_not_onnx(tmp_path):
    m = _model()
    m.ClearField("ir_version")
    p = tmp_path / "m.onnx"
    p.write_bytes(m.SerializeToString())
    assert _kind(p).kind == "not-onnx"


def test_from_proto_rejects_other_objects():
    from analyzer.io.load import from_proto

    with pytest.raises(LoadError) as info:
        from_proto(_model().graph)
    assert info.value.kind == "not-onnx"


def test_newer_opset_is_a_note_not_an_error(tmp_path):
    m = _model()
    del m.opset_import[:]
    m.opset_import.append(helper.make_opsetid("", onnx.defs.onnx_opset_version() + 5))
    p = tmp_path / "m.onnx"
    p.write_bytes(m.SerializeToString())
    loaded = load(p)
    assert any("opset" in n for n in loaded.notes)


# --- external data ------------------------------------------------------------------------


def test_external_data_normal_case(tmp_path):
    path = _save_external(_model(), tmp_path / "m")
    data = tmp_path / "m" / DATA_NAME
    loaded = load(path)
    refs = list(loaded.external.values())
    assert len(refs) == 1  # only W is above the size threshold
    (ref,) = refs
    assert os.path.realpath(ref.path) == os.path.realpath(data)
    assert ref.length == 64 * 32 * 7 * 7 * 4
    assert 0 <= ref.offset and ref.offset + ref.length <= data.stat().st_size
    # onnx agrees on where the bytes are
    m = onnx.load(str(path), load_external_data=False)
    (w,) = [t for t in m.graph.initializer if t.name == "W"]
    info = {e.key: e.value for e in w.external_data}
    assert int(info.get("offset", 0)) == ref.offset and int(info["length"]) == ref.length


_opened: list = []
_watching: list = []


def _audit(event, args):
    if event == "open" and _watching and args and isinstance(args[0], (str, bytes, os.PathLike)):
        _opened.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)


def _weight_readers():
    """Rules that read weight values (``READS_WEIGHTS``, within their budgets): the others
    must cost the graph only, which is what these tests hold."""
    from analyzer.linter.registry import all_rules

    return [r.CODE for r in all_rules() if getattr(r, "READS_WEIGHTS", False)]


def test_external_data_lint_does_not_read_big_weights(tmp_path):
    path = _save_external(_model(), tmp_path / "m")
    data = str(tmp_path / "m" / DATA_NAME)
    analyzer.lint(_save_external(_model(), tmp_path / "warm"))  # imports happen outside the watch
    _opened.clear()
    _watching.append(1)
    try:
        report = analyzer.lint(path, ignore=_weight_readers())
    finally:
        _watching.clear()
    (fr,) = report.files
    assert fr.status == "ok", fr.error
    # The 7x7 conv on the pooled 1x1 map: everything but the centre tap is dead.
    (f,) = [f for f in fr.findings if f.rule == "DT001"]
    assert f.details["weight"] == "W"
    assert f.details["live_taps"] == [[3, 3]]
    assert f.details["dead_weights"] == 64 * 32 * 48
    assert not [p for p in _opened if os.path.basename(p) == DATA_NAME], _opened


def _rchar():
    with open("/proc/self/io") as f:
        for line in f:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise AssertionError("no rchar")


@pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="needs /proc/self/io")
def test_external_small_tensor_is_read_and_big_one_is_not(tmp_path):
    # size_threshold=0: the Reshape shape (4 int64) lives in the data file too.
    path = _save_external(_model(), tmp_path / "m", size_threshold=0)
    big = 64 * 32 * 7 * 7 * 4
    m = onnx.load(str(path), load_external_data=False)
    assert all(t.data_location == TensorProto.EXTERNAL for t in m.graph.initializer)
    analyzer.lint(_save_external(_model(), tmp_path / "warm", size_threshold=0))
    before = _rchar()
    model = analyzer.analyze(path)
    report = analyzer.lint(path, ignore=_weight_readers())
    read = _rchar() - before
    assert read < big // 4, f"{read} bytes read; the big weight is {big}"
    # the small external tensor was read: the Reshape output has its shape
    assert model.shape(model.graph.main_value("r")) == (1, 32, 1, 1)
    assert model.constant(model.graph.main_value("shape")).tolist() == [1, 32, 1, 1]
    assert [f.details["live_taps"] for f in report.findings if f.rule == "DT001"] == [[[3, 3]]]


def _external_error(path, kind="external-data"):
    err = _kind(path)
    assert err.kind == kind, err
    assert "'W'" in err.message
    return err


def test_external_absolute_location(tmp_path):
    path = _save_external(_model(), tmp_path / "m")
    absolute = str((tmp_path / "m" / DATA_NAME).resolve())
    _edit_external(path, lambda e: e.update(location=absolute))
    assert "absolute" in _external_error(path, "external-data-outside-folder").message


def test_external_location_with_dotdot(tmp_path):
    path = _save_external(_model(), tmp_path / "m")
    (tmp_path / DATA_NAME).write_bytes((tmp_path / "m" / DATA_NAME).read_bytes())  # it exists out there
    _edit_external(path, lambda e: e.update(location="../" + DATA_NAME))
    _external_error(path, "external-data-outside-folder")


def test_external_location_with_dotdot_inside(tmp_path):
    path = _save_external(_model(), tmp_path / "m")
    (tmp_path / "m" / "sub").mkdir()
    # sub/../model.onnx.data resolves inside the folder, but ".." is refused on principle
    _edit_external(path, lambda e: e.update(location="sub/../" + DATA_NAME))
    _external_error(path, "external-data-outside-folder")


def test_external_symlink_pointing_outside(tmp_path):
    path = _save_external(_model(), tmp_path / "m")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.bin").write_bytes((tmp_path / "m" / DATA_NAME).read_bytes())
    os.symlink(outside / "secret.bin", tmp_path / "m" / "link.data")
    _edit_external(path, lambda e: e.update(location="link.data"))
    assert "outside" in _external_error(path, "external-data-outside-folder").message


def test_external_symlink_inside_folder_is_fine(tmp_path):
    path = _save_external(_model(), tmp_path / "m")
    os.symlink(tmp_path / "m" / DATA_NAME, tmp_path / "m" / "alias.data")
    _edit_external(path, lambda e: e.update(location="alias.data"))
    assert len(load(path).external) == 1


def test_external_range_beyond_file(tmp_path):
    path = _save_external(_model(), tmp_path / "m")
    size = (tmp_path / "m" / DATA_NAME).stat().st_size
    _edit_external(path, lambda e: e.update(offset=str(size - 16)))
    _external_error(path)


def test_external_length_beyond_file(tmp_path):
    path = _save_external(_model(), tmp_path / "m")
    size = (tmp_path / "m" / DATA_NAME).stat().st_size
    _edit_external(path, lambda e: e.update(offset="0", length=str(size + 4)))
    _external_error(path)


def test_external_data_file_shorter_than_the_tensor(tmp_path):
    path = _save_external(_model(), tmp_path / "m")
    data = tmp_path / "m" / DATA_NAME
    data.write_bytes(data.read_bytes()[:1000])
    _external_error(path)


def test_external_missing_data_file(tmp_path):
    path = _save_external(_model(), tmp_path / "m")
    (tmp_path / "m" / DATA_NAME).unlink()
    assert "not found" in _external_error(path).message


def test_external_unknown_key(tmp_path):
    path = _save_external(_model(), tmp_path / "m")
    _edit_external(path, lambda e: e.update(surprise="1"))
    assert "surprise" in _external_error(path).message


def test_external_data_without_a_folder():
    m = onnx.load_model_from_string(_model().SerializeToString())
    (w,) = [t for t in m.graph.initializer if t.name == "W"]
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    e = w.external_data.add()
    e.key, e.value = "location", DATA_NAME
    report = analyzer.lint(m)
    (fr,) = report.files
    assert fr.status == "error" and fr.error["kind"] == "external-data"


def test_cli_reports_external_data_error_as_one_line(tmp_path, capsys):
    from analyzer.cli import main

    path = _save_external(_model(), tmp_path / "m")
    _edit_external(path, lambda e: e.update(location="/etc/passwd"))
    assert main(["check", str(path)]) == 2
    out, err = capsys.readouterr()
    lines = [line for line in (out + err).splitlines() if str(path) in line]
    assert len(lines) == 1 and "external-data-outside-folder" in lines[0]
    assert "Traceback" not in out + err


# --- the node count taken while loading ------------------------------------------------


def _nested_model():
    """If inside Loop inside the main graph, two local functions (one defined twice)."""
    def body(name, inner_nodes):
        return helper.make_graph(inner_nodes, name, [], [helper.make_tensor_value_info("o", TensorProto.FLOAT, None)])

    then_g = body("then", [helper.make_node("Identity", ["x"], ["o"])])
    else_g = body("else", [helper.make_node("Neg", ["x"], ["t"]), helper.make_node("Relu", ["t"], ["o"])])
    loop_body = helper.make_graph(
        [helper.make_node("If", ["c"], ["o"], then_branch=then_g, else_branch=else_g), helper.make_node("Identity", ["c"], ["c_out"])],
        "loop_body",
        [helper.make_tensor_value_info(n, t, s) for n, t, s in (("i", TensorProto.INT64, []), ("c", TensorProto.BOOL, []))],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []), helper.make_tensor_value_info("o", TensorProto.FLOAT, None)],
    )
    nodes = [
        helper.make_node("Loop", ["n", "cond"], ["scan"], body=loop_body),
        helper.make_node("Twice", ["x"], ["y"], domain="local"),
    ]
    fn = helper.make_function("local", "Twice", ["a"], ["b"], [helper.make_node("Relu", ["a"], ["h"]), helper.make_node("Relu", ["h"], ["b"])],
                              [helper.make_opsetid("", 17)])
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2]), helper.make_tensor_value_info("n", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None), helper.make_tensor_value_info("scan", TensorProto.FLOAT, None)],
    )
    return helper.make_model(graph, functions=[fn, fn], opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("local", 1)])


def test_node_count_taken_while_loading_matches_a_separate_count(tmp_path):
    from analyzer.linter.runner import count_nodes

    path = tmp_path / "nested.onnx"
    onnx.save(_nested_model(), path)
    loaded = load(path)
    # 2 main + 2 loop body + 1 then + 2 else + 2 x 2 function nodes
    assert loaded.node_count == count_nodes(loaded.model) == 11
    for sample in sorted((ROOT / "sample_models").glob("*.onnx")):
        loaded = load(sample)
        assert loaded.node_count == count_nodes(loaded.model) == len(onnx.load(sample).graph.node), sample.name
    # the report's stats carry it
    assert analyzer.lint(str(path)).files[0].stats["nodes"] == 11


def test_iter_tensors_finds_every_tensor_past_nodes_without_attributes():
    """iter_tensors passes over nodes without attributes in C: tensors held by attributes
    of nodes between them, in bodies and in function nodes must all still be found, in
    the same order as when every node was visited."""
    from analyzer.io.tensors import iter_tensors

    def const(name, value):
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.array([value], np.float32), name + "_t"))

    m = _nested_model()
    g = m.graph
    g.node.insert(0, const("k0", 1.0))
    g.node.append(helper.make_node("Relu", ["y"], ["y2"]))
    g.node.append(const("k1", 2.0))
    body = next(a for a in g.node[1].attribute if a.name == "body").g
    body.node.insert(1, const("k2", 3.0))
    m.functions[0].node.insert(1, const("k3", 4.0))
    g.initializer.append(numpy_helper.from_array(np.zeros(2, np.float32), "w"))

    count = [0]
    found = [t.name for t in iter_tensors(m, count)]
    assert sorted(found) == sorted(["w", "k0_t", "k1_t", "k2_t", "k3_t"])
    # the main graph's initializers, the functions' nodes, then the main graph's nodes last
    # first, a body's tensors before the nodes ahead of the node holding it
    assert found == ["w", "k3_t", "k1_t", "k2_t", "k0_t"]
    assert count[0] == 11 + 3 + 1 + 1  # added: two Constants and a Relu in main, one in the body, one in a function


def test_lazy_field_walk_with_only_still_checks_the_fields_it_passes_over():
    from analyzer.io.lazy import _fields, _Malformed

    data = b"\x0a\x03abc" + b"\x2a\x02xy" + b"\x08\x07" + b"\x0a\x01z"  # node, initializer, varint 1, node
    assert [f[:2] for f in _fields(data, 0, len(data))] == [(1, 2), (5, 2), (1, 0), (1, 2)]
    assert list(_fields(data, 0, len(data), 5)) == [(5, 2, 5, 7, 9)]
    cut = data + b"\x0a\x09short"  # a node field running past the end of the graph
    with pytest.raises(_Malformed):
        list(_fields(cut, 0, len(cut), 5))
