"""SH001 value-info-mismatch on hand-built models, the sample models, and by execution.

Ground truth comes from onnxruntime: a tensor whose declaration SH001 flags is run
(exposed as a graph output when it is an intermediate value) and its actual shape
must equal the shape SH001 proves, and differ from the declared one.
"""
from __future__ import annotations

import copy
import json
import pathlib

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from analyzer import cli
from analyzer.linter import runner
from analyzer.model import analyze

F = TensorProto.FLOAT
I64 = TensorProto.INT64
SAMPLES = pathlib.Path(__file__).resolve().parents[2] / "sample_models"


# --- building and linting ---------------------------------------------------------------------------


def vi(name, shape, dtype=F):
    return helper.make_tensor_value_info(name, dtype, shape)


def make_model(nodes, inputs, outputs, value_info=(), inits=(), opset=17, opsets=(), functions=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits), value_info=list(value_info))
    m = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset), *opsets], functions=list(functions)
    )
    m.ir_version = 8
    return m


def weight(name, shape, seed=0):
    return numpy_helper.from_array(np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32), name)


def findings(model, **kw):
    (fr,) = runner.lint(model, select=["SH001"], **kw).files
    assert fr.status == "ok", fr.error
    return fr.findings


def by_tensor(found):
    return {(f.details["tensor"], f.details["declared_in"]): f for f in found}


def relu_chain(y_decl=None, z_decl=None, x_shape=(1, 3, 4, 4)):
    """x -> Relu 'r1' -> y -> Relu 'r2' -> z (graph output)."""
    return make_model(
        [helper.make_node("Relu", ["x"], ["y"], name="r1"), helper.make_node("Relu", ["y"], ["z"], name="r2")],
        [vi("x", list(x_shape))],
        [z_decl if z_decl is not None else vi("z", list(x_shape))],
        [y_decl] if y_decl is not None else [],
    )


def session(model):
    opts = ort.SessionOptions()
    opts.log_severity_level = 4  # the mismatches are deliberate: onnxruntime warns about them
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def actual_shapes(model, feeds, names):
    """Shapes of tensors ``names`` when onnxruntime runs ``model`` (intermediates are
    exposed as extra outputs without a declared shape)."""
    m = copy.deepcopy(model)
    outs = [o.name for o in m.graph.output]
    for n in names:
        if n not in outs:
            m.graph.output.append(helper.make_tensor_value_info(n, F, None))
    got = session(m).run(names, feeds)
    return {n: tuple(a.shape) for n, a in zip(names, got)}


def concrete(shape, bindings):
    return tuple(bindings.get(d, d) if isinstance(d, str) else d for d in shape)


# --- each kind of mismatch ----------------------------------------------------------------------------


def test_wrong_static_dim_in_value_info():
    (f,) = findings(relu_chain(y_decl=vi("y", [1, 3, 5, 4])))
    d = f.details
    assert (f.rule, f.name, f.severity) == ("SH001", "value-info-mismatch", "error")
    assert (f.node, f.op_type, f.graph, f.node_index) == ("r1", "Relu", "main", 0)
    assert d["kind"] == "dim" and d["kinds"] == ["dim"]
    assert d["tensor"] == "y" and d["graph"] == "main" and d["declared_in"] == "value_info" and d["output_index"] is None
    assert d["declared_shape"] == [1, 3, 5, 4] and d["inferred_shape"] == [1, 3, 4, 4]
    assert d["dims"] == [{"axis": 2, "declared": 5, "inferred": 4, "kind": "dim"}]
    assert d["declared_dtype"] == d["inferred_dtype"] == "float32"
    assert d["producer"] == {"node": "r1", "op_type": "Relu", "graph": "main"}
    # actionable: the tensor, the node, both shapes, the fix
    for part in ("'y'", "Relu 'r1'", "float32[1, 3, 5, 4]", "float32[1, 3, 4, 4]", "dim 2 is 4, not 5",
                 "graph.value_info", "onnx.shape_inference.infer_shapes"):  # fmt: skip
        assert part in f.message, f.message


def test_wrong_rank():
    (f,) = findings(relu_chain(y_decl=vi("y", [3, 4, 4])))
    assert f.details["kind"] == "rank" and f.severity == "error"
    assert (f.details["declared_rank"], f.details["inferred_rank"]) == (3, 4)
    assert "rank 3 declared, 4 proven" in f.message


