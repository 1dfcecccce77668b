"""Start-up (issue 20, part 1): ``check`` runs without importing the onnx package.

``analyzer.io.proto`` loads onnx's generated message classes and its C extension (the
operator schemas) from the installed package's folder, without ``onnx/__init__.py`` (and
so without ml_dtypes).  These tests check, in fresh interpreters, that

* ``check`` on the sample models leaves neither ``onnx`` nor ``ml_dtypes`` imported;
* the shim and a later (or earlier) ``import onnx`` share one set of classes: messages
  built by either are instances of the other's classes, and the descriptor pool holds
  onnx-ml.proto once;
* if the layout is not the expected one, the shim falls back to ``import onnx``;
* ``check`` reports the same, byte for byte, with the shim and with onnx imported first
  (validity findings included, on models that break the validity rules);
* the helpers re-implemented for the shim (dtype table, tensor decoding, attribute values,
  opset versions) give what onnx's own give.

No test times anything (bench/startup.py does).
"""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import AttributeProto, TensorProto, helper, numpy_helper

from analyzer.io import proto
from analyzer.io.tensors import element_dtype, tensor_dtype_to_np_dtype, to_array

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = sorted(glob.glob(os.path.join(REPO, "sample_models", "*.onnx")))


def run_py(code, *args, timeout=600):
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc


# Runs `onnxlint check ARGS` in this interpreter, then prints which heavy modules it left imported.
CHECK_THEN_MODULES = (
    "import sys, json\n"
    "{pre}\n"
    "from analyzer.cli import main\n"
    "code = 0\n"
    "try:\n"
    "    code = main(sys.argv[1:])\n"
    "except SystemExit as e:\n"
    "    code = e.code\n"
    "sys.stdout.flush()\n"
    "sys.stderr.write('\\nMODULES=' + json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('onnx', 'ml_dtypes'))) + '\\n')\n"
    "sys.exit(code)\n"
)


def check_modules(args, pre=""):
    proc = run_py(CHECK_THEN_MODULES.format(pre=pre), "check", *args)
    line = [ln for ln in proc.stderr.splitlines() if ln.startswith("MODULES=")]
    assert line, proc.stderr[-2000:]
    return proc, set(json.loads(line[-1][len("MODULES="):]))


def test_samples_exist():
    assert len(SAMPLES) >= 5


@pytest.mark.parametrize("path", SAMPLES, ids=os.path.basename)
def test_check_does_not_import_onnx_package_or_ml_dtypes(path):
    proc, modules = check_modules(["--format", "json", path])
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    assert json.loads(proc.stdout)["files"][0]["status"] == "ok"
    assert "onnx" not in modules, sorted(modules)  # the package __init__ never ran
    assert "onnx.helper" not in modules and "onnx.defs" not in modules
    assert not any(m.startswith("ml_dtypes") for m in modules), sorted(modules)
    # what check does use: the generated classes, and the schema registry for validity rules
    assert "onnx.onnx_ml_pb2" in modules
    assert "onnx.onnx_cpp2py_export" in modules


def test_check_output_same_with_onnx_imported_first(tmp_path):
    """The whole report on every sample, with the shim and with onnx imported first."""
    out_shim = tmp_path / "shim.json"
    out_onnx = tmp_path / "onnx.json"
    p1, m1 = check_modules(["--format", "json", "--output", str(out_shim), *SAMPLES])
    p2, m2 = check_modules(["--format", "json", "--output", str(out_onnx), *SAMPLES], pre="import onnx")
    assert "onnx" not in m1 and "onnx" in m2 and "ml_dtypes" in m2
    assert p1.returncode == p2.returncode
    assert out_shim.read_bytes() == out_onnx.read_bytes()
    assert len(json.loads(out_shim.read_bytes())["files"]) == len(SAMPLES)


