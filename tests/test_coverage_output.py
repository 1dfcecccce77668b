"""Coverage is visible in every format: what was not checked (coverage records), stale
suppressions and the linter's notices (suppressed, already in the baseline) reach
text, GitHub, SARIF, HTML, JSON and scan's outputs, whether or not the coverage rule
is selected, and never twice in one text report."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from analyzer.cli import main
from tests.rules.test_cv001_not_checked import (  # noqa: F401
    custom_op_model,
    gelu_conv_model,
    no_gelu_shape_function,
    save,
)

REPO = __import__("os").path.dirname(__import__("os").path.dirname(__import__("os").path.abspath(__file__)))


def run(capsys, *argv):
    code = main(list(argv))
    return code, capsys.readouterr().out


@pytest.mark.usefixtures("no_gelu_shape_function")
def test_text_says_not_checked_on_screen_and_in_the_summary(tmp_path, capsys):
    p = save(tmp_path, gelu_conv_model())
    code, out = run(capsys, "check", p, "--isolated", "--ignore", "CV001")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"{p}: not checked: 1 unknown op (com.microsoft.Gelu 'g1'), 1 conv (input rank unknown)"
    assert lines[-1] == "1 file checked, 0 findings, 0 dead weights, 2 not checked"


@pytest.mark.usefixtures("no_gelu_shape_function")
def test_text_does_not_say_it_twice_when_the_rule_reports_it(tmp_path, capsys):
    p = save(tmp_path, gelu_conv_model())
    code, out = run(capsys, "check", p, "--isolated")
    assert code == 0  # info does not fail the default gate
    assert "not checked: 1 unknown op" not in out  # each record is its finding's line
    assert sum("CV001 [info] not checked:" in line for line in out.splitlines()) == 2
    assert out.splitlines()[-1] == "1 file checked, 2 findings (CV001: 2), 0 dead weights, 2 not checked"


@pytest.mark.usefixtures("no_gelu_shape_function")
def test_github_has_a_notice(tmp_path, capsys):
    p = save(tmp_path, gelu_conv_model())
    _, out = run(capsys, "check", p, "--isolated", "--format", "github", "--ignore", "CV001")
    assert out.splitlines() == [f"::notice file={p},title=onnxlint%3A not checked::1 unknown op (com.microsoft.Gelu 'g1'), 1 conv (input rank unknown)"]
    _, out = run(capsys, "check", p, "--isolated", "--format", "github")
    assert [line.split(",")[0] for line in out.splitlines()] == [f"::notice file={p}"] * 2  # the findings, not a third line
    assert all("CV001 not-checked" in line for line in out.splitlines())


@pytest.mark.usefixtures("no_gelu_shape_function")
def test_sarif_has_tool_execution_notifications_and_results(tmp_path, capsys):
    p = save(tmp_path, gelu_conv_model())
    _, out = run(capsys, "check", p, "--isolated", "--format", "sarif")
    run_ = json.loads(out)["runs"][0]
    inv = run_["invocations"][0]
    notes = inv["toolExecutionNotifications"]
    assert [(n["level"], n["descriptor"]["id"]) for n in notes] == [("note", "unknown-op"), ("note", "unchecked-conv")]
    assert notes[0]["locations"][0]["logicalLocations"][0]["name"] == "g1"
    assert "not checked" in notes[0]["message"]["text"]
    assert inv["executionSuccessful"] is True  # notes are not failures
    assert sorted(r["ruleId"] for r in run_["results"]) == ["CV001", "CV001"]
    # without the rule: the notifications stay, the results go
    _, out = run(capsys, "check", p, "--isolated", "--format", "sarif", "--ignore", "CV001")
    run_ = json.loads(out)["runs"][0]
    assert len(run_["invocations"][0]["toolExecutionNotifications"]) == 2 and run_["results"] == []


@pytest.mark.usefixtures("no_gelu_shape_function")
def test_html_shows_a_not_checked_block(tmp_path, capsys):
    p = save(tmp_path, gelu_conv_model())
    _, out = run(capsys, "check", p, "--isolated", "--format", "html", "--ignore", "CV001")
    assert '<div class="unchecked"><b>Not checked</b> (2): 1 unknown op (com.microsoft.Gelu &#x27;g1&#x27;)' in out
    assert "<span>not checked</span>" in out


@pytest.mark.usefixtures("no_gelu_shape_function")
def test_json_keeps_its_notes_and_adds_the_records(tmp_path, capsys):
    p = save(tmp_path, gelu_conv_model())
    _, out = run(capsys, "check", p, "--isolated", "--format", "json", "--ignore", "CV001")
    fr = json.loads(out)["files"][0]
    assert fr["notes"] == [
        "main:g1 (Gelu): operator 'Gelu' of domain 'com.microsoft' is unknown; its outputs are not analyzed",
        "DT001: 1 conv(s) not checked (1 input rank unknown)",
    ]
    assert [(u["kind"], u["node"], u["source"]) for u in fr["unchecked"]] == [("unknown-op", "g1", "shapes"), ("unchecked-conv", "conv1", "DT001")]


def test_stale_suppression_and_suppressed_count_reach_every_format(tmp_path, capsys):
    p = save(tmp_path, custom_op_model({"onnxlint:ignore": "DT001@nowhere, CV001@f1"}))
    _, out = run(capsys, "check", p, "--isolated", "--ignore", "CV001")
    assert f"{p}: not checked: 1 unknown op (my.domain.Foo 'f1'), 1 conv (input rank unknown), 1 stale suppression ('DT001@nowhere')" in out
    # (CV001 ignored above: its entry was not judged)  CV001 selected: the stale entry is its finding
    _, out = run(capsys, "check", p, "--isolated")
    assert f"{p}:<model>: CV001 [info] onnxlint:ignore entry 'DT001@nowhere' matches no finding (stale suppression)" in out
    assert f"{p}: note: 1 finding(s) suppressed by the model's onnxlint:ignore metadata" in out
    _, out = run(capsys, "check", p, "--isolated", "--format", "github")
    assert f"::notice file={p},title=onnxlint::1 finding(s) suppressed by the model's onnxlint:ignore metadata" in out
    _, out = run(capsys, "check", p, "--isolated", "--format", "sarif")
    texts = [n["message"]["text"] for n in json.loads(out)["runs"][0]["invocations"][0]["toolExecutionNotifications"]]
    assert any("stale suppression" in t for t in texts) and any("suppressed by the model's" in t for t in texts)


def test_baseline_matches_reach_text_github_and_sarif(tmp_path, capsys):
    p = save(tmp_path, custom_op_model())
    base = str(tmp_path / "base.json")
    assert main(["check", p, "--isolated", "--write-baseline", base]) == 0
    capsys.readouterr()
    _, out = run(capsys, "check", p, "--isolated", "--baseline", base)
    assert f"{p}: note: " in out and "already in the baseline" in out
    _, out = run(capsys, "check", p, "--isolated", "--baseline", base, "--format", "github")
    assert "already in the baseline" in out and out.startswith("::notice")
    _, out = run(capsys, "check", p, "--isolated", "--baseline", base, "--format", "sarif")
    texts = [n["message"]["text"] for n in json.loads(out)["runs"][0]["invocations"][0]["toolExecutionNotifications"]]
    assert any("already in the baseline" in t for t in texts)


def test_scan_text_and_summary_show_coverage(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    save(folder, custom_op_model())
    proc = subprocess.run(
        [sys.executable, "-m", "analyzer", "scan", str(folder), "--isolated", "--format", "text", "-j", "1", "-q", "--ignore", "CV001"],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert "m.onnx: not checked: 1 unknown op (my.domain.Foo 'f1'), 1 conv (input rank unknown)" in proc.stdout
    assert "  not checked   2  (in 1 file)" in proc.stdout, proc.stdout


def test_samples_have_nothing_unchecked(capsys):
    _, out = run(capsys, "check", __import__("os").path.join(REPO, "sample_models"), "--isolated", "--format", "json")
    files = json.loads(out)["files"]
    assert files and all(f["unchecked"] == [] and f["notices"] == [] for f in files)
    assert not any(x["rule"] == "CV001" for f in files for x in f["findings"])
