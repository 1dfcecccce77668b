"""Our shape functions for onnxruntime's own ops (com.microsoft, com.microsoft.nchwc, and
SimplifiedLayerNormalization of the default domain) against onnxruntime's CPU build.

Each case is one node (or a short chain) built with onnx.helper, run in onnxruntime; our
engine alone (no onnx fallback, no declared output shapes) must give every output the
exact shape and type onnxruntime produced.  The inputs' shapes are declared (weights and
constants are initializers), as in a real model.
"""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from analyzer.graph.build import MAIN
from tests.test_shapes_agreement import our_shapes

ort = pytest.importorskip("onnxruntime")

MS, NCHWC = "com.microsoft", "com.microsoft.nchwc"
RNG = np.random.default_rng(0)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def u8(*shape):
    return RNG.integers(0, 255, shape).astype(np.uint8)


def i8(*shape):
    return RNG.integers(-127, 127, shape).astype(np.int8)


def scal(v, dtype=np.float32):
    return np.array(v, dtype=dtype)


class Case:
    """``nodes`` reading ``feeds`` (graph inputs, name -> array) and ``consts``
    (initializers); ``outputs`` the graph outputs checked."""

    def __init__(self, name, nodes, feeds, consts=None, outputs=None):
        self.name = name
        self.nodes = nodes if isinstance(nodes, list) else [nodes]
        self.feeds = feeds
        self.consts = consts or {}
        self.outputs = outputs or [o for o in self.nodes[-1].output if o]

    def model(self):
        inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape) for n, a in self.feeds.items()]
        outputs = [helper.make_empty_tensor_value_info(n) for n in self.outputs]
        inits = [numpy_helper.from_array(a, n) for n, a in self.consts.items()]
        graph = helper.make_graph(self.nodes, self.name, inputs, outputs, inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1),
                                                    helper.make_opsetid(NCHWC, 1)])  # fmt: skip
        m.ir_version = 8
        return m


def N(op, inputs, outputs, domain=MS, **attrs):
    return helper.make_node(op, inputs, outputs, domain=domain, **attrs)


