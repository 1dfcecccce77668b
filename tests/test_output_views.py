"""The text views of ``check`` (and ``scan``) for people: grouped (the default), full,
``--statistics`` and ``--quiet``.  Each view is checked against the JSON report of
the same run (counts, node names, waste totals), so a view can neither drop nor
invent findings; conditional findings and "not checked" show in every view; the exit
code does not depend on the view."""
from __future__ import annotations

import json
import pathlib
import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from analyzer.cli import main
from analyzer.report.views import group_findings, message_shape
from tests.rules.test_cv001_not_checked import gelu_conv_model, no_gelu_shape_function, save  # noqa: F401

ROOT = pathlib.Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_models"
NARROW = SAMPLES / "drln_narrow_dynamo.onnx"
GROUP_LINE = re.compile(r"^(?P<path>.+?): (?P<rule>[A-Z]+\d+) \[(?P<sev>info|warning|error)\] (?P<n>\d+) findings: (?P<msg>.+) \((?P<nodes>[^()]*)\)$")
FULL_LINE = re.compile(r"^(?P<path>.+?):(?P<node>[^\s]+): (?P<rule>[A-Z]+\d+) \[(?P<sev>info|warning|error)\] (?P<msg>.+)$")
SUMMARY = re.compile(r"^\d+ files? checked, \d+ findings?\b")


def run(capsys, *argv):
    try:
        rc = main(["check", "--isolated", *map(str, argv)])
    except SystemExit as e:  # argparse errors
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


def json_report(capsys, *argv):
    rc, out, _ = run(capsys, "--format", "json", *argv)
    return rc, json.loads(out)


def conditional_model(n=3) -> onnx.ModelProto:
    """``n`` dilated convs on an input of symbolic size S: dead taps only when S <= 4."""
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    for i in range(n):
        nodes.append(helper.make_node("Conv", ["x", f"w{i}"], [f"y{i}"], name=f"conv{i}", kernel_shape=[3, 3], dilations=[4, 4], pads=[4, 4, 4, 4]))
        inits.append(numpy_helper.from_array(rng.standard_normal((2, 2, 3, 3)).astype(np.float32), f"w{i}"))
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, "S", "S"])],
        [helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, None) for i in range(n)],
        inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


# --- grouped (the default) ------------------------------------------------------------------------


def test_grouped_is_the_default_and_scales(capsys):
    rc, out, err = run(capsys, NARROW)
    _, doc = json_report(capsys, NARROW)
    findings = doc["files"][0]["findings"]
    assert rc == 1 and len(findings) >= 100
    lines = out.splitlines()
    assert len(lines) <= 5 and len(lines) < len(findings) / 20 and max(len(line) for line in lines) < 400  # was 101 lines
    assert SUMMARY.match(lines[-1])
    counted = {}
    for line in lines[:-1]:
        m = GROUP_LINE.match(line) or FULL_LINE.match(line)
        assert m, line
        n = int(m.groupdict().get("n") or 1)
        counted[m.group("rule")] = counted.get(m.group("rule"), 0) + n
    by_rule = {}
    for f in findings:
        by_rule[f["rule"]] = by_rule.get(f["rule"], 0) + 1
    assert counted == by_rule and by_rule["DT001"] == 80  # counts sum to the JSON's
    assert sum(counted.values()) == len(findings)


def test_grouped_names_the_first_nodes_of_each_group(capsys):
    _, out, _ = run(capsys, NARROW)
    _, doc = json_report(capsys, NARROW)
    findings = doc["files"][0]["findings"]
    seen = set()
    for line in out.splitlines()[:-1]:
        m = GROUP_LINE.match(line)
        assert m or FULL_LINE.match(line), line
        if not m or m.group("rule") not in ("DT001", "DT002"):  # one group each on this model
            continue
        seen.add(m.group("rule"))
        nodes = [f["node"] for f in findings if f["rule"] == m.group("rule")]
        assert m.group("nodes") == f"{', '.join(nodes[:3])}, +{len(nodes) - 3} more"
        assert str(NARROW) == m.group("path")
    assert seen == {"DT001", "DT002"}


def test_grouped_message_keeps_what_all_share_and_ranges_what_differs(capsys):
    _, out, _ = run(capsys, NARROW)
    dt001 = next(line for line in out.splitlines() if " DT001 " in line)
    assert "3x3 kernel on a 1x1 input (made small by ReduceMean '...')" in dt001  # names differ: elided
    assert "8 of 9 taps only read zero padding" in dt001  # the same in all 80
    assert "64-192 of 72-216 weights are dead" in dt001  # differs: the range


