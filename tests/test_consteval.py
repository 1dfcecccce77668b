"""Constant evaluation (analyzer/shapes/consteval.py): every op of the table on random
constant inputs against onnxruntime's result, the element budget on hostile models, and
sizes carried exactly through float arithmetic (Cast, Div, Ceil, Max, Clip, Cast back)
checked against execution at concrete sizes."""
from __future__ import annotations

import time

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import analyzer
from analyzer.shapes import consteval
from analyzer.shapes.dims import evaluate

OPSET = 18
RNG = np.random.default_rng(7)
F = TensorProto.FLOAT
I64 = TensorProto.INT64


def _f(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _pos(*shape):
    return (RNG.random(shape) * 3 + 0.5).astype(np.float32)


def _i(*shape, lo=-5, hi=6):
    return RNG.integers(lo, hi, shape).astype(np.int64)


def _ints(v):
    return np.array(v, dtype=np.int64)


# op, constant inputs (None: absent), attributes, number of outputs
CASES = [
    ("Add", [_f(3, 4), _f(4)], {}),
    ("Sub", [_i(3, 4), _i(3, 1)], {}),
    ("Mul", [_f(2, 3), _f(2, 3)], {}),
    ("Div", [_f(5), _pos(5)], {}),
    ("Div", [_i(6, lo=-20, hi=20), _ints([3, -3, 7, 2, -5, 4])], {}),
    ("Pow", [_pos(4), _f(4)], {}),
    ("Mod", [_i(6, lo=-20, hi=20), _ints([3, -3, 7, 2, -5, 4])], {}),
    ("Mod", [_f(5), _pos(5)], {"fmod": 1}),
    ("Max", [_f(3), _f(3), _f(1)], {}),
    ("Min", [_i(4), _i(4)], {}),
    ("Sum", [_f(2, 2), _f(2, 2), _f(2, 2)], {}),
    ("Mean", [_f(3), _f(3)], {}),
    ("Equal", [_i(6, lo=0, hi=3), _i(6, lo=0, hi=3)], {}),
    ("Less", [_f(5), _f(5)], {}),
    ("GreaterOrEqual", [_i(5), _i(5)], {}),
    ("And", [RNG.random(4) > 0.5, RNG.random(4) > 0.5], {}),
    ("Xor", [RNG.random(4) > 0.5, RNG.random(4) > 0.5], {}),
    ("Not", [RNG.random(4) > 0.5], {}),
    ("Where", [RNG.random((2, 3)) > 0.5, _f(2, 3), _f(3)], {}),
    ("Neg", [_f(5)], {}),
    ("Abs", [_i(5)], {}),
    ("Floor", [_f(7) * 4], {}),
    ("Ceil", [_f(7) * 4], {}),
    ("Round", [np.array([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6], np.float32)], {}),
    ("Sqrt", [_pos(4)], {}),
    ("Exp", [_f(4)], {}),
    ("Log", [_pos(4)], {}),
    ("Relu", [_f(6)], {}),
    ("Sigmoid", [_f(6)], {}),
    ("Tanh", [_f(6)], {}),
    ("Erf", [_f(6)], {}),
    ("Sign", [_f(6)], {}),
    ("Reciprocal", [_pos(4)], {}),
    ("LeakyRelu", [_f(6)], {"alpha": 0.3}),
    ("Clip", [_f(8) * 3, np.array(-1, np.float32), np.array(1.5, np.float32)], {}),
    ("Clip", [_f(8) * 3, np.array(0, np.float32), None], {}),
    ("Cast", [_f(6) * 10], {"to": I64}),
    ("Cast", [_i(6)], {"to": F}),
    ("Cast", [_i(6)], {"to": TensorProto.BOOL}),
    ("CastLike", [_i(6), _f(1)], {}),
    ("Shape", [_f(2, 3, 4)], {}),
    ("Shape", [_f(2, 3, 4)], {"start": 1, "end": -1}),
    ("Size", [_f(2, 3, 4)], {}),
    ("ConstantOfShape", [_ints([2, 3])], {"value": numpy_helper.from_array(np.array([7], np.int64))}),
    ("Range", [np.array(1, np.int64), np.array(20, np.int64), np.array(3, np.int64)], {}),
    ("Range", [np.array(0.5, np.float32), np.array(-3, np.float32), np.array(-0.75, np.float32)], {}),
    ("Concat", [_f(2, 3), _f(1, 3)], {"axis": 0}),
    ("Slice", [_f(5, 6), _ints([1, -1]), _ints([4, 0]), _ints([0, 1]), _ints([2, -2])], {}),
    ("Slice", [_i(8), _ints([-2]), _ints([-2**62]), None, _ints([-1])], {}),
    ("Gather", [_f(4, 3), _ints([[0, -1], [2, 1]])], {"axis": 0}),
    ("Gather", [_i(4, 3), _ints(1)], {"axis": 1}),
    ("GatherElements", [_f(3, 3), _ints([[0, 2, 1], [1, 1, 0]])], {"axis": 0}),
    ("Reshape", [_f(2, 6), _ints([0, 3, -1])], {}),
    ("Squeeze", [_f(1, 3, 1), _ints([0, -1])], {}),
    ("Unsqueeze", [_f(3, 2), _ints([0, -1])], {}),
    ("Flatten", [_f(2, 3, 4)], {"axis": 2}),
    ("Transpose", [_f(2, 3, 4)], {"perm": [2, 0, 1]}),
    ("Expand", [_f(3, 1), _ints([2, 3, 4])], {}),
    ("Tile", [_i(2, 3), _ints([2, 2])], {}),
    ("Split", [_f(7, 2), _ints([3, 4])], {"axis": 0}),
    ("ReduceSum", [_f(3, 4), _ints([1])], {"keepdims": 0}),
    ("ReduceMean", [_f(3, 4), _ints([0])], {}),
    ("ReduceMax", [_i(3, 4), _ints([-1])], {}),
    ("ReduceMin", [_f(3, 4)], {"keepdims": 0}),
    ("ReduceProd", [_f(3, 4), _ints([1])], {}),
    ("ReduceL2", [_f(3, 4), _ints([1])], {}),
    ("ReduceSumSquare", [_f(3, 4), _ints([0, 1])], {}),
    ("ArgMax", [_f(3, 4)], {"axis": 1}),
    ("ArgMin", [np.array([[1, 0, 0], [2, 2, 3]], np.float32)], {"axis": 1, "keepdims": 0, "select_last_index": 1}),
    ("CumSum", [_f(2, 4), np.array(1, np.int64)], {"exclusive": 1, "reverse": 1}),
    ("MatMul", [_f(2, 3, 4), _f(4, 5)], {}),
    ("Pad", [_f(2, 3), _ints([1, 0, 2, 1]), np.array(1.5, np.float32)], {}),
    ("Pad", [_f(3, 4), _ints([0, 2, 0, 1])], {"mode": "reflect"}),
    ("Pad", [_f(3, 4), _ints([1, 1, 1, 1])], {"mode": "edge"}),
    ("NonZero", [_i(3, 4, lo=0, hi=2)], {}),
    ("Trilu", [_f(4, 4), np.array(1, np.int64)], {"upper": 0}),
    ("OneHot", [_ints([0, 2, -1]), np.array(4, np.int64), np.array([0, 5], np.float32)], {"axis": 0}),
    ("BitShift", [np.array([1, 2, 8], np.uint32), np.array([1, 2, 3], np.uint32)], {"direction": "LEFT"}),
    ("IsNaN", [np.array([1.0, np.nan], np.float32)], {}),
]

_NP_TO_ONNX = {np.dtype(np.float32): F, np.dtype(np.int64): I64, np.dtype(bool): TensorProto.BOOL, np.dtype(np.uint32): TensorProto.UINT32}


def _single_node_model(op, inputs, attrs, n_out=1):
    inits, names = [], []
    for j, v in enumerate(inputs):
        if v is None:
            names.append("")
            continue
        inits.append(numpy_helper.from_array(np.asarray(v), f"c{j}"))
        names.append(f"c{j}")
    while names and names[-1] == "":
        names.pop()
    outs = [f"y{k}" for k in range(n_out)]
    node = helper.make_node(op, names, outs, **attrs)
    # the output types (onnxruntime needs them) from onnx's reference evaluator
    from onnx.reference import ReferenceEvaluator

    draft = helper.make_model(helper.make_graph([node], "g", [], [helper.make_empty_tensor_value_info(o) for o in outs], inits),
                              opset_imports=[helper.make_opsetid("", OPSET)])  # fmt: skip
    got = ReferenceEvaluator(draft).run(None, {})
    types = [helper.np_dtype_to_tensor_dtype(np.asarray(v).dtype) for v in got]
    graph = helper.make_graph([node], "g", [], [helper.make_tensor_value_info(o, t, None) for o, t in zip(outs, types)], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 8
    return m


def _ort_outputs(m):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, {})


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_op_matches_onnxruntime(case):
    op, inputs, attrs = case
    n_out = 2 if op == "Split" else 1
    m = _single_node_model(op, inputs, attrs, n_out)
    expected = _ort_outputs(m)
    am = analyzer.analyze(m)
    for k, want in enumerate(expected):
        got = am.value(f"y{k}").constant
        assert got is not None, (op, am.notes)
        assert got.shape == want.shape, (op, got.shape, want.shape)
        assert got.dtype == want.dtype, (op, got.dtype, want.dtype)
        if want.dtype.kind == "f":
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6, err_msg=op)
        else:
            np.testing.assert_array_equal(got, want, err_msg=op)


