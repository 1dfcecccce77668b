"""The command line: exit codes, one-line errors, text/JSON output, options (DESIGN.md contracts)."""
from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from analyzer import __version__
from analyzer.cli import main

ROOT = pathlib.Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_models"
NEGATIVES = [
    "rcan_attention_dynamo.onnx",
    "rcan_attention_legacy.onnx",
    "conv_stack_dynamo.onnx",
    "conv_stack_legacy.onnx",
    "eca_attention_dynamo.onnx",
]
POSITIVES = [
    "drln_attention_dynamo.onnx",
    "drln_attention_legacy.onnx",
    "drln_attention_dynamic_dynamo.onnx",
    "drln_narrow_dynamo.onnx",
    "aspp_dynamo.onnx",
]
FINDING_LINE = re.compile(r"^(?P<path>.+?):(?P<node>[^\s]+): (?P<rule>DT\d{3}) \[(?P<sev>info|warning|error)\] (?P<msg>.+)$")
SUMMARY_LINE = re.compile(r"^\d+ files? checked, \d+ findings?\b.*$")


def run_cli(*args, env=None):
    """``python -m analyzer ARGS`` in a subprocess: (exit code, stdout, stderr)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("NO_COLOR", None)
    p = subprocess.run(
        [sys.executable, "-m", "analyzer", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )
    return p.returncode, p.stdout, p.stderr


def cli(capsys, *args):
    """``analyzer.cli.main(ARGS)`` in-process: (exit code, stdout, stderr)."""
    try:
        rc = main([str(a) for a in args])
    except SystemExit as e:  # argparse errors
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


def no_traceback(out, err):
    assert "Traceback" not in out and "Traceback" not in err, out + err


# --- models -------------------------------------------------------------------------------


def _model(nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _w(name, shape):
    return numpy_helper.from_array(np.random.default_rng(0).standard_normal(shape).astype(np.float32), name)


def pooled_model(conv_name="conv"):
    """GlobalAveragePool -> 3x3 dilation 3 pad 3 conv: one DT001."""
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"),
        helper.make_node("Conv", ["p", "W"], ["y"], name=conv_name, dilations=[3, 3], pads=[3, 3, 3, 3]),
    ]
    return _model(nodes, [_vi("x", [1, 4, 6, 6])], [_vi("y", None)], [_w("W", (2, 4, 3, 3))])


def dynamic_model():
    """Symbolic H, W; a 4x4 stride-4 MaxPool; a 3x3 dilation-4 pad-4 conv."""
    nodes = [
        helper.make_node("MaxPool", ["x"], ["p"], name="pool", kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Conv", ["p", "W"], ["y"], name="conv", dilations=[4, 4], pads=[4, 4, 4, 4]),
    ]
    return _model(nodes, [_vi("x", [1, 2, "H", "W"])], [_vi("y", None)], [_w("W", (2, 2, 3, 3))])


def save(model, path):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())
    return path


@pytest.fixture
def bad_files(tmp_path):
    """name -> (path, expected error kind or message fragment)."""
    d = tmp_path / "bad"
    d.mkdir()
    text = d / "readme.onnx"
    text.write_text("this is not a model\n")
    empty = d / "empty.onnx"
    empty.write_bytes(b"")
    data = (SAMPLES / "drln_attention_legacy.onnx").read_bytes()
    cut = d / "cut.onnx"
    cut.write_bytes(data[: len(data) // 2])
    return {
        "missing": (d / "missing.onnx", "not-found"),
        "text": (text, "not-onnx"),
        "truncated": (cut, "truncated"),
        "empty": (empty, "empty"),
    }


# --- exit codes on the samples --------------------------------------------------------------


@pytest.mark.parametrize("name", NEGATIVES)
def test_negative_samples_exit_0(capsys, name):
    rc, out, err = cli(capsys, "check", SAMPLES / name)
    assert rc == 0, out + err
    assert out.splitlines() and SUMMARY_LINE.match(out.splitlines()[-1])
    assert " 0 findings" in out.splitlines()[-1]


@pytest.mark.parametrize("name", POSITIVES)
def test_positive_samples_exit_1(capsys, name):
    rc, out, err = cli(capsys, "check", "--format", "full", SAMPLES / name)
    assert rc == 1, out + err
    assert any(FINDING_LINE.match(line) and " DT001 " in line for line in out.splitlines())


def test_subprocess_exit_codes():
    rc, out, err = run_cli("check", "sample_models/rcan_attention_legacy.onnx")
    assert rc == 0, err
    rc, out, err = run_cli("check", "--format", "full", "sample_models/drln_attention_legacy.onnx", "sample_models/eca_attention_dynamo.onnx")
    assert rc == 1, err
    assert out.count("DT001 [warning]") == 4 and out.count("DT002 [warning]") == 1
    no_traceback(out, err)


def test_subprocess_missing_file_exits_2(tmp_path):
    p = tmp_path / "nowhere.onnx"
    rc, out, err = run_cli("check", p)
    assert rc == 2
    lines = [line for line in (out + err).splitlines() if str(p) in line]
    assert len(lines) == 1 and "not-found" in lines[0]
    no_traceback(out, err)


# --- errors: exit 2 and one line each ----------------------------------------------------------


@pytest.mark.parametrize("which", ["missing", "text", "truncated", "empty"])
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_bad_file_is_one_line_and_exit_2(capsys, bad_files, which, fmt):
    path, kind = bad_files[which]
    rc, out, err = cli(capsys, "check", "--format", fmt, path)
    assert rc == 2
    no_traceback(out, err)
    if fmt == "text":
        lines = [line for line in out.splitlines() if str(path) in line]
        assert len(lines) == 1, out
        assert kind in lines[0]
        assert SUMMARY_LINE.match(out.splitlines()[-1])
    else:
        doc = json.loads(out)
        (f,) = doc["files"]
        assert f["path"] == str(path) and f["status"] == "error" and f["error"]["kind"] == kind
        assert f["error"]["message"] and f["findings"] == []
        # machine-readable output still tells the person, on stderr, in one line
        lines = [line for line in err.splitlines() if str(path) in line]
        assert len(lines) == 1 and kind in lines[0]


def test_directory_without_models(capsys, tmp_path):
    d = tmp_path / "nothing here"
    (d / "sub").mkdir(parents=True)
    (d / "notes.txt").write_text("x")
    (d / "sub" / "model.onnx.data").write_bytes(b"\0" * 10)
    rc, out, err = cli(capsys, "check", d)
    assert rc == 2
    no_traceback(out, err)
    lines = [line for line in err.splitlines() if str(d) in line]
    assert len(lines) == 1 and "no .onnx" in lines[0]


def test_bad_select_code(capsys):
    rc, out, err = cli(capsys, "check", "--select", "XX999", SAMPLES / "rcan_attention_legacy.onnx")
    assert rc == 2
    no_traceback(out, err)
    (line,) = err.strip().splitlines()
    assert "XX999" in line
    assert out == ""


def test_bad_ignore_code(capsys):
    rc, out, err = cli(capsys, "check", "--ignore", "DT001,ZZ", SAMPLES / "rcan_attention_legacy.onnx")
    assert rc == 2
    assert "ZZ" in err and out == ""


@pytest.mark.parametrize("spec", ["input=a,b", "input", "=1,2", "input=-1,3", "input="])
def test_bad_input_shape_spec(capsys, spec):
    rc, out, err = cli(capsys, "check", "--input-shape", spec, SAMPLES / "rcan_attention_legacy.onnx")
    assert rc == 2
    no_traceback(out, err)
    (line,) = err.strip().splitlines()
    assert "--input-shape" in line


def test_input_shape_with_wrong_rank_or_fixed_dim(capsys):
    path = SAMPLES / "rcan_attention_legacy.onnx"
    for spec in ("input=1,64,16", "input=1,64,16,17"):
        rc, out, err = cli(capsys, "check", "--input-shape", spec, path)
        assert rc == 2, spec
        no_traceback(out, err)
        lines = [line for line in out.splitlines() if str(path) in line]
        assert len(lines) == 1 and "input" in lines[0]


def test_bad_format_is_a_usage_error(capsys):
    rc, out, err = cli(capsys, "check", "--format", "xml", SAMPLES / "rcan_attention_legacy.onnx")
    assert rc == 2
    no_traceback(out, err)


def test_no_command_exits_2(capsys):
    rc, out, err = cli(capsys)
    assert rc == 2


def test_version(capsys):
    rc, out, err = cli(capsys, "--version")
    assert rc == 0 and __version__ in out


def test_multi_file_run_with_one_bad_file(capsys, bad_files):
    bad, _ = bad_files["truncated"]
    good = SAMPLES / "drln_attention_legacy.onnx"
    clean = SAMPLES / "rcan_attention_legacy.onnx"
    rc, out, err = cli(capsys, "check", "--format", "full", good, bad, clean)
    assert rc == 2
    no_traceback(out, err)
    lines = out.splitlines()
    assert sum(1 for line in lines if line.startswith(f"{good}:") and FINDING_LINE.match(line)) == 5
    assert len([line for line in lines if str(bad) in line]) == 1
    assert "3 files checked, 5 findings" in lines[-1] and "1 file could not be analyzed" in lines[-1]

    rc, out, err = cli(capsys, "check", "--format", "json", good, bad, clean)
    assert rc == 2
    files = json.loads(out)["files"]
    assert [f["status"] for f in files] == ["ok", "error", "ok"]
    assert len(files[0]["findings"]) == 5 and files[2]["findings"] == []
    assert files[1]["error"]["kind"] == "truncated"


def test_exit_zero_does_not_hide_errors(capsys, bad_files):
    bad, _ = bad_files["text"]
    rc, out, err = cli(capsys, "check", "--exit-zero", SAMPLES / "drln_attention_legacy.onnx", bad)
    assert rc == 2


# --- JSON ---------------------------------------------------------------------------------------

FINDING_KEYS = {"rule", "name", "severity", "node", "node_index", "graph", "op_type", "message", "details"}


def test_json_structure(capsys, bad_files):
    bad, _ = bad_files["text"]
    good = SAMPLES / "drln_attention_legacy.onnx"
    rc, out, err = cli(capsys, "check", "--format", "json", good, bad)
    assert rc == 2
    doc = json.loads(out)
    assert doc["tool"] == {"name": "onnxlint", "version": __version__}
    assert [f["path"] for f in doc["files"]] == [str(good), str(bad)]
    ok, broken = doc["files"]
    assert ok["status"] == "ok" and "error" not in ok
    assert broken["status"] == "error" and set(broken["error"]) == {"kind", "message"}
    assert broken["error"]["kind"] == "not-onnx"
    assert len(ok["findings"]) == 5
    for f in ok["findings"]:
        assert FINDING_KEYS <= set(f)
        assert f["rule"] in ("DT001", "DT002") and f["severity"] == "warning"
        assert isinstance(f["node"], str) and f["node"]
        assert isinstance(f["node_index"], int) and f["graph"] == "main" and f["op_type"] == "Conv"
        assert isinstance(f["message"], str) and isinstance(f["details"], dict)
    dt1 = [f for f in ok["findings"] if f["rule"] == "DT001"]
    assert {f["name"] for f in dt1} == {"dead-conv-taps"}
    for f in dt1:
        d = f["details"]
        for key in ("weight", "kernel_shape", "input_spatial_shape", "dead_taps", "live_taps", "dead_weights", "total_weights", "effective_kernel_shape", "cause"):
            assert key in d, key
        assert d["kernel_shape"] == [3, 3] and d["input_spatial_shape"] == [1, 1]
        assert d["live_taps"] == [[1, 1]] and len(d["dead_taps"]) == 8
        assert d["cause"]["op_type"] == "GlobalAveragePool"
    assert sum(f["details"]["dead_weights"] for f in dt1) == 12288


def test_json_is_byte_identical_across_runs(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_text("nope")
    args = ["check", "--format", "json", "sample_models/drln_attention_dynamo.onnx", "sample_models/aspp_dynamo.onnx", bad]
    rc1, out1, _ = run_cli(*args, env={"PYTHONHASHSEED": "1"})
    rc2, out2, _ = run_cli(*args, env={"PYTHONHASHSEED": "2"})
    assert rc1 == rc2 == 2
    assert out1.encode() == out2.encode()
    json.loads(out1)


def test_rules_json_format(capsys):
    rc, out, err = cli(capsys, "rules", "--format", "json")
    assert rc == 0
    from analyzer.linter.registry import rule_codes

    assert [r["code"] for r in json.loads(out)] == rule_codes()
    assert all(r["origin"] for r in json.loads(out))


# --- --output -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_output_file_matches_stdout(capsys, tmp_path, fmt):
    target = tmp_path / "out" / "report.txt"
    target.parent.mkdir()
    models = [SAMPLES / "drln_attention_legacy.onnx", SAMPLES / "rcan_attention_legacy.onnx"]
    rc_stdout, out, _ = cli(capsys, "check", "--format", fmt, *models)
    rc_file, out2, err2 = cli(capsys, "check", "--format", fmt, "--output", target, *models)
    assert rc_stdout == rc_file == 1
    assert out2 == ""
    assert target.read_text() == out
    assert os.listdir(target.parent) == ["report.txt"]  # no temp file left behind


def test_output_replaces_existing_file(capsys, tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old content " * 10000)
    rc, out, err = cli(capsys, "check", "--format", "json", "--output", target, SAMPLES / "rcan_attention_legacy.onnx")
    assert rc == 0
    doc = json.loads(target.read_text())
    assert doc["files"][0]["status"] == "ok"
    assert sorted(os.listdir(tmp_path)) == ["report.json"]


def test_output_replaces_symlink_not_its_target(capsys, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "report.txt"
    os.symlink(victim, link)
    rc, out, err = cli(capsys, "check", "--output", link, SAMPLES / "rcan_attention_legacy.onnx")
    assert rc == 0
    assert victim.read_text() == "keep me"
    assert not link.is_symlink() and "1 file checked" in link.read_text()


def test_output_with_errors_still_written_and_reported(capsys, tmp_path, bad_files):
    bad, _ = bad_files["empty"]
    target = tmp_path / "r.json"
    rc, out, err = cli(capsys, "check", "--format", "json", "--output", target, bad)
    assert rc == 2
    assert json.loads(target.read_text())["files"][0]["error"]["kind"] == "empty"
    assert len([line for line in err.splitlines() if str(bad) in line]) == 1


def test_output_into_missing_folder_is_one_line_error(capsys, tmp_path):
    target = tmp_path / "no" / "such" / "dir" / "r.txt"
    rc, out, err = cli(capsys, "check", "--output", target, SAMPLES / "rcan_attention_legacy.onnx")
    assert rc == 2
    no_traceback(out, err)
    assert len(err.strip().splitlines()) == 1


# --- selection and thresholds -------------------------------------------------------------------


def _rules_in(out):
    return {m.group("rule") for m in map(FINDING_LINE.match, out.splitlines()) if m}


def test_select_and_ignore(capsys):
    path = SAMPLES / "drln_attention_legacy.onnx"
    rc, out, _ = cli(capsys, "check", "--format", "full", path)
    assert rc == 1 and _rules_in(out) == {"DT001", "DT002"}
    rc, out, _ = cli(capsys, "check", "--format", "full", "--select", "DT002", path)
    assert rc == 1 and _rules_in(out) == {"DT002"}
    rc, out, _ = cli(capsys, "check", "--format", "full", "--ignore", "DT001", path)
    assert rc == 1 and _rules_in(out) == {"DT002"}
    rc, out, _ = cli(capsys, "check", "--format", "full", "--select", "dt001", path)
    assert rc == 1 and _rules_in(out) == {"DT001"}
    rc, out, _ = cli(capsys, "check", "--format", "full", "--select", "DT", "--ignore", "DT001,DT002", path)
    assert rc == 0 and _rules_in(out) == set()


def test_fail_on_and_exit_zero(capsys):
    path = SAMPLES / "drln_attention_legacy.onnx"
    rc, out, _ = cli(capsys, "check", "--fail-on", "error", path)
    assert rc == 0 and "DT001 [warning]" in out  # findings shown, not failing
    rc, _, _ = cli(capsys, "check", "--fail-on", "warning", path)
    assert rc == 1
    rc, _, _ = cli(capsys, "check", "--fail-on", "info", path)
    assert rc == 1
    rc, out, _ = cli(capsys, "check", "--exit-zero", path)
    assert rc == 0 and "DT001 [warning]" in out
    rc, _, _ = cli(capsys, "check", "--fail-on", "fatal", path)
    assert rc == 2


# --- --input-shape ---------------------------------------------------------------------------------


def test_input_shape_binds_a_dynamic_input(capsys, tmp_path):
    path = save(dynamic_model(), tmp_path / "dyn.onnx")
    rc, out, _ = cli(capsys, "check", "--format", "json", path)
    # H, W unknown: no definite finding, only conditions on the input size (info: exit 0)
    found = json.loads(out)["files"][0]["findings"]
    assert rc == 0 and found and all(f["severity"] == "info" and f["details"]["condition"] for f in found)
    rc, out, _ = cli(capsys, "check", "--format", "json", "--input-shape", "x=1,2,8,8", path)
    assert rc == 1
    (f,) = json.loads(out)["files"][0]["findings"]
    assert f["rule"] == "DT001" and f["node"] == "conv"
    assert f["details"]["input_spatial_shape"] == [2, 2]
    assert f["details"]["live_taps"] == [[1, 1]]
    assert f["details"]["cause"] == {"node": "pool", "op_type": "MaxPool"}
    rc, out, _ = cli(capsys, "check", "--format", "json", "--input-shape", "x=1,2,64,64", path)
    assert rc == 0 and json.loads(out)["files"][0]["findings"] == []
    # "x" separator and mixed sizes
    rc, out, _ = cli(capsys, "check", "--input-shape", "x=1x2x8x64", path)
    assert rc == 1 and "DT001" in out


def test_input_shape_binds_shared_symbols_everywhere(capsys, tmp_path):
    # z shares the symbols H, W with x; binding x binds z too.
    nodes = [
        helper.make_node("Add", ["x", "z"], ["s"], name="add"),
        helper.make_node("MaxPool", ["z"], ["p"], name="pool", kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Conv", ["p", "W"], ["y"], name="conv", dilations=[4, 4], pads=[4, 4, 4, 4]),
    ]
    m = _model(nodes, [_vi("x", [1, 2, "H", "W"]), _vi("z", [1, 2, "H", "W"])], [_vi("y", None), _vi("s", None)], [_w("W", (2, 2, 3, 3))])
    path = save(m, tmp_path / "shared.onnx")
    rc, out, _ = cli(capsys, "check", "--format", "json", "--input-shape", "x=1,2,8,8", path)
    assert rc == 1
    (f,) = json.loads(out)["files"][0]["findings"]
    assert f["details"]["input_spatial_shape"] == [2, 2]


def test_input_shape_for_unknown_input_name_is_not_silently_ignored(capsys, tmp_path):
    # A misspelt name must not look like a clean bill of health: either an error
    # or at least a note that names the binding that matched nothing.
    path = save(dynamic_model(), tmp_path / "dyn.onnx")
    rc, out, err = cli(capsys, "check", "--format", "json", "--input-shape", "nope=1,2,8,8", path)
    no_traceback(out, err)
    assert rc in (0, 2)
    assert "nope" in out + err, out + err


# --- rules ---------------------------------------------------------------------------------------


def test_rules_list_and_doc_subprocess():
    rc, out, err = run_cli("rules")
    assert rc == 0
    codes = [line.split()[0] for line in out.splitlines() if line.strip()]
    from analyzer.linter.registry import rule_codes

    assert codes == rule_codes()
    assert "dead-conv-taps" in out and "collapsed-multiscale-branches" in out
    rc, out, err = run_cli("rules", "DT001")
    assert rc == 0
    assert out.startswith("DT001 dead-conv-taps")
    for heading in ("What it does", "Why is this bad?", "Example", "How to fix"):
        assert heading in out
    rc, out, err = run_cli("rules", "XX999")
    assert rc == 2
    assert "XX999" in err and len(err.strip().splitlines()) == 1
    no_traceback(out, err)


def test_rules_doc_lowercase(capsys):
    rc, out, _ = cli(capsys, "rules", "dt002")
    assert rc == 0 and "Why is this bad?" in out and "DT002" in out


# --- text output --------------------------------------------------------------------------------


def test_text_output_format(capsys):
    path = SAMPLES / "drln_attention_legacy.onnx"
    rc, out, err = cli(capsys, "check", "--format", "full", "--color", "never", path)
    lines = out.splitlines()
    assert len(lines) == 6
    for line in lines[:-1]:
        m = FINDING_LINE.match(line)
        assert m, line
        assert m.group("path") == str(path)
        assert m.group("sev") == "warning"
    assert SUMMARY_LINE.match(lines[-1])
    assert lines[-1] == ("1 file checked, 5 findings (DT001: 4, DT002: 1), 12288 dead weights (88.4% of all weights), "
                         "12288 wasted MACs (26.3% of all MACs)")


def test_color_always_and_never(capsys):
    path = SAMPLES / "drln_attention_legacy.onnx"
    _, out, _ = cli(capsys, "check", "--color", "always", path)
    assert "\x1b[" in out
    _, out, _ = cli(capsys, "check", "--color", "never", path)
    assert "\x1b" not in out


EVIL = "evil\x1b[31m\nname"


def test_control_characters_in_node_names_are_escaped(capsys, tmp_path):
    path = save(pooled_model(conv_name=EVIL), tmp_path / "evil.onnx")
    rc, out, err = cli(capsys, "check", "--color", "never", path)
    assert rc == 1
    assert "\x1b" not in out + err
    lines = out.splitlines()
    assert len(lines) == 2  # one finding, one summary: the newline did not split the line
    m = FINDING_LINE.match(lines[0])
    assert m and m.group("rule") == "DT001"
    assert "evil\\x1b[31m\\x0aname" in lines[0] or "evil\\x1b[31m\\nname" in lines[0]
    # JSON keeps the real name, escaped by JSON itself
    rc, out, err = cli(capsys, "check", "--format", "json", path)
    assert "\x1b" not in out
    (f,) = json.loads(out)["files"][0]["findings"]
    assert f["node"] == EVIL


def test_control_characters_in_cause_and_path_are_escaped(capsys, tmp_path):
    m = pooled_model()
    m.graph.node[0].name = "pool\x1b]0;title\x07\r"
    path = save(m, tmp_path / "ok\x1b[2Jname.onnx")
    rc, out, err = cli(capsys, "check", "--color", "never", path)
    assert rc == 1
    assert "\x1b" not in out + err and "\r" not in out + err and "\x07" not in out + err
    assert len(out.splitlines()) == 2
    bad = tmp_path / "bad\nfile\x1b[31m.onnx"
    bad.write_text("text")
    rc, out, err = cli(capsys, "check", "--format", "json", bad)
    assert rc == 2
    assert "\x1b" not in out + err
    assert len(err.strip().splitlines()) == 1


# --- directories -----------------------------------------------------------------------------------


def test_directory_scan_is_recursive_and_sorted(capsys, tmp_path):
    d = tmp_path / "zoo"
    save(pooled_model(), d / "b" / "deep" / "pos.onnx")
    shutil.copy(SAMPLES / "rcan_attention_legacy.onnx", d / "a_neg.onnx")
    shutil.copy(SAMPLES / "conv_stack_legacy.onnx", d / "b" / "neg.onnx")
    (d / "b" / "ignored.txt").write_text("x")
    rc, out, _ = cli(capsys, "check", "--format", "json", d)
    assert rc == 1
    paths = [f["path"] for f in json.loads(out)["files"]]
    rel = [os.path.relpath(p, d) for p in paths]
    assert sorted(rel) == sorted(["a_neg.onnx", os.path.join("b", "deep", "pos.onnx"), os.path.join("b", "neg.onnx")])
    assert rel[0] == "a_neg.onnx"
    # deterministic order
    _, again, _ = cli(capsys, "check", "--format", "json", d)
    assert [f["path"] for f in json.loads(again)["files"]] == paths


def test_symlinked_folder_is_not_followed(capsys, tmp_path):
    outside = tmp_path / "outside"
    save(pooled_model(), outside / "pos.onnx")
    d = tmp_path / "scan"
    d.mkdir()
    shutil.copy(SAMPLES / "rcan_attention_legacy.onnx", d / "neg.onnx")
    os.symlink(outside, d / "link", target_is_directory=True)
    rc, out, _ = cli(capsys, "check", "--format", "json", d)
    assert rc == 0
    assert [os.path.basename(f["path"]) for f in json.loads(out)["files"]] == ["neg.onnx"]


# --- startup cost --------------------------------------------------------------------------------


@pytest.mark.parametrize("command,rc,key", [("check", 1, "files"), ("shapes", 0, "values")])
def test_commands_do_not_import_torch_or_onnxruntime(command, rc, key):
    code = (
        "import sys, analyzer.cli\n"
        f"rc = analyzer.cli.main(['{command}', '--format', 'json', 'sample_models/drln_attention_legacy.onnx'])\n"
        "heavy = sorted(m for m in ('torch', 'onnxruntime', 'onnxscript') if m in sys.modules)\n"
        "sys.stderr.write('RC=%d HEAVY=%s\\n' % (rc, ','.join(heavy)))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert f"RC={rc} HEAVY=\n" in p.stderr, p.stderr[-2000:]
    assert json.loads(p.stdout)[key]
