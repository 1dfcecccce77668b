"""DRLN after onnxruntime has optimised or quantised it: the same dead taps as the plain export.

The committed narrow DRLN (sample_models/drln_narrow_dynamo.onnx: 20 blocks, 4 channels,
24x24, the 80 attention convs on 1x1 pooled maps) is

* optimised by onnxruntime itself (``SessionOptions.optimized_model_filepath``) at the
  extended level (181 ``com.microsoft.FusedConv``) and at the "all" level (every conv a
  ``com.microsoft.nchwc.Conv`` between ReorderInput / ReorderOutput, weights stored padded
  to the CPU's block size and in blocked order);
* quantised by ``onnxruntime.quantization.quantize_static`` in the QDQ format (int8 weight
  initializers behind DequantizeLinear) and in the QOperator format (QLinearConv and
  com.microsoft QLinear* ops).

Each must give 80 DT001 findings with the dead-weight counts of the plain export (the same
geometry per conv, the same total), dead bytes counted in the stored dtype (4 per float
weight, 1 per int8 weight), and onnxruntime must agree by execution: the flagged convs'
dead taps overwritten in the optimised / quantised file leave its output unchanged, while
their live tap changes the conv's output.
"""
from __future__ import annotations

import collections
import pathlib

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import analyzer

ort = pytest.importorskip("onnxruntime")

PLAIN = pathlib.Path(__file__).resolve().parent.parent / "sample_models" / "drln_narrow_dynamo.onnx"
N_ATTENTION_CONVS = 80
BRANCH_DEAD, FUSE_DEAD = 2 * 4 * 8, 4 * 6 * 8  # 2x4x3x3 branches, 4x6x3x3 fuse conv; 8 of 9 taps dead
TOTAL_DEAD = 20 * (3 * BRANCH_DEAD + FUSE_DEAD)  # 7680
SHAPE = (1, 3, 24, 24)


def _optimised(path: pathlib.Path, level) -> pathlib.Path:
    so = ort.SessionOptions()
    so.graph_optimization_level = level
    so.optimized_model_filepath = str(path)
    so.log_severity_level = 3
    ort.InferenceSession(str(PLAIN), so, providers=["CPUExecutionProvider"])
    return path


class _Reader:
    def __init__(self):
        self.n = 0

    def get_next(self):
        if self.n >= 2:
            return None
        self.n += 1
        return {"input": np.random.default_rng(self.n).random(SHAPE, dtype=np.float32)}


def _quantised(path: pathlib.Path, fmt) -> pathlib.Path:
    from onnxruntime.quantization import CalibrationDataReader, QuantType, quantize_static

    reader = type("Reader", (_Reader, CalibrationDataReader), {})()
    quantize_static(str(PLAIN), str(path), reader, quant_format=fmt, weight_type=QuantType.QInt8,
                    activation_type=QuantType.QUInt8)  # fmt: skip
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from onnxruntime.quantization import QuantFormat

    root = tmp_path_factory.mktemp("ort_drln")
    L = ort.GraphOptimizationLevel
    return {
        "plain": PLAIN,
        "extended": _optimised(root / "extended.onnx", L.ORT_ENABLE_EXTENDED),
        "all": _optimised(root / "all.onnx", L.ORT_ENABLE_ALL),
        "qdq": _quantised(root / "qdq.onnx", QuantFormat.QDQ),
        "qoperator": _quantised(root / "qoperator.onnx", QuantFormat.QOperator),
    }


@pytest.fixture(scope="module")
def lints(models):
    return {kind: analyzer.lint(str(path)).files[0] for kind, path in models.items()}


KINDS = ("extended", "all", "qdq", "qoperator")
#: (domain, op type) of the flagged convs, and the stored bytes per weight
EXPECTED = {
    "plain": (("", "Conv"), 4),
    "extended": (("com.microsoft", "FusedConv"), 4),
    "all": (("com.microsoft.nchwc", "Conv"), 4),
    "qdq": (("", "Conv"), 1),
    "qoperator": (("", "QLinearConv"), 1),
}


def _dt001(result):
    return [f for f in result.findings if f.rule == "DT001"]


def _geometry(f):
    d = f.details
    return (d["dead_weights"], d["total_weights"], tuple(d["kernel_shape"]), tuple(d["dilations"]), tuple(d["pads"]),
            tuple(d["input_spatial_shape"]), tuple(map(tuple, d["live_taps"])))  # fmt: skip


def test_the_models_are_what_onnxruntime_writes(models):
    ops = {kind: collections.Counter((n.domain, n.op_type) for n in onnx.load(str(p)).graph.node) for kind, p in models.items()}
    assert ops["extended"][("com.microsoft", "FusedConv")] > 100
    assert ops["all"][("com.microsoft.nchwc", "Conv")] == 245 and ops["all"][("", "Conv")] == 0
    assert ops["all"][("com.microsoft.nchwc", "ReorderOutput")] > 0
    assert ops["qdq"][("", "DequantizeLinear")] > 245 and ops["qdq"][("", "Conv")] == 245
    assert ops["qoperator"][("", "QLinearConv")] == 245 and ops["qoperator"][("com.microsoft", "QLinearConcat")] > 0


