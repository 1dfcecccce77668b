"""MV023 input-type-not-allowed: onnxruntime refuses each model at load time."""
import numpy as np
from onnx import helper as h
from onnx import numpy_helper as nh

from tests.rules._invalid_models_attrs import T, checker_rejects, conv, findings, model, ort_rejects, out, vi

CODE = "MV023"


def test_type_variable_bound_twice():
    m = model([h.make_node("Add", ["x", "z"], ["y"], name="n")], [vi("x", T.FLOAT, [2, 3]), vi("z", T.INT64, [2, 3])], [out("y", T.FLOAT, 2)])
    assert "bound to different types" in (ort_rejects(m) or "")
    assert "inconsistent type" in (checker_rejects(m) or "")
    got = findings(m, CODE)
    assert [(f.node, f.details["problem"], f.details["other_dtype"], f.details["dtype"]) for f in got] == [("n", "bound-twice", "tensor(float)", "tensor(int64)")]


def test_initializer_of_another_type():
    m = model([h.make_node("Add", ["x", "z"], ["y"], name="n")], [vi("x", T.FLOAT, [2, 3])], [out("y", T.FLOAT, 2)], [nh.from_array(np.ones((2, 3)), "z")])
    assert ort_rejects(m) is not None
    assert [f.details["problem"] for f in findings(m, CODE)] == ["bound-twice"]


def test_type_outside_the_constraint():
    n = h.make_node("Softmax", ["x"], ["y"], name="n")
    m = model([n], [vi("x", T.INT32, [2, 3])], [out("y", T.INT32, 2)])
    assert ort_rejects(m) is not None
    assert checker_rejects(m) is not None
    got = findings(m, CODE)
    assert [(f.details["problem"], f.details["dtype"]) for f in got] == [("not-allowed", "tensor(int32)")]


def test_concrete_type_parameter():
    # Reshape's shape input is tensor(int64), not a type variable
    m = model([h.make_node("Reshape", ["x", "s"], ["y"], name="n")], [vi("x", T.FLOAT, [2, 3])], [out("y", T.FLOAT, 1)], [nh.from_array(np.array([6], np.int32), "s")])
    assert ort_rejects(m) is not None
    assert [f.details["input_index"] for f in findings(m, CODE)] == [1]


def test_valid_types_are_quiet():
    for m in (conv(), model([h.make_node("Add", ["x", "x"], ["y"])], [vi("x", T.INT64, [2])], [out("y", T.INT64, 1)])):
        assert ort_rejects(m) is None
        assert findings(m, CODE) == []


def test_one_dtype_shortcut_finds_what_the_node_walk_finds(monkeypatch):
    """Where every trusted value has one dtype, a group is decided by one check per input
    count; the findings are those of the walk over every node (the shortcut turned off)."""
    import analyzer
    import rules.mv023_input_type_not_allowed as rule
    from rules import _validity
    from rules._validity_attrs import TRUSTED_SOURCES
    from tests.rules._invalid_models import CASES

    relu_chain = model([h.make_node("Relu", [f"v{i}"], [f"v{i + 1}"]) for i in range(20)]
                       + [h.make_node("Softmax", ["v20"], ["y"], name="soft")], [vi("v0", T.INT32, [2, 3])], [out("y", T.INT32, 2)])
    models = [relu_chain] + [case[0]() for case in CASES.values()]
    shortcut = []
    for m in models:
        try:
            am = analyzer.analyze(m)
        except Exception:  # noqa: BLE001 - a model the graph refuses
            continue
        if rule._only_dtype(am, _validity, TRUSTED_SOURCES) is not rule._MIXED:
            shortcut.append(m)
    assert len(shortcut) > 5
    quick = [[(f.node, f.graph, f.details) for f in findings(m, CODE)] for m in shortcut]
    monkeypatch.setattr(rule, "_only_dtype", lambda *a: rule._MIXED)
    assert quick == [[(f.node, f.graph, f.details) for f in findings(m, CODE)] for m in shortcut]
    assert quick[0] and quick[0][0][0] == "soft"  # int32 Softmax: found through the shortcut


def test_value_infos_are_what_model_info_gives():
    """value_infos (one pass over the node dicts) gives model.info's TensorInfo for each
    value, None for an op node or a value with no info; for a value whose sizes only the
    file declares, an info of the same dtype and value (model.info gives the proven one)."""
    import analyzer
    from rules._validity import value_infos
    from tests.rules._invalid_models import CASES

    declared = 0
    for name, case in CASES.items():
        try:
            am = analyzer.analyze(case[0]())
        except Exception:  # noqa: BLE001 - a model the graph refuses
            continue
        for (key, attrs), inf in zip(am.graph.nx.nodes(data=True), value_infos(am)):
            if attrs.get("kind") != "value":
                assert inf is None, (name, key)
                continue
            got = am.info(key)
            if inf is None:
                assert (got.source, got.dtype) == ("unknown", None), (name, key)
            elif inf is not got:
                assert (inf.source, inf.dtype) == ("value_info", got.dtype) and inf.value is got.value, (name, key)
                declared += 1
    assert declared  # some case has a declared-only size
