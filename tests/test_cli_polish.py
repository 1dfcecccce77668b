"""CLI polish (issue 19): argument validation, the user's path in write errors, a closed
pipe, ``fix --diff`` and dead bytes of a QDQ model in its stored dtype.

Every refusal is one line on stderr, exit 2, no traceback; every write error names the
path the user gave, never our temporary file.
"""
from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from analyzer.cli import main
from analyzer.fix.rewrite import count_params

REPO = pathlib.Path(__file__).resolve().parent.parent
SAMPLES = REPO / "sample_models"
ASPP = SAMPLES / "aspp_dynamo.onnx"  # one DT001 fixable, one DT002 refused


def cli(capsys, *args):
    try:
        rc = main([str(a) for a in args])
    except SystemExit as e:
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


def one_line_error(rc, out, err):
    assert rc == 2, (rc, out, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


# --- argument validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, words",
    [
        (["fix", ASPP, "-o", "OUT", "--bench", "--bench-runs", "0"], ["--bench-runs", "at least 1", "got 0"]),
        (["check", ASPP, "--max-nodes", "-5"], ["--max-nodes", "at least 1"]),
        (["check", ASPP, "--max-nodes", "many"], ["--max-nodes", "integer"]),
        (["scan", ASPP, "--max-nodes", "0"], ["--max-nodes"]),
        (["scan", ASPP, "--jobs", "0"], ["--jobs"]),
        (["scan", ASPP, "--timeout", "-1"], ["--timeout", ">= 0"]),
        (["scan", ASPP, "--timeout", "nan"], ["--timeout"]),
        (["check", ASPP, "--format", "xml"], ["--format", "xml"]),
        (["check", ASPP, "--select", ","], ["--select", "no rule code"]),
        (["scan", ASPP, "--select", ""], ["--select", "no rule code"]),
    ],
)
def test_bad_numbers_and_choices_are_one_line(capsys, tmp_path, args, words):
    args = [str(tmp_path / "o.onnx") if a == "OUT" else a for a in args]
    rc, out, err = cli(capsys, *args)
    one_line_error(rc, out, err)
    assert all(w in err for w in words), err
    assert out == ""
    if "--select" not in args:  # argparse's errors point at the subcommand's --help
        assert "--help" in err
    assert not (tmp_path / "o.onnx").exists()


def test_bench_runs_accepts_one():
    from analyzer.cli import build_parser

    args = build_parser().parse_args(["fix", "m.onnx", "-o", "o.onnx", "--bench-runs", "1"])
    assert args.bench_runs == 1


@pytest.fixture
def model_copy(tmp_path):
    p = tmp_path / "m.onnx"
    p.write_bytes(ASPP.read_bytes())
    return p


@pytest.mark.parametrize("spec, words", [("DT001@nonexistent", ["no-such-node", "nonexistent"]), ("DT001@", ["no node after '@'"]),
                                         ("@node_conv2d_3", ["CODE"]), ("DT001@node_conv2d_3,DT002@", ["no node after '@'"])])  # fmt: skip
def test_suppress_refuses_bad_node(capsys, model_copy, spec, words):
    before = model_copy.read_bytes()
    rc, out, err = cli(capsys, "suppress", model_copy, spec, "--in-place")
    one_line_error(rc, out, err)
    assert all(w in err for w in words), err
    assert model_copy.read_bytes() == before  # nothing written


def test_suppress_existing_node_still_works(capsys, model_copy):
    rc, out, err = cli(capsys, "suppress", model_copy, "DT001@node_conv2d_3", "--in-place")
    assert rc == 0 and "DT001@node_conv2d_3" in out
    rc, out, err = cli(capsys, "check", model_copy, "--select", "DT001", "--format", "json")
    assert rc == 0 and json.loads(out)["files"][0]["findings"] == []


# --- the user's path in write errors ------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["check", ASPP, "-o", "TARGET"],
        ["shapes", ASPP, "-o", "TARGET"],
        ["fix", ASPP, "-o", "TARGET"],
        ["suppress", ASPP, "DT001", "-o", "TARGET"],
        ["check", ASPP, "--write-baseline", "TARGET"],
        ["scan", ASPP, "--format", "json", "-q", "-j", "1", "-o", "TARGET"],
    ],
)
def test_write_error_names_the_users_path(capsys, tmp_path, args):
    target = tmp_path / "no_such_dir" / "r.out"
    rc, out, err = cli(capsys, *[target if a == "TARGET" else a for a in args])
    assert rc == 2, err
    assert str(target) in err and ".onnxlint-" not in err and ".tmp" not in err, err
    assert "Traceback" not in err


def test_write_to_a_folder_names_it(capsys, tmp_path):
    rc, out, err = cli(capsys, "check", ASPP, "-o", tmp_path)
    assert rc == 2 and str(tmp_path) in err and ".onnxlint-" not in err
    assert [p.name for p in tmp_path.iterdir()] == []  # no temporary file left behind


