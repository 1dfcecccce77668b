"""Lazy weights (issue 8): the graph is read without weight payloads, and what we
read equals what onnx.load reads, field by field, on every model we can build
or find; values are fetched on demand and equal onnx's."""
import glob
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from analyzer.io.lazy import LAZY_MIN_BYTES, reduce_model
from analyzer.io.load import LoadError, load, read_tensor
from tests.wire import length_delimited

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ONNX_DATA = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")


def corpus():
    files = sorted(glob.glob(os.path.join(ROOT, "sample_models", "*.onnx")))
    for s in ("light", "real", "simple", "pytorch-converted", "pytorch-operator"):
        files += sorted(glob.glob(os.path.join(ONNX_DATA, s, "**", "*.onnx"), recursive=True))
    return files


def restored(loaded):
    """Our model with the lazily skipped payloads put back, to compare with onnx.load."""
    m = onnx.ModelProto()
    m.CopyFrom(loaded.model)
    for t in m.graph.initializer:
        if t.name in loaded.lazy:
            arr = read_tensor(loaded, t, max_elements=None)
            assert arr is not None, t.name
            kind = loaded.lazy[t.name].field
            if kind == "raw_data":
                t.raw_data = arr.tobytes()
            elif kind == "float_data":
                t.float_data.extend(arr.reshape(-1).view(np.float32).tolist())
            else:
                t.double_data.extend(arr.reshape(-1).view(np.float64).tolist())
    return m


def assert_same_as_onnx(path):
    ours = load(path)
    theirs = onnx.load(path, load_external_data=False)
    # every field except the skipped payloads is read as onnx reads it
    assert ours.model.ir_version == theirs.ir_version
    assert list(ours.model.opset_import) == list(theirs.opset_import)
    assert list(ours.model.metadata_props) == list(theirs.metadata_props)
    assert list(ours.model.functions) == list(theirs.functions)
    g, h = ours.model.graph, theirs.graph
    assert list(g.node) == list(h.node)
    assert list(g.input) == list(h.input) and list(g.output) == list(h.output)
    assert list(g.value_info) == list(h.value_info)
    assert list(g.sparse_initializer) == list(h.sparse_initializer)
    assert [(t.name, list(t.dims), t.data_type) for t in g.initializer] == [(t.name, list(t.dims), t.data_type) for t in h.initializer]
    # and with the payloads put back, the whole model is onnx's
    assert restored(ours) == theirs
    return ours


@pytest.mark.parametrize("path", corpus(), ids=lambda p: os.path.relpath(p, ROOT if p.startswith(ROOT) else ONNX_DATA))
def test_lazy_load_reads_what_onnx_reads(path):
    assert_same_as_onnx(path)


