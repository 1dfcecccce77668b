"""Our shape functions against what the ops really produce, and the cases exporters emit.

1. Every operator test case of the installed onnx (``onnx.backend.test.case.node``)
   records the outputs onnx's reference implementation produced.  Our engine (alone: no
   onnx fallback, no declared shapes) runs on each model three ways:

   * *plain*: as it is (inputs of known shapes, values unknown);
   * *const*: every input of at most 4096 numbers turned into an initializer with the
     recorded value, so shape inputs (Reshape targets, pads, sizes, k, ...) are constants
     and constant folding runs;
   * *sym*: every input dim a symbol ``in<i>_<j>`` (except 1-D integer vectors, the
     shape-like inputs), so the symbolic paths run.

   Wherever our shape has a number it must be the recorded one; a symbol must evaluate
   to it (the input symbols bound to the real sizes, a data-dependent fresh symbol bound
   consistently across the outputs); a folded constant must equal the recorded value.
   In the *const* variant every output must be fully known, except for the few cases
   listed in ``CONST_GAPS`` (with the reason).

2. Targeted models: the Shape -> Gather -> Concat -> Reshape family with symbolic
   vectors, fresh symbols for data-dependent sizes (and their naming), control flow,
   sequences and model-local functions; where onnxruntime is installed, the symbolic
   results are also checked against real runs at two input sizes.
"""
from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from analyzer.graph.build import MAIN
from analyzer.shapes import SHAPE_FUNCTIONS, dims
from analyzer.shapes.dims import dim_add, dim_ceildiv, dim_floordiv, dim_max, dim_min, dim_mul, dim_sub, symbol
from tests.test_shapes_agreement import our_shapes

_evaluate = getattr(dims, "evaluate", None)
_free_symbols = getattr(dims, "free_symbols", None)

OPSET = 18
FLOAT, INT64 = TensorProto.FLOAT, TensorProto.INT64

#: op test cases whose outputs stay (partly) unknown even with constant inputs, and why
CONST_GAPS = {
    "test_loop11": "the scan output's size is Slice(x, i, i + 1) of the iteration number i: 1 only because i < 5",
}

#: ops of vision, speech and transformer exports: each must have a shape function of ours
MATTER = """
Abs Add And ArgMax ArgMin AveragePool BatchNormalization Cast CastLike Ceil Clip Concat Constant ConstantOfShape Conv
ConvTranspose Cos CumSum DepthToSpace DequantizeLinear Div Dropout Einsum Elu Equal Erf Exp Expand Flatten Floor Gather
GatherElements GatherND Gelu Gemm GlobalAveragePool GlobalMaxPool Greater GreaterOrEqual GroupNormalization GRU HardSigmoid
HardSwish Identity If InstanceNormalization IsInf IsNaN LayerNormalization LeakyRelu Less LessOrEqual Log LogSoftmax Loop
LpNormalization LRN LSTM MatMul MatMulInteger Max MaxPool Mean Min Mish Mod Mul Neg NonMaxSuppression NonZero Not OneHot
Or Pad Pow PRelu QLinearConv QLinearMatMul QuantizeLinear DynamicQuantizeLinear Range Reciprocal ReduceL2 ReduceMax
ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu Reshape Resize RNN RoiAlign Round Scan ScatterElements
ScatterND Selu Shape Sigmoid Sign Sin Size Slice Softmax Softplus SpaceToDepth Split Sqrt Squeeze Sub Sum Tanh Tile TopK
Transpose Trilu Unique Unsqueeze Upsample Where Xor Attention RMSNormalization RotaryEmbedding DFT STFT HannWindow
HammingWindow BlackmanWindow MelWeightMatrix GridSample AffineGrid DeformConv Col2Im MaxUnpool CenterCropPad Compress
SequenceAt SequenceConstruct SequenceEmpty SequenceInsert SequenceLength SplitToSequence ConcatFromSequence Optional
OptionalGetElement OptionalHasElement SoftmaxCrossEntropyLoss NegativeLogLikelihoodLoss TensorScatter BitCast
""".split()


# --------------------------------------------------------------------------------------
# 1. onnx's operator test cases, against their recorded outputs


def _cases():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from onnx.backend.test.case.node import collect_testcases

            return {c.name: c for c in collect_testcases(None) if c.model is not None and c.data_sets}
    except Exception:
        return {}


CASES = _cases()


def _real(a):
    """(shape, array or None) of a recorded output; (None, None) for a sequence/optional."""
    if isinstance(a, TensorProto):
        return tuple(int(d) for d in a.dims), None
    if isinstance(a, (np.ndarray, np.generic)):
        a = np.asarray(a)
        return a.shape, a
    return None, None