def test_wrong_dtype():
    (f,) = findings(relu_chain(y_decl=vi("y", [1, 3, 4, 4], TensorProto.FLOAT16)))
    d = f.details
    assert d["kind"] == "dtype" and d["dims"] == []
    assert (d["declared_dtype"], d["inferred_dtype"]) == ("float16", "float32")
    assert (d["declared_elem_type"], d["inferred_elem_type"]) == (TensorProto.FLOAT16, F)
    assert "element type float16 declared, float32 proven" in f.message


def test_dtype_of_an_integer_op_output():
    # Shape -> int64; declared float: the dtype is proven by the op, not copied from the input.
    m = make_model(
        [helper.make_node("Shape", ["x"], ["s"], name="shape")],
        [vi("x", [2, 3])],
        [vi("s", [2], F)],
    )
    (f,) = findings(m)
    assert f.details["declared_in"] == "output" and f.details["kind"] == "dtype"
    assert f.details["inferred_dtype"] == "int64"
    assert "set its elem_type to onnx.TensorProto.INT64" in f.message


def test_static_declared_where_size_is_symbolic():
    m = relu_chain(y_decl=vi("y", [1, 3, 224, 224]), z_decl=vi("z", [1, 3, "H", "W"]), x_shape=(1, 3, "H", "W"))
    (f,) = findings(m)
    d = f.details
    assert f.severity == "warning" and d["kind"] == "static-vs-symbolic"
    assert d["inferred_shape"] == [1, 3, "H", "W"]
    assert [(x["axis"], x["declared"], x["inferred"]) for x in d["dims"]] == [(2, 224, "H"), (3, 224, "W")]
    assert "dim 2 is H, not always 224" in f.message and "one input size" in f.message
    assert "re-export the model with these axes dynamic" in f.message


def test_symbolic_expression_is_reported_with_the_expression():
    # Stride-2 conv on H: the size is an expression of H, declared as the export size.
    m = make_model(
        [helper.make_node("Conv", ["x", "W"], ["y"], name="conv", strides=[2, 2], pads=[1, 1, 1, 1])],
        [vi("x", [1, 3, "H", 16])],
        [vi("y", [1, 8, 8, 8])],
        inits=[weight("W", (8, 3, 3, 3))],
    )
    (f,) = findings(m)
    (dim,) = f.details["dims"]
    assert dim["axis"] == 2 and dim["declared"] == 8 and isinstance(dim["inferred"], str) and "H" in dim["inferred"]
    assert dim["inferred"] in f.message


def test_contradiction_and_symbolic_together_is_an_error():
    m = relu_chain(y_decl=vi("y", [2, 3, 224, 4]), x_shape=(1, 3, "H", 4))
    (f,) = findings(m)
    assert f.severity == "error" and f.details["kind"] == "dim" and f.details["kinds"] == ["dim", "static-vs-symbolic"]


def test_data_dependent_size_is_not_proven_to_vary():
    # NonZero's count is a fresh symbol: unknown, perhaps constant; a static declaration
    # of it is not disproven (unlike a size that follows the input's H).
    m = make_model(
        [helper.make_node("NonZero", ["x"], ["idx"], name="nz")],
        [vi("x", [2, 3])],
        [vi("idx", [2, 5], I64)],
    )
    assert isinstance(analyze(m).info(("value", "main", "idx")).shape[1], str)
    assert findings(m) == []
    m.graph.output[0].type.tensor_type.shape.dim[0].dim_value = 3  # the rank-sized dim is proven: 2
    assert [f.details["kind"] for f in findings(m)] == ["dim"]


def test_input_shape_binding_checks_the_declaration_at_that_size():
    m = relu_chain(y_decl=vi("y", [1, 3, 224, 224]), z_decl=vi("z", [1, 3, "H", "W"]), x_shape=(1, 3, "H", "W"))
    assert findings(m, input_shapes={"x": [1, 3, 224, 224]}) == []
    (f,) = findings(m, input_shapes={"x": [1, 3, 256, 224]})
    assert f.severity == "error" and f.details["dims"] == [{"axis": 2, "declared": 224, "inferred": 256, "kind": "dim"}]