def _validity_models(folder):
    """Files breaking the validity rules (MV001-MV025), near-misses they must accept, and
    tensors stored in typed fields rather than raw bytes."""
    from tests.rules import _invalid_models as inv
    from tests.rules import _invalid_models_attrs as attrs

    paths = []

    def save(name, m):
        p = os.path.join(folder, name + ".onnx")
        with open(p, "wb") as f:
            f.write(m.SerializeToString())
        paths.append(p)

    for name, (build, _code, _truth) in inv.CASES.items():
        save("case-" + name, build())
    for name, build in inv.VALID.items():
        save("valid-" + name, build())
    T = TensorProto
    save("softmax-axis", attrs.unary("Softmax", {"axis": 5}))
    save("conv-attr-type", attrs.conv({"group": 1.5}))
    save("conv-ok", attrs.conv({"pads": [1, 1, 1, 1]}))
    save("relu-int-input", attrs.unary("Relu", dtype=T.STRING))
    save("payload-short", attrs.with_initializer(attrs.raw_tensor(raw_data=b"\0" * 5)))
    save("payload-typed", attrs.with_initializer(attrs.raw_tensor(float_data=[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])))
    save("payload-typed-int64", attrs.with_initializer(attrs.raw_tensor(dtype=T.INT64, int64_data=[1, 2, 3, 4, 5, 6]), T.INT64))
    save("payload-typed-fp16", attrs.with_initializer(attrs.raw_tensor(dtype=T.FLOAT16, int32_data=[15360] * 6), T.FLOAT16))
    save("constant-typed", attrs.with_constant(attrs.raw_tensor(dtype=T.INT32, int32_data=[1, 2, 3, 4, 5, 6]), T.INT32))
    save("payload-bfloat16", attrs.with_initializer(attrs.raw_tensor(dtype=T.BFLOAT16, raw_data=b"\0\x3f" * 6), T.BFLOAT16))
    return paths


def test_validity_findings_same_with_and_without_shim(tmp_path):
    paths = _validity_models(str(tmp_path))
    out_shim = tmp_path / "shim.json"
    out_onnx = tmp_path / "onnx.json"
    p1, _ = check_modules(["--format", "json", "--output", str(out_shim), *paths])
    p2, _ = check_modules(["--format", "json", "--output", str(out_onnx), *paths], pre="import onnx")
    assert p1.returncode == p2.returncode == 1
    assert out_shim.read_bytes() == out_onnx.read_bytes()
    report = json.loads(out_shim.read_bytes())
    codes = {f["rule"] for fr in report["files"] for f in fr.get("findings", [])}
    # the schema-based rules did run (they need onnx's operator registry)
    assert {"MV008", "MV020", "MV022", "MV023", "MV024"} <= codes, sorted(codes)


def test_shim_first_then_import_onnx_shares_classes():
    code = (
        "import sys\n"
        "from analyzer.io import proto\n"
        "assert proto.SHIMMED and 'onnx' not in sys.modules and 'ml_dtypes' not in sys.modules\n"
        "shim_model = proto.ModelProto(ir_version=8)\n"
        "shim_model.opset_import.add(domain='', version=17)\n"
        "node = shim_model.graph.node.add(op_type='Relu', input=['x'], output=['y'])\n"
        "pb2 = sys.modules['onnx.onnx_ml_pb2']\n"
        "assert 'onnx.onnx_cpp2py_export' not in sys.modules  # loaded on first schema use\n"
        "assert proto.has_schema('Relu', '') and proto.opset_version('') >= 17\n"
        "cpp = sys.modules['onnx.onnx_cpp2py_export']\n"
        "assert 'onnx' not in sys.modules and 'ml_dtypes' not in sys.modules\n"
        "import onnx, onnx.helper, onnx.defs, onnx.checker, onnx.shape_inference\n"
        "assert onnx.ModelProto is proto.ModelProto and onnx.TensorProto is proto.TensorProto\n"
        "assert onnx.AttributeProto is proto.AttributeProto and onnx.NodeProto is proto.NodeProto\n"
        "assert sys.modules['onnx.onnx_ml_pb2'] is pb2 and sys.modules['onnx.onnx_cpp2py_export'] is cpp\n"
        "assert isinstance(shim_model, onnx.ModelProto)\n"
        "m = onnx.helper.make_model(onnx.helper.make_graph([], 'g', [], []))\n"
        "assert isinstance(m, proto.ModelProto)\n"
        "assert onnx.defs.get_schema('Conv', 17).since_version == proto.get_schema('Conv', 17, '').since_version\n"
        "assert onnx.defs.onnx_opset_version() == proto.opset_version('')\n"
        "assert onnx.IR_VERSION == proto.IR_VERSION\n"
        "onnx.shape_inference.infer_shapes(shim_model)\n"
        "again = onnx.ModelProto.FromString(shim_model.SerializeToString())\n"
        "assert again == shim_model and type(again) is type(shim_model)\n"
        "from google.protobuf import descriptor_pool\n"
        "fd = descriptor_pool.Default().FindFileByName('onnx/onnx-ml.proto')\n"
        "assert fd is proto.ModelProto.DESCRIPTOR.file and fd is onnx.ModelProto.DESCRIPTOR.file\n"
        "print('ok')\n"
    )
    proc = run_py(code)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]


