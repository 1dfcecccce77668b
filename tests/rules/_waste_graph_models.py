"""Small models with planted graph waste (WS001-WS006), and the execution proof every
WS test uses: fix the finding(s) through the rule's own ``fix_findings`` (one finding alone,
then all of them through ``onnxlint fix``), run original and fixed in onnxruntime on the same
seeded random inputs (fed by the fixed model's own inputs, so an interface change such as
WS003's is allowed), and check the outputs agree within 1e-5 relative and the parameter
count dropped by exactly the reported ``waste["weights"]``."""
from __future__ import annotations

import os
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import analyzer
from analyzer.fix.rewrite import count_params, rewrite_model
from analyzer.linter.registry import get_rule

F = TensorProto.FLOAT
RTOL = 1e-5


def vi(name, shape, dtype=F):
    return helper.make_tensor_value_info(name, dtype, shape)


def weight(name, shape, seed=0, dtype=np.float32):
    return numpy_helper.from_array(np.random.default_rng(seed).standard_normal(shape).astype(dtype), name)


def make_model(nodes, inputs, outputs, inits=(), opset=17, ir=8, functions=(), extra_opsets=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    imports = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    m = helper.make_model(g, opset_imports=imports, functions=list(functions))
    m.ir_version = ir
    return m


def lint(model, code):
    (fr,) = analyzer.lint(model, select=[code]).files
    assert fr.status == "ok", fr.error
    return [f for f in fr.findings if f.rule == code]


# -- execution ------------------------------------------------------------------------

_NP = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64, "tensor(int32)": np.int32,
       "tensor(bool)": np.bool_, "tensor(float16)": np.float16, "tensor(uint8)": np.uint8, "tensor(int8)": np.int8}  # fmt: skip


def session(model):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def feeds_for(sess, seed=0, dims=None):
    rng = np.random.default_rng(seed)
    out = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) and d >= 0 else 1 if k == 0 else 4 for k, d in enumerate(i.shape)]
        if dims and i.name in dims:
            shape = dims[i.name]
        t = _NP.get(i.type)
        if t is None:
            raise ValueError(f"input type {i.type}")
        if np.issubdtype(t, np.floating):
            out[i.name] = rng.standard_normal(shape).astype(t)
        elif t is np.bool_:
            out[i.name] = rng.integers(0, 2, shape).astype(bool)
        else:
            out[i.name] = rng.integers(0, 3, shape).astype(t)
    return out


def assert_same_outputs(original, fixed, feeds=None, rtol=RTOL):
    """Run both (feeds: the fixed model's inputs, from ``feeds`` or random); outputs agree."""
    s0, s1 = session(original), session(fixed)
    names = [o.name for o in s0.get_outputs()]
    assert sorted(names) == sorted(o.name for o in s1.get_outputs())
    for seed in (0, 1):
        f0 = dict(feeds) if feeds is not None else feeds_for(s0, seed)
        f1 = {i.name: f0[i.name] for i in s1.get_inputs()}
        a, b = s0.run(names, f0), s1.run(names, f1)
        for n, x, y in zip(names, a, b):
            x, y = np.asarray(x), np.asarray(y)
            assert x.shape == y.shape, n
            if x.dtype.kind == "f":
                scale = max(1.0, float(np.max(np.abs(x))) if x.size else 1.0)
                assert np.allclose(x, y, rtol=0, atol=rtol * scale, equal_nan=True), n
            else:
                assert np.array_equal(x, y), n