def _cases():
    c = []
    # -- fused convs and channel-last layouts
    c.append(Case("FusedConv", N("FusedConv", ["x", "w", "b"], ["y"], activation="Relu", pads=[1, 0, 2, 1], strides=[2, 1]),
                  {"x": f32(2, 4, 9, 7)}, {"w": f32(6, 4, 3, 3), "b": f32(6)}))
    c.append(Case("FusedConv_sum", N("FusedConv", ["x", "w", "b", "z"], ["y"], activation="Sigmoid", dilations=[2, 2], pads=[2, 2, 2, 2]),
                  {"x": f32(1, 4, 5, 5), "z": f32(1, 6, 5, 5)}, {"w": f32(6, 4, 3, 3), "b": f32(6)}))
    c.append(Case("FusedConv_same", N("FusedConv", ["x", "w"], ["y"], activation="LeakyRelu", activation_params=[0.1],
                                       auto_pad="SAME_UPPER", strides=[2, 2]), {"x": f32(1, 2, 7, 8)}, {"w": f32(3, 2, 3, 3)}))
    c.append(Case("NhwcMaxPool", N("NhwcMaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
                  {"x": u8(1, 9, 8, 4)}))
    c.append(Case("FusedGemm", N("FusedGemm", ["a", "b", "c"], ["y"], transA=1, activation="Relu"),
                  {"a": f32(5, 3)}, {"b": f32(5, 4), "c": f32(4)}))
    c.append(Case("FusedMatMul", N("FusedMatMul", ["a", "b"], ["y"], transA=1, transB=1, alpha=0.5),
                  {"a": f32(2, 3, 5, 4), "b": f32(3, 6, 5)}))
    c.append(Case("FusedMatMul_batch", N("FusedMatMul", ["a", "b"], ["y"], transBatchA=1),
                  {"a": f32(4, 2, 3, 5), "b": f32(2, 3, 5, 6)}))
    c.append(Case("TransposeMatMul", N("TransposeMatMul", ["a", "b"], ["y"], transB=1), {"a": f32(3, 4), "b": f32(6, 4)}))
    for op in ("Gelu", "QuickGelu"):
        c.append(Case(op, N(op, ["x"], ["y"]), {"x": f32(2, 3, 8)}))
    c.append(Case("FastGelu", N("FastGelu", ["x", "b"], ["y"]), {"x": f32(2, 3, 8)}, {"b": f32(8)}))
    c.append(Case("BiasGelu", N("BiasGelu", ["x", "b"], ["y"]), {"x": f32(2, 3, 8)}, {"b": f32(8)}))
    c.append(Case("BiasAdd", N("BiasAdd", ["x", "b", "s"], ["y"]), {"x": f32(2, 3, 8), "s": f32(2, 3, 8)}, {"b": f32(8)}))
    c.append(Case("BiasSoftmax", N("BiasSoftmax", ["x", "b"], ["y"], axis=-1, is_inner_broadcast=0),
                  {"x": f32(2, 3, 4, 5), "b": f32(2, 1, 4, 5)}))
    c.append(Case("SkipLayerNormalization", N("SkipLayerNormalization", ["x", "s", "g", "b", "bias"], ["y", "", "", "sum"], epsilon=1e-5),
                  {"x": f32(2, 3, 8), "s": f32(2, 3, 8)}, {"g": f32(8), "b": f32(8), "bias": f32(8)}))
    c.append(Case("SkipSimplifiedLayerNormalization", N("SkipSimplifiedLayerNormalization", ["x", "s", "g"], ["y", "", "", "sum"]),
                  {"x": f32(2, 3, 8), "s": f32(2, 3, 8)}, {"g": f32(8)}))
    c.append(Case("SimplifiedLayerNormalization", N("SimplifiedLayerNormalization", ["x", "g"], ["y", "inv"], domain="", axis=-1),
                  {"x": f32(2, 3, 8)}, {"g": f32(8)}))
    c.append(Case("EmbedLayerNormalization",
                  N("EmbedLayerNormalization", ["ids", "seg", "we", "pe", "se", "g", "b", "mask"], ["y", "mi", "sum"]),
                  {"ids": np.array([[1, 2, 3], [4, 5, 6]], np.int32), "seg": np.zeros((2, 3), np.int32),
                   "mask": np.ones((2, 3), np.int32)},
                  {"we": f32(10, 8), "pe": f32(16, 8), "se": f32(2, 8), "g": f32(8), "b": f32(8)}))  # fmt: skip
    c.append(Case("BiasSplitGelu", N("BiasSplitGelu", ["x", "b"], ["y"]), {"x": f32(2, 4, 640).astype(np.float16)},
                  {"b": f32(640).astype(np.float16)}))
    # -- attention
    c.append(Case("Attention", N("Attention", ["x", "w", "b"], ["y", "present"], num_heads=2),
                  {"x": f32(2, 3, 8)}, {"w": f32(8, 24), "b": f32(24)}))
    c.append(Case("Attention_qkv_sizes_past", N("Attention", ["x", "w", "b", "", "past"], ["y", "present"], num_heads=2,
                                                 qkv_hidden_sizes=[8, 8, 8]),
                  {"x": f32(2, 3, 6), "past": f32(2, 2, 2, 5, 4)}, {"w": f32(6, 24), "b": f32(24)}))
    c.append(Case("Attention_qkv_sizes", N("Attention", ["x", "w", "b"], ["y"], num_heads=2, qkv_hidden_sizes=[8, 8, 4]),
                  {"x": f32(2, 3, 6)}, {"w": f32(6, 20), "b": f32(20)}))
    c.append(Case("MultiHeadAttention", N("MultiHeadAttention", ["q", "k", "v"], ["y", "pk", "pv"], num_heads=2),
                  {"q": f32(2, 3, 8), "k": f32(2, 5, 8), "v": f32(2, 5, 6)}))
    c.append(Case("MultiHeadAttention_past", N("MultiHeadAttention", ["q", "k", "v", "", "", "", "past_k", "past_v"],
                                                ["y", "pk", "pv"], num_heads=2),
                  {"q": f32(2, 1, 8), "k": f32(2, 1, 8), "v": f32(2, 1, 8), "past_k": f32(2, 2, 4, 4), "past_v": f32(2, 2, 4, 4)}))
    c.append(Case("MultiHeadAttention_bnsh_kv", N("MultiHeadAttention", ["q", "k", "v"], ["y"], num_heads=2),
                  {"q": f32(2, 3, 8), "k": f32(2, 2, 6, 4), "v": f32(2, 2, 6, 4)}))
    c.append(Case("MultiHeadAttention_packed_qkv", N("MultiHeadAttention", ["q"], ["y"], num_heads=2),
                  {"q": f32(2, 3, 2, 3, 4)}))
    gqa_inputs = ["q", "k", "v", "past_k", "past_v", "seqlens", "total"]
    for past, total in ((5, 6), (8, 6)):  # a past buffer longer than the total sequence stays as long
        c.append(Case(f"GroupQueryAttention_past{past}", N("GroupQueryAttention", gqa_inputs, ["y", "pk", "pv"], num_heads=4, kv_num_heads=2),
                      {"q": f32(2, 1, 64), "k": f32(2, 1, 32), "v": f32(2, 1, 32), "past_k": f32(2, 2, past, 16),
                       "past_v": f32(2, 2, past, 16)},
                      {"seqlens": np.array([total - 1, total - 1], np.int32), "total": np.array(total, np.int32)}))  # fmt: skip
    c.append(Case("GroupQueryAttention_packed", N("GroupQueryAttention", ["q", "", "", "", "", "seqlens", "total"], ["y", "pk", "pv"],
                                                   num_heads=4, kv_num_heads=2),
                  {"q": f32(1, 3, 128)}, {"seqlens": np.array([2], np.int32), "total": np.array(3, np.int32)}))
    c.append(Case("RotaryEmbedding", N("RotaryEmbedding", ["x", "pos", "cos", "sin"], ["y"]),
                  {"x": f32(2, 3, 16)}, {"pos": np.array([[0, 1, 2], [0, 1, 2]], np.int64), "cos": f32(8, 4), "sin": f32(8, 4)}))
    # -- quantised ops
    qx = {"xs": scal(0.02), "xz": scal(128, np.uint8)}
    c.append(Case("QLinearConv", N("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["y"], pads=[1, 1, 1, 1], strides=[2, 2]),
                  {"x": u8(1, 4, 7, 6)}, {**qx, "w": i8(5, 4, 3, 3), "ws": scal(0.01), "wz": scal(0, np.int8), "ys": scal(0.1),
                                          "yz": scal(3, np.uint8), "b": np.zeros(5, np.int32)}))  # fmt: skip
    c.append(Case("QLinearConv_channels_last", N("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"],
                                                  channels_last=1, pads=[1, 1, 1, 1], dilations=[2, 2]),
                  {"x": u8(1, 7, 6, 4)}, {**qx, "w": i8(5, 4, 3, 3), "ws": scal(0.01), "wz": scal(0, np.int8), "ys": scal(0.1),
                                          "yz": scal(3, np.uint8)}))  # fmt: skip
    qab = {"as": scal(0.02), "az": scal(128, np.uint8), "bs": scal(0.03), "bz": scal(100, np.uint8), "cs": scal(0.05), "cz": scal(90, np.uint8)}
    for op in ("QLinearAdd", "QLinearMul"):
        c.append(Case(op, N(op, ["a", "as", "az", "b", "bs", "bz", "cs", "cz"], ["y"]), {"a": u8(2, 1, 5), "b": u8(3, 1)}, qab))
    qy = {"ys": scal(0.05), "yz": scal(90, np.uint8)}
    c.append(Case("QLinearSigmoid", N("QLinearSigmoid", ["x", "xs", "xz", "ys", "yz"], ["y"]), {"x": u8(2, 5)}, {**qx, **qy}))
    c.append(Case("QLinearLeakyRelu", N("QLinearLeakyRelu", ["x", "xs", "xz", "ys", "yz"], ["y"], alpha=0.1), {"x": u8(2, 5)}, {**qx, **qy}))
    c.append(Case("QLinearSoftmax", N("QLinearSoftmax", ["x", "xs", "xz", "ys", "yz"], ["y"], opset=13, axis=-1), {"x": u8(2, 5)},
                  {**qx, "ys": scal(1 / 256), "yz": scal(0, np.uint8)}))
    c.append(Case("QLinearGlobalAveragePool", N("QLinearGlobalAveragePool", ["x", "xs", "xz", "ys", "yz"], ["y"]), {"x": u8(1, 4, 5, 6)}, {**qx, **qy}))
    c.append(Case("QLinearGlobalAveragePool_nhwc", N("QLinearGlobalAveragePool", ["x", "xs", "xz", "ys", "yz"], ["y"], channels_last=1),
                  {"x": u8(1, 5, 6, 4)}, {**qx, **qy}))
    c.append(Case("QLinearAveragePool", N("QLinearAveragePool", ["x", "xs", "xz", "ys", "yz"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                                           pads=[1, 1, 1, 1], ceil_mode=1), {"x": u8(1, 4, 8, 7)}, {**qx, **qy}))
    c.append(Case("QLinearAveragePool_nhwc", N("QLinearAveragePool", ["x", "xs", "xz", "ys", "yz"], ["y"], kernel_shape=[2, 2], strides=[2, 2],
                                                channels_last=1), {"x": u8(1, 8, 7, 4)}, {**qx, **qy}))
    c.append(Case("QLinearConcat", N("QLinearConcat", ["ys", "yz", "a", "as", "az", "b", "bs", "bz"], ["y"], axis=1),
                  {"a": u8(2, 3, 4), "b": u8(2, 5, 4)}, {**qy, **{k: v for k, v in qab.items() if k[0] in "ab"}}))
    c.append(Case("QLinearReduceMean", N("QLinearReduceMean", ["x", "xs", "xz", "ys", "yz"], ["y"], axes=[1], keepdims=0),
                  {"x": u8(2, 5, 3)}, {**qx, **qy}))
    qg = {"as": scal(0.02), "az": scal(128, np.uint8), "bs": scal(0.03), "bz": scal(0, np.int8)}
    c.append(Case("QGemm_float", N("QGemm", ["a", "as", "az", "b", "bs", "bz", "c"], ["y"], transB=1),
                  {"a": u8(3, 4)}, {**qg, "b": i8(5, 4), "c": np.zeros(5, np.int32)}))
    c.append(Case("QGemm_quant", N("QGemm", ["a", "as", "az", "b", "bs", "bz", "", "ys", "yz"], ["y"]),
                  {"a": u8(3, 4)}, {**qg, "b": i8(4, 5), **qy}))
    c.append(Case("QAttention", N("QAttention", ["x", "w", "b", "xs", "ws", "", "xz", "wz"], ["y", "present"], num_heads=2),
                  {"x": u8(2, 3, 8)}, {"w": u8(8, 24), "b": f32(24), "xs": scal(0.02), "ws": scal(0.01), "xz": scal(128, np.uint8),
                                       "wz": scal(128, np.uint8)}))  # fmt: skip
    c.append(Case("DynamicQuantizeMatMul", N("DynamicQuantizeMatMul", ["a", "b", "bs", "bz"], ["y"]),
                  {"a": f32(2, 3, 4)}, {"b": i8(4, 5), "bs": scal(0.1), "bz": scal(0, np.int8)}))
    c.append(Case("MatMulIntegerToFloat", N("MatMulIntegerToFloat", ["a", "b", "as", "bs", "az", "bz"], ["y"]),
                  {"a": u8(2, 3, 4)}, {"b": i8(4, 5), "as": scal(0.1), "bs": scal(0.2), "az": scal(128, np.uint8), "bz": scal(0, np.int8)}))
    k, n, block = 32, 6, 16
    c.append(Case("MatMulNBits", N("MatMulNBits", ["a", "b", "s"], ["y"], K=k, N=n, bits=4, block_size=block),
                  {"a": f32(2, 3, k)}, {"b": u8(n, k // block, block // 2), "s": f32(n * (k // block))}))
    c.append(Case("QuantizeLinear_ms", N("QuantizeLinear", ["x", "s", "z"], ["y"]), {"x": f32(2, 3)}, {"s": scal(0.1), "z": scal(0, np.int8)}))
    c.append(Case("DequantizeLinear_ms", N("DequantizeLinear", ["x", "s", "z"], ["y"]), {"x": i8(2, 3)}, {"s": scal(0.1), "z": scal(0, np.int8)}))
    # -- NCHWc layout ops (block size of this machine's kernels: 8 or 16; 32 channels fit both)
    c.append(Case("nchwc_chain", [
        N("ReorderInput", ["x"], ["xb"], domain=NCHWC),
        N("Conv", ["xb", "w", "b"], ["c1"], domain=NCHWC, pads=[1, 1, 1, 1], dilations=[1, 1], strides=[2, 2], activation="Relu"),
        N("MaxPool", ["c1"], ["p"], domain=NCHWC, kernel_shape=[2, 2], strides=[2, 2]),
        N("Upsample", ["p"], ["u"], domain=NCHWC, scales=[1, 1, 2, 2]),
        N("GlobalAveragePool", ["u"], ["g"], domain=NCHWC),
        N("ReorderOutput", ["g"], ["y"], domain=NCHWC, channels=32),
        N("ReorderOutput", ["u"], ["y_nhwc"], domain=NCHWC, channels=32, channels_last=1),
    ], {"x": f32(1, 32, 9, 8)}, {"w": f32(32, 32, 3, 3), "b": f32(32)}, outputs=["xb", "c1", "p", "u", "g", "y", "y_nhwc"]))
    c.append(Case("nchwc_nhwc_input", [
        N("ReorderInput", ["x"], ["xb"], domain=NCHWC, channels_last=1),
        N("AveragePool", ["xb"], ["p"], domain=NCHWC, kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        N("ReorderOutput", ["p"], ["y"], domain=NCHWC, channels=16),
    ], {"x": f32(1, 6, 5, 16)}, outputs=["xb", "p", "y"]))
    return c


CASES = _cases()

# contrib ops without a CPU kernel in onnxruntime's CPU build: checked on a model only
NO_CPU_KERNEL = {"BiasSplitGelu", "BiasAdd", "BiasSoftmax", "QLinearReduceMean", "MultiHeadAttention_packed_qkv"}


def _run_ort(case):
    model = case.model()
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    outs = sess.run(case.outputs, case.feeds)
    return model, dict(zip(case.outputs, outs))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_shape_function_matches_onnxruntime(case):
    try:
        model, got = _run_ort(case)
    except Exception as e:  # an op onnxruntime's CPU build has no kernel for
        if case.name in NO_CPU_KERNEL:
            pytest.skip(f"no CPU kernel: {str(e).splitlines()[0][:120]}")
        raise
    graph, shapes = our_shapes(model)
    assert not [n for n in shapes.notes if "unknown" in n or "failed" in n or "shape" in n.lower()], shapes.notes
    for name, arr in got.items():
        inf = shapes.info(("value", MAIN, name))
        assert inf.shape == tuple(arr.shape), (case.name, name, inf.shape, arr.shape)
        assert inf.dtype == helper.np_dtype_to_tensor_dtype(arr.dtype), (case.name, name, inf.dtype, arr.dtype)


def test_bias_split_gelu_shape():
    """BiasSplitGelu has only a CUDA kernel: its documented shape, [N, S, D] -> [N, S, D / 2]."""
    case = next(c for c in CASES if c.name == "BiasSplitGelu")
    _, shapes = our_shapes(case.model())
    assert shapes.info(("value", MAIN, "y")).shape == (2, 4, 320)


def test_nhwc_conv_shape():
    """NhwcConv: input [N, H, W, C], weight [M, C / group, kH, kW] (as Conv), output [N, H', W', M]."""
    case = Case("NhwcConv", N("NhwcConv", ["x", "w"], ["y"], pads=[1, 1, 1, 1], strides=[2, 1]), {"x": f32(1, 9, 7, 4)}, {"w": f32(6, 4, 3, 3)})
    _, shapes = our_shapes(case.model())
    assert shapes.info(("value", MAIN, "y")).shape == (1, 5, 7, 6)


def test_every_onnxruntime_op_named_in_the_issue_has_a_shape_function():
    from analyzer.shapes import SHAPE_FUNCTIONS

    named = ("MultiHeadAttention Attention RotaryEmbedding GroupQueryAttention MatMulNBits FastGelu BiasGelu BiasSplitGelu "
             "BiasAdd QuickGelu FusedConv NhwcConv QLinearConv SkipLayerNormalization").split()  # fmt: skip
    assert [op for op in named if (MS, op) not in SHAPE_FUNCTIONS] == []
    for op in ("Conv", "ReorderInput", "ReorderOutput", "MaxPool", "AveragePool", "GlobalAveragePool", "Upsample"):
        assert (NCHWC, op) in SHAPE_FUNCTIONS