# --- a closed pipe ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, code",
    [
        (["rules"], 0),
        (["rules", "DT001"], 0),
        (["check", str(SAMPLES / "drln_narrow_dynamo.onnx"), "--format", "json"], 1),
        (["shapes", str(SAMPLES / "drln_narrow_dynamo.onnx")], 0),
        (["fix", str(SAMPLES / "drln_narrow_dynamo.onnx"), "--diff", "--format", "json"], 1),
        (["check", "--help"], 0),
        (["scan", str(SAMPLES), "-j", "1", "-q"], 1),
        (["verify", str(ASPP), "--format", "json"], 0),
    ],
)
def test_closed_pipe_is_quiet(args, code):
    """``onnxlint rules | head -1``: the reader stops after one line; no error, the
    command's own exit code."""
    p = subprocess.Popen([sys.executable, "-m", "analyzer", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    first = p.stdout.readline()
    p.stdout.close()
    err = p.stderr.read().decode()
    rc = p.wait(timeout=300)
    assert first and err == "" and rc == code, (rc, err)


def test_pipe_proxy_swallows_only_broken_pipes():
    from analyzer.commands.stdout import PipeSafe

    class Broken:
        def __init__(self):
            self.calls = 0

        def write(self, s):
            self.calls += 1
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

    b = Broken()
    s = PipeSafe(b)
    assert s.write("x") == 1 and s.broken and s.write("yy") == 2 and b.calls == 1
    s.flush()

    class Full:
        def write(self, s):
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        PipeSafe(Full()).write("x")


# --- fix --diff ---------------------------------------------------------------------------


def test_fix_diff_prints_and_writes_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, out, err = cli(capsys, "fix", ASPP, "--diff")
    assert rc == 1, err  # something would change
    lines = out.splitlines()
    assert any(":node_conv2d_3: DT001 would fix: Conv 3x3" in l and "8192 params (32768 bytes) removed" in l for l in lines), out
    assert any("DT002 refused:" in l for l in lines)
    assert lines[-1].endswith("no file written") and "8192 removed, 32768 bytes" in lines[-1]
    assert list(tmp_path.iterdir()) == []
    # the same numbers as the real fix
    rc, out2, err = cli(capsys, "fix", ASPP, "-o", tmp_path / "f.onnx", "--format", "json")
    rc, out3, err = cli(capsys, "fix", ASPP, "--dry-run", "--format", "json")
    real, dry = json.loads(out2), json.loads(out3)
    assert rc == 1 and dry["dry_run"] is True and dry["output"] is None and real["dry_run"] is False
    assert dry["totals"] == real["totals"] and dry["changes"] == real["changes"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.onnx"]


def test_fix_diff_nothing_to_fix_exits_0(capsys):
    rc, out, err = cli(capsys, "fix", SAMPLES / "conv_stack_dynamo.onnx", "--diff")
    assert rc == 0 and "would fix 0 finding(s)" in out


@pytest.mark.parametrize("args", [["--diff", "-o", "x.onnx"], ["--diff", "--verify"], []])
def test_fix_diff_option_clashes(capsys, tmp_path, args):
    rc, out, err = cli(capsys, "fix", ASPP, *[str(tmp_path / a) if a.endswith(".onnx") else a for a in args])
    one_line_error(rc, out, err)
    assert list(tmp_path.iterdir()) == []


# --- bytes in the stored dtype ------------------------------------------------------------


def _qdq(path):
    """DequantizeLinear(int8 [4,16,3,3] = 576 bytes) -> 3x3 dilation-3 conv on a 1x1 map:
    8 of 9 taps dead, 512 dead weights, 512 dead bytes (not 2048 as float32)."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.integers(-128, 127, size=(4, 16, 3, 3)).astype(np.int8), "wq"),
             numpy_helper.from_array(np.array(0.02, dtype=np.float32), "sc"),
             numpy_helper.from_array(np.array(0, dtype=np.int8), "zp")]  # fmt: skip
    nodes = [helper.make_node("DequantizeLinear", ["wq", "sc", "zp"], ["w"], name="dq"),
             helper.make_node("Conv", ["x", "w"], ["y"], name="target", kernel_shape=[3, 3], dilations=[3, 3], pads=[3, 3, 3, 3])]  # fmt: skip
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 1, 1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 1, 1])], inits)  # fmt: skip
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save_model(m, str(path))
    return m


def test_qdq_dead_bytes_in_stored_dtype(capsys, tmp_path):
    path = tmp_path / "qdq.onnx"
    _qdq(path)
    rc, out, err = cli(capsys, "check", path, "--format", "json")
    (f,) = [f for f in json.loads(out)["files"][0]["findings"] if f["rule"] == "DT001"]
    assert f["details"]["dead_weights"] == 512 and f["details"]["total_weights"] == 576
    assert f["details"]["dead_bytes"] == 512 and f["waste"]["bytes"] == 512


def test_fix_counts_bytes_in_stored_dtype(tmp_path):
    m = _qdq(tmp_path / "qdq.onnx")
    # int8 576 + float32 scale 4 + int8 zero point 1
    assert count_params(m) == (578, 581)
    packed = helper.make_tensor("p", TensorProto.INT4, [4, 16, 3, 3], np.zeros(576, dtype=np.int8).tolist())
    m.graph.initializer.append(packed)
    assert count_params(m) == (578 + 576, 581 + 288)


def test_fix_summary_names_only_rules_that_fixed(capsys, tmp_path):
    rc, out, err = cli(capsys, "fix", SAMPLES / "drln_attention_dynamic_dynamo.onnx", "-o", tmp_path / "f.onnx")
    last = out.splitlines()[-1]
    assert rc == 0 and "fixed 4 DT001, 1 DT002; refused 0" in last and " 0 WS" not in last


def test_huge_input_shape_is_refused_not_allocated(capsys):
    pytest.importorskip("onnxruntime")
    rc, out, err = cli(capsys, "verify", SAMPLES / "drln_attention_dynamic_dynamo.onnx", "--input-shape", "input=1,64,100000,100000")
    assert rc == 2 and out == "" and len(err.splitlines()) == 1
    assert "640000000000 elements" in err and "input=1x64x100000x100000" in err