def test_option_turns_static_vs_symbolic_off():
    m = relu_chain(y_decl=vi("y", [1, 3, 224, 224]), z_decl=vi("z", [2, 3, "H", "W"]), x_shape=(1, 3, "H", "W"))
    assert {f.details["kind"] for f in findings(m)} == {"static-vs-symbolic", "dim"}
    quiet = findings(m, options={"SH001": {"static-vs-symbolic": 0}})
    assert [f.details["kind"] for f in quiet] == ["dim"]


def test_wrong_graph_output():
    m = relu_chain(z_decl=vi("z", [1, 3, 4, 8]))
    (f,) = findings(m)
    d = f.details
    assert d["declared_in"] == "output" and d["output_index"] == 0 and d["tensor"] == "z"
    assert f.node == "r2"
    assert "graph output 0 'z'" in f.message and "model.graph.output[0].type.tensor_type.ClearField('shape')" in f.message


def test_value_declared_in_value_info_and_as_output_gets_one_finding_each():
    m = relu_chain(z_decl=vi("z", [1, 3, 4, 8]))
    m.graph.value_info.append(vi("z", [1, 3, 4, 9]))
    got = by_tensor(findings(m))
    assert set(got) == {("z", "output"), ("z", "value_info")}
    assert got[("z", "value_info")].details["declared_shape"] == [1, 3, 4, 9]


# --- no finding -----------------------------------------------------------------------------------------


def test_correct_declarations_give_no_finding():
    m = relu_chain(y_decl=vi("y", [1, 3, 4, 4]), z_decl=vi("z", [1, 3, 4, 4]))
    assert findings(m) == []
    # ... and the same declarations are compared: change one number and it is found.
    m.graph.value_info[0].type.tensor_type.shape.dim[1].dim_value = 4
    assert [f.details["tensor"] for f in findings(m)] == ["y"]


@pytest.mark.parametrize(
    "declared",
    [
        [1, 3, "N", 4],  # a symbol where we prove 4: a symbol may take any value
        [1, 3, None, None],  # undeclared dims
        None,  # undeclared shape
        ["a", "b", "c", "d"],
    ],
)
def test_dim_param_and_undeclared_dims_contradict_nothing(declared):
    assert findings(relu_chain(y_decl=vi("y", declared))) == []


def test_other_symbol_where_we_prove_a_symbol():
    m = relu_chain(y_decl=vi("y", [1, 3, "h", "w"]), z_decl=vi("z", [1, 3, "s0", "s1"]), x_shape=(1, 3, "H", "W"))
    assert findings(m) == []


def test_undeclared_elem_type_is_not_compared():
    decl = vi("y", [1, 3, 4, 4])
    decl.type.tensor_type.elem_type = 0
    assert findings(relu_chain(y_decl=decl)) == []


def test_declarations_of_inputs_initializers_and_unknown_names_are_not_compared():
    m = make_model(
        [helper.make_node("Add", ["x", "b"], ["y"], name="add")],
        [vi("x", [2, 3])],
        [vi("y", [2, 3])],
        value_info=[vi("x", [9, 9]), vi("b", [7]), vi("nowhere", [1])],
        inits=[weight("b", (3,))],
    )
    assert findings(m) == []


def test_non_tensor_declaration_is_ignored():
    m = relu_chain()
    m.graph.value_info.append(helper.make_tensor_sequence_value_info("y", F, [1]))
    assert findings(m) == []


def test_declaration_used_by_onnx_fallback_is_not_proof():
    """A custom op's output is known only from the file's declaration.  onnx's fallback
    runs on a copy without declarations, so nothing is inferred from the claim: our Relu
    after it stays unknown (as proven), and is shown with its own declaration, labelled
    value_info.  Two declarations that disagree prove nothing about which one is wrong."""
    m = make_model(
        [helper.make_node("Foo", ["x"], ["y"], name="custom", domain="my"), helper.make_node("Relu", ["y"], ["z"], name="r")],
        [vi("x", [1, 3, 4, 4])],
        [vi("z", [1, 3, 4, 4])],
        value_info=[vi("y", [1, 3, 5, 5])],
        opsets=[helper.make_opsetid("my", 1)],
    )
    am = analyze(m)
    z = am.info(("value", "main", "z"))
    assert z.shape is None  # not derived from the declaration of y
    assert am.shapes.onnx_runs == 1  # onnx was asked (the custom op), and did not repeat the claim
    shown = am.value("z")
    assert shown.source == "value_info" and shown.shape == (1, 3, 4, 4)  # its own declaration, for display
    assert am.value("y").source == "value_info"
    assert findings(m) == []