def with_constant_inputs(model, inputs):
    m = onnx.ModelProto()
    m.CopyFrom(model)
    kept = []
    for vi, a in zip(list(m.graph.input), inputs):
        t = None
        if isinstance(a, TensorProto):
            t = TensorProto()
            t.CopyFrom(a)
            t.name = vi.name
        elif isinstance(a, (np.ndarray, np.generic)) and np.asarray(a).dtype.kind in "biuf":
            t = numpy_helper.from_array(np.asarray(a), vi.name)
        if t is not None and int(np.prod(t.dims)) <= 4096:
            m.graph.initializer.append(t)
        else:
            kept.append(vi)
    del m.graph.input[:]
    m.graph.input.extend(kept)
    return m


def _shape_like(vi):
    tt = vi.type.tensor_type
    return len(tt.shape.dim) <= 1 and tt.elem_type in (TensorProto.INT64, TensorProto.INT32)


def with_symbolic_inputs(model, inputs):
    """(model with input dims in<i>_<j>, their real values)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    env = {}
    for i, (vi, a) in enumerate(zip(m.graph.input, inputs)):
        shape, _ = _real(a)
        if not vi.type.HasField("tensor_type") or not vi.type.tensor_type.HasField("shape") or _shape_like(vi):
            continue
        for j, d in enumerate(vi.type.tensor_type.shape.dim):
            d.ClearField("dim_value")
            d.dim_param = f"in{i}_{j}"
            if shape is not None and j < len(shape):
                env[f"in{i}_{j}"] = int(shape[j])
    return m, env


def check_against_outputs(model, outputs, env=None):
    """(problems, names of outputs not fully known)."""
    graph, shapes = our_shapes(model)
    problems, unknown, pending = [], [], []
    bindings = dict(env or {})
    for vi, actual in zip(model.graph.output, outputs):
        shape, arr = _real(actual)
        if shape is None:
            continue
        info = shapes.info(("value", MAIN, vi.name))
        ours = info.shape
        if ours is None or any(d is None for d in ours):
            unknown.append(vi.name)
        if ours is None:
            continue
        if len(ours) != len(shape):
            problems.append((vi.name, "rank", ours, shape))
            continue
        for d, a in zip(ours, shape):
            if isinstance(d, int) and d != a:
                problems.append((vi.name, "dim", ours, shape))
                break
            if isinstance(d, str):
                pending.append((vi.name, d, int(a), ours, shape))
        if info.value is not None and arr is not None:
            v = info.value
            try:
                if arr.dtype.kind in "biuUSO":
                    same = v.shape == arr.shape and np.array_equal(v, arr)
                else:
                    same = v.shape == arr.shape and np.allclose(v.astype(np.float64), arr.astype(np.float64), rtol=1e-4, atol=1e-6, equal_nan=True)
            except (TypeError, ValueError):
                same = False
            if not same:
                problems.append((vi.name, "value", v.reshape(-1)[:8], arr.reshape(-1)[:8]))
    if _evaluate is not None:
        for name, d, a, ours, shape in pending:  # a bare (fresh) symbol: bind it, consistently
            names = _free_symbols(d)
            if len(names) == 1 and symbol(next(iter(names))) == d:
                s = next(iter(names))
                if bindings.setdefault(s, a) != a:
                    problems.append((name, "symbol", d, bindings[s], a))
        for name, d, a, ours, shape in pending:
            v = _evaluate(d, bindings)
            if v is not None and v != a:
                problems.append((name, "expression", str(d), v, a, ours, shape))
    return problems, unknown


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_case_matches_recorded_outputs(name):
    case = CASES[name]
    inputs, outputs = case.data_sets[0]
    problems, _ = check_against_outputs(case.model, outputs)
    assert problems == [], f"plain: {problems[:3]}"
    problems, unknown = check_against_outputs(with_constant_inputs(case.model, inputs), outputs)
    assert problems == [], f"const: {problems[:3]}"
    if name not in CONST_GAPS:
        assert unknown == [], f"const: outputs {unknown} not fully known"
    model, env = with_symbolic_inputs(case.model, inputs)
    problems, _ = check_against_outputs(model, outputs, env)
    assert problems == [], f"sym: {problems[:3]}"


def test_op_cases_are_there():
    assert len(CASES) > 1000
    assert set(CONST_GAPS) <= set(CASES)


def test_ops_that_matter_have_shape_functions():
    # importing the modules registers their shape functions (infer_shapes does the same)
    from analyzer.shapes import ops_attention, ops_control, ops_elementwise, ops_ml, ops_nn, ops_sequence, ops_signal, ops_tensor  # noqa: F401

    missing = sorted(op for op in MATTER if ("", op) not in SHAPE_FUNCTIONS)
    assert missing == []


# --------------------------------------------------------------------------------------
# 2. targeted models


def _model(nodes, inputs, outputs, initializers=(), functions=(), opset=OPSET):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    imports = [helper.make_opsetid("", opset)] + [helper.make_opsetid(f.domain, 1) for f in functions]
    m = helper.make_model(graph, opset_imports=imports, functions=list(functions))
    m.ir_version = 8
    return m


def _vi(name, shape, dtype=FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def _out(name):
    """A graph output without a declared type (the runtimes infer it)."""
    return onnx.ValueInfoProto(name=name)


def _const(name, values, dtype=np.int64):
    return numpy_helper.from_array(np.array(values, dtype=dtype), name)


def _shapes_of(model):
    graph, shapes = our_shapes(model)
    return lambda name, path=MAIN: shapes.info(("value", path, name)).shape, graph, shapes


def _run_ort(model, feeds):
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, feeds)))


def _check_symbolic(model, shape_of, env_feeds):
    """Every output's symbolic shape, evaluated at each set of input sizes, is what
    onnxruntime produces for inputs of those sizes."""
    if _evaluate is None:
        pytest.skip("the dims module cannot evaluate expressions")
    for env, feeds in env_feeds:
        real = _run_ort(model, feeds)
        for name, arr in real.items():
            ours = shape_of(name)
            assert ours is not None and len(ours) == arr.ndim, (name, ours, arr.shape)
            got = tuple(_evaluate(d, env) if isinstance(d, str) else d for d in ours)
            assert got == arr.shape, (name, ours, env, arr.shape)


def transformer_shape_model():
    """Multi-head reshapes the way exporters write them, on x: [B, S, 64]."""
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "i0"], ["b"], axis=0),
        helper.make_node("Gather", ["shape", "i1"], ["s"], axis=0),
        helper.make_node("Unsqueeze", ["b", "ax0"], ["b1"]),
        helper.make_node("Unsqueeze", ["s", "ax0"], ["s1"]),
        helper.make_node("Concat", ["b1", "s1", "heads", "minus1"], ["split_shape"], axis=0),
        helper.make_node("Reshape", ["x", "split_shape"], ["xh"]),  # [B, S, 4, 16]
        helper.make_node("Transpose", ["xh"], ["xt"], perm=[0, 2, 1, 3]),  # [B, 4, S, 16]
        helper.make_node("Transpose", ["xt"], ["xt_T"], perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["xt", "xt_T"], ["scores"]),  # [B, 4, S, S]
        helper.make_node("Softmax", ["scores"], ["probs"], axis=-1),
        helper.make_node("MatMul", ["probs", "xt"], ["ctx"]),
        helper.make_node("Transpose", ["ctx"], ["ctx_t"], perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["ctx_t", "zero_zero_m1"], ["merged"]),  # Reshape with 0 and -1
        # position ids: Range(0, S, 1) and a slice of a [32, 64] table by S
        helper.make_node("Range", ["zero", "s", "one"], ["pos"]),
        helper.make_node("Unsqueeze", ["s", "ax0"], ["s_end"]),
        helper.make_node("Slice", ["table", "zero1", "s_end", "ax0"], ["pos_emb"]),
        # ConstantOfShape(Shape(x)), Expand to Shape(x), Cast of the shape
        helper.make_node("ConstantOfShape", ["shape"], ["zeros"], value=helper.make_tensor("v", FLOAT, [1], [0.0])),
        helper.make_node("Cast", ["shape"], ["shape32"], to=TensorProto.INT32),
        helper.make_node("Cast", ["shape32"], ["shape64"], to=TensorProto.INT64),
        helper.make_node("Expand", ["bias", "shape64"], ["bias_x"]),
        # the legacy exporter's Where(Equal(shape, -1), 1, shape) before an Expand
        helper.make_node("Equal", ["shape", "minus_ones"], ["is_m1"]),
        helper.make_node("Where", ["is_m1", "ones3", "shape"], ["expand_to"]),
        helper.make_node("Expand", ["bias", "expand_to"], ["bias_x2"]),
        # last position: x[:, -1:, :] and everything but the last: x[:, :-1, :]
        helper.make_node("Slice", ["x", "m1", "big", "ax1"], ["last"]),
        helper.make_node("Slice", ["x", "zero1", "m1", "ax1"], ["init"]),
        # Shape -> Slice -> Concat -> Reshape: flatten the batch and sequence axes
        helper.make_node("Slice", ["shape", "two1", "big", "ax0"], ["tail"]),
        helper.make_node("Concat", ["minus1", "tail"], ["flat_shape"], axis=0),
        helper.make_node("Reshape", ["x", "flat_shape"], ["flat"]),
    ]
    inits = [
        _const("i0", 0), _const("i1", 1), _const("ax0", [0]), _const("ax1", [1]), _const("heads", [4]),
        _const("minus1", [-1]), _const("m1", [-1]), _const("big", [2**63 - 1]), _const("two1", [2]),
        _const("zero_zero_m1", [0, 0, -1]), _const("zero", 0), _const("one", 1), _const("zero1", [0]),
        _const("minus_ones", [-1, -1, -1]), _const("ones3", [1, 1, 1]),
        numpy_helper.from_array(np.zeros((32, 64), np.float32), "table"),
        numpy_helper.from_array(np.zeros((64,), np.float32), "bias"),
    ]  # fmt: skip
    outs = ["merged", "probs", "pos", "pos_emb", "zeros", "bias_x", "bias_x2", "last", "init", "flat"]
    return _model(nodes, [_vi("x", ["B", "S", 64])], [_out(o) for o in outs], inits)


def test_shape_subgraphs_with_symbolic_vectors():
    model = transformer_shape_model()
    shape, graph, shapes = _shapes_of(model)
    B, S = symbol("B"), symbol("S")
    assert shape("split_shape") == (4,) and shapes.info(("value", MAIN, "split_shape")).sym == [B, S, 4, -1]
    assert shape("xh") == (B, S, 4, 16)
    assert shape("scores") == (B, 4, S, S)
    assert shape("merged") == (B, S, 64)
    assert shape("pos") == (S,)
    assert shape("pos_emb") == (dim_min(S, 32), 64)
    assert shape("zeros") == (B, S, 64)
    assert shape("bias_x") == (B, S, 64)
    assert shape("bias_x2") == (B, S, 64)
    assert shape("last") == (B, dim_min(1, S), 64)
    assert shape("init") == (B, dim_max(dim_sub(S, 1), 0), 64)
    assert shape("flat") == (dim_mul(B, S), 64)
    envs = [({"B": b, "S": s}, {"x": np.random.rand(b, s, 64).astype(np.float32)}) for b, s in ((1, 5), (3, 40))]
    _check_symbolic(model, shape, envs)


def _data_dependent_model():
    nodes = [
        helper.make_node("NonZero", ["mask"], ["nz"]),
        helper.make_node("Transpose", ["nz"], ["nz_t"]),
        helper.make_node("TopK", ["scores", "k"], ["values", "indices"], axis=-1),
        helper.make_node("Unique", ["labels"], ["uniq", "first", "inverse", "counts"]),
        helper.make_node("Compress", ["scores", "keep"], ["kept"], axis=1),
        helper.make_node("NonMaxSuppression", ["boxes", "box_scores", "max_out"], ["selected"]),
        helper.make_node("Gather", ["selected", "col2"], ["box_idx"], axis=1),
        helper.make_node("Range", ["zero", "n", "one"], ["steps"]),
    ]
    inputs = [
        _vi("mask", [3, 4], TensorProto.BOOL), _vi("scores", [2, 10]), _vi("k", [1], INT64), _vi("labels", [7], INT64),
        _vi("keep", [10], TensorProto.BOOL), _vi("boxes", [1, 6, 4]), _vi("box_scores", [1, 1, 6]), _vi("max_out", [1], INT64),
        _vi("n", [], INT64),
    ]  # fmt: skip
    inits = [_const("col2", 2), _const("zero", 0), _const("one", 1)]
    outs = ["nz_t", "values", "indices", "uniq", "first", "inverse", "counts", "kept", "box_idx", "steps"]
    return _model(nodes, inputs, [_out(o) for o in outs], inits)


def test_data_dependent_sizes_get_fresh_symbols():
    model = _data_dependent_model()
    shape, graph, shapes = _shapes_of(model)
    assert shape("nz_t") == (symbol("nonzero_count(nz)"), 2)
    k = symbol("topk_k(values)")
    assert shape("values") == (2, k) and shape("indices") == (2, k)
    u = symbol("unique_count(uniq)")
    assert shape("uniq") == (u,) and shape("first") == (u,) and shape("counts") == (u,) and shape("inverse") == (7,)
    assert shape("kept") == (2, symbol("compress_count(kept)"))
    assert shape("box_idx") == (symbol("nonmaxsuppression_count(selected)"),)
    assert shape("steps") == (symbol("range_len(steps)"),)
    # with onnxruntime: the same fresh symbol is the same size everywhere it appears
    feeds = {
        "mask": np.array([[1, 0, 1, 0], [0, 0, 0, 1], [1, 1, 0, 0]], bool), "scores": np.random.rand(2, 10).astype(np.float32),
        "k": np.array([3]), "labels": np.array([3, 1, 3, 2, 1, 7, 3]), "keep": np.arange(10) % 3 == 0,
        "boxes": np.random.rand(1, 6, 4).astype(np.float32), "box_scores": np.random.rand(1, 1, 6).astype(np.float32),
        "max_out": np.array([6]), "n": np.array(5),
    }  # fmt: skip
    real = _run_ort(model, feeds)
    sizes = {}
    for name, arr in real.items():
        for d, a in zip(shape(name), arr.shape):
            if isinstance(d, int):
                assert d == a, (name, shape(name), arr.shape)
            else:
                assert sizes.setdefault(d, a) == a, (name, d, sizes[d], a)
    assert sizes[k] == 3 and sizes[u] == 4


def test_topk_with_constant_or_symbolic_k():
    nodes = [
        helper.make_node("Shape", ["x"], ["sh"]),
        helper.make_node("Gather", ["sh", "i1"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"]),
        helper.make_node("Div", ["n1", "two"], ["half"]),
        helper.make_node("TopK", ["x", "half"], ["v", "i"]),
        helper.make_node("TopK", ["x", "three"], ["v3", "i3"]),
    ]
    inits = [_const("i1", 1), _const("ax0", [0]), _const("two", [2]), _const("three", [3])]
    model = _model(nodes, [_vi("x", ["B", "N"])], [_out(o) for o in ("v", "v3")], inits)
    shape, _, _ = _shapes_of(model)
    assert shape("v") == (symbol("B"), dim_floordiv(symbol("N"), 2))
    assert shape("v3") == (symbol("B"), 3)


def test_fresh_symbol_names_in_subgraphs_and_functions():
    long_name = "y" * 100
    then_g = helper.make_graph([helper.make_node("NonZero", ["x"], ["nz_then"])], "then", [], [_vi("nz_then", None, INT64)])
    else_g = helper.make_graph([helper.make_node("NonZero", ["x"], [long_name])], "else", [], [_vi(long_name, None, INT64)])
    fn = helper.make_function(
        "local", "Nz", ["a"], ["b"], [helper.make_node("NonZero", ["a"], ["b"])], [helper.make_opsetid("", OPSET)]
    )
    nodes = [
        helper.make_node("If", ["c"], ["picked"], then_branch=then_g, else_branch=else_g),
        helper.make_node("Nz", ["x"], ["called"], domain="local"),
    ]
    model = _model(nodes, [_vi("x", [3, 4]), _vi("c", [], TensorProto.BOOL)], [_out("picked"), _out("called")], functions=[fn])
    shape, graph, _ = _shapes_of(model)
    then_path = graph.subgraph_path(("op", MAIN, 0), "then_branch")
    else_path = graph.subgraph_path(("op", MAIN, 0), "else_branch")
    a = symbol(f"nonzero_count({then_path}/nz_then)")
    assert shape("nz_then", then_path) == (2, a)
    (b_shape,) = [shape(long_name, else_path)]
    b = b_shape[1]
    assert isinstance(b, str) and len(b) < 90 and b.startswith("nonzero_count(") and b != a
    # the If merges two different counts: not a known size
    assert shape("picked") == (2, None)
    # a function body is analyzed once for calls with the same input shapes: no fresh symbol there
    assert shape("called") == (2, None)


def test_loop_carried_values_that_grow_and_that_do_not():
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Concat", ["acc_in", "row"], ["acc_out"], axis=0),  # grows by one row
            helper.make_node("Add", ["h_in", "row"], ["h_out"]),  # keeps its shape
            helper.make_node("Mul", ["h_out", "two"], ["scan_out"]),
        ],
        "body",
        [_vi("i", [], INT64), _vi("cond_in", [], TensorProto.BOOL), _vi("acc_in", None), _vi("h_in", None)],
        [_vi("cond_out", None, TensorProto.BOOL), _vi("acc_out", None), _vi("h_out", None), _vi("scan_out", None)],
        [numpy_helper.from_array(np.ones((1, 8), np.float32), "row"), numpy_helper.from_array(np.float32(2), "two")],
    )
    nodes = [
        helper.make_node("Shape", ["x"], ["sh"]),
        helper.make_node("Gather", ["sh", "i0"], ["trip"], axis=0),
        helper.make_node("Loop", ["trip", "", "acc0", "h0"], ["acc", "h", "scans"], body=body),
    ]
    model = _model(
        nodes, [_vi("x", ["T", 3]), _vi("acc0", [2, 8]), _vi("h0", [1, 8])], [_out(o) for o in ("acc", "h", "scans")], [_const("i0", 0)]
    )
    shape, graph, _ = _shapes_of(model)
    body_path = graph.subgraph_path(("op", MAIN, 2), "body")
    assert shape("acc") == (None, 8)
    assert shape("acc_out", body_path) == (None, 8)  # the body holds for every iteration, not only the first
    assert shape("h") == (1, 8)
    assert shape("scans") == (symbol("T"), 1, 8)
    real = _run_ort(model, {"x": np.zeros((4, 3), np.float32), "acc0": np.zeros((2, 8), np.float32), "h0": np.zeros((1, 8), np.float32)})
    assert real["scans"].shape == (4, 1, 8) and real["acc"].shape == (6, 8) and real["h"].shape == (1, 8)


def test_scan_state_and_outputs():
    body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "x_t"], ["s_out"]), helper.make_node("Identity", ["s_out"], ["y_t"])],
        "body",
        [_vi("s_in", None), _vi("x_t", None)],
        [_vi("s_out", None), _vi("y_t", None)],
    )
    node = helper.make_node("Scan", ["s0", "xs"], ["s", "ys"], body=body, num_scan_inputs=1, scan_input_axes=[1], scan_output_axes=[1])
    model = _model([node], [_vi("s0", ["B", 4]), _vi("xs", ["B", "L", 4])], [_out("s"), _out("ys")])
    shape, _, _ = _shapes_of(model)
    B, L = symbol("B"), symbol("L")
    assert shape("s") == (B, 4)
    assert shape("ys") == (B, L, 4)
    envs = [({"B": b, "L": n}, {"s0": np.zeros((b, 4), np.float32), "xs": np.ones((b, n, 4), np.float32)}) for b, n in ((1, 2), (2, 5))]
    _check_symbolic(model, shape, envs)


def test_sequences():
    nodes = [
        helper.make_node("SplitToSequence", ["x"], ["seq"], axis=1, keepdims=0),
        helper.make_node("SequenceLength", ["seq"], ["n"]),
        helper.make_node("SequenceAt", ["seq", "i0"], ["first"]),
        helper.make_node("ConcatFromSequence", ["seq"], ["stacked"], axis=0, new_axis=1),
        helper.make_node("SequenceConstruct", ["x", "x"], ["pair"]),
        helper.make_node("ConcatFromSequence", ["pair"], ["joined"], axis=2),
    ]
    model = _model(nodes, [_vi("x", ["B", 5, "W"])], [_out(o) for o in ("n", "first", "stacked", "joined")], [_const("i0", 0)])
    shape, _, shapes = _shapes_of(model)
    B, W = symbol("B"), symbol("W")
    assert shapes.info(("value", MAIN, "n")).value == 5
    assert shape("first") == (B, W)
    assert shape("stacked") == (5, B, W)
    assert shape("joined") == (B, 5, dim_mul(W, 2))
    envs = [({"B": b, "W": w}, {"x": np.zeros((b, 5, w), np.float32)}) for b, w in ((1, 1), (2, 7))]
    _check_symbolic(model, shape, envs)


def test_model_local_function_shapes():
    body = [
        helper.make_node("Constant", [], ["m1"], value=_const("m1v", [-1])),
        helper.make_node("Shape", ["a"], ["sh"], end=-2),
        helper.make_node("Concat", ["sh", "m1"], ["target"], axis=0),
        helper.make_node("Reshape", ["a", "target"], ["b"]),
    ]
    fn = helper.make_function("local", "FlattenLast2", ["a"], ["b"], body, [helper.make_opsetid("", OPSET)])
    nodes = [helper.make_node("FlattenLast2", ["x"], ["y"], domain="local"), helper.make_node("FlattenLast2", ["z"], ["w"], domain="local")]
    model = _model(nodes, [_vi("x", ["N", 3, 4]), _vi("z", [2, "H", 6])], [_out("y"), _out("w")], functions=[fn])
    shape, _, _ = _shapes_of(model)
    assert shape("y") == (symbol("N"), 12)
    assert shape("w") == (2, dim_mul(symbol("H"), 6))


def test_split_and_slice_of_symbolic_sizes():
    nodes = [
        helper.make_node("Split", ["x"], ["a", "b", "c"], axis=1, num_outputs=3),
        helper.make_node("Split", ["x"], ["p", "q"], axis=2, num_outputs=2),
        helper.make_node("Slice", ["x", "s2", "big", "ax1"], ["from2"]),
        helper.make_node("Slice", ["x", "big_neg", "m3", "ax1"], ["to_m3"]),
        helper.make_node("Slice", ["x", "big", "big_neg", "ax1", "m2"], ["rev2"]),
    ]
    inits = [_const("s2", [2]), _const("big", [2**63 - 1]), _const("big_neg", [-(2**63)]), _const("m3", [-3]), _const("ax1", [1]), _const("m2", [-2])]
    model = _model(nodes, [_vi("x", ["B", "L", 8])], [_out(o) for o in ("a", "b", "c", "p", "from2", "to_m3", "rev2")], inits)
    shape, _, _ = _shapes_of(model)
    B, L = symbol("B"), symbol("L")
    chunk = dim_ceildiv(L, 3)
    assert shape("a") == (B, chunk, 8) and shape("c") == (B, dim_sub(L, dim_mul(chunk, 2)), 8)
    assert shape("p") == (B, L, 4)
    assert shape("from2") == (B, dim_max(dim_sub(L, 2), 0), 8)
    assert shape("to_m3") == (B, dim_max(dim_add(L, -3), 0), 8)
    assert shape("rev2") == (B, dim_ceildiv(L, 2), 8)
    envs = [({"B": 2, "L": n}, {"x": np.zeros((2, n, 8), np.float32)}) for n in (3, 7, 9)]
    _check_symbolic(model, shape, envs)
    # before opset 18 a Split without sizes is even: L/2 exactly
    model = _model([helper.make_node("Split", ["x"], ["h1", "h2"], axis=1)], [_vi("x", ["B", "L", 8])], [_out("h1"), _out("h2")], opset=13)
    shape, _, _ = _shapes_of(model)
    assert shape("h1") == shape("h2") == (B, dim_floordiv(L, 2), 8)
    _check_symbolic(model, shape, [({"B": 1, "L": n}, {"x": np.zeros((1, n, 8), np.float32)}) for n in (2, 6)])


def test_while_loop_iterations_are_a_fresh_symbol():
    """Exporters write a while loop as Loop(INT64_MAX, cond): the number of scan rows is
    data dependent."""
    body = helper.make_graph(
        [helper.make_node("Less", ["x", "limit"], ["more"]), helper.make_node("Add", ["x", "x"], ["x2"]), helper.make_node("Identity", ["x"], ["row"])],
        "body",
        [_vi("i", [], INT64), _vi("c", [], TensorProto.BOOL), _vi("x", [])],
        [_vi("more", [], TensorProto.BOOL), _vi("x2", []), _vi("row", [])],
        [numpy_helper.from_array(np.float32(100), "limit")],
    )
    nodes = [helper.make_node("Loop", ["max_trip", "go", "x0"], ["x_last", "rows"], body=body)]
    model = _model(nodes, [_vi("x0", []), _vi("go", [], TensorProto.BOOL)], [_out("x_last"), _out("rows")], [_const("max_trip", 2**63 - 1)])
    shape, _, shapes = _shapes_of(model)
    assert shape("rows") == (symbol("loop_iterations(rows)"),)
    assert shape("x_last") == ()
    assert not any("dim" in n for n in shapes.notes), shapes.notes
    real = _run_ort(model, {"x0": np.array(3, np.float32), "go": np.array(True)})
    assert real["rows"].shape == (7,)  # 3, 6, ..., 192: the row of 192 is emitted before the condition stops it


def test_values_of_one_shape_and_dtype_share_one_info():
    """Outputs with the same shape and dtype and no value share one TensorInfo (a
    million-node chain holds one, not a million); a dtype, a shape or a value of its own
    gives a value its own info, and the graph input keeps its declared one."""
    nodes = [
        helper.make_node("Relu", ["x"], ["a"]),
        helper.make_node("Relu", ["a"], ["b"]),
        helper.make_node("Sigmoid", ["b"], ["c"]),
        helper.make_node("Cast", ["c"], ["i"], to=INT64),
        helper.make_node("Transpose", ["c"], ["t"], perm=[1, 0]),
        helper.make_node("Shape", ["a"], ["s1"]),
        helper.make_node("Shape", ["b"], ["s2"]),
    ]
    model = _model(nodes, [_vi("x", ["N", 3])], [_out(n) for n in ("i", "t", "s1", "s2")])
    _, _, shapes = _shapes_of(model)

    def info(name):
        return shapes.info(("value", MAIN, name))

    assert info("a") is info("b") is info("c")
    assert info("a").shape == ("N", 3) and info("a").dtype == FLOAT and info("a").source == "inferred"
    assert info("x").source == "input" and info("x") is not info("a")
    assert info("i").dtype == INT64 and info("i") is not info("a")
    assert info("t").shape == (3, "N") and info("t") is not info("a")
    assert info("s1").sym == ["N", 3] and info("s1") is not info("s2")


def test_equal_texts_of_different_sizes_do_not_share_an_info():
    """A dim_param named ``a*b`` prints like the product of ``a`` and ``b`` (the two are
    equal strings): a value of one must not take the other's info (its arithmetic differs)."""
    nodes = [
        helper.make_node("Flatten", ["y"], ["f"], axis=0),
        helper.make_node("Relu", ["x"], ["r"]),
    ]
    model = _model(nodes, [_vi("x", [1, "a*b"]), _vi("y", ["a", "b"])], [_out("f"), _out("r")])
    _, _, shapes = _shapes_of(model)
    f, r = shapes.info(("value", MAIN, "f")), shapes.info(("value", MAIN, "r"))
    assert f.shape == r.shape == (1, "a*b")
    assert f is not r and f.shape[1].lin != r.shape[1].lin
    assert r.shape[1] is shapes.info(("value", MAIN, "x")).shape[1]