def test_full_view_is_one_line_per_finding_in_json_order(capsys):
    rc, out, _ = run(capsys, "--format", "full", NARROW)
    _, doc = json_report(capsys, NARROW)
    findings = doc["files"][0]["findings"]
    lines = out.splitlines()
    assert rc == 1 and len(lines) == len(findings) + 1
    for line, f in zip(lines, findings):
        m = FULL_LINE.match(line)
        assert m and (m.group("node"), m.group("rule"), m.group("msg")) == (f["node"], f["rule"], f["message"])


def test_a_group_of_one_is_the_full_line(capsys):
    path = SAMPLES / "aspp_dynamo.onnx"  # two findings of different rules
    _, grouped, _ = run(capsys, path)
    _, full, _ = run(capsys, "--format", "full", path)
    assert grouped == full and len(grouped.splitlines()) == 3


def test_several_files_grouped_per_file(capsys):
    files = [SAMPLES / "drln_attention_dynamo.onnx", SAMPLES / "drln_attention_legacy.onnx", NARROW]
    rc, out, _ = run(capsys, *files)
    _, doc = json_report(capsys, *files)
    assert rc == 1
    total = 0
    for fr in doc["files"]:
        mine = [line for line in out.splitlines() if line.startswith(fr["path"] + ":")]
        n = sum(int(GROUP_LINE.match(line).group("n")) if GROUP_LINE.match(line) else 1 for line in mine)
        assert n == len(fr["findings"])
        total += n
    assert f"3 files checked, {total} findings" in out.splitlines()[-1]


# --- message shape (generic: no rule known) ------------------------------------------------------


def test_message_shape_takes_out_names_and_numbers():
    a, sa = message_shape("3x3 kernel on 'node_a': 64 of 72 weights, dilation 1.5")
    b, sb = message_shape("3x3 kernel on 'n\\'b': 192 of 216 weights, dilation 2.5")
    assert a == b and sa[2:] == ["'node_a'", "64", "72", "1.5"] and sb[2:] == ["'n\\'b'", "192", "216", "2.5"]
    assert message_shape("node_conv2d_9 is conv2d")[1] == []  # digits inside identifiers are not numbers
    assert message_shape("opset 7")[0] != message_shape("opset 'x'")[0]


def test_group_findings_merges_only_equal_shapes():
    fs = [
        {"rule": "XY001", "severity": "warning", "node": f"n{i}", "graph": "main", "message": f"'n{i}' wastes {i} weights"}
        for i in range(1, 6)
    ]
    fs.append({"rule": "XY001", "severity": "info", "node": "n9", "graph": "main", "message": "'n9' wastes 9 weights"})
    fs.append({"rule": "XY002", "severity": "warning", "node": "n1", "graph": "main", "message": "'n1' wastes 1 weights"})
    groups = group_findings(fs)
    assert [(g["rule"], g["severity"], len(g["findings"])) for g in groups] == [("XY001", "warning", 5), ("XY001", "info", 1), ("XY002", "warning", 1)]
    assert groups[0]["message"] == "'...' wastes 1-5 weights"
    assert groups[1]["message"] == "'n9' wastes 9 weights"


# --- statistics ----------------------------------------------------------------------------------


def _table(out):
    lines = out.splitlines()
    assert lines[0].split() == ["count", "rule", "severity", "name", "dead", "weights", "dead", "bytes", "wasted", "MACs"]
    rows = []
    for line in lines[1:]:
        if SUMMARY.match(line) or ": " in line:
            break
        cells = line.split()
        rows.append({"count": int(cells[0]), "rule": cells[1], "severity": cells[2], "weights": cells[4], "bytes": cells[5], "macs": cells[6], "line": line})
    return rows