def test_values_downstream_of_a_claim_stay_unproven_through_many_ops():
    m = make_model(
        [
            helper.make_node("Foo", ["x"], ["y"], name="custom", domain="my"),
            helper.make_node("Relu", ["y"], ["a"], name="r"),
            helper.make_node("Add", ["a", "x2"], ["b"], name="add"),
            helper.make_node("Relu", ["x2"], ["c"], name="clean"),
        ],
        [vi("x", [1, 3, 4, 4]), vi("x2", [1, 3, 5, 5])],
        [vi("b", [1, 3, 4, 4]), vi("c", [1, 3, 4, 4])],
        value_info=[vi("y", [1, 3, 5, 5])],
        opsets=[helper.make_opsetid("my", 1)],
    )
    # b is computed from the claim about y: not compared.  c is not: compared, and wrong.
    assert [f.details["tensor"] for f in findings(m)] == ["c"]


# --- control flow -----------------------------------------------------------------------------------------


def if_model(then_decl, else_decl=None, out_decl=None):
    then_g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["t"], name="then_relu")], "then", [], [vi("t", None)], value_info=[then_decl]
    )
    else_g = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["e"], name="else_neg")],
        "else",
        [],
        [vi("e", None)],
        value_info=[else_decl] if else_decl is not None else [],
    )
    return make_model(
        [helper.make_node("If", ["cond"], ["y"], name="if", then_branch=then_g, else_branch=else_g)],
        [vi("cond", [], TensorProto.BOOL), vi("x", [1, 3, 4, 4])],
        [out_decl if out_decl is not None else vi("y", None)],
    )


def test_if_branch_value_info():
    m = if_model(vi("t", [1, 3, 4, 5]), vi("e", [1, 3, 4, 4]))
    (f,) = findings(m)
    assert f.graph == "main/if.then_branch" and f.details["graph"] == "main/if.then_branch"
    assert f.node == "then_relu" and f.details["inferred_shape"] == [1, 3, 4, 4]
    assert "in graph 'main/if.then_branch'" in f.message and "g the GraphProto of 'main/if.then_branch'" in f.message


def test_if_output_declared_wrong_in_main():
    (f,) = findings(if_model(vi("t", [1, 3, 4, 4]), out_decl=vi("y", [1, 3, 4, 6])))
    assert f.node == "if" and f.details["declared_in"] == "output" and f.details["inferred_shape"] == [1, 3, 4, 4]


def loop_model(body_nodes, body_vi, body_out_v=(1, 4), out_decls=None):
    """Loop 'loop' (3 iterations) carrying v (1x4), scan output s; x (1x4) captured."""
    body = helper.make_graph(
        body_nodes,
        "body",
        [vi("i", [], I64), vi("c", [], TensorProto.BOOL), vi("v_in", [1, 4])],
        [vi("c_out", [], TensorProto.BOOL), vi("v_out", list(body_out_v)), vi("s", None)],
        value_info=body_vi,
    )
    loop = helper.make_node("Loop", ["M", "", "v0"], ["v_final", "s_all"], name="loop", body=body)
    return make_model(
        [loop],
        [vi("v0", [1, 4]), vi("x", [1, 4])],
        out_decls or [vi("v_final", None), vi("s_all", None)],
        inits=[numpy_helper.from_array(np.array(3, np.int64), "M")],
    )


def _loop_nodes(carried_op="Add"):
    v_node = (
        helper.make_node("Add", ["v_in", "v_in"], ["v_out"], name="step")
        if carried_op == "Add"
        else helper.make_node("Concat", ["v_in", "v_in"], ["v_out"], name="step", axis=1)
    )
    return [helper.make_node("Identity", ["c"], ["c_out"], name="keep"), v_node, helper.make_node("Relu", ["x"], ["s"], name="relu_x")]


def test_loop_body_value_info_when_carried_shapes_are_invariant():
    m = loop_model(_loop_nodes("Add"), [vi("v_out", [1, 5]), vi("s", [1, 3])])
    got = by_tensor(findings(m))
    assert set(got) == {("v_out", "value_info"), ("s", "value_info")}
    assert got[("v_out", "value_info")].graph == "main/loop.body" and got[("v_out", "value_info")].node == "step"


