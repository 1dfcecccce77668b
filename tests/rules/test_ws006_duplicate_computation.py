"""WS006 duplicate-computation: common subexpressions (a duplicated Conv -> Relu chain, with
a shared or a byte-identical weight); the fix keeps one, proven in onnxruntime."""
from __future__ import annotations

from onnx import TensorProto, helper

from tests.rules._waste_graph_models import (
    duplicated_conv,
    lint,
    make_model,
    prove_each,
    prove_fix_file,
    vi,
    weight,
)


def test_duplicated_chain_with_copied_weight():
    m = duplicated_conv()
    (f,) = lint(m, "WS006")
    assert f.node == "conv2"
    assert [(d["node"], d["of"]) for d in f.details["duplicates"]] == [("conv2", "conv1"), ("relu2", "relu1")]
    # Conv 3x3: 4 x 64 x 3 x 9 = 6912 MACs, Relu 4 x 64 = 256; Wcopy: 108 weights
    assert f.waste == {"weights": 108, "bytes": 432, "macs": 7168}
    prove_each(m, "WS006")
    fixed = prove_fix_file(m, "WS006")
    assert [n.name for n in fixed.graph.node] == ["conv1", "relu1", "mul"]


def test_shared_weight_costs_macs_only():
    m = duplicated_conv(copy_weight=False)
    (f,) = lint(m, "WS006")
    assert f.waste == {"weights": 0, "bytes": 0, "macs": 7168}
    prove_each(m, "WS006")


def test_different_attributes_are_not_duplicates():
    m = duplicated_conv(copy_weight=False)
    m.graph.node[2].attribute[0].ints[:] = [0, 0, 0, 0]
    m.graph.output[0].type.tensor_type.shape.Clear()
    assert lint(m, "WS006") == []


def test_random_ops_are_never_duplicates():
    nodes = [helper.make_node("RandomUniformLike", ["x"], ["r1"], name="r1"),
             helper.make_node("RandomUniformLike", ["x"], ["r2"], name="r2"),
             helper.make_node("Sub", ["r1", "r2"], ["y"], name="sub")]  # fmt: skip
    m = make_model(nodes, [vi("x", [2, 3])], [vi("y", [2, 3])])
    assert lint(m, "WS006") == []


def test_duplicate_graph_output_becomes_identity():
    nodes = [helper.make_node("MatMul", ["x", "W"], ["a"], name="mm1"),
             helper.make_node("MatMul", ["x", "W"], ["b"], name="mm2")]  # fmt: skip
    m = make_model(nodes, [vi("x", [2, 4])], [vi("a", [2, 4]), vi("b", [2, 4])], [weight("W", [4, 4])])
    (f,) = lint(m, "WS006")
    assert f.waste == {"weights": 0, "bytes": 0, "macs": 32}
    prove_each(m, "WS006")
    fixed = prove_fix_file(m, "WS006")
    assert [n.op_type for n in fixed.graph.node] == ["MatMul", "Identity"]


def test_free_duplicates_not_reported():
    nodes = [helper.make_node("Shape", ["x"], ["s1"], name="s1"), helper.make_node("Shape", ["x"], ["s2"], name="s2"),
             helper.make_node("Add", ["s1", "s2"], ["y"], name="add")]  # fmt: skip
    m = make_model(nodes, [vi("x", [2, 3])], [vi("y", [2], TensorProto.INT64)])
    assert lint(m, "WS006") == []