def test_import_onnx_first_then_shim_uses_onnx_modules():
    code = (
        "import sys, onnx, onnx.defs\n"
        "from analyzer.io import proto\n"
        "assert not proto.SHIMMED\n"
        "assert proto.ModelProto is onnx.ModelProto and proto.SparseTensorProto is onnx.SparseTensorProto\n"
        "assert proto.schema_defs() is onnx.defs.C\n"
        "assert proto.has_schema('Conv', '') and not proto.has_schema('NoSuchOp', '')\n"
        "m = onnx.helper.make_model(onnx.helper.make_graph([], 'g', [], []))\n"
        "assert isinstance(m, proto.ModelProto)\n"
        "print('ok')\n"
    )
    proc = run_py(code)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]


def test_unexpected_layout_falls_back_to_import_onnx():
    """Another onnx release whose files differ: the shim imports onnx, same classes."""
    code = (
        "import sys, importlib.util\n"
        "real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda name, *a: None if name == 'onnx' else real(name, *a)\n"
        "from analyzer.io import proto\n"
        "importlib.util.find_spec = real\n"
        "import onnx\n"
        "assert not proto.SHIMMED and 'ml_dtypes' in sys.modules\n"
        "assert proto.ModelProto is onnx.ModelProto and proto.IR_VERSION == onnx.IR_VERSION\n"
        "assert proto.get_schema('Relu', 14, '').since_version == 14\n"
        "print('ok')\n"
    )
    proc = run_py(code)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]


def test_the_check_in_this_process_used_the_same_classes():
    # this test process imported onnx (above) and the shim: one set of classes either way
    assert proto.ModelProto is onnx.ModelProto
    assert proto.TensorProto is onnx.TensorProto
    assert proto.ValueInfoProto is onnx.ValueInfoProto
    assert proto.IR_VERSION == onnx.IR_VERSION


# -- the helpers re-implemented for the shim, against onnx's own -----------------------

ALL_TYPES = [v for v in TensorProto.DataType.values()]


@pytest.mark.parametrize("data_type", ALL_TYPES + [99, -1, 1000])
def test_dtype_table_matches_onnx(data_type):
    try:
        expected = helper.tensor_dtype_to_np_dtype(data_type)
    except KeyError:
        with pytest.raises(KeyError):
            tensor_dtype_to_np_dtype(data_type)
        assert element_dtype(data_type) is None
        return
    got = tensor_dtype_to_np_dtype(data_type)
    assert np.dtype(got) == np.dtype(expected)
    assert element_dtype(data_type) == np.dtype(expected)