def test_an_elementwise_op_on_the_same_input_infos_is_worked_out_once(monkeypatch):
    """A shape-only op (unary, binary) on input infos seen before gets the output info
    the first got, without its shape function; a different op type, dtype or input
    works its own out, and a failure is never reused: each failing op says so."""
    from analyzer.shapes import ops_elementwise

    calls = []
    real = ops_elementwise.binary

    def counted(ctx):
        calls.append(ctx.op.id)
        return real(ctx)

    counted.shape_only = True
    monkeypatch.setitem(SHAPE_FUNCTIONS, ("", "Add"), counted)
    nodes = [
        helper.make_node("Add", ["x", "y"], ["a"], name="A1"),
        helper.make_node("Add", ["x", "y"], ["b"], name="A2"),
        helper.make_node("Add", ["a", "b"], ["c"], name="A3"),
        helper.make_node("Add", ["b", "a"], ["d"], name="A4"),
        helper.make_node("Sub", ["x", "y"], ["e"], name="S1"),
        helper.make_node("Equal", ["x", "y"], ["q"], name="E1"),
        helper.make_node("Add", ["x", "z"], ["bad1"], name="B1"),
        helper.make_node("Add", ["x", "z"], ["bad2"], name="B2"),
    ]
    model = _model(nodes, [_vi("x", ["N", 3]), _vi("y", [1, 3]), _vi("z", [4, 5])], [_out(n) for n in ("c", "d", "e", "q", "bad1", "bad2")])
    _, _, shapes = _shapes_of(model)

    def info(name):
        return shapes.info(("value", MAIN, name))

    assert calls == ["A1", "A3", "B1", "B2"]
    assert info("a") is info("b") and info("c") is info("d")
    assert info("a").shape == ("N", 3) and info("a").dtype == FLOAT
    assert info("e").shape == ("N", 3) and info("q").dtype == TensorProto.BOOL
    assert info("bad1").shape is None and info("bad2").shape is None
    assert sum("B1" in n for n in shapes.notes) == 1 and sum("B2" in n for n in shapes.notes) == 1
    assert [u.node for u in shapes.unchecked if u.kind == "shape-error"] == ["B1", "B2"]