def test_whole_pack_at_once_counts_each_weight_once():
    """Every kind of waste planted in one model; ``fix`` with all six rules: the parameter
    drop equals the sum of the findings' waste (no weight owned by two rules)."""
    import os
    import tempfile

    import onnx

    from analyzer.commands.fix import fix_file
    from tests.rules._waste_graph_models import assert_same_outputs

    m = duplicated_conv()
    g = m.graph
    g.initializer.extend([weight("U", [3], 4), weight("D", [8, 8], 5)])
    g.node.extend([helper.make_node("MatMul", ["r1", "D"], ["dead"], name="dead_mm")])
    g.input.append(vi("unused_in", [1]))
    m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    codes = ("WS001", "WS002", "WS003", "WS004", "WS005", "WS006")
    found = [f for c in codes for f in lint(m, c)]
    assert sorted(f.rule for f in found) == ["WS001", "WS002", "WS003", "WS004", "WS006"]
    with tempfile.TemporaryDirectory() as tmp:
        src, out = os.path.join(tmp, "m.onnx"), os.path.join(tmp, "f.onnx")
        onnx.save(m, src)
        rep = fix_file(src, out, codes=codes)
        fixed = onnx.load(out)
    assert rep.count(status="refused") == 0
    assert rep.params_before - rep.params_after == sum(f.waste["weights"] for f in found) == 3 + 64 + 108
    assert_same_outputs(m, fixed)
    assert [f for c in codes for f in lint(fixed, c)] == []


def test_dropout_duplicates_only_in_inference_mode():
    import numpy as np
    from onnx import numpy_helper

    def model(training):
        extra = ["", "train"] if training else []
        nodes = [helper.make_node("Dropout", ["x", *extra], ["d1"], name="d1"),
                 helper.make_node("Dropout", ["x", *extra], ["d2"], name="d2"),
                 helper.make_node("MatMul", ["d1", "W"], ["m1"], name="mm1"),
                 helper.make_node("MatMul", ["d2", "W"], ["m2"], name="mm2"),
                 helper.make_node("Add", ["m1", "m2"], ["y"], name="add")]  # fmt: skip
        inits = [weight("W", [4, 4])] + ([numpy_helper.from_array(np.array(True), "train")] if training else [])
        return make_model(nodes, [vi("x", [2, 4])], [vi("y", [2, 4])], inits)

    (f,) = lint(model(False), "WS006")
    assert [(d["node"], d["of"]) for d in f.details["duplicates"]] == [("d2", "d1"), ("mm2", "mm1")]
    assert lint(model(True), "WS006") == []  # a training Dropout is random: never a copy


def test_attribute_doc_string_does_not_tell_duplicates_apart():
    for doc in ("padding as in the paper", ""):  # "" set explicitly: present in the proto, still no difference
        m = duplicated_conv(copy_weight=False)
        m.graph.node[2].attribute[0].doc_string = doc
        (f,) = lint(m, "WS006")
        assert [(d["node"], d["of"]) for d in f.details["duplicates"]] == [("conv2", "conv1"), ("relu2", "relu1")]


def test_copies_found_where_no_tensor_is_read_twice():
    """Each value read once: a repeat is then only possible through a copied weight (WS005's
    groups) or between ops without inputs, and both are still found."""
    import onnx

    from analyzer.model import analyze
    from rules._waste_graph import duplicate_components

    w = weight("W", [4, 4])
    c = onnx.TensorProto()
    c.CopyFrom(w)
    c.name = "Wcopy"
    nodes = [helper.make_node("Neg", ["W"], ["a"], name="neg1"), helper.make_node("Neg", ["Wcopy"], ["b"], name="neg2")]
    m = make_model(nodes, [], [vi("a", [4, 4]), vi("b", [4, 4])], [w, c])
    (f,) = lint(m, "WS006")
    assert [(d["node"], d["of"]) for d in f.details["duplicates"]] == [("neg2", "neg1")]

    value = helper.make_tensor("v", TensorProto.FLOAT, [2], [1.0, 2.0])
    nodes = [helper.make_node("Constant", [], ["k1"], name="k1", value=value),
             helper.make_node("Constant", [], ["k2"], name="k2", value=value),
             helper.make_node("Relu", ["k1"], ["y1"], name="r1"), helper.make_node("Relu", ["k2"], ["y2"], name="r2")]  # fmt: skip
    am = analyze(make_model(nodes, [], [vi("y1", [2]), vi("y2", [2])]))
    assert duplicate_components(am)["of"] == {("op", "main", 1): ("op", "main", 0), ("op", "main", 3): ("op", "main", 2)}