def _tensors():
    """(label, TensorProto) in every storage onnx reads: raw bytes and each typed field."""
    rng = np.random.default_rng(0)
    T = TensorProto
    arrays = {
        T.FLOAT: rng.standard_normal((2, 3)).astype(np.float32),
        T.DOUBLE: rng.standard_normal((3,)).astype(np.float64),
        T.FLOAT16: rng.standard_normal((2, 2)).astype(np.float16),
        T.INT8: np.array([-128, 0, 127], np.int8),
        T.UINT8: np.array([0, 255, 7], np.uint8),
        T.INT16: np.array([-32768, 5, 32767], np.int16),
        T.UINT16: np.array([0, 65535, 9], np.uint16),
        T.INT32: np.array([[-(2**31), 0], [1, 2**31 - 1]], np.int32),
        T.INT64: np.array([-(2**63), 0, 2**63 - 1], np.int64),
        T.UINT32: np.array([0, 2**32 - 1], np.uint32),
        T.UINT64: np.array([0, 2**64 - 1], np.uint64),
        T.BOOL: np.array([True, False, True], np.bool_),
        T.COMPLEX64: np.array([1 + 2j, -3.5j], np.complex64),
        T.COMPLEX128: np.array([1 + 2j, -3.5j], np.complex128),
    }
    out = []
    for dt, arr in arrays.items():
        name = T.DataType.Name(dt)
        out.append((f"{name}-raw", numpy_helper.from_array(arr, "t")))
        out.append((f"{name}-typed", helper.make_tensor("t", dt, arr.shape, arr.reshape(-1).tolist())))
        out.append((f"{name}-scalar", numpy_helper.from_array(arr.reshape(-1)[:1].reshape(()), "t")))
        out.append((f"{name}-empty", helper.make_tensor("t", dt, (0, 3), [])))
    out.append(("STRING", helper.make_tensor("t", T.STRING, (2,), [b"ab", "\u00e9".encode()])))
    out.append(("BFLOAT16-typed", helper.make_tensor("t", T.BFLOAT16, (2,), [1.0, -2.0])))
    out.append(("FLOAT8-raw", helper.make_tensor("t", T.FLOAT8E4M3FN, (2,), b"\x38\x40", raw=True)))
    out.append(("INT4-typed", helper.make_tensor("t", T.INT4, (3,), [1, -2, 7])))
    bad = helper.make_tensor("t", T.FLOAT, (3,), [1.0, 2.0, 3.0])
    bad.dims[0] = 4  # 3 values for 4 elements
    out.append(("FLOAT-wrong-count", bad))
    bad_raw = numpy_helper.from_array(np.zeros(3, np.int32), "t")
    bad_raw.data_type, bad_raw.dims[0] = T.INT64, 2  # 12 bytes for 2 int64
    out.append(("INT64-raw-wrong-size", bad_raw))
    undefined = helper.make_tensor("t", T.FLOAT, (1,), [1.0])
    undefined.data_type = T.UNDEFINED
    out.append(("UNDEFINED", undefined))
    seg = helper.make_tensor("t", T.FLOAT, (1,), [1.0])
    seg.segment.begin = 0
    out.append(("segment", seg))
    # a typed field and raw bytes at once: raw wins, in onnx too
    both = numpy_helper.from_array(np.array([1.0, 2.0], np.float32), "t")
    both.float_data.extend([7.0, 8.0])
    out.append(("raw-and-typed", both))
    return out


@pytest.mark.parametrize("label,tensor", _tensors(), ids=[lbl for lbl, _ in _tensors()])
def test_to_array_matches_numpy_helper(label, tensor):
    try:
        expected = numpy_helper.to_array(tensor)
    except Exception as e:  # noqa: BLE001 (the same kind of error, whatever onnx raises)
        with pytest.raises(type(e)):
            to_array(tensor)
        return
    got = to_array(tensor)
    assert got.dtype == expected.dtype, label
    assert got.shape == expected.shape, label
    assert got.tobytes() == expected.tobytes() if got.dtype != object else got.tolist() == expected.tolist()


def _attributes():
    t = numpy_helper.from_array(np.array([1.0], np.float32), "v")
    g = helper.make_graph([], "g", [], [])
    sp = helper.make_sparse_tensor(t, numpy_helper.from_array(np.array([0], np.int64), "i"), [1])
    tp = helper.make_tensor_type_proto(TensorProto.FLOAT, [1, 2])
    values = [1.5, 3, "s", b"b", t, g, sp, tp, [1.0, 2.0], [1, 2], ["a", "b"], [t, t], [g], [sp], [tp], []]
    out = [(repr(type(v).__name__) + str(i), helper.make_attribute("a", v) if v != [] else helper.make_attribute("a", [], attr_type=AttributeProto.INTS)) for i, v in enumerate(values)]
    ref = AttributeProto(name="a", ref_attr_name="outer", type=AttributeProto.INT)
    undefined = AttributeProto(name="a")
    return out + [("ref", ref), ("undefined", undefined)]


@pytest.mark.parametrize("label,attr", _attributes(), ids=[lbl for lbl, _ in _attributes()])
def test_get_attribute_value_matches_helper(label, attr):
    try:
        expected = helper.get_attribute_value(attr)
    except ValueError as e:
        with pytest.raises(ValueError) as got:
            proto.get_attribute_value(attr)
        assert str(got.value) == str(e)
        return
    got = proto.get_attribute_value(attr)
    assert type(got) is type(expected)
    assert got == expected