def test_every_table_op_is_tested():
    tested = {c[0] for c in CASES}
    untested = sorted(set(consteval.EVAL) - tested - {"Identity", "Asin", "Acos", "Atan", "Sin", "Cos", "Tan", "Sinh", "Cosh",
                                                   "Asinh", "Acosh", "Atanh", "Softsign", "Softplus", "BitwiseNot", "IsInf",
                                                   "Elu", "HardSigmoid", "Or", "Greater", "LessOrEqual", "BitwiseAnd",
                                                   "BitwiseOr", "BitwiseXor", "ReduceL1", "ReduceLogSumExp", "ReduceLogSum"})
    assert untested == [], untested


@pytest.mark.parametrize("op", ["Sin", "Cos", "Atan", "Softsign", "Softplus", "Greater", "LessOrEqual", "Or", "ReduceL1", "ReduceLogSumExp", "Elu", "HardSigmoid"])
def test_more_ops_match_onnxruntime(op):
    two = {"Greater", "LessOrEqual", "Or"}
    x = RNG.random(6) > 0.5 if op == "Or" else _f(2, 3)
    inputs = [x, RNG.random(6) > 0.5] if op == "Or" else ([x, _f(2, 3)] if op in two else [x])
    if op in ("ReduceL1", "ReduceLogSumExp"):
        inputs = [x, _ints([1])]
    test_each_op_matches_onnxruntime((op, inputs, {}))