def test_statistics_totals_equal_the_sum_of_the_findings_waste(capsys):
    rc, out, _ = run(capsys, "--statistics", NARROW, SAMPLES / "aspp_dynamo.onnx")
    _, doc = json_report(capsys, NARROW, SAMPLES / "aspp_dynamo.onnx")
    findings = [f for fr in doc["files"] for f in fr["findings"]]
    assert rc == 1
    rows = _table(out)
    for row in rows:
        mine = [f for f in findings if (f["rule"], f["severity"]) == (row["rule"], row["severity"])]
        assert row["count"] == len(mine)
        for kind in ("weights", "bytes", "macs"):
            assert int(row[kind]) == sum(int(f["waste"].get(kind) or 0) for f in mine)
    assert sum(r["count"] for r in rows) == len(findings)
    assert [r["count"] for r in rows] == sorted((r["count"] for r in rows), reverse=True)
    assert not any(FULL_LINE.match(line) for line in out.splitlines())  # the table, not the findings
    assert SUMMARY.match(out.splitlines()[-1])

    rc_json, out_json, _ = run(capsys, "--statistics", "--format", "json", NARROW, SAMPLES / "aspp_dynamo.onnx")
    stats = json.loads(out_json)
    assert rc_json == rc
    assert [(r["rule"], r["severity"], r["count"]) for r in stats["statistics"]] == [(r["rule"], r["severity"], r["count"]) for r in rows]
    for kind in ("weights", "bytes", "macs"):
        assert stats["totals"]["waste"][kind] == sum(int(f["waste"].get(kind) or 0) for f in findings)
        assert sum(r["waste"][kind] for r in stats["statistics"]) == stats["totals"]["waste"][kind]
    assert stats["totals"]["findings"] == len(findings) and stats["totals"]["files"] == 2


def test_statistics_marks_conditional_and_unknown_figures(capsys, tmp_path):
    path = tmp_path / "cond.onnx"
    m = conditional_model()
    for i in (1, 2):  # duplicates of conv0: WS006, whose MACs are unknown at a symbolic size
        m.graph.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(m.graph.initializer[0]), f"w{i}"))
    onnx.save(m, str(path))
    _, doc = json_report(capsys, path)
    findings = doc["files"][0]["findings"]
    conditional = [f for f in findings if f["details"].get("condition")]
    assert conditional
    _, out, _ = run(capsys, "--statistics", path)
    rows = {r["rule"]: r for r in _table(out)}
    assert rows["DT001"]["line"].endswith(f"({len(conditional)} only at some input sizes)")
    unknown = [f for f in findings if "macs" in f["waste"] and f["waste"]["macs"] is None]
    if unknown:
        assert rows[unknown[0]["rule"]]["macs"] in ("?", f"{sum(int(f['waste'].get('macs') or 0) for f in findings if f['rule'] == unknown[0]['rule'])}+")
    _, out, _ = run(capsys, "--statistics", "--format", "json", path)
    stats = json.loads(out)
    assert stats["totals"]["conditional"] == len(conditional)
    assert sum(r["conditional"] for r in stats["statistics"]) == len(conditional)
    assert sum(r["waste_unknown"]["macs"] for r in stats["statistics"]) == len(unknown)


# --- quiet ---------------------------------------------------------------------------------------


def test_quiet_prints_no_finding_lines(capsys):
    rc, out, err = run(capsys, "-q", NARROW)
    _, full, _ = run(capsys, "--format", "full", NARROW)
    assert rc == 1 and err == ""
    assert out.splitlines() == [full.splitlines()[-1]]  # only the summary line, the same one