def test_loop_body_with_changing_carried_shape_is_not_judged_on_the_first_iteration():
    # v doubles in width every iteration (4, 8, 16...): v_out = 1x16 is true in the second
    # iteration; the analysis only knows the first, so it stays quiet about v_out.  The
    # value computed from the captured x alone is the same in every iteration: still checked.
    m = loop_model(_loop_nodes("Concat"), [vi("v_out", [1, 16]), vi("s", [1, 3])], body_out_v=(1, None))
    assert list(by_tensor(findings(m))) == [("s", "value_info")]
    # ... and that first-iteration shape would indeed have been a wrong verdict:
    feeds = {"v0": np.ones((1, 4), np.float32), "x": np.ones((1, 4), np.float32)}
    assert session(m).run(["v_final"], feeds)[0].shape == (1, 32)


def test_loop_output_in_main():
    outs = [vi("v_final", [1, 4]), vi("s_all", [3, 1, 5])]
    (f,) = findings(loop_model(_loop_nodes("Add"), [], out_decls=outs))
    assert (f.details["tensor"], f.node, f.details["inferred_shape"]) == ("s_all", "loop", [3, 1, 4])
    feeds = {"v0": np.ones((1, 4), np.float32), "x": np.ones((1, 4), np.float32)}
    m = loop_model(_loop_nodes("Add"), [], out_decls=outs)
    assert session(m).run(["s_all"], feeds)[0].shape == (3, 1, 4)


def test_loop_body_passing_its_input_through():
    # Output v_out is the formal input v_in itself (no producer in the body): the finding
    # is reported at the Loop that binds it.
    nodes = [helper.make_node("Identity", ["c"], ["c_out"], name="keep"), helper.make_node("Relu", ["x"], ["s"], name="relu_x")]
    body = helper.make_graph(
        nodes,
        "body",
        [vi("i", [], I64), vi("c", [], TensorProto.BOOL), vi("v_in", [1, 4])],
        [vi("c_out", [], TensorProto.BOOL), vi("v_in", [1, 7]), vi("s", None)],
    )
    loop = helper.make_node("Loop", ["M", "", "v0"], ["v_final", "s_all"], name="loop", body=body)
    m = make_model(
        [loop],
        [vi("v0", [1, 4]), vi("x", [1, 4])],
        [vi("v_final", None), vi("s_all", None)],
        inits=[numpy_helper.from_array(np.array(3, np.int64), "M")],
    )
    (f,) = findings(m)
    assert (f.node, f.op_type, f.graph) == ("loop", "Loop", "main")
    assert f.details["graph"] == "main/loop.body" and f.details["declared_in"] == "output" and f.details["output_index"] == 1


def test_loop_body_input_bound_from_an_unknown_value_is_not_proof():
    # v0 comes out of a custom op (unknown): the engine types v_in from the body's own
    # declaration, so a body value computed from it proves nothing.
    body = helper.make_graph(
        [helper.make_node("Identity", ["c"], ["c_out"], name="keep"), helper.make_node("Add", ["v_in", "v_in"], ["v_out"], name="step")],
        "body",
        [vi("i", [], I64), vi("c", [], TensorProto.BOOL), vi("v_in", [1, 4])],
        [vi("c_out", [], TensorProto.BOOL), vi("v_out", [1, 9])],
    )
    m = make_model(
        [
            helper.make_node("Foo", ["x"], ["v0"], name="custom", domain="my"),
            helper.make_node("Loop", ["M", "", "v0"], ["v_final"], name="loop", body=body),
        ],
        [vi("x", [1, 4])],
        [vi("v_final", None)],
        inits=[numpy_helper.from_array(np.array(3, np.int64), "M")],
        opsets=[helper.make_opsetid("my", 1)],
    )
    am = analyze(m)
    assert am.info(("value", "main/loop.body", "v_out")).shape == (1, 4)  # from v_in's declaration
    assert findings(m) == []