def test_opset_versions_match_onnx():
    assert proto.opset_version("") == onnx.defs.onnx_opset_version()
    assert proto.opset_version("ai.onnx.ml") == onnx.defs.onnx_ml_opset_version()
    # rules/_validity.py took the ai.onnx.ml maximum from the last row of onnx.helper.VERSION_TABLE
    assert proto.opset_version("ai.onnx.ml") == helper.VERSION_TABLE[-1][3]
    assert proto.opset_version("") == helper.VERSION_TABLE[-1][2]
    assert proto.IR_VERSION == onnx.IR_VERSION == helper.VERSION_TABLE[-1][1]


def test_schema_functions_are_onnx_defs():
    assert proto.has_schema("Conv", "") is onnx.defs.has("Conv", "")
    assert proto.has_schema("TreeEnsembleRegressor", "ai.onnx.ml")
    assert not proto.has_schema("Conv", "com.example")
    s, r = proto.get_schema("Resize", 13, ""), onnx.defs.get_schema("Resize", 13, "")
    assert (s.since_version, s.domain, sorted(s.attributes)) == (r.since_version, r.domain, sorted(r.attributes))
    with pytest.raises(onnx.defs.SchemaError):
        proto.get_schema("NoSuchOp", 17, "")


# -- weights read a block at a time (analyzer.io.load.read_tensor_blocks) ----------------