def test_quiet_on_several_files_prints_per_file_totals(capsys, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    files = [SAMPLES / "aspp_dynamo.onnx", SAMPLES / "conv_stack_dynamo.onnx", NARROW, bad]
    rc, out, _ = run(capsys, "--quiet", *files)
    _, doc = json_report(capsys, *files)
    assert rc == 2
    lines = out.splitlines()
    assert not any(FULL_LINE.match(line) or GROUP_LINE.match(line) for line in lines)
    assert f"{bad}: error: " in out  # errors still shown
    for fr in doc["files"]:
        mine = [line for line in lines if line.startswith(fr["path"] + ": ")]
        if fr["status"] == "ok" and fr["findings"]:
            assert len(mine) == 1 and mine[0].startswith(f"{fr['path']}: {len(fr['findings'])} findings (")
        elif fr["status"] == "ok":
            assert mine == []  # a clean file is counted in the summary, not listed
    total = sum(len(fr["findings"]) for fr in doc["files"])
    assert lines[-1].startswith(f"4 files checked, {total} findings") and "1 file could not be analyzed" in lines[-1]


# --- what every view must still say --------------------------------------------------------------


def test_summary_says_conditional_findings_are_among_the_total(capsys, tmp_path):
    path = tmp_path / "cond.onnx"
    onnx.save(conditional_model(3), str(path))
    _, doc = json_report(capsys, path)
    findings = doc["files"][0]["findings"]
    k = sum(1 for f in findings if f["details"].get("condition"))
    assert k == 3
    for view in ([], ["--format", "full"], ["--statistics"], ["-q"]):
        _, out, _ = run(capsys, *view, path)
        summary = out.splitlines()[-1]
        assert summary.startswith(f"1 file checked, {len(findings)} findings (")
        assert f", {k} of them only at some input sizes" in summary, view
        assert "more finding" not in summary


@pytest.mark.usefixtures("no_gelu_shape_function")
@pytest.mark.parametrize("view", [[], ["--format", "full"], ["--statistics"], ["-q"]])
def test_not_checked_shows_in_every_view(capsys, tmp_path, view):
    p = save(tmp_path, gelu_conv_model())
    rc, out, _ = run(capsys, *view, "--ignore", "CV001", p)
    assert rc == 0
    assert out.splitlines()[-1] == "1 file checked, 0 findings, 0 dead weights, 2 not checked"
    if view != ["-q"]:
        assert f"{p}: not checked: 1 unknown op (com.microsoft.Gelu 'g1'), 1 conv (input rank unknown)" in out.splitlines()


@pytest.mark.parametrize(
    "view", [[], ["--format", "full"], ["--statistics"], ["-q"], ["--format", "json"], ["--format", "junit"], ["--format", "gitlab"], ["--statistics", "--format", "json"]]
)
def test_exit_codes_do_not_depend_on_the_view(capsys, tmp_path, view):
    bad = tmp_path / "bad.onnx"
    bad.write_text("text")
    for paths, expected in (([SAMPLES / "conv_stack_dynamo.onnx"], 0), ([NARROW], 1), ([NARROW, bad], 2)):
        rc, _, _ = run(capsys, *view, *paths)
        assert rc == expected, (view, paths)
    rc, _, _ = run(capsys, *view, "--exit-zero", NARROW)
    assert rc == 0


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--statistics", "--format", "sarif"], "--statistics works with --format text, full, json"),
        (["--statistics", "--format", "junit"], "--statistics works with"),
        (["-q", "--format", "json"], "--quiet works with --format text or full"),
        (["-q", "--statistics"], "do not go together"),
    ],
)
def test_combinations_that_mean_nothing_are_refused_in_one_line(capsys, argv, words):
    rc, out, err = run(capsys, *argv, NARROW)
    assert rc == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert words in line and line.startswith("onnxlint: error: ")


def test_color_in_every_text_view(capsys):
    for view in ([], ["--format", "full"], ["--statistics"]):
        _, out, _ = run(capsys, *view, "--color", "always", NARROW)
        assert "\x1b[33mDT001\x1b[0m" in out, view
        _, out, _ = run(capsys, *view, "--color", "never", NARROW)
        assert "\x1b" not in out
    _, plain, _ = run(capsys, "--statistics", "--color", "never", NARROW)
    _, colored, _ = run(capsys, "--statistics", "--color", "always", NARROW)
    assert re.sub(r"\x1b\[\d*m", "", colored) == plain  # colour does not break the alignment


def test_scan_text_is_grouped_like_check(capsys, tmp_path):
    rc = main(["scan", "--isolated", "-q", "-j", "1", "--format", "text", str(NARROW)])
    out = capsys.readouterr().out
    _, check_out, _ = run(capsys, NARROW)
    assert rc == 1
    assert out.splitlines()[: len(check_out.splitlines()) - 1] == check_out.splitlines()[:-1]
    rc = main(["scan", "--isolated", "-q", "-j", "1", "--format", "full", str(NARROW)])
    out = capsys.readouterr().out
    _, check_full, _ = run(capsys, "--format", "full", NARROW)
    assert out.splitlines()[:100] == check_full.splitlines()[:100]


def test_a_name_with_nul_characters_cannot_pass_for_a_slot():
    fs = [{"rule": "XY001", "severity": "warning", "node": n, "graph": "main", "message": f"{n} wastes 3 weights"} for n in ("a\0b", "a\0b", "c\1")]
    groups = group_findings(fs)
    assert [len(g["findings"]) for g in groups] == [2, 1]
    assert groups[0]["message"] == "a\0b wastes 3 weights"  # escaped by the caller, never cut
