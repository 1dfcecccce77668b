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


# -- the model total from the shape walk's record (Shapes.main_walk) against a per-op sum --

def _per_op_total(am):
    """The straightforward count: op_macs of every op of every graph, summed; None when
    any is unknown or the sum reaches 2**63."""
    total = 0
    for op in am.graph.all_ops():
        m = op_macs(am, op)
        if m is None:
            return None
        total += m
    return None if total >= 1 << 63 else total


def _vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _model(nodes, inputs, outputs, inits=(), value_info=(), functions=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits), value_info=list(value_info))
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid("local", 1)] if functions else [])
    return helper.make_model(g, opset_imports=opsets, functions=list(functions))


def _conv_net():
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    w2 = numpy_helper.from_array(np.ones((4, 4, 1, 1), np.float32), "w2")
    fc = numpy_helper.from_array(np.ones((64, 10), np.float32), "fc")
    bias = numpy_helper.from_array(np.ones(10, np.float32), "bias")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c1"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2"], ["c2"]), helper.make_node("Relu", ["c2"], ["r2"]),
             helper.make_node("Add", ["r1", "r2"], ["s"]), helper.make_node("Relu", ["s"], ["r3"]),
             helper.make_node("Add", ["r1", "r2"], ["s2"]), helper.make_node("Sigmoid", ["s2"], ["g"]),
             helper.make_node("Mul", ["r3", "g"], ["m"]), helper.make_node("MaxPool", ["m"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Flatten", ["p"], ["f"]), helper.make_node("MatMul", ["f", "fc"], ["mm"]),
             helper.make_node("Gemm", ["f", "fc", "bias"], ["gm"]), helper.make_node("Add", ["mm", "gm"], ["y"]),
             helper.make_node("Relu", ["y"], ["y2"]), helper.make_node("Relu", ["y2"], ["y3"])]  # fmt: skip
    return _model(nodes, [_vi("x", [1, 3, 8, 8])], [_vi("y3", None)], [w, w2, fc, bias])


def _if_net(x_shape):
    then = helper.make_graph([helper.make_node("Relu", ["x"], ["t1"]), helper.make_node("Relu", ["t1"], ["t2"])], "then", [], [_vi("t2", None)])
    other = helper.make_graph([helper.make_node("MatMul", ["x", "x"], ["e1"])], "else", [], [_vi("e1", None)])
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Relu", ["a"], ["b"]),
             helper.make_node("If", ["cond"], ["o"], then_branch=then, else_branch=other), helper.make_node("Add", ["o", "b"], ["z"])]  # fmt: skip
    return _model(nodes, [_vi("x", x_shape), helper.make_tensor_value_info("cond", TensorProto.BOOL, [])], [_vi("z", None)])


def _function_net(second_shape):
    body = [helper.make_node("Relu", ["i"], ["r"]), helper.make_node("Sigmoid", ["r"], ["o"])]
    fn = helper.make_function("local", "Act", ["i"], ["o"], body, [helper.make_opsetid("", 17)])
    nodes = [helper.make_node("Act", ["x"], ["a"], domain="local"), helper.make_node("Relu", ["a"], ["b"]),
             helper.make_node("Act", ["x2"], ["c"], domain="local"), helper.make_node("Relu", ["c"], ["d"])]  # fmt: skip
    return _model(nodes, [_vi("x", [2, 5]), _vi("x2", second_shape)], [_vi("b", None), _vi("d", None)], functions=[fn])


def _chain(shape, n=6, declared=None):
    nodes = [helper.make_node("Relu", ["x" if i == 0 else f"v{i - 1}"], [f"v{i}"]) for i in range(n)]
    value_info = [_vi(f"v{i}", declared) for i in range(n - 1)] if declared else []
    return _model(nodes, [_vi("x", shape)], [_vi(f"v{n - 1}", None)], value_info=value_info)


@pytest.mark.parametrize("name, make, input_shapes, expected", [
    ("conv net", _conv_net, None, "known"),
    ("subgraphs", lambda: _if_net([3, 3]), None, "known"),
    ("subgraphs, unknown size", lambda: _if_net(["N", 3]), None, None),
    ("subgraphs, --input-shape", lambda: _if_net(["N", 3]), {"x": (3, 3)}, "known"),
    ("functions called twice with one shape", lambda: _function_net([2, 5]), None, "known"),
    ("functions called with two shapes (the body keeps what holds for both)", lambda: _function_net([4, 7]), None, None),
    ("functions, one unknown call", lambda: _function_net(["N", 7]), None, None),
    ("element-wise chain", lambda: _chain([2, 3, 4]), None, "known"),
    ("chain of an unknown size", lambda: _chain(["N", 3]), None, None),
    ("chain of an unknown size, --input-shape", lambda: _chain(["N", 3]), {"x": (5, 3)}, "known"),
    ("chain, declared sizes only (proven: unknown)", lambda: _chain([None, 3], declared=[7, 3]), None, None),
    ("chain, each op past 2**63", lambda: _chain([1 << 32, 1 << 32]), None, None),
    ("chain, sum past 2**63", lambda: _chain([1 << 31, 1 << 31], n=4), None, None),
    ("chain, sum just under 2**63", lambda: _chain([1 << 30, 1 << 30], n=4), None, "known"),
])  # fmt: skip
def test_model_total_from_the_shape_walk_equals_the_per_op_sum(name, make, input_shapes, expected):
    from analyzer.analyses.macs import _NO_WALK, _from_walk

    am = analyzer.analyze(make(), input_shapes=input_shapes)
    ran, given, _ = am.shapes.main_walk
    assert len(ran) + len(given) == len(am.graph.topological_order("main"))
    assert _from_walk(am) is not _NO_WALK  # the record was used, not the full walk
    want = _per_op_total(am)
    assert (want is None) == (expected is None)
    assert model_macs(am) == want


def test_ops_given_a_remembered_output_count_each_and_a_replaced_shapes_is_read_op_by_op():
    am = analyzer.analyze(_chain([2, 3, 4], n=50))
    ran, given, _ = am.shapes.main_walk
    assert len(given) >= 45 and len(ran) + len(given) == 50  # most ops: the walk's fast path
    assert model_macs(am) == 50 * 24 == _per_op_total(am)
    # shapes from another analysis of the same file: no record for this graph, op by op
    other = analyzer.analyze(_chain([5, 3, 4], n=50))
    fresh = analyzer.analyze(_chain([2, 3, 4], n=50))
    fresh.shapes = other.shapes
    from analyzer.analyses.macs import _NO_WALK, _from_walk

    assert _from_walk(fresh) is _NO_WALK
    assert model_macs(fresh) == _per_op_total(fresh) == 50 * 60


def test_shape_only_ops_are_counted_per_output_element_or_not_at_all():
    """An op the walk gives a remembered output (a shape-only shape function) is counted
    from that output info alone; a shape-only op with another count (one reading
    attributes or inputs) would make model_macs give up the record and walk every op
    again: right, but slow."""
    from analyzer.analyses.macs import _BY_KIND, _BY_TYPE, _per_element
    from analyzer.shapes.registry import SHAPE_FUNCTIONS

    analyzer.analyze(_chain([2, 3]))  # (registers every shape function)
    kinds = [k for k, fn in SHAPE_FUNCTIONS.items() if fn.__dict__.get("shape_only")]
    assert ("", "Relu") in kinds and ("", "Add") in kinds
    for kind in kinds:
        count = _BY_KIND.get(kind) or _BY_TYPE.get(kind[1])
        assert count is None or count is _per_element, kind