def fix_one(model, code, index):
    """A copy of ``model`` with finding ``index`` of ``code`` fixed alone; (fixed, finding, change)."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    am = analyzer.analyze(copy)
    rule = get_rule(code)
    found = list(rule.check(am, {}))
    result = rewrite_model(am, [found[index]], [(code, rule.fix_findings)])
    (change,) = [c for c in result.changes if c.rule == code]
    return am.model, found[index], change


def prove_each(model, code, feeds=None, expect_fixed=True):
    """Every finding of ``code`` fixed alone: outputs unchanged, parameters down by its waste."""
    found = lint(model, code)
    before, _ = count_params(model)
    for i in range(len(found)):
        fixed, f, change = fix_one(model, code, i)
        if not expect_fixed:
            assert change.status == "refused"
            continue
        assert change.status == "fixed", change.reason
        onnx.checker.check_model(fixed, full_check=True)
        after, _ = count_params(fixed)
        assert before - after == f.waste["weights"], (f.node, before - after, f.waste)
        assert_same_outputs(model, fixed, feeds)
    return found


def prove_fix_file(model, code, feeds=None):
    """``onnxlint fix --select CODE`` on a saved copy: every finding fixed, drop = summed waste."""
    from analyzer.commands.fix import fix_file

    found = lint(model, code)
    with tempfile.TemporaryDirectory() as tmp:
        src, out = os.path.join(tmp, "m.onnx"), os.path.join(tmp, "fixed.onnx")
        onnx.save(model, src)
        rep = fix_file(src, out, codes=(code,))
        fixed = onnx.load(out)
    assert rep.count(code, "fixed") == len(found)
    assert rep.params_before - rep.params_after == sum(f.waste["weights"] for f in found)
    assert_same_outputs(model, fixed, feeds)
    assert lint(fixed, code) == []
    return fixed


# -- models ---------------------------------------------------------------------------


def conv_relu(extra_inits=(), extra_nodes=(), extra_inputs=(), outputs=("y",)):
    """x[1,3,8,8] -> Conv(W[4,3,3,3]) -> Relu -> y; plus whatever is planted."""
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"], name="relu")] + list(extra_nodes)  # fmt: skip
    outs = [vi(o, [1, 4, 8, 8]) for o in outputs]
    return make_model(nodes, [vi("x", [1, 3, 8, 8])] + list(extra_inputs), outs, [weight("W", [4, 3, 3, 3])] + list(extra_inits))


def dead_branch():
    """A Conv -> Sigmoid branch nobody reads, with its own weight and bias."""
    nodes = [helper.make_node("Conv", ["x", "W2", "B2"], ["d1"], name="dead_conv"),
             helper.make_node("Sigmoid", ["d1"], ["d2"], name="dead_sigmoid")]  # fmt: skip
    return conv_relu(extra_inits=[weight("W2", [5, 3, 1, 1], 1), weight("B2", [5], 2)], extra_nodes=nodes)


def duplicated_conv(copy_weight=True):
    """Two Conv -> Relu chains on x, the second with a byte-identical copy of W (or W itself)."""
    w = weight("W", [4, 3, 3, 3])
    inits = [w, weight("B", [4], 3)]
    w2 = "W"
    if copy_weight:
        c = onnx.TensorProto()
        c.CopyFrom(w)
        c.name = "Wcopy"
        inits.append(c)
        w2 = "Wcopy"
    nodes = [
        helper.make_node("Conv", ["x", "W", "B"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["x", w2, "B"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("Mul", ["r1", "r2"], ["y"], name="mul"),
    ]
    return make_model(nodes, [vi("x", [1, 3, 8, 8])], [vi("y", [1, 4, 8, 8])], inits)


def if_model(dead_if=False, body_dead=False, body_unused_init=False):
    """cond, x -> If(then: x*Wt, else: x+We); captured weights from the main graph."""
    then_nodes = [helper.make_node("Mul", ["x", "Wt"], ["t"], name="then_mul")]
    then_inits = []
    if body_dead:
        then_nodes.append(helper.make_node("MatMul", ["x", "Wd"], ["td"], name="then_dead"))
        then_inits.append(weight("Wd", [4, 4], 7))
    if body_unused_init:
        then_inits.append(weight("Wu", [3], 8))
    then_g = helper.make_graph(then_nodes, "then", [], [vi("t", [2, 4])], then_inits)
    else_g = helper.make_graph([helper.make_node("Add", ["x", "We"], ["e"], name="else_add")], "else", [], [vi("e", [2, 4])])
    if_node = helper.make_node("If", ["cond"], ["z"], name="if", then_branch=then_g, else_branch=else_g)
    nodes = [if_node, helper.make_node("Relu", ["x"], ["y"], name="relu")]
    outs = [vi("y", [2, 4])] + ([] if dead_if else [vi("z", [2, 4])])
    inits = [weight("Wt", [2, 4], 5), weight("We", [2, 4], 6)]
    return make_model(nodes, [vi("cond", [], TensorProto.BOOL), vi("x", [2, 4])], outs, inits)
