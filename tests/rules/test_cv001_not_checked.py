"""CV001 not-checked: what a run could not check becomes findings (and a CI gate).

Ground truth: onnxruntime runs the com.microsoft ``Gelu`` model (so it is valid and
a linter that says nothing about it is wrong to say "0 findings"); the valid corpora
(samples, onnx's backend test models, onnxruntime's bundled models) give no CV001.
"""
from __future__ import annotations

import glob
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from analyzer.cli import main
from analyzer.linter.registry import select_rules
from analyzer.linter.runner import lint_file

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GELU = ("com.microsoft", "Gelu")


def gelu_conv_model(metadata=None) -> onnx.ModelProto:
    """x -> com.microsoft.Gelu 'g1' -> Conv 'conv1' (3x3, pads 1) -> y."""
    w = nh.from_array(np.ones((4, 3, 3, 3), np.float32), "W")
    g = h.make_graph(
        [
            h.make_node("Gelu", ["x"], ["g"], name="g1", domain="com.microsoft"),
            h.make_node("Conv", ["g", "W"], ["y"], name="conv1", pads=[1, 1, 1, 1]),
        ],
        "m",
        [h.make_tensor_value_info("x", T.FLOAT, [1, 3, 8, 8])],
        [h.make_tensor_value_info("y", T.FLOAT, [1, 4, 8, 8])],
        [w],
    )
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17), h.make_opsetid("com.microsoft", 1)], ir_version=8)
    for k, v in (metadata or {}).items():
        m.metadata_props.add(key=k, value=v)
    return m


def custom_op_model(metadata=None) -> onnx.ModelProto:
    """Like ``gelu_conv_model`` with an operator of a custom domain nobody knows (for
    runs in another process, where a shape function cannot be taken away)."""
    m = gelu_conv_model(metadata)
    m.graph.node[0].op_type = "Foo"
    m.graph.node[0].domain = "my.domain"
    m.graph.node[0].name = "f1"
    del m.opset_import[1]
    m.opset_import.add(domain="my.domain", version=1)
    return m


@pytest.fixture
def no_gelu_shape_function(monkeypatch):
    """onnxlint without a shape function for com.microsoft Gelu (as before one was
    added; any operator we do not know behaves alike)."""
    from analyzer.model import analyze
    from analyzer.shapes.registry import SHAPE_FUNCTIONS

    analyze(gelu_conv_model())  # the ops_* modules register their functions on first use
    if GELU in SHAPE_FUNCTIONS:
        monkeypatch.delitem(SHAPE_FUNCTIONS, GELU)


def save(tmp_path, m, name="m.onnx") -> str:
    p = str(tmp_path / name)
    onnx.save(m, p)
    return p


def cv(fr):
    return [f for f in fr.findings if f.rule == "CV001"]


