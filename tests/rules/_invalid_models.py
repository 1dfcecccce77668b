"""Malformed models for the validity rules MV001-MV015, built with onnx.helper.

``CASES`` maps a case name to ``(builder, code, truth)``: the rule that must report
it, and the ground truth that makes it invalid, checked by the tests themselves:

* ``ort``: onnxruntime refuses to load it (``InferenceSession`` raises);
* ``checker``: ``onnx.checker.check_model(full_check=True)`` rejects it;
* ``both``: both of the above;
* ``spec``: neither refuses it; the rule's docs cite the spec text that forbids it.

``VALID`` holds near-misses that both onnx.checker and onnxruntime accept: no
validity rule may report them.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, helper, numpy_helper

F = TensorProto.FLOAT
B = TensorProto.BOOL
I64 = TensorProto.INT64


def vi(name, shape=(2,), dtype=F):
    return helper.make_tensor_value_info(name, dtype, None if shape is None else list(shape))


def init(name, values=(1.0, 2.0)):
    return numpy_helper.from_array(np.array(values, np.float32), name)


def relu(i, o, **kw):
    return helper.make_node("Relu", [i], [o], **kw)


def model(nodes, inputs, outputs, inits=(), opset=17, opsets=(), ir=8, functions=(), name="g", value_info=()):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits), value_info=list(value_info))
    imports = ([helper.make_opsetid("", opset)] if opset is not None else []) + list(opsets)
    m = helper.make_model(g, opset_imports=imports, functions=list(functions))
    m.ir_version = ir
    return m


def if_model(then_nodes, then_outputs, before=(), after=(), outputs=("y",), extra_outputs=(), then_inits=()):
    """x, c -> [before] If(c){then_nodes} [after] -> y (the else branch is a copy of then)."""
    then_g = helper.make_graph(then_nodes, "then", [], then_outputs, initializer=list(then_inits))
    else_g = helper.make_graph(then_nodes, "else", [], then_outputs, initializer=list(then_inits))
    node = helper.make_node("If", ["c"], list(outputs), then_branch=then_g, else_branch=else_g, name="if")
    return model(list(before) + [node] + list(after), [vi("x"), vi("c", (), B)], [vi("y"), *extra_outputs])


def function(name="F", domain="local", inputs=("a",), outputs=("b",), nodes=None, attributes=(), opset=17, opsets=()):
    imports = ([helper.make_opsetid("", opset)] if opset else []) + list(opsets)
    return helper.make_function(domain, name, list(inputs), list(outputs),
                                nodes if nodes is not None else [relu("a", "b")], imports, list(attributes))


def calling(fn, n_outputs=1, **kw):
    """A model whose graph calls ``fn`` once on x."""
    outs = ["y"] + [f"y{i}" for i in range(1, n_outputs)]
    node = helper.make_node(fn.name or "F", ["x"], outs, domain=fn.domain)
    opsets = [helper.make_opsetid(fn.domain, 1)] if fn.domain else []
    return model([node], [vi("x")], [vi("y")], opsets=opsets + list(kw.pop("opsets", ())), functions=[fn], **kw)


def ref_attr_node(graph_node=True):
    n = helper.make_node("LeakyRelu", ["a" if not graph_node else "x"], ["b" if not graph_node else "y"])
    a = n.attribute.add()
    a.name, a.ref_attr_name, a.type = "alpha", "al", AttributeProto.FLOAT
    return n


def sparse(m, name):
    sp = m.graph.sparse_initializer.add()
    sp.values.CopyFrom(numpy_helper.from_array(np.array([1.0], np.float32), name))
    sp.indices.CopyFrom(numpy_helper.from_array(np.array([0], np.int64), ""))
    sp.dims.extend([2])
    return m


def with_metadata(m, pairs):
    for k, v in pairs:
        m.metadata_props.add(key=k, value=v)
    return m


def _add(i1, i2, o):
    return helper.make_node("Add", [i1, i2], [o])


CASES = {
    # MV001 undefined-input
    "undefined-input": (lambda: model([_add("x", "q", "y")], [vi("x")], [vi("y")]), "MV001", "both"),
    "undefined-input-in-if": (lambda: if_model([relu("q", "t")], [vi("t")]), "MV001", "both"),
    "undefined-input-in-function": (lambda: calling(function(nodes=[_add("a", "q", "b")])), "MV001", "both"),
    # MV002 duplicate-name
    "duplicate-initializer": (lambda: model([_add("x", "w", "y")], [vi("x")], [vi("y")], inits=[init("w"), init("w", (3.0, 4.0))]), "MV002", "checker"),
    "duplicate-initializer-in-if": (lambda: if_model([_add("x", "w", "t")], [vi("t")], then_inits=[init("w"), init("w")]), "MV002", "both"),
    "duplicate-sparse-initializer": (lambda: sparse(sparse(model([_add("x", "w", "y")], [vi("x")], [vi("y")]), "w"), "w"), "MV002", "both"),
    "dense-and-sparse-initializer": (lambda: sparse(model([_add("x", "w", "y")], [vi("x")], [vi("y")], inits=[init("w")]), "w"), "MV002", "checker"),
    "duplicate-node-name": (lambda: model([relu("x", "t", name="a"), relu("t", "y", name="a")], [vi("x")], [vi("y")]), "MV002", "ort"),
    "duplicate-node-name-in-if": (lambda: if_model([relu("x", "t", name="n"), relu("t", "u", name="n")], [vi("u")]), "MV002", "ort"),
    "duplicate-node-name-in-function": (lambda: calling(function(nodes=[relu("a", "t", name="n"), relu("t", "b", name="n")])), "MV002", "ort"),
    # MV003 empty-name
    "empty-graph-name": (lambda: model([relu("x", "y")], [vi("x")], [vi("y")], name=""), "MV003", "checker"),
    "empty-body-name": (lambda: model([helper.make_node("If", ["c"], ["y"], then_branch=helper.make_graph([relu("x", "t")], "", [], [vi("t")]), else_branch=helper.make_graph([relu("x", "t")], "e", [], [vi("t")]))], [vi("x"), vi("c", (), B)], [vi("y")]), "MV003", "both"),
    "empty-initializer-name": (lambda: model([relu("x", "y")], [vi("x")], [vi("y")], inits=[init("")]), "MV003", "checker"),
    "empty-sparse-initializer-name": (lambda: sparse(model([relu("x", "y")], [vi("x")], [vi("y")]), ""), "MV003", "both"),
    "empty-input-name": (lambda: model([relu("x", "y")], [vi("x"), vi("")], [vi("y")]), "MV003", "checker"),
    "empty-output-name": (lambda: model([relu("x", "y")], [vi("x")], [vi("y"), vi("")]), "MV003", "both"),
    "empty-function-output-name": (lambda: calling(function(outputs=("",))), "MV003", "ort"),
    # MV004 output-not-produced
    "output-not-produced": (lambda: model([relu("x", "y")], [vi("x")], [vi("y"), vi("zz")]), "MV004", "both"),
    "body-output-is-outer-value": (lambda: if_model([], [vi("x")]), "MV004", "both"),
    "body-output-not-produced": (lambda: if_model([relu("x", "t")], [vi("zz")]), "MV004", "both"),
    "function-output-not-produced": (lambda: calling(function(outputs=("zz",))), "MV004", "ort"),
    "function-output-is-input": (lambda: calling(function(nodes=[], outputs=("a",))), "MV004", "ort"),
    # MV005 unsorted-nodes
    "unsorted-main": (lambda: model([relu("t", "y"), relu("x", "t")], [vi("x")], [vi("y")]), "MV005", "checker"),
    "unsorted-in-if": (lambda: if_model([relu("u", "v"), relu("x", "u")], [vi("v")]), "MV005", "both"),
    "body-reads-later-outer-value": (lambda: if_model([relu("t", "u")], [vi("u")], after=[relu("x", "t")], extra_outputs=[vi("t")]), "MV005", "checker"),
    "unsorted-in-function": (lambda: calling(function(nodes=[relu("t", "b"), relu("a", "t")])), "MV005", "both"),
    # MV006 opset-import
    "opset-99": (lambda: model([relu("x", "y")], [vi("x")], [vi("y")], opset=99), "MV006", "ort"),
    "opset-0": (lambda: model([relu("x", "y")], [vi("x")], [vi("y")], opset=0), "MV006", "both"),
    "ml-opset-99-unused": (lambda: model([relu("x", "y")], [vi("x")], [vi("y")], opsets=[helper.make_opsetid("ai.onnx.ml", 99)]), "MV006", "ort"),
    "no-default-opset": (lambda: model([relu("x", "y")], [vi("x")], [vi("y")], opset=None, opsets=[helper.make_opsetid("ai.onnx.ml", 3)]), "MV006", "checker"),
    "ml-op-without-ml-opset": (lambda: model([helper.make_node("Normalizer", ["x"], ["y"], domain="ai.onnx.ml")], [vi("x", (1, 2))], [vi("y", (1, 2))]), "MV006", "checker"),
    "custom-domain-without-opset": (lambda: model([helper.make_node("Foo", ["x"], ["y"], domain="my.dom")], [vi("x")], [vi("y")]), "MV006", "both"),
    "function-call-without-opset": (lambda: model([helper.make_node("F", ["x"], ["y"], domain="local")], [vi("x")], [vi("y")], functions=[function()]), "MV006", "both"),
    "function-without-its-own-opset": (lambda: calling(function(nodes=[helper.make_node("Normalizer", ["a"], ["b"], domain="ai.onnx.ml")]), opsets=[helper.make_opsetid("ai.onnx.ml", 3)]), "MV006", "both"),
    # MV007 ir-version
    "ir-2-with-opset-import": (lambda: model([relu("x", "y")], [vi("x")], [vi("y")], ir=2, opset=1), "MV007", "both"),
    # MV008 unknown-operator
    "unknown-default-op": (lambda: model([helper.make_node("Foo", ["x"], ["y"])], [vi("x")], [vi("y")]), "MV008", "both"),
    "op-before-its-opset": (lambda: model([helper.make_node("Gelu", ["x"], ["y"])], [vi("x")], [vi("y")]), "MV008", "both"),
    "unknown-ml-op": (lambda: model([helper.make_node("Foo", ["x"], ["y"], domain="ai.onnx.ml")], [vi("x")], [vi("y")], opsets=[helper.make_opsetid("ai.onnx.ml", 3)]), "MV008", "both"),
    "unknown-op-in-if": (lambda: if_model([helper.make_node("Foo", ["x"], ["t"])], [vi("t")]), "MV008", "both"),
    "unknown-op-in-function": (lambda: calling(function(nodes=[helper.make_node("Foo", ["a"], ["b"])])), "MV008", "both"),
    "function-in-default-domain": (lambda: model([helper.make_node("F", ["x"], ["y"])], [vi("x")], [vi("y")], functions=[function(domain="")]), "MV008", "both"),
    # MV009 deprecated-operator
    "upsample-10": (lambda: model([helper.make_node("Upsample", ["x", "s"], ["y"])], [vi("x", (1, 1, 2, 2))], [vi("y", (1, 1, 4, 4))], opset=10, inits=[init("s", (1, 1, 2, 2))]), "MV009", "both"),
    "scatter-11": (lambda: model([helper.make_node("Scatter", ["x", "i", "u"], ["y"])], [vi("x"), vi("i", (1,), I64), vi("u", (1,))], [vi("y")], opset=11), "MV009", "both"),
    # MV010 function-definition
    "function-empty-name": (lambda: model([relu("x", "y")], [vi("x")], [vi("y")], opsets=[helper.make_opsetid("local", 1)], functions=[function(name="")]), "MV010", "checker"),
    "function-defined-twice": (lambda: _twice(), "MV010", "both"),
    "function-duplicate-outputs": (lambda: calling(function(outputs=("b", "b")), n_outputs=2), "MV010", "both"),
    "function-duplicate-attributes": (lambda: calling(function(attributes=("alpha", "alpha"))), "MV010", "checker"),
    "function-opset-mismatch": (lambda: calling(function(opset=13)), "MV010", "checker"),
    "function-recursive": (lambda: calling(function(nodes=[helper.make_node("F", ["a"], ["b"], domain="local")],
                                                    opsets=[helper.make_opsetid("local", 1)])), "MV010", "both"),
    "functions-mutually-recursive": (lambda: _mutual(), "MV010", "both"),
    # MV011 duplicate-metadata-key
    "duplicate-metadata-key": (lambda: with_metadata(model([relu("x", "y")], [vi("x")], [vi("y")]), [("a", "1"), ("a", "2")]), "MV011", "checker"),
    # MV012 value-type
    "input-without-type": (lambda: model([relu("x", "y")], [helper.make_empty_tensor_value_info("x")], [vi("y")]), "MV012", "both"),
    "output-without-type": (lambda: model([relu("x", "y")], [vi("x")], [helper.make_empty_tensor_value_info("y")]), "MV012", "checker"),
    "output-undefined-elem-type": (lambda: model([relu("x", "y")], [vi("x")], [vi("y", dtype=TensorProto.UNDEFINED)]), "MV012", "ort"),
    "value-info-undefined-elem-type": (lambda: model([relu("x", "t"), relu("t", "y")], [vi("x")], [vi("y")], value_info=[vi("t", dtype=TensorProto.UNDEFINED)]), "MV012", "ort"),
    "body-output-undefined-elem-type": (lambda: if_model([relu("x", "t")], [vi("t", dtype=TensorProto.UNDEFINED)]), "MV012", "ort"),
    # MV013 subgraph-shadowing
    "body-redefines-outer-value": (lambda: if_model([relu("x", "t")], [vi("t")], before=[relu("x", "t")], extra_outputs=[vi("t")]), "MV013", "both"),
    "body-redefines-graph-input": (lambda: if_model([relu("c", "x")], [vi("x")]), "MV013", "both"),
    # MV014 experimental-operator
    "upsample-1": (lambda: model([helper.make_node("Upsample", ["x"], ["y"], height_scale=2.0, width_scale=2.0)], [vi("x", (1, 1, 2, 2))], [vi("y", (1, 1, 4, 4))], opset=1, ir=3), "MV014", "ort"),
    # MV015 ref-attr-outside-function
    "ref-attr-in-main-graph": (lambda: model([ref_attr_node()], [vi("x")], [vi("y")]), "MV015", "spec"),
}


def _mutual():
    """local.F calls local.G (inside an If body) and G calls F."""
    local = [helper.make_opsetid("local", 1)]
    calls_g = helper.make_graph([helper.make_node("G", ["a"], ["t"], domain="local")], "then", [], [vi("t")])
    f = function(name="F", opsets=local, nodes=[
        helper.make_node("Constant", [], ["c"], value=helper.make_tensor("c", B, [], [True])),
        helper.make_node("If", ["c"], ["b"], then_branch=calls_g, else_branch=calls_g)])
    g = function(name="G", nodes=[helper.make_node("F", ["a"], ["b"], domain="local")], opsets=local)
    return _with_functions(calling(f), [g])


def _with_functions(m, extra):
    m.functions.extend(extra)
    return m


def _twice():
    return model(
        [helper.make_node("F", ["x"], ["y"], domain="local")], [vi("x")], [vi("y")],
        opsets=[helper.make_opsetid("local", 1)], functions=[function(), function()])


def _loop(body_nodes, body_inputs, body_outputs, inits=()):
    body = helper.make_graph(body_nodes, "body", body_inputs, body_outputs, initializer=list(inits))
    return model([helper.make_node("Loop", ["n", "", "x"], ["y"], body=body)], [vi("x"), vi("n", (), I64)], [vi("y")])


def _fn_ref_attr():
    fn = function(nodes=[ref_attr_node(graph_node=False)])
    fn.attribute.append("al")
    return calling(fn)


_COND = [helper.make_node("Identity", ["cond_in"], ["cond_out"])]
_LOOP_IN = [vi("i", (), I64), vi("cond_in", (), B)]

VALID = {
    "graph-output-is-input": lambda: model([], [vi("x")], [vi("x")]),
    "graph-output-is-initializer": lambda: model([], [], [vi("w")], inits=[init("w")]),
    "repeated-graph-output": lambda: model([relu("x", "y")], [vi("x")], [vi("y"), vi("y")]),
    "initializer-also-input": lambda: model([_add("x", "w", "y")], [vi("x"), vi("w")], [vi("y")], inits=[init("w")]),
    "empty-value-info-name": lambda: model([relu("x", "y")], [vi("x")], [vi("y")], value_info=[vi("")]),
    "omitted-optional-input": lambda: model([helper.make_node("Clip", ["x", "", ""], ["y"])], [vi("x")], [vi("y")]),
    "omitted-optional-output": lambda: model([helper.make_node("Dropout", ["x"], ["y", ""])], [vi("x")], [vi("y")]),
    "value-info-without-type": lambda: model([relu("x", "t"), relu("t", "y")], [vi("x")], [vi("y")], value_info=[helper.make_empty_tensor_value_info("t")]),
    "same-node-name-in-main-and-body": lambda: if_model([relu("x", "t", name="a")], [vi("t")], before=[relu("x", "x1", name="a")], extra_outputs=[vi("x1")]),
    "same-node-name-in-main-and-function": lambda: model([helper.make_node("F", ["x"], ["y"], domain="local", name="n")], [vi("x")], [vi("y")], opsets=[helper.make_opsetid("local", 1)], functions=[function(nodes=[relu("a", "b", name="n")])]),
    "repeated-opset-import": lambda: model([relu("x", "y")], [vi("x")], [vi("y")], opsets=[helper.make_opsetid("", 13)]),
    "only-ml-ops-no-default-opset": lambda: model([helper.make_node("Normalizer", ["x"], ["y"], domain="ai.onnx.ml")], [vi("x", (1, 2))], [vi("y", (1, 2))], opset=None, opsets=[helper.make_opsetid("ai.onnx.ml", 3)]),
    "old-ir-new-opset": lambda: model([relu("x", "y")], [vi("x")], [vi("y")], ir=3),
    "ms-contrib-op": lambda: model([helper.make_node("Gelu", ["x"], ["y"], domain="com.microsoft")], [vi("x")], [vi("y")], opsets=[helper.make_opsetid("com.microsoft", 1)]),
    "upsample-9": lambda: model([helper.make_node("Upsample", ["x", "s"], ["y"])], [vi("x", (1, 1, 2, 2))], [vi("y", (1, 1, 4, 4))], opset=9, inits=[init("s", (1, 1, 2, 2))]),
    "function-call": lambda: calling(function()),
    "function-compatible-opset": lambda: calling(function(opset=16)),
    "function-in-default-domain-unused": lambda: model([relu("x", "y")], [vi("x")], [vi("y")], functions=[function(domain="")]),
    "function-ref-attr": _fn_ref_attr,
    "loop-body-output-is-body-input": lambda: _loop(_COND, _LOOP_IN + [vi("xi")], [vi("cond_out", (), B), vi("xi")]),
    "loop-body-input-named-like-outer": lambda: _loop(_COND + [relu("x", "xo")], _LOOP_IN + [vi("x")], [vi("cond_out", (), B), vi("xo")]),
    "loop-body-initializer-named-like-outer": lambda: _loop(_COND + [_add("xi", "x", "xo")], _LOOP_IN + [vi("xi")], [vi("cond_out", (), B), vi("xo")], inits=[init("x")]),
    "body-output-without-type": lambda: if_model([relu("x", "t")], [helper.make_empty_tensor_value_info("t")]),
    # onnx.checker alone rejects these (it wants a shape on main-graph inputs and outputs); onnx.proto
    # makes the shape optional and onnxruntime loads and runs them: not a validity finding.
    "input-without-shape": lambda: model([relu("x", "y")], [vi("x", None)], [vi("y")]),
    "output-without-shape": lambda: model([relu("x", "y")], [vi("x")], [vi("y", None)]),
}
CHECKER_ONLY_VALID = {"input-without-shape", "output-without-shape"}


def checker_rejects(m) -> bool:
    try:
        onnx.checker.check_model(m, full_check=True)
    except Exception:
        return True
    return False


def ort_refuses(m) -> bool:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    try:
        ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    except Exception:
        return True
    return False


# --- what the MV rule tests share --------------------------------------------------------------

MV_CODES = [f"MV{n:03d}" for n in range(1, 16)]


def cases_for(code):
    return sorted(name for name, (_, c, _) in CASES.items() if c == code)


def lint(m, select):
    from analyzer.linter import runner

    (fr,) = runner.lint(m, select=list(select)).files
    return fr


def assert_reported(name):
    """The case is invalid by its ground truth, analysis goes on (status ok), and its
    rule reports it with a finding that names a node or tensor."""
    build, code, truth = CASES[name]
    m = build()
    if truth in ("checker", "both"):
        assert checker_rejects(m), f"{name}: onnx.checker accepts it"
    if truth in ("ort", "both"):
        assert ort_refuses(m), f"{name}: onnxruntime loads it"
    if truth == "spec":
        assert not checker_rejects(m) and not ort_refuses(m), f"{name}: not a spec-only case"
    fr = lint(m, [code])
    assert fr.status == "ok", fr.error
    found = [f for f in fr.findings if f.rule == code]
    assert found, f"{name}: {code} silent"
    import importlib
    import pkgutil

    import rules

    module = next(importlib.import_module(f"rules.{i.name}") for i in pkgutil.iter_modules(rules.__path__)
                  if i.name.startswith(code.lower() + "_"))
    for f in found:
        assert f.severity == module.SEVERITY
        assert f.node and f.message and f.graph
    return found


def assert_valid_not_reported(codes=MV_CODES):
    for name, build in VALID.items():
        m = build()
        assert name in CHECKER_ONLY_VALID or not checker_rejects(m), f"{name} is not valid"
        assert not ort_refuses(m), f"{name} is not valid"
        fr = lint(m, codes)
        assert fr.status == "ok", (name, fr.error)
        assert [f for f in fr.findings if f.rule in codes] == [], (name, [f.message for f in fr.findings])
