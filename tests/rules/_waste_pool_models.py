"""Small models and the execution oracle for the waste rules WS013-WS015.

Ground truth comes from onnxruntime, never from the rules' formulas: a fix is proven by
running the original and the fixed model on the same seeded random inputs; a float16 hazard
by running the model with its weights rounded through float16.
"""
from __future__ import annotations

import copy

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import analyzer
from analyzer.fix.rewrite import count_params, rewrite_model

F = TensorProto.FLOAT
RTOL = 1e-5


def vi(name, shape, dtype=F):
    return helper.make_tensor_value_info(name, dtype, shape)


def make(nodes, inputs, outputs=("y",), inits=(), opset=17):
    g = helper.make_graph(nodes, "g", inputs, [vi(o, None) for o in outputs], initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8 if opset < 19 else 9
    return onnx.shape_inference.infer_shapes(m)  # declares the outputs' shapes, as the checker wants


def arr(name, values, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def rand(name, shape, seed=0):
    return numpy_helper.from_array(np.random.default_rng(seed).standard_normal(shape).astype(np.float32), name)


def pool_model(op, x_shape, opset=19, **attrs):
    return make([helper.make_node(op, ["x"], ["y"], name="pool", **attrs)], [vi("x", x_shape)], opset=opset)


def findings(model, code, **kw):
    (fr,) = analyzer.lint(model, select=[code], **kw).files
    assert fr.status == "ok", fr.error
    return [f for f in fr.findings if f.rule == code]


def session(model):
    so = ort.SessionOptions()
    so.log_severity_level = 4
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def feeds_for(sess, seed=0, dims=None):
    rng = np.random.default_rng(seed)
    out = {}
    types = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64, "tensor(int32)": np.int32,
             "tensor(bool)": np.bool_, "tensor(float16)": np.float16, "tensor(uint8)": np.uint8, "tensor(int8)": np.int8}  # fmt: skip
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) else (dims or {}).get(d, 2) for d in i.shape]
        t = types.get(i.type)
        if t is None:
            raise NotImplementedError(i.type)
        if np.issubdtype(t, np.floating):
            out[i.name] = rng.standard_normal(shape).astype(t)
        elif t is np.bool_:
            out[i.name] = rng.integers(0, 2, shape).astype(bool)
        else:
            out[i.name] = rng.integers(0, 4, shape).astype(t)
    return out


def run(model, feeds):
    return session(model).run(None, feeds)


def assert_same_outputs(a, b, model_for_feeds=None, seeds=(0, 1)):
    """``a`` and ``b`` give the same outputs (within RTOL of the largest value) on random inputs."""
    sa, sb = session(a), session(b)
    for seed in seeds:
        feeds = feeds_for(sa, seed)
        ra, rb = sa.run(None, feeds), sb.run(None, feeds)
        assert len(ra) == len(rb)
        for x, y in zip(ra, rb):
            assert x.shape == y.shape
            scale = max(1.0, float(np.nanmax(np.abs(x))) if x.size else 1.0)
            assert np.array_equal(np.isnan(x), np.isnan(y))
            assert float(np.nanmax(np.abs(x.astype(np.float64) - y))) <= RTOL * scale if x.size else True


def fix_one(model, finding, fixer):
    """``(fixed model, changes)`` for ``finding`` alone, through the Rewriter as ``onnxlint fix`` does."""
    am = analyzer.analyze(copy.deepcopy(model))
    result = rewrite_model(am, [finding], [(finding.rule, fixer)])
    return am.model, result.changes


def assert_fix_proven(model, finding, fixer, check=True):
    """The fix of ``finding`` is exact in onnxruntime and removes exactly ``waste["weights"]`` parameters."""
    fixed, changes = fix_one(model, finding, fixer)
    assert [c.status for c in changes] == ["fixed"], [c.reason for c in changes]
    if check:
        onnx.checker.check_model(fixed, full_check=True)
    assert count_params(model)[0] - count_params(fixed)[0] == finding.waste["weights"]
    assert_same_outputs(model, fixed)
    return fixed


def float16_rounded(model):
    """The model with every float32 initializer rounded through float16 (the weights a float16
    conversion would compute with), still run in float32."""
    m = copy.deepcopy(model)
    for i, t in enumerate(m.graph.initializer):
        if t.data_type == F:
            a = numpy_helper.to_array(t)
            with np.errstate(over="ignore"):
                r = a.astype(np.float16).astype(np.float32)
            m.graph.initializer[i].CopyFrom(numpy_helper.from_array(r, t.name))
    return m


def float16_cast_model(model):
    """The model with float32 initializers stored as float16 and a Cast to float32 in front
    of their readers (what a weights-only float16 conversion does)."""
    m = copy.deepcopy(model)
    g = m.graph
    casts = []
    for i, t in enumerate(list(g.initializer)):
        if t.data_type != F:
            continue
        name, a = t.name, numpy_helper.to_array(t)
        with np.errstate(over="ignore"):
            g.initializer[i].CopyFrom(numpy_helper.from_array(a.astype(np.float16), name + "__f16"))
        casts.append(helper.make_node("Cast", [name + "__f16"], [name], to=F, name=name + "__cast"))
    nodes = casts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    return m


def relative_change(a, b) -> float:
    """max |a - b| / max |a| over all outputs (inf when b has a non-finite value a has not)."""
    worst = 0.0
    for x, y in zip(a, b):
        if np.any(~np.isfinite(y) & np.isfinite(x)):
            return float("inf")
        scale = max(float(np.max(np.abs(x))), 1e-30)
        worst = max(worst, float(np.max(np.abs(x.astype(np.float64) - y))) / scale)
    return worst


def corpus_models():
    """(path, model) of the onnx wheel's test graphs and the committed samples."""
    import glob
    import os
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2]
    paths = sorted(glob.glob(os.path.dirname(onnx.__file__) + "/backend/test/data/**/*.onnx", recursive=True))
    paths += sorted(str(p) for p in (root / "sample_models").glob("*.onnx"))
    return paths


def corpus_findings(code):
    """``(path, model, finding)`` for every finding of ``code`` on :func:`corpus_models`."""
    out = []
    for path in corpus_models():
        (fr,) = analyzer.lint(path, select=[code]).files
        found = [f for f in fr.findings if f.rule == code]
        if found:
            model = onnx.load(path)
            out.extend((path, model, f) for f in found)
    return out


def runnable(model) -> bool:
    try:
        sess = session(model)
        sess.run(None, feeds_for(sess))
    except Exception:  # noqa: BLE001 - onnxruntime raises several types; any of them means "cannot run"
        return False
    return True


def confirm_fixes_on_corpus(code, fixer):
    """Every finding of ``code`` on the corpus: fixed alone, the outputs are onnxruntime's
    (refused findings are fine; models onnxruntime cannot run are skipped).  Returns
    ``[(path, node, status)]``."""
    seen = []
    for path, model, f in corpus_findings(code):
        if not runnable(model):
            seen.append((path, f.node, "skipped"))
            continue
        fixed, changes = fix_one(model, f, fixer)
        assert len(changes) == 1, changes
        if changes[0].status == "fixed":
            assert count_params(model)[0] - count_params(fixed)[0] == f.waste["weights"], (path, f.node)
            assert_same_outputs(model, fixed)
        seen.append((path, f.node, changes[0].status))
    return seen
