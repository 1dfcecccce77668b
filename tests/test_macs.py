"""MACs per op (analyzer.analyses.macs) against a count taken by running naive loops:
every multiply-accumulate a direct implementation performs is counted once."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import analyzer
from analyzer.analyses.macs import model_macs, op_macs


def _conv_model(x, w, **attrs):
    g = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", **attrs)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x)], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(np.ones(w, np.float32), "w")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _naive_conv_macs(x, w, strides, pads, dilations, group):
    """Count the multiply-adds of a direct convolution loop (padding reads skipped or not: a
    direct loop multiplies every tap at every output position, zero padding included)."""
    n, c_in, *size = x
    c_out, c_per, *k = w
    out = [(s + pads[i] + pads[i + len(size)] - ((k[i] - 1) * dilations[i] + 1)) // strides[i] + 1 for i, s in enumerate(size)]
    count = 0
    for _b, _o in itertools.product(range(n), range(c_out)):
        for _pos in itertools.product(*(range(o) for o in out)):
            for _c in range(c_per):
                for _tap in itertools.product(*(range(kk) for kk in k)):
                    count += 1
    return count


@pytest.mark.parametrize("x,w,strides,pads,dilations,group", [
    ([1, 4, 5, 5], [6, 4, 3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 1),
    ([2, 4, 7, 6], [4, 2, 3, 2], [2, 1], [0, 1, 2, 0], [1, 2], 2),
    ([1, 3, 9], [5, 3, 4], [3], [2, 1], [2], 1),
])
def test_conv_macs_match_a_naive_loop(x, w, strides, pads, dilations, group):
    m = _conv_model(x, w, strides=strides, pads=pads, dilations=dilations, group=group)
    am = analyzer.analyze(m)
    (op,) = am.graph.all_ops()
    assert op_macs(am, op) == _naive_conv_macs(x, w, strides, pads, dilations, group)
    assert model_macs(am) == op_macs(am, op)


def test_matmul_and_gemm_macs():
    g = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"], name="mm"), helper.make_node("Gemm", ["c2", "w", "bias"], ["d"], name="gemm", transB=1)],
        "g",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [3, 4, 5]), helper.make_tensor_value_info("b", TensorProto.FLOAT, [5, 6]),
         helper.make_tensor_value_info("c2", TensorProto.FLOAT, [2, 5])],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, None), helper.make_tensor_value_info("d", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(np.ones((7, 5), np.float32), "w"), numpy_helper.from_array(np.ones(7, np.float32), "bias")])
    am = analyzer.analyze(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    ops = {op.id: op for op in am.graph.all_ops()}
    assert op_macs(am, ops["mm"]) == 3 * 4 * 6 * 5  # each output element: K multiply-adds
    assert op_macs(am, ops["gemm"]) == 2 * 7 * 5 + 2 * 7  # plus adding C
    assert model_macs(am) == 3 * 4 * 6 * 5 + 2 * 7 * 5 + 2 * 7


def test_unknown_size_gives_none_and_stats_carry_the_total(tmp_path):
    m = _conv_model(["N", 4, 5, 5], [6, 4, 3, 3], pads=[1, 1, 1, 1])
    am = analyzer.analyze(m)
    assert model_macs(am) is None
    (fr,) = analyzer.lint(_conv_model([1, 4, 5, 5], [6, 4, 3, 3], pads=[1, 1, 1, 1])).files
    assert fr.stats["macs"] == _naive_conv_macs([1, 4, 5, 5], [6, 4, 3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 1)


@pytest.mark.parametrize("y_shape, total", [([2, 3], 3 * 6 + 6), ([2, "M"], None)])
def test_element_wise_ops_count_one_per_output_element_each(y_shape, total):
    """Element-wise ops whose outputs share one info count once each (the model total is
    their sum); the first one of an unknown size makes the total unknown."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Relu", ["a"], ["b"]), helper.make_node("Sigmoid", ["b"], ["c"]),
             helper.make_node("Transpose", ["c"], ["t"], perm=[1, 0]), helper.make_node("Add", ["y", "y"], ["d"])]  # fmt: skip
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("t", "d")]
    am = analyzer.analyze(helper.make_model(helper.make_graph(nodes, "g", [x, y], outs), opset_imports=[helper.make_opsetid("", 17)]))
    assert model_macs(am) == total
    assert sum(op_macs(am, op) or 0 for op in am.graph.all_ops()) == 3 * 6 + (6 if total else 0)


def test_model_lookups_are_the_shapes_and_follow_a_replaced_one():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["a"])], "g", [x], [helper.make_tensor_value_info("a", TensorProto.FLOAT, None)],
                          initializer=[numpy_helper.from_array(np.arange(3, dtype=np.int64), "k")])  # fmt: skip
    am = analyzer.analyze(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    a, k = ("value", "main", "a"), ("value", "main", "k")
    assert am.shape(a) == (2, 3) and am.info(a) is am.shapes.info(a)
    assert am.shape(None) is None and am.constant(None) is None and am.info(None).shape is None
    assert am.constant(k).tolist() == [0, 1, 2] and am.constant(a) is None and am.ints(k) == [0, 1, 2]
    other = analyzer.analyze(helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["a"])], "g",
                             [helper.make_tensor_value_info("x", TensorProto.FLOAT, [5])], []), opset_imports=[helper.make_opsetid("", 17)]))  # fmt: skip
    am.shapes = other.shapes
    assert am.shape(a) == (5,) and am.info(a) is other.shapes.info(a)
