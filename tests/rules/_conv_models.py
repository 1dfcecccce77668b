"""Small hand-built models and the execution oracle shared by the conv rules' tests
(DT001, DT002).

Ground truth for dead taps comes from running the conv with onnxruntime: a tap is
dead when perturbing its weights (all output and input channels at that kernel
position) never changes the conv's output for a positive random input.  The
analyzer's answer must equal that set exactly.
"""
from __future__ import annotations

import copy
import pathlib

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import analyzer

F = TensorProto.FLOAT
SAMPLES = pathlib.Path(__file__).resolve().parents[2] / "sample_models"


# --- building models -----------------------------------------------------------------------


def vi(name, shape, dtype=F):
    return helper.make_tensor_value_info(name, dtype, shape)


def make_model(nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, [vi(o, None) if isinstance(o, str) else o for o in outputs], initializer=list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def weight(name, shape, seed=0):
    return numpy_helper.from_array(np.random.default_rng(seed).uniform(0.5, 1.5, shape).astype(np.float32), name)


def ints(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def conv(x, w, y, name="conv", **attrs):
    return helper.make_node("Conv", [x, w], [y], name=name, **attrs)


def pooled_conv(channels=4, out_ch=2, spatial=(5, 5), kernel=(3, 3), pool="GlobalAveragePool", **conv_attrs):
    """x -> pool (to 1x..x1) -> Conv(W) -> y."""
    nodes = [helper.make_node(pool, ["x"], ["p"], name="pool"), conv("p", "W", "y", **conv_attrs)]
    return make_model(
        nodes,
        [vi("x", [1, channels, *spatial])],
        ["y"],
        [weight("W", (out_ch, channels // conv_attrs.get("group", 1), *kernel))],
    )


def lint(model, rule=None, **kw):
    (fr,) = analyzer.lint(model, **kw).files
    assert fr.status == "ok", fr.error
    return [f for f in fr.findings if rule is None or f.rule == rule]


def only_finding(model, rule="DT001", node="conv"):
    found = lint(model, rule)
    assert [f.node for f in found] == [node], [(f.node, f.message) for f in found]
    return found[0]


def taps(finding, which="dead_taps"):
    return {tuple(t) for t in finding.details[which]}


# --- the execution oracle -------------------------------------------------------------------


def _input_feeds(model, seed=1):
    rng = np.random.default_rng(seed)
    feeds = {}
    inits = {t.name for t in model.graph.initializer}
    for inp in model.graph.input:
        if inp.name in inits or inp.name.startswith("__oracle"):
            continue
        dims = [d.dim_value for d in inp.type.tensor_type.shape.dim]
        feeds[inp.name] = rng.uniform(0.5, 1.5, dims).astype(np.float32)
    return feeds


def dead_taps_by_execution(model, conv_name, weight_shape, feeds=None):
    """Kernel taps of node ``conv_name`` whose weights never affect its output.

    The conv's weight input is rewired to a graph input, its output exposed, and
    every tap perturbed in turn (by +100 on all its weights) with onnxruntime.
    """
    m = copy.deepcopy(model)
    (node,) = [n for n in m.graph.node if n.name == conv_name]
    node.input[1] = "__oracle_w"
    m.graph.input.append(vi("__oracle_w", list(weight_shape)))
    out_name = node.output[0]
    if out_name not in [o.name for o in m.graph.output]:
        m.graph.output.append(vi(out_name, None))
    sess = _session(m)
    feeds = dict(feeds if feeds is not None else _input_feeds(model))
    w = np.random.default_rng(2).uniform(0.5, 1.5, weight_shape).astype(np.float32)

    def run(wv):
        return sess.run([out_name], {**feeds, "__oracle_w": wv})[0]

    base = run(w)
    dead = set()
    for tap in np.ndindex(*weight_shape[2:]):
        w2 = w.copy()
        w2[(slice(None), slice(None)) + tap] += 100.0
        out = run(w2)
        if np.allclose(out, base, rtol=1e-5, atol=1e-3):
            dead.add(tuple(int(j) for j in tap))
    return dead


def _session(model):
    opts = ort.SessionOptions()
    opts.log_severity_level = 4  # the oracle leaves the original weight unused on purpose; refused configs are expected
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def run_model(model, feeds):
    return _session(model).run(None, feeds)


def with_initializer(model, name, array):
    m = copy.deepcopy(model)
    for i, t in enumerate(m.graph.initializer):
        if t.name == name:
            m.graph.initializer[i].CopyFrom(numpy_helper.from_array(array, name))
            return m
    raise KeyError(name)


def assert_agrees_with_execution(model, finding, conv_name, weight_shape, feeds=None):
    """The finding's dead taps are exactly the taps execution shows to be dead."""
    truth = dead_taps_by_execution(model, conv_name, weight_shape, feeds)
    n_taps = int(np.prod(weight_shape[2:]))
    if finding is None:
        assert truth == set(), f"execution shows dead taps {sorted(truth)} but there is no finding"
        return truth
    assert truth, "execution shows no dead tap"
    assert taps(finding) == truth
    assert taps(finding, "live_taps") == {t for t in np.ndindex(*weight_shape[2:])} - truth
    per_tap = int(weight_shape[0]) * int(weight_shape[1])
    assert finding.details["dead_weights"] == per_tap * len(truth)
    assert finding.details["total_weights"] == per_tap * n_taps
    return truth


# --- parallel conv branches (DT002) -----------------------------------------------------------


def branches(dilations, spatial=6, pool=True, kernel=3, out_ch=2, channels=4, activation=True):
    nodes = []
    src = "x"
    if pool:
        nodes.append(helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"))
        src = "p"
    inits, cat_in = [], []
    for i, d in enumerate(dilations):
        pad = d * (kernel // 2)
        attrs = dict(pads=[pad] * 4)
        if d != 1:
            attrs["dilations"] = [d, d]
        nodes.append(conv(src, f"W{i}", f"b{i}", name=f"branch{i}", **attrs))
        inits.append(weight(f"W{i}", (out_ch, channels, kernel, kernel), seed=i))
        if activation:
            nodes.append(helper.make_node("Relu", [f"b{i}"], [f"r{i}"], name=f"relu{i}"))
            cat_in.append(f"r{i}")
        else:
            cat_in.append(f"b{i}")
    nodes.append(helper.make_node("Concat", cat_in, ["y"], name="cat", axis=1))
    return make_model(nodes, [vi("x", [1, channels, spatial, spatial])], ["y"], inits)