@pytest.mark.parametrize("kind", ("plain",) + KINDS)
def test_same_dead_taps_as_the_plain_export(kind, lints):
    plain, result = lints["plain"], lints[kind]
    assert result.status == "ok", result.error
    dt1 = _dt001(result)
    assert len(dt1) == N_ATTENTION_CONVS, [f.node for f in dt1]
    assert collections.Counter(map(_geometry, dt1)) == collections.Counter(map(_geometry, _dt001(plain)))
    assert sum(f.details["dead_weights"] for f in dt1) == TOTAL_DEAD
    assert collections.Counter(f.details["dead_weights"] for f in dt1) == {BRANCH_DEAD: 60, FUSE_DEAD: 20}
    (domain, op_type), itemsize = EXPECTED[kind]
    assert {f.op_type for f in dt1} == {op_type}
    for f in dt1:
        assert f.details["dead_bytes"] == f.details["dead_weights"] * itemsize, (f.node, f.details["dead_bytes"])
        assert f.details["live_taps"] == [[1, 1]]
        assert f.details["cause"] is not None and f.details["cause"]["op_type"] == "ReduceMean"
    assert len([f for f in result.findings if f.rule == "DT002"]) == 20


def test_extended_and_quantised_flag_the_same_weights(lints, models):
    """FusedConv keeps the PyTorch weight names; the QDQ weights are their int8 copies."""
    plain = sorted(f.details["weight"] for f in _dt001(lints["plain"]))
    assert sorted(f.details["weight"] for f in _dt001(lints["extended"])) == plain
    for f in _dt001(lints["qdq"]):
        assert "DequantizeLinear" in f.details["weight_source"] and "from initializer" in f.details["weight_source"]


# --------------------------------------------------------------------------------------
# onnxruntime agrees: dead taps overwritten in the file change nothing, a live tap does


def _weight_view(kind, arr):
    """``arr`` (a flagged conv's stored weight) as [O, I, kH, kW]-indexable taps: an NCHWc
    weight of an NCHW input is stored as [O / B, I, kH, kW, B] whatever its dims say."""
    if kind != "all":
        return arr
    o, i, kh, kw = arr.shape  # the narrow DRLN's attention convs: O (padded) is one block
    return arr.reshape(i, kh, kw, o).transpose(3, 0, 1, 2)


def _perturbed(kind, model, findings, taps_key, rng):
    """A copy of ``model`` with the taps ``taps_key`` of each finding's weight overwritten."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    inits = {t.name: t for t in model.graph.initializer}
    nodes = {n.name: n for n in model.graph.node}
    for f in findings:
        node = nodes[f.node]
        w_name = node.input[3] if node.op_type == "QLinearConv" else node.input[1]
        if kind == "qdq":
            dq = next(n for n in model.graph.node if w_name in n.output)
            w_name = dq.input[0]
        t = inits[w_name]
        arr = numpy_helper.to_array(t).copy()
        view = _weight_view(kind, arr)  # a view: writes land in arr
        for i, j in f.details[taps_key]:
            if arr.dtype == np.int8:
                view[:, :, i, j] = rng.integers(-127, 128, view[:, :, i, j].shape)
            else:
                view[:, :, i, j] = 1e3 * rng.standard_normal(view[:, :, i, j].shape)
        t.CopyFrom(numpy_helper.from_array(arr, w_name))
    return model


def _run(model, feeds, outputs=None):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(outputs, feeds)


@pytest.mark.parametrize("kind", KINDS)
def test_onnxruntime_confirms_dead_taps(kind, models, lints):
    model = onnx.load(str(models[kind]))
    dt1 = _dt001(lints[kind])
    picked = [dt1[0], dt1[1], dt1[-1]] + [f for f in dt1 if f.details["dead_weights"] == FUSE_DEAD][:1]
    # the picked convs' outputs become graph outputs too (their own output must not move)
    nodes = {n.name: n for n in model.graph.node}
    conv_outs = [nodes[f.node].output[0] for f in picked]
    for name in conv_outs:
        model.graph.output.append(onnx.ValueInfoProto(name=name))
    feeds = {"input": np.random.default_rng(5).random(SHAPE, dtype=np.float32)}
    names = [o.name for o in model.graph.output]
    base = _run(model, feeds, names)
    rng = np.random.default_rng(11)
    dead = _run(_perturbed(kind, model, picked, "dead_taps", rng), feeds, names)
    for name, a, b in zip(names, base, dead):
        assert np.array_equal(a, b), (kind, name, float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))))
    live = _run(_perturbed(kind, model, picked, "live_taps", rng), feeds, names)
    moved = [name for name, a, b in zip(names, base, live) if name in conv_outs and not np.array_equal(a, b)]
    assert sorted(moved) == sorted(conv_outs), (kind, moved)