def test_scan_body_and_output():
    body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "x_t"], ["s_out"], name="acc"), helper.make_node("Mul", ["x_t", "x_t"], ["y_t"], name="sq")],
        "body",
        [vi("s_in", [2]), vi("x_t", [2])],
        [vi("s_out", [2]), vi("y_t", [2])],
        value_info=[vi("y_t", [3])],
    )
    m = make_model(
        [helper.make_node("Scan", ["s0", "xs"], ["s_final", "ys"], name="scan", body=body, num_scan_inputs=1)],
        [vi("s0", [2]), vi("xs", [5, 2])],
        [vi("s_final", [2]), vi("ys", [5, 3])],
    )
    got = by_tensor(findings(m))
    assert set(got) == {("y_t", "value_info"), ("ys", "output")}
    assert got[("y_t", "value_info")].graph == "main/scan.body"
    assert got[("ys", "output")].details["inferred_shape"] == [5, 2]
    feeds = {"s0": np.zeros(2, np.float32), "xs": np.ones((5, 2), np.float32)}
    assert session(m).run(["ys"], feeds)[0].shape == (5, 2)


def test_functions():
    """A call of a model-local function: its result is proven (values downstream are
    compared); declarations inside function bodies' subgraphs are not compared (they
    are analyzed per call)."""
    then_g = helper.make_graph(
        [helper.make_node("Relu", ["a"], ["t"], name="fn_then")], "then", [], [vi("t", None)], value_info=[vi("t", [9, 9])]
    )
    else_g = helper.make_graph([helper.make_node("Neg", ["a"], ["e"], name="fn_else")], "else", [], [vi("e", None)])
    fn = helper.make_function(
        "my",
        "F",
        ["a", "c"],
        ["b"],
        [helper.make_node("If", ["c"], ["b"], name="fn_if", then_branch=then_g, else_branch=else_g)],
        opset_imports=[helper.make_opsetid("", 17)],
    )
    m = make_model(
        [helper.make_node("F", ["x", "cond"], ["y"], name="call", domain="my"), helper.make_node("Relu", ["y"], ["z"], name="after")],
        [vi("x", [2, 3]), vi("cond", [], TensorProto.BOOL)],
        [vi("z", [2, 4])],
        opsets=[helper.make_opsetid("my", 1)],
        functions=[fn],
    )
    assert [(f.details["tensor"], f.node) for f in findings(m)] == [("z", "after")]


