"""TF-"same" padding computed at run time (sample_models/tf_same.py, both exporters,
static and dynamic H/W): the shapes are exact, and the dead taps DT001 reports equal
execution (tests/oracle.py: each conv run alone on its real input, once per tap with
that tap's weights overwritten) at every size tested; DT002 groups the collapsed pair."""
from __future__ import annotations

import pathlib

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import analyzer
from analyzer.shapes.dims import evaluate
from tests import oracle

SAMPLES = pathlib.Path(__file__).resolve().parent.parent / "sample_models"
STATIC = ["tf_same_legacy.onnx", "tf_same_dynamo.onnx"]
DYNAMIC = ["tf_same_legacy_dynamic.onnx", "tf_same_dynamo_dynamic.onnx"]
SIZES = (32, 24, 16, 8)


def _path(name):
    p = SAMPLES / name
    if not p.exists():
        pytest.skip(f"{name} not built (python -m sample_models.tf_same)")
    return p


def _dims(model, size):
    """The dynamic input's dim names bound to (1, size, size)."""
    dims = {}
    (inp,) = [i for i in model.graph.input if i.name == "input"]
    for axis, d in enumerate(inp.type.tensor_type.shape.dim):
        if d.dim_param:
            dims[d.dim_param] = 1 if axis == 0 else size
    return dims


def _reported(path, input_shapes=None):
    rep = analyzer.lint(str(path), select=["DT001", "DT002"], input_shapes=input_shapes)
    (fr,) = rep.files
    assert fr.status == "ok", fr.error
    dt001 = {f.node: {tuple(t) for t in f.details["dead_taps"]} for f in fr.findings if f.rule == "DT001"}
    dt002 = [f for f in fr.findings if f.rule == "DT002"]
    return dt001, dt002, fr


def _executed(path, dims):
    model = onnx.load(str(path))
    found = oracle.dead_taps_by_execution(path, model=model, dims=dims or None)
    names = {i: n.name for i, n in enumerate(model.graph.node)}
    return {names[i]: {tuple(t) for t in ct.dead_taps} for i, ct in found.items() if ct.dead_taps}


CASES = [(n, None) for n in STATIC] + [(n, s) for n in DYNAMIC for s in SIZES]


@pytest.mark.parametrize("name,size", CASES, ids=[f"{n[:-5]}-{s or 'static'}" for n, s in CASES])
def test_dead_taps_equal_execution(name, size):
    path = _path(name)
    model = onnx.load(str(path))
    dims = _dims(model, size) if size else {}
    shapes = {"input": (1, 3, size, size)} if size else None
    reported, _dt002, fr = _reported(path, shapes)
    executed = _executed(path, dims)
    assert reported == executed, (name, size, fr.notes)
    assert executed or size == 32 and "dynamo" in name  # the small sizes do kill taps
    # no conv is left unchecked for want of a size
    assert not [f for f in fr.findings if f.rule == "CV001"]
    assert not any("not checked" in n for n in fr.notes), fr.notes


@pytest.mark.parametrize("name,size", CASES, ids=[f"{n[:-5]}-{s or 'static'}" for n, s in CASES])
def test_collapsed_pair_is_dt002(name, size):
    """The 3x3/5x5 pair at the end runs on a 2x2 or 1x1 map at every size tested: both
    reduce to one effective kernel."""
    path = _path(name)
    shapes = {"input": (1, 3, size, size)} if size else None
    _, dt002, fr = _reported(path, shapes)
    model = onnx.load(str(path))
    pair = {n.name for n in model.graph.node if n.op_type == "Conv" and n.input[1].startswith("branches.")}
    assert len(dt002) == 1, fr.findings
    assert {b["node"] for b in dt002[0].details["branches"]} == pair


@pytest.mark.parametrize("name", DYNAMIC)
def test_dynamic_sizes_are_exact_expressions(name):
    """Unbound, every conv output size is an expression in the input dims that equals
    onnxruntime's size at every tested size."""
    path = _path(name)
    am = analyzer.analyze(str(path))
    model = onnx.load(str(path))
    convs = [n.output[0] for n in model.graph.node if n.op_type == "Conv"]
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    m2 = onnx.load(str(path))
    del m2.graph.output[:]
    for c in convs:
        m2.graph.output.append(onnx.helper.make_empty_tensor_value_info(c))
    sess = ort.InferenceSession(m2.SerializeToString(), so, providers=["CPUExecutionProvider"])
    for size in SIZES + (7, 33, 100):
        dims = _dims(model, size)
        outs = sess.run(None, {"input": np.zeros((1, 3, size, size), np.float32)})
        for c, y in zip(convs, outs):
            shape = am.value(c).shape
            assert shape is not None and None not in shape, (c, shape, am.notes)
            got = tuple(evaluate(d, dims) if isinstance(d, str) else d for d in shape)
            assert got == y.shape, (c, size, shape)
