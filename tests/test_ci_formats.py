"""Report formats CI systems consume: JUnit XML and GitLab Code Quality JSON.  Each is
parsed back (the XML with the standard library's parser, the GitLab array against the
keys and types GitLab documents) and must agree with the JSON report of the same run:
one test case per file, one failure per finding, an error per file that failed;
one issue per finding with a fingerprint unique in the report and the same across
runs.  ``scan`` renders the same bytes as ``check`` for the same files."""
from __future__ import annotations

import json
import os
import pathlib
import xml.etree.ElementTree as ET

import onnx
import pytest

from analyzer.cli import main
from analyzer.report.gitlab import GITLAB_SEVERITY, render_gitlab
from analyzer.report.junit import render_junit
from tests.rules.test_cv001_not_checked import gelu_conv_model, no_gelu_shape_function, save  # noqa: F401
from tests.test_cli import pooled_model

ROOT = pathlib.Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_models"
GITLAB_SEVERITIES = {"info", "minor", "major", "critical", "blocker"}


def run(capsys, *argv):
    try:
        rc = main([*map(str, argv)])
    except SystemExit as e:
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def mixed(tmp_path):
    """The samples (positives and negatives), a file that is not a model, in that order."""
    bad = tmp_path / "bad.onnx"
    bad.write_text("not a model")
    return sorted(SAMPLES.glob("*.onnx")) + [bad]


def _json(capsys, paths):
    rc, out, _ = run(capsys, "check", "--isolated", "--format", "json", *paths)
    return rc, json.loads(out)["files"]


# --- JUnit ---------------------------------------------------------------------------------------


def test_junit_parses_and_agrees_with_json(capsys, mixed):
    rc_json, files = _json(capsys, mixed)
    rc, out, _ = run(capsys, "check", "--isolated", "--format", "junit", *mixed)
    assert rc == rc_json == 2
    root = ET.fromstring(out.encode("ascii"))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [f["path"] for f in files]  # one per file, in order
    for case, fr in zip(cases, files):
        failures = case.findall("failure")
        assert [x.get("type") for x in failures] == [f["rule"] for f in fr["findings"]]
        for x, f in zip(failures, fr["findings"]):
            assert x.text == f"{fr['path']}:{f['node']}: {f['rule']} [{f['severity']}] {f['message']}"
        errors = case.findall("error")
        assert len(errors) == (fr["status"] == "error")
        if errors:
            assert errors[0].get("type") == fr["error"]["kind"]
    n_failed = sum(1 for fr in files if fr["findings"])
    n_errors = sum(1 for fr in files if fr["status"] == "error")
    assert n_failed == 8 and n_errors == 1  # the 5 DRLN/ASPP positives and the 3 TF-same samples
    for el in (root, suite):
        assert (el.get("tests"), el.get("failures"), el.get("errors")) == (str(len(files)), str(n_failed), str(n_errors))
    assert len(root.findall(".//failure")) == sum(len(fr["findings"]) for fr in files)


def test_junit_escapes_whatever_a_model_names(capsys, tmp_path):
    evil = "a&b<c>\"d' ]]> \x01\x1b[31m é€ \ufffe"
    path = tmp_path / "m&<x>.onnx"
    onnx.save(pooled_model(conv_name=evil), str(path))
    rc, out, _ = run(capsys, "check", "--isolated", "--format", "junit", path)
    assert rc == 1 and out.isascii() and "\x1b" not in out
    root = ET.fromstring(out.encode("ascii"))  # well-formed
    (case,) = root.iter("testcase")
    assert case.get("name") == str(path)
    (failure,) = case.findall("failure")
    assert "a&b<c>\"d' ]]> \\x01\\x1b[31m é€ \\ufffe" in failure.text  # escaped, not lost
    assert failure.get("type") == "DT001"


def test_junit_puts_not_checked_in_system_out(capsys, tmp_path, no_gelu_shape_function):  # noqa: F811
    p = save(tmp_path, gelu_conv_model())
    rc, out, _ = run(capsys, "check", "--isolated", "--format", "junit", "--ignore", "CV001", p)
    assert rc == 0
    (case,) = ET.fromstring(out.encode("ascii")).iter("testcase")
    assert case.findall("failure") == [] and case.find("system-out").text == (
        "not checked: 1 unknown op (com.microsoft.Gelu 'g1'), 1 conv (input rank unknown)"
    )


def test_junit_render_handles_a_lone_surrogate():
    files = [{"path": "m\ud800.onnx", "status": "ok", "findings": [], "unchecked": [], "notices": ["n\udfff"]}]
    root = ET.fromstring(render_junit(files).encode("ascii"))
    case = root.find(".//testcase")
    assert case.get("name") == "m\\ud800.onnx" and case.find("system-out").text == "note: n\\udfff"


# --- GitLab Code Quality ---------------------------------------------------------------------------


