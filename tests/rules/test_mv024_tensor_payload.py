"""MV024 tensor-payload: onnxruntime refuses every bad tensor at load time; onnx's checker
where it notices.  Also: the validity rules MV020-MV026 are quiet on the valid corpus."""
import numpy as np
import onnx
import pytest
from onnx import helper as h

from tests.rules._invalid_models_attrs import (
    T, checker_rejects, findings, findings_from_file, in_if_branch, ort_rejects, raw_tensor, valid_corpus, with_constant,
    with_initializer,
)  # fmt: skip

CODE = "MV024"

# case -> (tensor, output dtype, problem, does onnx's checker refuse it)
BAD = {
    "negative-dim": (lambda: raw_tensor(dims=(-1, 3), raw_data=b""), T.FLOAT, "negative-dim", True),
    "raw-short": (lambda: raw_tensor(raw_data=b"\0" * 20), T.FLOAT, "raw-data-length", True),
    "raw-long": (lambda: raw_tensor(raw_data=b"\0" * 28), T.FLOAT, "raw-data-length", False),
    "float-data-short": (lambda: raw_tensor(float_data=[1.0] * 5), T.FLOAT, "field-length", True),
    "float-data-long": (lambda: raw_tensor(float_data=[1.0] * 7), T.FLOAT, "field-length", False),
    "two-fields": (lambda: raw_tensor(float_data=[1.0] * 6, raw_data=b"\0" * 24), T.FLOAT, "several-fields", True),
    "no-data": (lambda: raw_tensor(), T.FLOAT, "no-data", True),
    "zero-elements-with-data": (lambda: raw_tensor(dims=(0, 3), float_data=[1.0]), T.FLOAT, "zero-element-data", True),
    "string-raw-data": (lambda: raw_tensor(dtype=T.STRING, raw_data=b"abcdef"), T.STRING, "string-raw-data", True),
    "undefined-type": (lambda: raw_tensor(dtype=0, raw_data=b"\0" * 24), T.FLOAT, "data-type", True),
    "unknown-type": (lambda: raw_tensor(dtype=999, raw_data=b"\0" * 24), T.FLOAT, "data-type", False),
    "wrong-field": (lambda: raw_tensor(int32_data=[1] * 6), T.FLOAT, "wrong-field", True),
    "int64-field-for-int32": (lambda: raw_tensor(dtype=T.INT32, int64_data=[1] * 6), T.INT32, "wrong-field", True),
    "overflow": (lambda: raw_tensor(dims=(2**40, 2**40), raw_data=b""), T.FLOAT, "overflow", True),
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("holder", ["initializer", "constant"])
def test_bad_tensor_found_and_refused(case, holder):
    build, dtype, problem, checker_too = BAD[case]
    m = (with_initializer if holder == "initializer" else with_constant)(build(), dtype)
    if holder == "initializer" and case != "two-fields":  # onnxruntime reads raw_data and ignores the rest
        assert ort_rejects(m) is not None
    assert (checker_rejects(m, full_check=False) is not None) == checker_too or holder == "constant"
    got = findings(m, CODE)
    assert problem in [f.details["problem"] for f in got]
    f = got[0]
    assert f.severity == "error"
    assert (f.node, f.details["where"]) == (("w", "initializer") if holder == "initializer" else ("const", "attribute"))


def test_constant_with_short_raw_data_is_refused_by_onnxruntime():
    m = with_constant(raw_tensor(raw_data=b"\0" * 20))
    assert ort_rejects(m) is not None


def test_inside_an_if_branch():
    m = in_if_branch(h.make_node("Identity", ["w"], ["yi"], name="inner"), [raw_tensor(dims=(1, 3, 8, 8), raw_data=b"\0" * 12)])
    assert ort_rejects(m, {"c": np.array(True), "x": np.ones((1, 3, 8, 8), np.float32)}) is not None
    got = findings(m, CODE)
    assert [(f.node, f.graph, f.details["problem"]) for f in got] == [("w", "main/if.then_branch", "raw-data-length")]


def test_payload_left_in_the_file_is_measured_not_read(tmp_path):
    import analyzer

    t = raw_tensor(dims=(2000,), raw_data=b"\0" * 7996)  # 2000 floats need 8000 bytes
    m = with_initializer(t)
    assert ort_rejects(m) is not None
    p = tmp_path / "m.onnx"
    p.write_bytes(m.SerializeToString())
    am = analyzer.analyze(str(p))
    assert "w" in am.loaded.lazy and not am.model.graph.initializer[0].raw_data  # really cut out
    got = findings_from_file(m, CODE, tmp_path)
    assert [(f.details["problem"], f.details["actual"], f.details["expected"]) for f in got] == [("raw-data-length", 7996, 8000)]


def test_valid_tensors_are_quiet():
    from onnx import numpy_helper as nh

    for t in (nh.from_array(np.ones((2, 3), np.float32), "w"), h.make_tensor("w", T.FLOAT, [2, 3], [1.0] * 6), raw_tensor(dims=(0, 3))):
        m = with_initializer(t)
        assert ort_rejects(m) is None
        assert findings(m, CODE) == []


VALIDITY = ["MV020", "MV021", "MV022", "MV023", "MV024", "MV025", "MV026"]


def test_no_validity_finding_on_the_valid_corpus():
    """Committed samples, onnx's backend test models, onnxruntime's bundled models: every
    file that onnx's checker (full) and onnxruntime accept gets no MV020-MV026 finding."""
    import analyzer
    import onnxruntime as ort

    ort.set_default_logger_severity(4)
    checked, skipped, flagged = 0, 0, []
    for path in valid_corpus():
        try:
            onnx.checker.check_model(onnx.load(path), full_check=True)
            ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        except Exception:
            skipped += 1
            continue
        fr = analyzer.lint(path, select=VALIDITY).files[0]
        assert fr.status == "ok", (path, fr.error)
        flagged += [(path, f.rule, f.message) for f in fr.findings]
        checked += 1
    assert flagged == []
    assert checked >= 120, (checked, skipped)