def test_big_payloads_are_skipped_and_fetched_on_demand(tmp_path):
    rng = np.random.default_rng(0)
    big = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
    small = np.arange(4, dtype=np.int64)
    dbl = rng.standard_normal((40, 40)).astype(np.float64)
    t_big = numpy_helper.from_array(big, "big")  # raw_data
    t_float = helper.make_tensor("as_float_data", TensorProto.FLOAT, [32, 64], rng.standard_normal(2048).astype(np.float32).tolist())
    t_dbl = helper.make_tensor("as_double_data", TensorProto.DOUBLE, [40, 40], dbl.reshape(-1).tolist())
    t_small = numpy_helper.from_array(small, "shape")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [helper.make_node("Conv", ["x", "big"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Reshape", ["c", "shape"], ["y"])]
    m = helper.make_model(helper.make_graph(nodes, "g", [x], [y], [t_big, t_float, t_dbl, t_small]), opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "m.onnx"
    onnx.save(m, path)
    loaded = assert_same_as_onnx(str(path))
    assert set(loaded.lazy) == {"big", "as_float_data", "as_double_data"}  # the small one stays inline
    inits = {t.name: t for t in loaded.model.graph.initializer}
    assert inits["big"].raw_data == b"" and len(inits["as_float_data"].float_data) == 0
    assert inits["shape"].raw_data != b""
    np.testing.assert_array_equal(read_tensor(loaded, inits["big"], max_elements=None), big)
    np.testing.assert_array_equal(read_tensor(loaded, inits["as_double_data"], max_elements=None), dbl)
    # analysis still resolves the Reshape target (small constant) and lints
    import analyzer

    r = analyzer.lint(str(path))
    assert r.files[0].status == "ok"


def test_reduce_model_leaves_small_models_alone():
    data = open(os.path.join(ROOT, "sample_models", "rcan_attention_legacy.onnx"), "rb").read()
    got = reduce_model(data)
    # every initializer of this tiny model is below the threshold
    m = onnx.load_from_string(data)
    if all(len(t.raw_data) < LAZY_MIN_BYTES for t in m.graph.initializer):
        assert got is None


def test_lazy_load_of_external_data_model_reads_no_payload(tmp_path):
    m = onnx.load(os.path.join(ROOT, "sample_models", "drln_attention_legacy.onnx"))
    onnx.save_model(m, tmp_path / "m.onnx", save_as_external_data=True, location="m.onnx.data", size_threshold=0)
    loaded = assert_same_as_onnx(str(tmp_path / "m.onnx"))
    assert loaded.external  # references validated, values not read
    import analyzer

    assert len(analyzer.lint(str(tmp_path / "m.onnx")).findings) == 5


@pytest.mark.parametrize("cut", [0.3, 0.5, 0.9, 0.999])
def test_truncated_big_model_still_refused(tmp_path, cut):
    rng = np.random.default_rng(1)
    t = numpy_helper.from_array(rng.standard_normal((256, 256)).astype(np.float32), "w")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 256])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    m = helper.make_model(helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g", [x], [y], [t]), opset_imports=[helper.make_opsetid("", 17)])
    data = m.SerializeToString()
    p = tmp_path / "m.onnx"
    p.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(LoadError) as e:
        load(p)
    assert e.value.kind in ("truncated", "not-onnx")


def test_big_file_is_read_only_around_field_headers(tmp_path, monkeypatch):
    """A file of LAZY_FILE_MIN bytes or more is neither read whole nor memory-mapped
    (touching a mapped header maps the page-cache folio around it): only windows
    around field headers are read with os.pread, and payloads when asked for."""
    import mmap

    from analyzer.io import protoscan
    from analyzer.io.load import LAZY_FILE_MIN

    rng = np.random.default_rng(2)
    inits, nodes = [], []
    for i in range(40):
        inits.append(numpy_helper.from_array(rng.standard_normal((16, 16, 3, 3)).astype(np.float32) if i % 2 else rng.standard_normal((64, 64, 3, 3)).astype(np.float32), f"w{i}"))
        inits.append(numpy_helper.from_array(np.arange(4, dtype=np.int64) + i, f"small{i}"))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [helper.make_node("Conv", ["x", "w0"], ["y"], pads=[1, 1, 1, 1])]
    m = helper.make_model(helper.make_graph(nodes, "g", [x], [y], inits), opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "m.onnx"
    onnx.save(m, path)
    size = os.path.getsize(path)
    assert size >= LAZY_FILE_MIN
    read = []
    real_pread = os.pread

    def counting_pread(fd, n, offset):
        got = real_pread(fd, n, offset)
        read.append(len(got))
        return got

    def no_mmap(*a, **k):
        raise AssertionError("the model file must not be memory-mapped")

    monkeypatch.setattr(protoscan.os, "pread", counting_pread)
    monkeypatch.setattr(mmap, "mmap", no_mmap)
    loaded = assert_same_as_onnx(str(path))  # restores every payload: reads them all
    assert len(loaded.lazy) == 40
    read.clear()
    loaded = load(str(path))
    assert sum(read) < size // 10, (sum(read), size)
    inits = {t.name: t for t in loaded.model.graph.initializer}
    np.testing.assert_array_equal(read_tensor(loaded, inits["w1"], max_elements=None), numpy_helper.to_array(m.graph.initializer[2]))
    assert analyzer_lint_ok(str(path))


def analyzer_lint_ok(path):
    import analyzer

    return analyzer.lint(path).files[0].status == "ok"


# --- headers the reduction drops or rewrites must be ones protobuf accepts ---------------------


def _odd_model(where, key_width=0, len_width=0, extra=b""):
    """A model of over 1 MiB whose big weight is serialized by hand, with the key and
    length of one header the reduction drops or rewrites encoded in ``*_width`` bytes:
    the model's graph field, the big initializer's field in the graph, or its payload
    (``raw_data``, or packed ``float_data`` with ``extra`` bytes appended)."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal((128, 64, 32)).astype(np.float32)  # 1 MiB

    def widths(level):
        return (key_width, len_width) if level == where else (0, 0)

    tensor = TensorProto(name="w", dims=w.shape, data_type=TensorProto.FLOAT).SerializeToString()
    if where == "float_data":
        tensor += length_delimited(4, w.tobytes() + extra, *widths("float_data"))
    else:
        tensor += length_delimited(9, w.tobytes(), *widths("raw_data"))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 128, 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "g", [x], [y])
    graph_bytes = graph.SerializeToString() + length_delimited(5, tensor, *widths("initializer"))
    model = helper.make_model(onnx.GraphProto(), opset_imports=[helper.make_opsetid("", 17)])
    model.ClearField("graph")
    return model.SerializeToString() + length_delimited(7, graph_bytes, *widths("graph"))


@pytest.mark.parametrize(
    "where, key_width, len_width, extra",
    [
        ("raw_data", 0, 8, b""),  # found by tests/test_lazy_window_fuzz.py (on W_1x1's raw_data)
        ("raw_data", 0, 6, b""),
        ("raw_data", 6, 0, b""),
        ("raw_data", 0, 5, b""),  # over-long but within protobuf's limit: read as onnx reads it
        ("raw_data", 2, 4, b""),
        ("float_data", 0, 10, b""),
        ("float_data", 0, 0, b"\x00\x00"),  # not a whole number of floats
        ("initializer", 7, 0, b""),
        ("initializer", 0, 9, b""),
        ("initializer", 3, 5, b""),
        ("graph", 0, 6, b""),
        ("graph", 6, 0, b""),
        ("graph", 0, 5, b""),
    ],
)
@pytest.mark.parametrize("whole", [False, True], ids=["windowed", "whole"])
def test_odd_headers_around_a_payload_read_as_onnx_reads_them(tmp_path, monkeypatch, where, key_width, len_width, extra, whole):
    """Cutting a payload out drops its header and rewrites the headers of its
    initializer and graph.  A header protobuf refuses (a key or a length over 5
    bytes; packed floats of a length that is no multiple of 4) used to vanish with
    the cut, so a file onnx cannot parse was linted as a sound model; such a field
    is now left to protobuf: the file is "corrupt", as for onnx.  Over-long headers
    protobuf accepts give onnx's model."""
    import analyzer.io.load

    if whole:
        monkeypatch.setattr(analyzer.io.load, "LAZY_FILE_MIN", 1 << 62)
    data = _odd_model(where, key_width, len_width, extra)
    path = tmp_path / "m.onnx"
    path.write_bytes(data)
    assert len(data) >= (1 << 20)
    try:
        onnx.load_from_string(data)
        refused = False
    except Exception:
        refused = True
    assert refused == (key_width > 5 or len_width > 5 or bool(extra))
    if refused:
        with pytest.raises(LoadError) as e:
            load(path)
        assert e.value.kind == "corrupt", e.value
    else:
        assert_same_as_onnx(str(path))


@pytest.mark.parametrize("whole", [False, True], ids=["windowed", "whole"])
def test_initializer_named_in_invalid_utf8_keeps_its_payload(tmp_path, monkeypatch, whole):
    """protobuf gives a name that is not UTF-8 as bytes, so a payload cut out under a
    decoded str name could never be found again: the tensor lost its values (found by
    tests/test_lazy_window_fuzz.py: the first byte of W_1x1's name set to 0x80).  Such
    a tensor stays inline, as onnx reads it."""
    import analyzer.io.load

    if whole:
        monkeypatch.setattr(analyzer.io.load, "LAZY_FILE_MIN", 1 << 62)
    w = np.arange(1 << 18, dtype=np.float32).reshape(512, 512)  # 1 MiB
    tensor = TensorProto(dims=w.shape, data_type=TensorProto.FLOAT).SerializeToString() + length_delimited(8, b"w\xff") + length_delimited(9, w.tobytes())
    ok = numpy_helper.from_array(np.ones((64, 64), np.float32), "fine").SerializeToString()
    graph = helper.make_graph([], "g", [], []).SerializeToString() + length_delimited(5, tensor) + length_delimited(5, ok)
    model = helper.make_model(onnx.GraphProto(), opset_imports=[helper.make_opsetid("", 17)])
    model.ClearField("graph")
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString() + length_delimited(7, graph))
    loaded = assert_same_as_onnx(str(path))
    assert set(loaded.lazy) == {"fine"}  # the well-named one is still cut out
    bad = loaded.model.graph.initializer[0]
    assert bad.name == b"w\xff"
    np.testing.assert_array_equal(read_tensor(loaded, bad, max_elements=None), w)


@pytest.mark.parametrize("other", ["initializer", "subgraph", "constant"])
@pytest.mark.parametrize("whole", [False, True], ids=["windowed", "whole"])
def test_payload_name_shared_with_another_tensor(tmp_path, monkeypatch, other, whole):
    """read_tensor finds a payload left in the file by its tensor's name.  Another
    tensor of that name without raw/float/double data (a repeated initializer -- the
    one analysis uses, as onnxruntime does --, a subgraph's initializer, a Constant's
    value) was given the cut tensor's bytes: 2048 int64 read from 2048 doubles.
    Such a model is now parsed whole, and every tensor reads as from onnx's model.
    (Seen while checking tests/test_lazy_window_fuzz.py's comparison with the full
    parse on a fuzzed file with a repeated initializer.)"""
    import analyzer.io.load
    from analyzer.io.load import iter_tensors

    if whole:
        monkeypatch.setattr(analyzer.io.load, "LAZY_FILE_MIN", 1 << 62)
    big = numpy_helper.from_array(np.full(2048, 1.5), "w")  # 16 KB of doubles, cut out
    same_size = helper.make_tensor("w", TensorProto.INT64, [2048], list(range(2048)))  # int64_data
    filler = numpy_helper.from_array(np.zeros((512, 512), np.float32), "filler")  # 1 MiB
    inits, nodes = [big, filler], []
    if other == "initializer":
        inits.append(same_size)
    elif other == "subgraph":
        then = helper.make_graph([helper.make_node("Identity", ["w"], ["t"])], "then", [], [helper.make_tensor_value_info("t", TensorProto.INT64, None)], [same_size])
        other_branch = helper.make_graph([helper.make_node("Identity", ["w"], ["e"])], "else", [], [helper.make_tensor_value_info("e", TensorProto.DOUBLE, None)])
        nodes.append(helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other_branch))
    else:
        nodes.append(helper.make_node("Constant", [], ["y"], value=same_size))
    c = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
    y = helper.make_tensor_value_info("y", TensorProto.INT64, None)
    m = helper.make_model(helper.make_graph(nodes, "g", [c], [y], inits), opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "m.onnx"
    onnx.save(m, path)
    loaded = assert_same_as_onnx(str(path))
    full = load(path, lazy=False)
    values = [(t.name, read_tensor(loaded, t, max_elements=None)) for t in iter_tensors(loaded.model)]
    expected = [(t.name, read_tensor(full, t, max_elements=None)) for t in iter_tensors(full.model)]
    assert len(values) == len(expected) == 3
    for (name, got), (_, want) in zip(values, expected):
        assert got.dtype == want.dtype, name
        np.testing.assert_array_equal(got, want)
    assert any(v.dtype == np.int64 and v[3] == 3 for _, v in values)