def test_float_size_arithmetic_repeated_on_the_same_infos_runs_each_time():
    """Two identical Shape -> Cast(float) -> Mul -> Floor -> Cast(int) size computations:
    the float ops on vectors carry a size for each (their outputs are not reused)."""
    nodes = []
    for k in ("1", "2"):
        nodes += [
            helper.make_node("Shape", ["x"], ["s" + k]),
            helper.make_node("Cast", ["s" + k], ["f" + k], to=FLOAT),
            helper.make_node("Mul", ["f" + k, "half"], ["m" + k]),
            helper.make_node("Floor", ["m" + k], ["fl" + k]),
            helper.make_node("Cast", ["fl" + k], ["i" + k], to=INT64),
            helper.make_node("Reshape", ["x", "i" + k], ["r" + k]),
        ]
    half = numpy_helper.from_array(np.array([0.5, 1.0], dtype=np.float32), "half")
    model = _model(nodes, [_vi("x", ["N", 6])], [_out("r1"), _out("r2")], [half])
    shape_of, _, _ = _shapes_of(model)
    assert shape_of("r1") == shape_of("r2")
    assert shape_of("r1")[1] == 6 and isinstance(shape_of("r1")[0], str)


def test_walk_shortcuts_give_what_each_op_gets_alone():
    """The shape walk keeps the last value it set, the last kind and the last memo hit in
    locals: a one-input Sum on an info seen before must not hand its memo hit to a
    two-input Sum of the same kind whose second input has no info (a tensor nothing
    defines), nor a value's old info to its next reader."""
    from analyzer.graph.build import build_graph
    from analyzer.shapes import infer_shapes

    def shapes_of(nodes):
        m = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])], [])
        g = build_graph(m)
        infer_shapes(g)
        return {k[2]: (a["info"].shape, a["info"].dtype) for k, a in g.nx._node.items() if k[0] == "value" and a.get("info")}

    walk = [
        helper.make_node("Sum", ["x"], ["s1"]),
        helper.make_node("Sum", ["x"], ["s2"]),  # the memo's hit
        helper.make_node("Sum", ["x", "ghost"], ["s3"]),
        helper.make_node("Relu", ["s3"], ["r1"]),
        helper.make_node("Relu", ["r1"], ["r2"]),
        helper.make_node("Relu", ["r2"], ["r3"]),
        helper.make_node("Sum", ["r3", "x"], ["s4"]),
    ]
    got = shapes_of(walk)
    assert got["s2"] == got["s1"] == ((2, 3), TensorProto.FLOAT)
    assert got["s3"] == shapes_of([walk[2]])["s3"]
    assert got["r3"] == got["s3"]
    assert got["s3"] != got["s1"]  # (what a stale memo hit would give)
    assert got["s4"] == shapes_of([walk[2], helper.make_node("Relu", ["s3"], ["r3"]), walk[6]])["s4"]