def _issues(capsys, *argv):
    rc, out, _ = run(capsys, "check", "--isolated", "--format", "gitlab", *argv)
    return rc, json.loads(out)


def test_gitlab_issues_have_the_documented_keys_and_agree_with_json(capsys, mixed):
    rc_json, files = _json(capsys, mixed)
    rc, issues = _issues(capsys, *mixed)
    assert rc == rc_json == 2 and isinstance(issues, list)
    for issue in issues:
        assert isinstance(issue["description"], str) and issue["description"]
        assert isinstance(issue["check_name"], str) and issue["check_name"]
        assert isinstance(issue["fingerprint"], str) and issue["fingerprint"]
        assert issue["severity"] in GITLAB_SEVERITIES
        loc = issue["location"]
        assert isinstance(loc["path"], str) and "\\" not in loc["path"]
        inside = not os.path.relpath(os.path.abspath(loc["path"]), os.getcwd()).startswith("..")
        assert loc["path"].startswith("/") != inside  # relative to the project (cwd) when inside it
        assert isinstance(loc["lines"]["begin"], int) and loc["lines"]["begin"] >= 1
    findings = [(fr, f) for fr in files for f in fr["findings"]]
    rule_issues = [i for i in issues if not i["check_name"].startswith("onnxlint/")]
    assert len(rule_issues) == len(findings)
    for issue, (fr, f) in zip(rule_issues, findings):
        assert issue["check_name"] == f["rule"] and issue["severity"] == GITLAB_SEVERITY[f["severity"]]
        assert pathlib.Path(issue["location"]["path"]).resolve() == pathlib.Path(fr["path"]).resolve()
        assert f["node"] in issue["description"] and f["message"] in issue["description"]
    errors = [i for i in issues if i["check_name"] == "onnxlint/not-onnx"]
    assert len(errors) == 1 and errors[0]["severity"] == "critical"
    fingerprints = [i["fingerprint"] for i in issues]
    assert len(set(fingerprints)) == len(fingerprints)
    _, again = _issues(capsys, *mixed)
    assert [i["fingerprint"] for i in again] == fingerprints  # stable across runs


def test_gitlab_fingerprints_name_the_file(capsys, tmp_path):
    # the same model under two names: the same findings, but distinct issues
    a, b = tmp_path / "a.onnx", tmp_path / "b.onnx"
    data = (SAMPLES / "aspp_dynamo.onnx").read_bytes()
    a.write_bytes(data)
    b.write_bytes(data)
    _, issues = _issues(capsys, a, b)
    assert len(issues) == 4 and len({i["fingerprint"] for i in issues}) == 4


def test_gitlab_fingerprints_stay_unique_when_findings_share_an_identity():
    f = {"rule": "XY001", "name": "x", "severity": "warning", "node": "n", "graph": "main", "message": "m", "fingerprint": "same"}
    files = [{"path": "m.onnx", "status": "ok", "findings": [f, dict(f)], "unchecked": []}]
    issues = json.loads(render_gitlab(files))
    assert len({i["fingerprint"] for i in issues}) == 2
    assert json.loads(render_gitlab(files)) == issues


def test_gitlab_reports_what_was_not_checked(capsys, tmp_path, no_gelu_shape_function):  # noqa: F811
    p = save(tmp_path, gelu_conv_model())
    rc, issues = _issues(capsys, "--ignore", "CV001", p)
    assert rc == 0
    (issue,) = issues
    assert issue["check_name"] == "onnxlint/not-checked" and issue["severity"] == "info"
    assert issue["description"] == "not checked: 1 unknown op (com.microsoft.Gelu 'g1'), 1 conv (input rank unknown)"


# --- scan renders what check renders ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["junit", "gitlab"])
def test_scan_and_check_agree(capsys, fmt, tmp_path):
    paths = [SAMPLES / "aspp_dynamo.onnx", SAMPLES / "conv_stack_dynamo.onnx", SAMPLES / "drln_attention_legacy.onnx"]
    rc_check, from_check, _ = run(capsys, "check", "--isolated", "--format", fmt, *paths)
    rc_scan, from_scan, _ = run(capsys, "scan", "--isolated", "-q", "-j", "1", "--format", fmt, *paths)
    assert rc_check == rc_scan == 1
    assert from_scan == from_check


# --- rules --format json -------------------------------------------------------------------------


def test_rules_json_lists_every_rule_the_text_lists(capsys):
    rc, out, _ = run(capsys, "rules", "--format", "json")
    rules = json.loads(out)
    _, text, _ = run(capsys, "rules")
    assert rc == 0 and [r["code"] for r in rules] == [line.split()[0] for line in text.splitlines() if line.strip()]
    for r in rules:
        assert set(r) >= {"code", "name", "severity", "origin", "summary"} and r["severity"] in ("info", "warning", "error")
    rc, out, _ = run(capsys, "rules", "DT001", "--format", "json")
    one = json.loads(out)
    assert rc == 0 and one["code"] == "DT001" and one["doc"]