# -- budget ----------------------------------------------------------------------------
def _chain_model(nodes, inits, out):
    graph = helper.make_graph(nodes, "g", [], [helper.make_tensor_value_info(out, I64, None)], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 8
    return m


def test_huge_range_is_a_note_not_an_allocation():
    m = _chain_model(
        [helper.make_node("Range", ["a", "b", "c"], ["r"]), helper.make_node("ReduceSum", ["r"], ["y"])],
        [numpy_helper.from_array(np.array(0, np.int64), "a"), numpy_helper.from_array(np.array(2**40, np.int64), "b"),
         numpy_helper.from_array(np.array(1, np.int64), "c")], "y")  # fmt: skip
    t = time.perf_counter()
    am = analyzer.analyze(m)
    assert time.perf_counter() - t < 10
    assert am.value("r").shape == (2**40,) and am.value("r").constant is None
    assert am.value("y").constant is None
    assert any("not evaluated" in n or "constant propagation stopped" in n for n in am.notes), am.notes


def test_constant_of_shape_2_pow_40_is_a_note():
    m = _chain_model(
        [helper.make_node("ConstantOfShape", ["s"], ["z"]), helper.make_node("Add", ["z", "z"], ["y"])],
        [numpy_helper.from_array(np.array([2**20, 2**20], np.int64), "s")], "y")  # fmt: skip
    t = time.perf_counter()
    am = analyzer.analyze(m)
    assert time.perf_counter() - t < 10
    assert am.value("z").shape == (2**20, 2**20) and am.value("z").constant is None
    assert am.value("y").shape == (2**20, 2**20)
    notes = " ".join(am.notes)
    assert "not evaluated" in notes or "constant propagation stopped" in notes, am.notes


def test_deep_tile_chain_stops_at_the_budget():
    nodes, inits = [], [numpy_helper.from_array(np.arange(4, dtype=np.int64), "x0"), numpy_helper.from_array(_ints([2]), "rep")]
    for k in range(200):
        nodes.append(helper.make_node("Tile", [f"x{k}", "rep"], [f"x{k + 1}"]))
    m = _chain_model(nodes, inits, "x200")
    t = time.perf_counter()
    am = analyzer.analyze(m)
    assert time.perf_counter() - t < 20
    # 4 * 2**10 = 4096 elements is the last value held; the next is over the per-value budget
    assert am.value("x10").constant is not None and am.value("x10").constant.size == 4096
    np.testing.assert_array_equal(am.value("x10").constant, np.tile(np.arange(4), 1024))
    assert am.value("x11").constant is None
    notes = [n for n in am.notes if "not evaluated" in n]
    assert len(notes) == 1 and "Tile#10 (Tile)" in notes[0] and "4096" in notes[0], am.notes
    assert am.value("x20").shape == (4 * 2**20,)  # shapes go on where values stop


def test_model_budget_is_shared(monkeypatch):
    """The per-model budget stops evaluation too (a chain of many 4096-element values)."""
    from analyzer.shapes import engine as E

    monkeypatch.setattr(E, "MAX_TOTAL_VALUE_ELEMENTS", 20_000)
    nodes = [helper.make_node("ConstantOfShape", ["s"], ["v0"])]
    for k in range(10):
        nodes.append(helper.make_node("Add", [f"v{k}", f"v{k}"], [f"v{k + 1}"]))
    m = _chain_model(nodes, [numpy_helper.from_array(_ints([4096]), "s")], "v10")
    am = analyzer.analyze(m)
    held = [k for k in range(11) if am.value(f"v{k}").constant is not None]
    assert 1 <= len(held) <= 5 and held == list(range(len(held))), held


# -- sizes through float ------------------------------------------------------------------
def _same_pad_model(kernel, stride, to=F, use_max=False, bits_ok=True):
    """x [1, 1, H, W] -> pads = max((ceil(H/s) - 1)*s + k - H, 0), as timm writes it in float."""
    c = lambda name, v, dt=np.float32: numpy_helper.from_array(np.array(v, dt), name)
    npf = {F: np.float32, TensorProto.DOUBLE: np.float64, TensorProto.FLOAT16: np.float16}[to]
    nodes = [
        helper.make_node("Shape", ["x"], ["shp"]),
        helper.make_node("Gather", ["shp", "two"], ["h"], axis=0),
        helper.make_node("Cast", ["h"], ["hf"], to=to),
        helper.make_node("Div", ["hf", "s"], ["q"]),
        helper.make_node("Ceil", ["q"], ["cq"]),
        helper.make_node("Sub", ["cq", "one"], ["c1"]),
        helper.make_node("Mul", ["c1", "s"], ["c2"]),
        helper.make_node("Add", ["c2", "k"], ["c3"]),
        helper.make_node("Sub", ["c3", "hf"], ["c4"]),
        helper.make_node("Max", ["c4", "zero"], ["pad"]) if use_max else helper.make_node("Clip", ["c4", "zero"], ["pad"]),
        helper.make_node("Div", ["pad", "twof"], ["half"]),
        helper.make_node("Floor", ["half"], ["before"]),
        helper.make_node("Sub", ["pad", "before"], ["after"]),
        helper.make_node("Concat", ["before", "after"], ["ba"], axis=0),
        helper.make_node("Cast", ["ba"], ["bai"], to=I64),
        helper.make_node("Concat", ["z2", "bai", "z2", "z2"], ["pads"], axis=0),  # [0,0,b,0, 0,0,a,0] order below
        helper.make_node("Gather", ["pads", "perm"], ["pads2"], axis=0),
        helper.make_node("Pad", ["x", "pads2"], ["y"]),
    ]
    inits = [
        numpy_helper.from_array(_ints([2]), "two"), c("s", [stride], npf), c("one", [1], npf), c("k", [kernel], npf),
        c("zero", [0] if use_max else 0, npf), c("twof", [2], npf), numpy_helper.from_array(_ints([0, 0]), "z2"),
        numpy_helper.from_array(_ints([0, 1, 2, 4, 5, 6, 3, 7]), "perm"),
    ]  # fmt: skip
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, [1, 1, "H", 3])],
                              [helper.make_tensor_value_info("y", F, None)], inits)  # fmt: skip
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 8
    return m


