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


# -- conditional thresholds through run-time padding -------------------------------------
def _runtime_same_pad_model(kernel, dilation, stride, prefix_stride):
    """x [1, 2, S, S] -> (a strided conv, when prefix_stride) -> TF-"same" pads computed in
    float from the map's size (as the legacy exporter writes timm's pad_same) -> Pad ->
    a dilated conv "target" with no pads of its own."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    f32 = lambda name, v: numpy_helper.from_array(np.array(v, np.float32), name)
    nodes, inits = [], [f32("s", [stride]), f32("one", [1]), f32("ext", [(kernel - 1) * dilation + 1]), f32("zero", [0]),
                        f32("two", [2]), numpy_helper.from_array(np.array([0, 0], np.int64), "z2")]  # fmt: skip
    src = "x"
    if prefix_stride:
        nodes.append(helper.make_node("Conv", ["x", "w0"], ["p"], kernel_shape=[3, 3], strides=[prefix_stride] * 2, pads=[1, 1, 1, 1]))
        inits.append(numpy_helper.from_array(rng.standard_normal((2, 2, 3, 3)).astype(np.float32), "w0"))
        src = "p"
    nodes.append(helper.make_node("Shape", [src], ["shp"]))
    for ax in (2, 3):
        inits.append(numpy_helper.from_array(np.array([ax], np.int64), f"i{ax}"))
        nodes += [
            helper.make_node("Gather", ["shp", f"i{ax}"], [f"n{ax}"], axis=0),
            helper.make_node("Cast", [f"n{ax}"], [f"nf{ax}"], to=TensorProto.FLOAT),
            helper.make_node("Div", [f"nf{ax}", "s"], [f"q{ax}"]),
            helper.make_node("Ceil", [f"q{ax}"], [f"c{ax}"]),
            helper.make_node("Sub", [f"c{ax}", "one"], [f"c1{ax}"]),
            helper.make_node("Mul", [f"c1{ax}", "s"], [f"c2{ax}"]),
            helper.make_node("Add", [f"c2{ax}", "ext"], [f"c3{ax}"]),
            helper.make_node("Sub", [f"c3{ax}", f"nf{ax}"], [f"c4{ax}"]),
            helper.make_node("Max", [f"c4{ax}", "zero"], [f"pad{ax}"]),
            helper.make_node("Div", [f"pad{ax}", "two"], [f"h{ax}"]),
            helper.make_node("Floor", [f"h{ax}"], [f"b{ax}"]),
            helper.make_node("Sub", [f"pad{ax}", f"b{ax}"], [f"e{ax}"]),
        ]
    nodes += [
        helper.make_node("Concat", ["b2", "b3", "e2", "e3"], ["be"], axis=0),
        helper.make_node("Cast", ["be"], ["bei"], to=TensorProto.INT64),
        helper.make_node("Gather", ["bei", "order"], ["sp"], axis=0),
        helper.make_node("Concat", ["z2", "sp01", "z2", "sp23"], ["pads"], axis=0),
        helper.make_node("Pad", [src, "pads"], ["padded"], mode="constant"),
        helper.make_node("Conv", ["padded", "w"], ["y"], name="target", kernel_shape=[kernel] * 2, dilations=[dilation] * 2,
                         strides=[stride] * 2),
    ]  # fmt: skip
    # pads = [0, 0, b2, b3, 0, 0, e2, e3]: gather [b2, b3] and [e2, e3] halves
    nodes.insert(-3, helper.make_node("Slice", ["sp", "s0", "s2"], ["sp01"]))
    nodes.insert(-3, helper.make_node("Slice", ["sp", "s2", "s4"], ["sp23"]))
    inits += [numpy_helper.from_array(np.array([0, 1, 2, 3], np.int64), "order"),
              numpy_helper.from_array(np.array([0], np.int64), "s0"), numpy_helper.from_array(np.array([2], np.int64), "s2"),
              numpy_helper.from_array(np.array([4], np.int64), "s4"),
              numpy_helper.from_array(rng.standard_normal((2, 2, kernel, kernel)).astype(np.float32), "w")]  # fmt: skip
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, "S", "S"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)  # fmt: skip
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


@pytest.mark.parametrize("kernel,dilation,stride,prefix", [(3, 4, 1, 0), (3, 3, 2, 0), (3, 5, 1, 2), (5, 3, 1, 3)])
def test_conditional_threshold_through_runtime_padding_is_exact(kernel, dilation, stride, prefix, tmp_path):
    m = _runtime_same_pad_model(kernel, dilation, stride, prefix)
    path = tmp_path / "m.onnx"
    onnx.save_model(m, str(path))
    (fr,) = analyzer.lint(str(path), select=["DT001"]).files
    assert fr.status == "ok", fr.error
    conditional = [f for f in fr.findings if f.node == "target" and f.details.get("condition")]
    assert conditional, (fr.findings, fr.notes)
    for f in conditional:
        (clause,) = f.details["condition"]
        assert clause["input"] == "x" and clause["symbol"] == "S"
        t = clause["value"]
        reported = {tuple(x) for x in f.details["dead_taps"]}
        assert oracle.dead_tap_set(path, m, {"S": t}, "target") == reported, (t, reported)
        assert oracle.dead_tap_set(path, m, {"S": t + 1}, "target") < reported, t + 1
