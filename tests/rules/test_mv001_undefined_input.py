"""MV001 undefined-input: every malformed model of tests/rules/_invalid_models.py that it owns is
rejected by onnxruntime or onnx.checker (checked here, not assumed) and reported; the
valid near-misses there are not."""
from __future__ import annotations

import pytest

from tests.rules._invalid_models import assert_reported, assert_valid_not_reported, cases_for

CODE = "MV001"


@pytest.mark.parametrize("case", cases_for(CODE))
def test_reports_the_invalid_models(case):
    assert_reported(case)


def test_silent_on_valid_near_misses():
    assert_valid_not_reported([CODE])


def test_names_the_tensor_and_counts_readers():
    from onnx import helper

    from tests.rules._invalid_models import lint, model, vi

    m = model([helper.make_node("Add", ["x", "q"], ["t"], name="first"), helper.make_node("Mul", ["t", "q"], ["y"])],
              [vi("x")], [vi("y")])
    (f,) = lint(m, [CODE]).findings
    assert (f.node, f.details["tensor"], f.details["readers"]) == ("first", "q", 2)


def test_scan_body_reading_an_undefined_tensor(tmp_path):
    """The issue's case: inside a Scan body, exit 1 on the command line (was 0)."""
    from onnx import helper

    from analyzer import cli
    from tests.rules._invalid_models import model, ort_refuses, vi

    body = helper.make_graph([helper.make_node("Add", ["s_in", "ghost"], ["s_out"]), helper.make_node("Identity", ["s_out"], ["e"])],
                             "body", [vi("s_in"), vi("xi")], [vi("s_out"), vi("e")])
    m = model([helper.make_node("Scan", ["s0", "xs"], ["s", "es"], body=body, num_scan_inputs=1, name="scan")],
              [vi("s0"), vi("xs", (3, 2))], [vi("s"), vi("es", (3, 2))])
    assert ort_refuses(m)
    path = tmp_path / "scan.onnx"
    path.write_bytes(m.SerializeToString())
    assert cli.main(["check", str(path), "--select", CODE, "--format", "json", "-o", str(tmp_path / "r.json")]) == 1
    import json

    (f,) = json.loads((tmp_path / "r.json").read_text())["files"][0]["findings"]
    assert f["graph"] == "main/scan.body" and f["details"]["tensor"] == "ghost"


def _valid_corpus():
    """Every model the project ships or finds installed that both onnx.checker
    (full_check) and onnxruntime accept: the committed samples, the onnx wheel's
    backend test graphs, onnxruntime's bundled models."""
    import glob
    import os
    import pathlib

    import onnx
    import onnxruntime as ort

    from tests.rules._invalid_models import checker_rejects

    root = pathlib.Path(__file__).resolve().parents[2]
    files = sorted(glob.glob(str(root / "sample_models" / "*.onnx")))
    files += sorted(glob.glob(os.path.dirname(onnx.__file__) + "/backend/test/data/**/*.onnx", recursive=True))
    files += sorted(glob.glob(os.path.dirname(ort.__file__) + "/**/*.onnx", recursive=True))
    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    valid, skipped = [], []
    for f in files:
        try:
            m = onnx.load(f)
            ort.InferenceSession(f, opts, providers=["CPUExecutionProvider"])
        except Exception:
            skipped.append(f)
            continue
        (skipped if checker_rejects(m) else valid).append(f)
    return files, valid, skipped


def test_no_validity_finding_on_valid_models():
    """MV001-MV015 report nothing on any model both onnx.checker and onnxruntime
    accept (measured: 162 files, 121 valid, 41 skipped as rejected by one of them)."""
    from analyzer.linter import runner
    from analyzer.linter.registry import select_rules
    from tests.rules._invalid_models import MV_CODES

    files, valid, skipped = _valid_corpus()
    assert len(valid) >= 100, (len(files), len(skipped))
    rules = select_rules(MV_CODES, None)
    bad = {}
    for f in valid:
        fr = runner.lint_file(f, rules)
        assert fr.status == "ok", (f, fr.error)
        if fr.findings:
            bad[f] = [x.message for x in fr.findings][:3]
    assert bad == {}


def test_missing_value_shortcut():
    """MV001 walks the inputs only when some value is one nothing defines."""
    import analyzer
    from rules._validity import has_missing_values
    from tests.rules._invalid_models import CASES

    for name in ("undefined-input", "undefined-input-in-if", "undefined-input-in-function"):
        assert has_missing_values(analyzer.analyze(CASES[name][0]())), name
    assert not has_missing_values(analyzer.analyze(CASES["unsorted-main"][0]()))