@pytest.mark.parametrize("kernel,stride", [(3, 1), (3, 2), (5, 2), (7, 3), (4, 4), (1, 5)])
@pytest.mark.parametrize("use_max", [False, True])
def test_same_padding_in_float_is_exact_symbolically(kernel, stride, use_max):
    m = _same_pad_model(kernel, stride, use_max=use_max)
    am = analyzer.analyze(m)
    h_out = am.value("y").shape[2]
    assert isinstance(h_out, str), (h_out, am.notes)
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    for h in list(range(1, 40)) + [255, 1000, 4097]:
        (y,) = sess.run(None, {"x": np.zeros((1, 1, h, 3), np.float32)})
        assert evaluate(h_out, {"H": h}) == y.shape[2], (kernel, stride, h)
        bound = analyzer.analyze(m, input_shapes={"x": (1, 1, h, 3)})
        assert bound.value("y").shape == y.shape


def test_double_keeps_float64_semantics():
    m = _same_pad_model(5, 2, to=TensorProto.DOUBLE)
    am = analyzer.analyze(m)
    assert isinstance(am.value("y").shape[2], str), am.notes


def test_float16_is_not_claimed_exact():
    """float16 holds integers exactly only up to 2**11: with sizes up to 2**20 assumed,
    the pad computation is not proven, and a note says why."""
    m = _same_pad_model(5, 2, to=TensorProto.FLOAT16)
    am = analyzer.analyze(m)
    assert am.value("y").shape[2] is None
    assert any("not proven exact" in n and "2**11" in n for n in am.notes), am.notes