def test_onnxruntime_runs_the_gelu_model():
    import onnxruntime as ort

    s = ort.InferenceSession(gelu_conv_model().SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = s.run(None, {"x": np.ones((1, 3, 8, 8), np.float32)})
    assert y.shape == (1, 4, 8, 8)


def test_unknown_op_and_the_conv_after_it_are_findings(no_gelu_shape_function):
    fr = lint_file(gelu_conv_model(), select_rules())
    found = {(f.node, f.details["kind"]) for f in cv(fr)}
    assert found == {("g1", "unknown-op"), ("conv1", "unchecked-conv")}
    by_node = {f.node: f for f in cv(fr)}
    assert by_node["g1"].severity == "info" and "com.microsoft.Gelu" in by_node["g1"].message
    assert by_node["conv1"].details["reason"] == "input rank unknown" and by_node["conv1"].details["source"] == "DT001"
    assert len({f.fingerprint for f in cv(fr)}) == 2
    # the notes keep their text (JSON unchanged)
    assert "DT001: 1 conv(s) not checked (1 input rank unknown)" in fr.notes
    assert [u.kind for u in fr.unchecked] == ["unknown-op", "unchecked-conv"]


def test_with_a_shape_function_the_conv_is_checked():
    from analyzer.model import analyze
    from analyzer.shapes.registry import SHAPE_FUNCTIONS

    analyze(gelu_conv_model())
    if GELU not in SHAPE_FUNCTIONS:
        pytest.skip("no com.microsoft Gelu shape function in this tree")
    assert cv(lint_file(gelu_conv_model(), select_rules())) == []


def test_the_coverage_gate_fails_and_the_ordinary_gate_passes(no_gelu_shape_function, tmp_path, capsys):
    p = save(tmp_path, gelu_conv_model())
    assert main(["check", p, "--isolated", "--select", "CV001", "--fail-on", "info"]) == 1
    out = capsys.readouterr().out
    assert "CV001 [info] not checked: operator 'com.microsoft.Gelu' is unknown" in out
    assert main(["check", p, "--isolated", "--select", "DT001,CV001"]) == 0  # info does not fail a warning gate
    assert main(["check", p, "--isolated", "--select", "DT001,CV001", "--fail-on", "info"]) == 1
    capsys.readouterr()


def test_a_stale_suppression_is_a_finding(tmp_path):
    m = custom_op_model({"onnxlint:ignore": "DT001@nowhere"})
    fr = lint_file(m, select_rules())
    stale = [f for f in cv(fr) if f.details["kind"] == "stale-suppression"]
    assert len(stale) == 1 and stale[0].node == "<model>" and "'DT001@nowhere'" in stale[0].message
    assert "onnxlint:ignore entry 'DT001@nowhere' matches no finding (stale suppression)" in fr.notes
    # an entry of a rule that did not run is not judged
    fr = lint_file(m, select_rules(["CV001"]))
    assert [f.details["kind"] for f in cv(fr)] == ["unknown-op"]
    assert not any(u.kind == "stale-suppression" for u in fr.unchecked)
    p = save(tmp_path, m)
    assert main(["check", p, "--isolated", "--select", "DT001,CV001", "--fail-on", "info"]) == 1


def test_a_cv001_finding_can_be_suppressed_and_the_entry_is_not_stale(tmp_path, capsys):
    m = custom_op_model({"onnxlint:ignore": "CV001@f1"})
    fr = lint_file(m, select_rules(["CV001"]))
    assert cv(fr) == []
    assert not any(u.kind == "stale-suppression" for u in fr.unchecked)
    assert "1 finding(s) suppressed by the model's onnxlint:ignore metadata" in fr.notices
    # the run still says what it did not check
    p = save(tmp_path, m)
    assert main(["check", p, "--isolated", "--select", "CV001", "--fail-on", "info"]) == 0
    out = capsys.readouterr().out
    assert "m.onnx: not checked: 1 unknown op (my.domain.Foo 'f1')" in out
    assert out.splitlines()[-1].endswith(", 1 not checked")


def test_a_symbolic_input_size_is_not_a_gap():
    m = gelu_conv_model()
    del m.graph.node[0]
    m.graph.node[0].input[0] = "x"
    m.graph.input[0].CopyFrom(h.make_tensor_value_info("x", T.FLOAT, [1, 3, "H", "W"]))
    m.graph.output[0].CopyFrom(h.make_tensor_value_info("y", T.FLOAT, None))
    del m.opset_import[1]
    fr = lint_file(m, select_rules())
    assert fr.status == "ok" and cv(fr) == [] and fr.unchecked == []


def test_a_recursive_function_call_is_a_gap():
    """A function that calls itself (not valid ONNX): the inner call is not analyzed."""
    f = h.make_function("local", "F", ["a"], ["b"], [h.make_node("F", ["a"], ["b"], domain="local", name="inner")], [h.make_opsetid("", 17), h.make_opsetid("local", 1)])
    g = h.make_graph(
        [h.make_node("F", ["x"], ["y"], domain="local", name="call")],
        "m",
        [h.make_tensor_value_info("x", T.FLOAT, [1])],
        [h.make_tensor_value_info("y", T.FLOAT, [1])],
    )
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17), h.make_opsetid("local", 1)], functions=[f])
    fr = lint_file(m, select_rules(["CV001"]))
    assert fr.status == "ok"
    assert [(f.details["kind"], f.details["reason"]) for f in cv(fr)] == [("skipped-subgraph", "recursive function")]


def _valid_corpus():
    import onnxruntime

    files = sorted(glob.glob(os.path.join(REPO, "sample_models", "*.onnx")))
    files += sorted(glob.glob(os.path.dirname(onnx.__file__) + "/backend/test/data/**/*.onnx", recursive=True))
    files += sorted(glob.glob(os.path.dirname(onnxruntime.__file__) + "/**/*.onnx", recursive=True))
    return files


def test_valid_models_have_nothing_unchecked():
    """The committed samples, onnx's backend test models and onnxruntime's bundled
    models: every part is checked (symbolic sizes are not gaps), no CV001."""
    rules = select_rules(["CV001", "DT", "SH"])
    files = _valid_corpus()
    assert len(files) > 150
    bad = []
    for p in files:
        fr = lint_file(p, rules)
        if fr.status != "ok":
            continue  # files onnxlint refuses are the loader's tests' business
        bad.extend(f"{p}: {f.message}" for f in cv(fr))
    assert bad == []