def test_function_whose_body_types_a_loop_from_its_declaration_is_not_proof():
    """Inside F, the Loop's carried input comes from a custom op (unknown), so the engine
    types the body input from the body's declaration; F's result, and z after it, are
    computed from that claim and not compared."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["c"], ["c_out"], name="keep"), helper.make_node("Relu", ["v_in"], ["s"], name="relu_v")],
        "body",
        [vi("i", [], I64), vi("c", [], TensorProto.BOOL), vi("v_in", [1, 4])],
        [vi("c_out", [], TensorProto.BOOL), vi("v_in", [1, 4]), vi("s", None)],
    )
    fn = helper.make_function(
        "my",
        "F",
        ["a"],
        ["s_all"],
        [
            helper.make_node("Foo", ["a"], ["u"], name="custom", domain="my"),
            helper.make_node("Constant", [], ["M"], name="trip", value=numpy_helper.from_array(np.array(3, np.int64))),
            helper.make_node("Loop", ["M", "", "u"], ["v_final", "s_all"], name="loop", body=body),
        ],
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("my", 1)],
    )
    m = make_model(
        [helper.make_node("F", ["x"], ["y"], name="call", domain="my"), helper.make_node("Relu", ["y"], ["z"], name="after")],
        [vi("x", [1, 4])],
        [vi("z", [3, 1, 5])],
        opsets=[helper.make_opsetid("my", 1)],
        functions=[fn],
    )
    z = analyze(m).info(("value", "main", "z"))
    assert z.source == "inferred" and z.shape == (3, 1, 4)  # 4 comes from the body's declaration of v_in
    assert findings(m) == []


def test_element_type_filled_from_one_declaration_proves_nothing_against_another():
    # x has no element type: y's is unknown to propagation and is filled from its value_info
    # (float); the output declares int64.  The two declarations disagree; neither is disproven.
    x = vi("x", [2, 3])
    x.type.tensor_type.elem_type = 0
    m = make_model([helper.make_node("Relu", ["x"], ["y"], name="r")], [x], [vi("y", [2, 3], I64)], value_info=[vi("y", [2, 3])])
    assert findings(m) == []


# --- identity, size, hostile names -------------------------------------------------------------------------


def test_fingerprint_is_stable_across_node_order_and_distinct_per_node():
    m = relu_chain(y_decl=vi("y", [1, 3, 5, 4]), z_decl=vi("z", [1, 3, 4, 6]))
    a = {f.details["tensor"]: f.fingerprint for f in findings(m)}
    m2 = copy.deepcopy(m)
    nodes = list(m2.graph.node)
    del m2.graph.node[:]
    m2.graph.node.extend(reversed(nodes))
    b = {f.details["tensor"]: f.fingerprint for f in findings(m2)}
    assert a == b and len(set(a.values())) == 2 and all(a.values())


def test_fingerprint_survives_a_fixed_declaration_elsewhere():
    m = relu_chain(y_decl=vi("y", [1, 3, 5, 4]), z_decl=vi("z", [1, 3, 4, 6]))
    before = {f.details["tensor"]: f.fingerprint for f in findings(m)}
    m.graph.output[0].type.tensor_type.shape.dim[3].dim_value = 4
    after = {f.details["tensor"]: f.fingerprint for f in findings(m)}
    assert after == {"y": before["y"]}


def test_huge_declared_rank_keeps_the_message_short():
    (f,) = findings(relu_chain(y_decl=vi("y", [1] * 300)))
    assert f.details["kind"] == "rank" and f.details["declared_rank"] == 300 and f.details["declared_shape"] is None
    assert len(f.message) < 600 and "of rank 300" in f.message


def test_names_are_quoted_not_raw():
    name = "y\n\x1b[31mEVIL"
    m = make_model(
        [helper.make_node("Relu", ["x"], [name], name="r\nnode"), helper.make_node("Relu", [name], ["z"], name="r2")],
        [vi("x", [2])],
        [vi("z", [2])],
        value_info=[vi(name, [3])],
    )
    (f,) = findings(m)
    assert "\n" not in f.message and "\x1b" not in f.message and f.details["tensor"] == name


def test_cli_json_and_rule_doc(tmp_path, capsys):
    path = tmp_path / "m.onnx"
    onnx.save(relu_chain(y_decl=vi("y", [1, 3, 5, 4])), str(path))
    rc = cli.main(["check", str(path), "--select", "SH001", "--format", "json", "--isolated"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 1
    (f,) = out["files"][0]["findings"]
    assert f["rule"] == "SH001" and f["details"]["kind"] == "dim" and f["fingerprint"]
    assert cli.main(["rules", "SH001"]) == 0
    doc = capsys.readouterr().out
    assert doc.startswith("SH001 value-info-mismatch")
    for heading in ("What it does", "Why is this bad?", "Example", "How to fix", "Details"):
        assert heading in doc


# --- sample models ---------------------------------------------------------------------------------------------


SAMPLE_FILES = sorted(SAMPLES.glob("*.onnx"))


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_sample_models_are_consistent(path):
    assert findings(str(path)) == []


def test_sample_value_info_is_actually_compared():
    """The dynamo samples declare every intermediate value; each one is compared (a
    changed number in any of them is found), so the silence above means agreement."""
    m = onnx.load(str(SAMPLES / "drln_attention_dynamo.onnx"))
    inits = {t.name for t in m.graph.initializer}
    checked = 0
    for i, decl in enumerate(m.graph.value_info):
        if decl.name in inits:
            continue
        mm = copy.deepcopy(m)
        mm.graph.value_info[i].type.tensor_type.shape.dim[1].dim_value += 1
        (f,) = findings(mm)
        assert f.details["tensor"] == decl.name and f.details["kind"] == "dim"
        checked += 1
    assert checked == 10


# --- ground truth by execution -------------------------------------------------------------------------------


def test_execution_static_output_declaration_of_a_dynamic_model():
    """The classic exporter bug: dynamic axes on the input, the export size on the output."""
    m = make_model(
        [helper.make_node("Conv", ["x", "W"], ["y"], name="conv", pads=[1, 1, 1, 1]), helper.make_node("Relu", ["y"], ["z"], name="act")],
        [vi("x", [1, 3, "H", "W"])],
        [vi("z", [1, 8, 16, 16])],
        inits=[weight("W", (8, 3, 3, 3))],
    )
    (f,) = findings(m)
    assert f.severity == "warning" and f.details["kind"] == "static-vs-symbolic"
    inferred, declared = f.details["inferred_shape"], tuple(f.details["declared_shape"])
    assert inferred == [1, 8, "H", "W"]
    for h, w in [(16, 16), (10, 12), (7, 30)]:
        got = actual_shapes(m, {"x": np.ones((1, 3, h, w), np.float32)}, ["z"])["z"]
        assert got == concrete(inferred, {"H": h, "W": w})
        assert (got == declared) == ((h, w) == (16, 16))  # the declaration holds at one size only


def test_execution_contradicted_declarations():
    """Declared shapes SH001 contradicts, against what onnxruntime computes."""
    m = make_model(
        [
            helper.make_node("MaxPool", ["x"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node("Conv", ["p", "W"], ["c"], name="conv", dilations=[2, 2], pads=[1, 1, 1, 1]),
            helper.make_node("Shape", ["c"], ["s"], name="shape"),
            helper.make_node("Gather", ["s", "idx"], ["hw"], name="gather", axis=0),
            helper.make_node("Concat", ["lead", "hw"], ["new_shape"], name="cat", axis=0),
            helper.make_node("Reshape", ["c", "new_shape"], ["r"], name="reshape"),
            helper.make_node("Transpose", ["r"], ["out"], name="transpose", perm=[1, 0]),
        ],
        [vi("x", [1, 3, 10, 12])],
        [vi("out", [5, 6])],  # the exporter kept stale shapes: 1x3x10x12 -> pool 1x3x5x6 -> conv 1x5x3x4 -> 12x5 -> 5x12
        value_info=[vi("p", [1, 3, 10, 12]), vi("c", [1, 5, 4, 6]), vi("r", [12, 5, 1]), vi("new_shape", [2], F)],
        inits=[
            weight("W", (5, 3, 3, 3)),
            numpy_helper.from_array(np.array([1], np.int64), "idx"),
            numpy_helper.from_array(np.array([-1], np.int64), "lead"),
        ],
    )
    got = by_tensor(findings(m))
    assert set(got) == {("p", "value_info"), ("c", "value_info"), ("r", "value_info"), ("new_shape", "value_info"), ("out", "output")}
    assert got[("r", "value_info")].details["kind"] == "rank"
    assert got[("new_shape", "value_info")].details["kind"] == "dtype"
    # The wrong element type: onnxruntime refuses the model outright.
    with pytest.raises(Exception, match=r"new_shape.*does not match expected type"):
        session(m)
    del m.graph.value_info[3]  # without it the model runs (with warnings), and shows the true shapes
    names = ["p", "c", "r", "out"]
    actual = actual_shapes(m, {"x": np.ones((1, 3, 10, 12), np.float32)}, names)
    for n in names:
        f = got[(n, "output" if n == "out" else "value_info")]
        assert actual[n] == tuple(f.details["inferred_shape"]), n
        assert actual[n] != tuple(f.details["declared_shape"]), n


def test_execution_on_a_sample_with_a_stale_static_dim():
    """drln_attention_dynamic_dynamo with one value_info and the output typed at the export
    size: found, and onnxruntime shows the sizes follow the input."""
    m = onnx.load(str(SAMPLES / "drln_attention_dynamic_dynamo.onnx"))
    (mean,) = [v for v in m.graph.value_info if v.name == "mean"]
    mean.type.tensor_type.shape.dim[0].dim_value = 1  # 'batch' -> 1
    out_dims = m.graph.output[0].type.tensor_type.shape.dim
    out_dims[2].dim_value = 16  # 'height' -> 16
    out_dims[3].dim_value = 16
    got = by_tensor(findings(m))
    assert set(got) == {("mean", "value_info"), ("output", "output")}
    assert all(f.severity == "warning" and f.details["kind"] == "static-vs-symbolic" for f in got.values())
    feeds = {"input": np.random.default_rng(0).uniform(size=(2, 64, 20, 24)).astype(np.float32)}
    actual = actual_shapes(m, feeds, ["mean", "output"])
    bindings = {"batch": 2, "height": 20, "width": 24}
    assert actual["mean"] == concrete(got[("mean", "value_info")].details["inferred_shape"], bindings) == (2, 64, 1, 1)
    assert actual["output"] == concrete(got[("output", "output")].details["inferred_shape"], bindings) == (2, 64, 20, 24)
    assert actual["output"] != tuple(got[("output", "output")].details["declared_shape"])
