"""Small models with planted waste for WS007-WS009, and the execution proof their tests share.

:func:`prove_each` is the ground truth: for every finding of a rule on a model, a fresh
analysis, that finding alone fixed through the rule's ``fix_findings``, and onnxruntime
(never the analyzer) runs original and fixed model on the same seeded inputs: every output
must agree within ``RTOL`` relative, and the initializers' element count must drop by exactly
the finding's ``waste["weights"]``.  :func:`prove_all` does the same with every finding at
once through ``onnxlint fix`` (``fix_file``).
"""
from __future__ import annotations

import glob
import os
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto as T
from onnx import helper, numpy_helper

import analyzer
from analyzer.fix.rewrite import count_params, rewrite_model
from analyzer.linter.registry import get_rule
from analyzer.model import analyze

RTOL = 1e-5
OPSET = 17


def make(nodes, inputs, outputs, inits=(), *, opset=OPSET, ir=8, infer=True):
    g = helper.make_graph(list(nodes), "g", list(inputs), list(outputs), list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = ir
    return onnx.shape_inference.infer_shapes(m) if infer else m


def vi(name, shape, dtype=T.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def conv_in(x="x", out="c", ch=4, seed=0):
    """A 3x3 conv ``x -> out`` (so that the no-ops sit between real ops) and its weight."""
    return helper.make_node("Conv", [x, f"W_{out}"], [out], pads=[1, 1, 1, 1], name=f"conv_{out}"), init(f"W_{out}", rand(ch, ch, 3, 3, seed=seed))


# --------------------------------------------------------------------------- execution


def _feeds(sess, seed=0, shapes=None):
    rng = np.random.default_rng(seed)
    feeds = {}
    for i in sess.get_inputs():
        dims = [(d if isinstance(d, int) else 2) for d in i.shape]
        if shapes and i.name in shapes:
            dims = shapes[i.name]
        t = i.type
        if "float16" in t:
            feeds[i.name] = rng.standard_normal(dims).astype(np.float16)
        elif "double" in t:
            feeds[i.name] = rng.standard_normal(dims)
        elif "float" in t:
            feeds[i.name] = rng.standard_normal(dims).astype(np.float32)
        elif "bool" in t:
            feeds[i.name] = rng.integers(0, 2, dims).astype(bool)
        else:
            np_t = {"tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int8)": np.int8, "tensor(uint8)": np.uint8}[t]
            feeds[i.name] = rng.integers(0, 4, dims).astype(np_t)
    return feeds


def run(model, feeds=None, seed=0, shapes=None):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    feeds = feeds if feeds is not None else _feeds(sess, seed, shapes)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds))), feeds


def assert_same_outputs(a: dict, b: dict, rtol=RTOL):
    assert sorted(a) == sorted(b), (sorted(a), sorted(b))
    for k, va in a.items():
        x, y = np.asarray(va), np.asarray(b[k])
        assert x.shape == y.shape and x.dtype == y.dtype, (k, x.shape, y.shape, x.dtype, y.dtype)
        if x.dtype.kind in "fc":
            scale = max(1.0, float(np.nanmax(np.abs(x))) if x.size else 1.0)
            assert np.array_equal(np.isnan(x), np.isnan(y)), k
            assert float(np.nanmax(np.abs(x - y), initial=0.0)) <= rtol * scale, (k, np.nanmax(np.abs(x - y)))
        else:
            assert np.array_equal(x, y), k


def fix_one(model, code, i, input_shapes=None):
    """A copy of ``model`` with finding ``i`` of rule ``code`` alone fixed: (fixed model,
    finding, change)."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    am = analyze(copy, input_shapes)
    rule = get_rule(code)
    found = list(rule.check(am, {}))
    f = found[i]
    result = rewrite_model(am, [f], [(code, rule.fix_findings)])
    (change,) = [c for c in result.changes if c.rule == code]
    return am.model, f, change


def prove_each(model, code, feeds=None, input_shapes=None, expect_refused=()):
    """Each finding of ``code`` on ``model``, fixed alone: same outputs in onnxruntime,
    parameters down by exactly ``waste["weights"]``.  Returns the findings."""
    findings = analyzer.lint(model, select=[code], input_shapes=input_shapes).findings
    ref, feeds = run(model, feeds)
    before = count_params(model)[0]
    for i, f in enumerate(findings):
        fixed, f2, change = fix_one(model, code, i, input_shapes)
        assert f2.node == f.node
        if f.node in expect_refused:
            assert change.status == "refused", change
            continue
        assert change.status == "fixed", change.reason
        onnx.checker.check_model(fixed, full_check=True)
        got, _ = run(fixed, feeds)
        assert_same_outputs(ref, got)
        assert before - count_params(fixed)[0] == f.waste["weights"], (f.node, before - count_params(fixed)[0], f.waste)
        assert len(fixed.graph.node) < len(model.graph.node) or code == "WS009"
    return findings


def prove_all(model, code, feeds=None):
    """Every finding fixed at once by ``onnxlint fix``: same outputs; returns the report."""
    from analyzer.commands.fix import fix_file

    with tempfile.TemporaryDirectory() as tmp:
        src, out = os.path.join(tmp, "m.onnx"), os.path.join(tmp, "fixed.onnx")
        onnx.save(model, src)
        rep = fix_file(src, out, codes=(code,))
        fixed = onnx.load(out)
    ref, feeds = run(model, feeds)
    got, _ = run(fixed, feeds)
    assert_same_outputs(ref, got)
    return rep, fixed


# --------------------------------------------------------------------------- the onnx wheel's test graphs


def onnx_test_graphs() -> list:
    return sorted(glob.glob(os.path.dirname(onnx.__file__) + "/backend/test/data/**/*.onnx", recursive=True))


def _test_feeds(path, model):
    ins = sorted(glob.glob(os.path.join(os.path.dirname(path), "test_data_set_0", "input_*.pb")))
    if not ins:
        return None
    inits = {t.name for t in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in inits]
    return {n: numpy_helper.to_array(onnx.load_tensor(f)) for n, f in zip(names, ins)}


def prove_on_onnx_test_graphs(code) -> list:
    """Lint every onnx wheel test graph with ``code``; each finding fixed alone must leave
    onnxruntime's outputs (on the graph's own test inputs) unchanged and drop exactly its
    waste.  Models onnxruntime cannot run are skipped.  Returns ``(path, node)`` proven."""
    proven = []
    for path in onnx_test_graphs():
        findings = analyzer.lint(path, select=[code]).findings
        if not findings:
            continue
        model = onnx.load(path)
        try:
            ref, feeds = run(model, _test_feeds(path, model))
        except Exception:  # noqa: BLE001, S112 - a model onnxruntime cannot run is skipped
            continue
        before = count_params(model)[0]
        for i, f in enumerate(findings):
            fixed, _, change = fix_one(model, code, i)
            assert change.status == "fixed", (path, f.node, change.reason)
            got, _ = run(fixed, feeds)
            assert_same_outputs(ref, got)
            assert before - count_params(fixed)[0] == f.waste["weights"], (path, f.node)
            proven.append((os.path.relpath(path, os.path.dirname(onnx.__file__)), f.node))
    return proven