def test_division_twice_rounded_is_refused():
    """(H/3)/7 in float32 rounds twice: not claimed, noted."""
    nodes = [
        helper.make_node("Shape", ["x"], ["shp"]),
        helper.make_node("Gather", ["shp", "two"], ["h"], axis=0),
        helper.make_node("Cast", ["h"], ["hf"], to=F),
        helper.make_node("Div", ["hf", "three"], ["q"]),
        helper.make_node("Div", ["q", "seven"], ["q2"]),
        helper.make_node("Ceil", ["q2"], ["c"]),
        helper.make_node("Cast", ["c"], ["y"], to=I64),
    ]
    inits = [numpy_helper.from_array(_ints([2]), "two"), numpy_helper.from_array(np.array([3], np.float32), "three"),
             numpy_helper.from_array(np.array([7], np.float32), "seven")]  # fmt: skip
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, [1, 1, "H", 3])], [helper.make_tensor_value_info("y", I64, None)], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 8
    am = analyzer.analyze(m)
    assert am.value("y").constant is None
    assert any("rounded" in n for n in am.notes), am.notes


def _dynamo_same_pad_model(kernel, stride):
    """The dynamo exporter's form: only the division and Ceil in float, the rest in int64
    (Cast back right after Ceil, Max(x, 0) and floor division as integer ops)."""
    i = lambda name, v: numpy_helper.from_array(np.array(v, np.int64), name)
    nodes = [
        helper.make_node("Shape", ["x"], ["hs"], start=2, end=3),
        helper.make_node("Squeeze", ["hs"], ["h"]),
        helper.make_node("Cast", ["h"], ["hf"], to=F),
        helper.make_node("Div", ["hf", "sf"], ["q"]),
        helper.make_node("Ceil", ["q"], ["cq"]),
        helper.make_node("Cast", ["cq"], ["c"], to=I64),
        helper.make_node("Sub", ["c", "one"], ["c1"]),
        helper.make_node("Mul", ["c1", "s"], ["c2"]),
        helper.make_node("Add", ["c2", "k"], ["c3"]),
        helper.make_node("Sub", ["c3", "h"], ["c4"]),
        helper.make_node("Max", ["c4", "zero"], ["pad"]),
        helper.make_node("Div", ["pad", "two"], ["before"]),
        helper.make_node("Sub", ["pad", "before"], ["after"]),
        helper.make_node("Reshape", ["before", "r1"], ["b1"]),
        helper.make_node("Reshape", ["after", "r1"], ["a1"]),
        helper.make_node("Concat", ["z1", "z1", "b1", "z1", "z1", "z1", "a1", "z1"], ["pads"], axis=0),
        helper.make_node("Pad", ["x", "pads"], ["y"]),
    ]
    inits = [numpy_helper.from_array(np.array(stride, np.float32), "sf"), i("one", 1), i("s", stride), i("k", kernel),
             i("zero", 0), i("two", 2), i("r1", [1]), i("z1", [0])]  # fmt: skip
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, [1, 1, "H", 3])],
                              [helper.make_tensor_value_info("y", F, None)], inits)  # fmt: skip
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 8
    return m


@pytest.mark.parametrize("kernel,stride", [(3, 1), (3, 2), (5, 2), (7, 3)])
def test_same_padding_in_int_after_ceil_is_exact(kernel, stride):
    m = _dynamo_same_pad_model(kernel, stride)
    am = analyzer.analyze(m)
    h_out = am.value("y").shape[2]
    assert isinstance(h_out, str) and "max" not in h_out, (h_out, am.notes)
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    for h in list(range(1, 30)) + [1001]:
        (y,) = sess.run(None, {"x": np.zeros((1, 1, h, 3), np.float32)})
        assert evaluate(h_out, {"H": h}) == y.shape[2], (kernel, stride, h)