def _lazy_model(tmp_path):
    """A file over LAZY_FILE_MIN whose initializers stay in the file (read on demand)."""
    rng = np.random.default_rng(3)
    inits = [
        numpy_helper.from_array(rng.standard_normal((300, 1000)).astype(np.float32), "big"),  # 1.2 MB
        numpy_helper.from_array(rng.standard_normal((7, 13)).astype(np.float64), "f64"),
        numpy_helper.from_array(np.arange(5000, dtype=np.int64), "ints"),
        numpy_helper.from_array(np.zeros((0, 4), np.float32), "empty"),
        helper.make_tensor("typed", TensorProto.FLOAT, (3,), [1.0, 2.0, 3.0]),  # float_data: not a payload
    ]
    nodes = [helper.make_node("Identity", [t.name], [t.name + "_out"]) for t in inits]
    outs = [helper.make_tensor_value_info(t.name + "_out", t.data_type, None) for t in inits]
    m = helper.make_model(helper.make_graph(nodes, "g", [], outs, inits), opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "lazy.onnx"
    path.write_bytes(m.SerializeToString())
    return path


def test_read_tensor_blocks_gives_read_tensor_values(tmp_path):
    from analyzer.io.load import load, read_tensor, read_tensor_blocks

    loaded = load(_lazy_model(tmp_path))
    assert loaded.lazy, "the big initializer must stay in the file"
    seen_blocks = 0
    for t in loaded.model.graph.initializer:
        whole = read_tensor(loaded, t, max_elements=None)
        blocks = read_tensor_blocks(loaded, t, None, block_bytes=4096)
        if t.name not in loaded.lazy:
            assert blocks is None, t.name
            continue
        assert blocks is not None, t.name
        parts = [b.copy() for b in blocks]  # each block is valid until the next one
        seen_blocks += len(parts)
        joined = np.concatenate(parts) if parts else np.empty(0, whole.dtype)
        assert joined.dtype == whole.dtype
        assert joined.tobytes() == whole.reshape(-1).tobytes(), t.name
        assert all(p.nbytes <= 4096 for p in parts)
    assert seen_blocks > 1000 / 4096 * 300 * 4  # the big one came in many blocks
    big = next(t for t in loaded.model.graph.initializer if t.name == "big")
    assert read_tensor_blocks(loaded, big, max_elements=1000) is None  # over the cap, as read_tensor
    assert read_tensor(loaded, big, max_elements=1000) is None
    loaded.close()
    from analyzer.io.protoscan import ScanError

    with pytest.raises(ScanError):  # a failed read surfaces while iterating (callers then use read_tensor)
        _closed_read(tmp_path)


def _closed_read(tmp_path):
    from analyzer.io.load import load, read_tensor_blocks

    loaded = load(_lazy_model(tmp_path))
    big = next(t for t in loaded.model.graph.initializer if t.name == "big")
    blocks = read_tensor_blocks(loaded, big, None)
    loaded.close()
    list(blocks)


def test_weight_rules_same_findings_with_blocks_and_without(tmp_path, monkeypatch):
    """WS005 and WS015 on payloads in the file: the same findings when the block reader is
    switched off (everything through read_tensor, as before it existed)."""
    import analyzer
    from analyzer.io import load as load_mod

    rng = np.random.default_rng(4)
    w = rng.standard_normal((256, 1024)).astype(np.float32)
    w[0, :3] = [1e-30, 7e4, -2e-9]  # float16 underflow and overflow (WS015)
    tail = w.copy()
    tail[-1, -1] += 1.0  # the same first bytes (WS005 compares heads first), another last one
    inits = [numpy_helper.from_array(w, "w1"), numpy_helper.from_array(w.copy(), "w2"),  # duplicates (WS005)
             numpy_helper.from_array(w[::-1].copy(), "w3"), numpy_helper.from_array(tail, "w4")]  # same shape, other bytes
    nodes = [helper.make_node("Add", ["w1", "w2"], ["s"]), helper.make_node("Add", ["s", "w3"], ["u"]),
             helper.make_node("Add", ["u", "w4"], ["y"])]
    m = helper.make_model(helper.make_graph(nodes, "g", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits),
                          opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "dups.onnx"
    path.write_bytes(m.SerializeToString())

    def findings():
        fr = analyzer.lint(str(path), select=["WS005", "WS015"]).files[0]
        assert fr.status == "ok", fr.error
        return sorted((f.rule, f.node, f.message, json.dumps(f.details, sort_keys=True, default=str)) for f in fr.findings)

    from analyzer.io.load import load as load_file

    assert set(load_file(path).lazy) == {"w1", "w2", "w3", "w4"}  # the block reader applies to all
    with_blocks = findings()
    monkeypatch.setattr(load_mod, "read_tensor_blocks", lambda *a, **k: None)
    without = findings()
    assert with_blocks == without
    assert {r for r, *_ in with_blocks} == {"WS005", "WS015"}
    dups = [json.loads(d) for r, _, _, d in with_blocks if r == "WS005"]
    assert [(d["tensor"], d["kept"]) for d in dups] == [("w2", "w1")], dups


def test_zero_channel_rules_same_findings_with_blocks_and_without(tmp_path, monkeypatch):
    """WS010/WS011 on conv weights left in the file: the same findings when the block test
    of zero rows is switched off (every weight read whole, as before it existed)."""
    import analyzer
    from rules import _waste_weights as ww

    rng = np.random.default_rng(5)
    w1 = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
    w1[5] = 0.0  # a zero output channel: WS010, and WS011 on the conv after it
    w2 = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
    w3 = rng.standard_normal((256, 64, 5, 5)).astype(np.float32)  # no zero channel; the file is over 1 MB: payloads stay in it
    inits = [numpy_helper.from_array(w, n) for w, n in ((w1, "w1"), (w2, "w2"), (w3, "w3"))]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["a", "w2"], ["b"], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["b", "w3"], ["y"], pads=[2, 2, 2, 2])]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    m = helper.make_model(helper.make_graph(nodes, "g", [x], [y], inits), opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "convs.onnx"
    path.write_bytes(m.SerializeToString())
    calls = []
    real = ww._conv_without_zero_rows

    def counted(*a):
        got = real(*a)
        calls.append(got is not None)
        return got

    def findings():
        fr = analyzer.lint(str(path), select=["WS010", "WS011"]).files[0]
        assert fr.status == "ok", fr.error
        return sorted((f.rule, f.node, f.message, json.dumps(f.details, sort_keys=True, default=str)) for f in fr.findings)

    monkeypatch.setattr(ww, "_conv_without_zero_rows", counted)
    with_blocks = findings()
    assert True in calls and False in calls  # both the block answer and the fallback ran
    monkeypatch.setattr(ww, "_conv_without_zero_rows", lambda *a: None)
    assert findings() == with_blocks
    assert {r for r, *_ in with_blocks} == {"WS010", "WS011"}


def test_ws015_same_findings_when_ws010_read_the_conv_weights(tmp_path, monkeypatch):
    """WS010's block read of conv weights also counts WS015's float16 values (one read of
    each weight): WS015 finds the same with WS010 run before it, alone, and with every
    weight read whole; a non-default min-abs is counted by WS015 itself."""
    from analyzer.io import load as load_mod
    from analyzer.linter.runner import lint
    from rules import _waste_weights as ww

    rng = np.random.default_rng(6)
    ws = [rng.standard_normal((128, 64, 3, 3)).astype(np.float32) for _ in range(4)]
    ws[0][3, 0, 0, :2] = [1e-30, 7e4]  # flagged: overflow and a tiny value that matters
    ws[1][7, 1, 1, 1] = 1e-9  # tiny but negligible next to the largest: not flagged at 2**-24
    ws[2] *= 1e-4  # uniformly small: flagged only with min-abs 2**-14
    ws[3][9] = 0.0  # a zero channel (WS010 reads it whole)
    inits = [numpy_helper.from_array(w, f"w{i}") for i, w in enumerate(ws)]
    nodes = [helper.make_node("Conv", ["x" if i == 0 else f"y{i - 1}", f"w{i}"], [f"y{i}"], pads=[1, 1, 1, 1]) for i in range(4)]
    for i in range(1, 4):  # 128 -> 64 channels: a Slice keeps the chain valid
        nodes[i].input[0] = f"s{i - 1}"
    slices = [helper.make_node("Slice", [f"y{i}", "st", "en", "ax"], [f"s{i}"]) for i in range(3)]
    consts = [numpy_helper.from_array(np.array([0], np.int64), "st"), numpy_helper.from_array(np.array([64], np.int64), "en"),
              numpy_helper.from_array(np.array([1], np.int64), "ax")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64, 8, 8])
    y = helper.make_tensor_value_info("y3", TensorProto.FLOAT, None)
    m = helper.make_model(helper.make_graph(nodes + slices, "g", [x], [y], inits + consts), opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "convs16.onnx"
    path.write_bytes(m.SerializeToString())
    assert set(load_mod.load(path).lazy) >= {"w0", "w1", "w2", "w3"}  # the payloads stay in the file

    def ws015(select, options=None):
        fr = lint(str(path), select=select, options=options).files[0]
        assert fr.status == "ok", fr.error
        return sorted((f.node, f.message, json.dumps(f.details, sort_keys=True)) for f in fr.findings if f.rule == "WS015")

    counted = []
    real = ww.float16_counts_known
    monkeypatch.setattr(ww, "float16_counts_known", lambda *a: counted.append(real(*a)) or counted[-1])
    together = ws015(["WS010", "WS015"])
    assert [c for c in counted if c is not None]  # WS015 used what WS010's read counted
    alone = ws015(["WS015"])
    strict = ws015(["WS010", "WS015"], {"WS015": {"min-abs": 2.0**-14}})
    monkeypatch.setattr(load_mod, "read_tensor_blocks", lambda *a, **k: None)
    assert ws015(["WS010", "WS015"]) == together == alone
    assert ws015(["WS015"], {"WS015": {"min-abs": 2.0**-14}}) == strict
    assert [json.loads(d)["initializer"] for _, _, d in together] == ["w0"]
    assert sorted(json.loads(d)["initializer"] for _, _, d in strict) == ["w0", "w2"]


def test_float16_counts_do_not_depend_on_blocks():
    from rules._waste_weights import float16_counts

    rng = np.random.default_rng(7)
    for dtype in (np.float32, np.float64):
        a = (rng.standard_normal(700_000) * 0.1).astype(dtype)
        a[[5, 400_000, 699_999]] = [1e-30, -7e4, np.nan]
        a[300_000] = np.inf
        a[123] = 2.0**-25
        small = (rng.standard_normal(300_000) * 1e-7).astype(dtype)  # tiny values that matter
        for x, want in ((a, lambda c: c[0] == 1), (small, lambda c: c == (0, c[1]) and c[1] > 1000)):
            whole = float16_counts(x, 2.0**-24)
            assert want(whole), whole
            for size in (1, 4096, 262_144, 300_001):
                assert float16_counts([x[i : i + size] for i in range(0, x.size, size)], 2.0**-24) == whole
        assert float16_counts(np.empty(0, dtype), 2.0**-24) == (0, 0)


def test_json_report_text_is_json_dumps():
    """analyzer.report.json.dumps gives json.dumps(indent=2, ensure_ascii, allow_nan=False)'s
    text, and its errors for what JSON cannot hold."""
    import random

    from analyzer.report.json import dumps

    def ref(d):
        return json.dumps(d, indent=2, ensure_ascii=True, allow_nan=False)

    rnd = random.Random(1)
    leaves = [0, -5, 10**30, 1.5, -0.0, 1e-300, 3.0, True, False, None, "", "a\"b\\\n\u00e9\u2603\U0001f600\x00", "plain"]

    def gen(depth):
        r = rnd.random()
        if depth > 4 or r < 0.4:
            return rnd.choice(leaves)
        if r < 0.7:
            return [gen(depth + 1) for _ in range(rnd.randrange(0, 5))]
        return {rnd.choice(["k", "\u00e9", "a\nb"]) + str(i): gen(depth + 1) for i in range(rnd.randrange(0, 5))}

    for _ in range(2000):
        d = gen(0)
        assert dumps(d) == ref(d)
    assert dumps({1: (2, 3), "t": (4,)}) == ref({1: (2, 3), "t": (4,)})  # handed to json.dumps
    for bad in ({"a": float("nan")}, [float("inf")], [np.int64(3)], {"a": object()}):
        with pytest.raises((ValueError, TypeError)) as ours:
            dumps(bad)
        with pytest.raises((ValueError, TypeError)) as theirs:
            ref(bad)
        assert (type(ours.value), str(ours.value)) == (type(theirs.value), str(theirs.value))
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular"):
        dumps(loop)


def test_finding_to_dict_is_asdict():
    import dataclasses

    from analyzer.findings import Finding, Unchecked

    f = Finding(rule="XY001", name="n", severity="info", node="a", node_index=3, graph="main", op_type="Conv", message="m",
                details={"list": [1, 2, [3, {"k": (4, 5)}]], "np": np.int64(7), "u": Unchecked(kind="k", message="x"), "t": (1, [2])},
                related=[{"node": "b", "op_type": "Relu"}], waste={"weights": 5, "bytes": None})
    d = f.to_dict()
    assert d == dataclasses.asdict(f) and list(d) == list(dataclasses.asdict(f))
    assert type(d["details"]["t"]) is tuple and type(d["details"]["u"]) is dict
    d["details"]["list"][2].append(9)
    d["related"][0]["node"] = "c"
    assert f.details["list"][2] == [3, {"k": (4, 5)}] and f.related[0]["node"] == "b"  # a deep copy, as asdict's


def test_python_m_analyzer_check_writes_everything_before_it_leaves(tmp_path):
    """``python -m analyzer check`` leaves with os._exit after the report: stdout complete,
    --output written, the exit code the in-process command returns."""
    import io
    from contextlib import redirect_stdout

    from analyzer.cli import main

    model = SAMPLES[0]
    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(["check", "--format", "json", "--isolated", model])
    p = subprocess.run([sys.executable, "-m", "analyzer", "check", "--format", "json", "--isolated", model], cwd=REPO, capture_output=True, text=True, check=False)
    assert (p.returncode, p.stdout) == (code, buf.getvalue()) and p.stdout.endswith("}\n")
    out = tmp_path / "r.json"
    p = subprocess.run([sys.executable, "-m", "analyzer", "check", "--isolated", "-o", str(out), model], cwd=REPO, capture_output=True, text=True, check=False)
    assert p.returncode == code and out.read_text().strip() and p.stdout == ""
    assert [f.name for f in tmp_path.iterdir()] == ["r.json"]  # no temporary file left


def test_console_script_keeps_the_last_model_uncollected_until_it_leaves(monkeypatch):
    """Under ``cli.entry`` the last model checked is handed to the process's end and the
    collector stays paused until it leaves (freeing or collecting a big graph took
    seconds); in-process ``main()`` keeps nothing and leaves the collector as it was."""
    import gc

    import analyzer.cli as cli
    import analyzer.common as common
    from analyzer.model import AnalyzedModel

    seen = {}

    def leave_now(code):
        seen.update(code=code, gc=gc.isenabled(), kept=list(common.KEEP_UNTIL_EXIT))

    monkeypatch.setattr(cli, "_leave_now", leave_now)
    monkeypatch.setattr(sys, "argv", ["onnxlint", "check", "--isolated", "--quiet", SAMPLES[0], SAMPLES[1]])
    assert gc.isenabled()
    code = cli.entry()
    assert seen["code"] == code and seen["gc"] is False
    assert len(seen["kept"]) == 1 and isinstance(seen["kept"][0], AnalyzedModel)
    assert os.path.samefile(seen["kept"][0].path, SAMPLES[1])  # the last file's
    assert common.KEEP_UNTIL_EXIT is None and gc.isenabled()  # an ordinary exit: restored
    assert cli.main(["check", "--isolated", "--quiet", SAMPLES[0]]) in (0, 1)
    assert common.KEEP_UNTIL_EXIT is None and gc.isenabled()
