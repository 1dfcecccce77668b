"""Configuration that fits a repository of many models (issue 19): per-path input
shapes that skip models they do not fit (with a note), ``?`` in configured dims, errors
naming the config file and key, exclude / extend-exclude, extend-select /
extend-ignore, the command line's precedence, --show-settings, and both forms of
onnxlint.toml.  End to end through the CLI; the expected results come from running the
same check with the equivalent command line."""
import json
import os
import shutil

import pytest

from analyzer.linter.config import PathFilter, resolve_selection
from tests.test_ci_gate import SAMPLES, run

DYN = os.path.join(SAMPLES, "drln_attention_dynamic_dynamo.onnx")  # input: batch x 64 x height x width
FIXED = os.path.join(SAMPLES, "aspp_dynamo.onnx")  # input: 1 x 64 x 28 x 28
DRLN = os.path.join(SAMPLES, "drln_attention_dynamo.onnx")  # input: 1 x 64 x 16 x 16


@pytest.fixture
def repo(tmp_path):
    for d in ("models/dyn", "models/fixed", "models/old", ".venv/lib"):
        (tmp_path / d).mkdir(parents=True)
    shutil.copy(DYN, tmp_path / "models" / "dyn" / "a.onnx")
    shutil.copy(FIXED, tmp_path / "models" / "fixed" / "b.onnx")
    shutil.copy(DRLN, tmp_path / "models" / "old" / "c.onnx")
    shutil.copy(DRLN, tmp_path / ".venv" / "lib" / "d.onnx")
    return tmp_path


def files_of(out):
    return {fr["path"].replace(os.sep, "/"): fr for fr in json.loads(out)["files"]}


def comparable(fr):
    """What a file's result says, without the notes (which say where shapes came from)."""
    return [(f["rule"], f["node"], f["message"], json.dumps(f["details"], sort_keys=True)) for f in fr["findings"]], fr["stats"]


# -- per-path input shapes ---------------------------------------------------------

def test_per_path_shape_applies_where_it_fits_and_is_skipped_with_a_note_elsewhere(repo, capsys):
    (repo / "pyproject.toml").write_text(
        '[tool.onnxlint]\n[tool.onnxlint.input-shape]\ninput = [1, 64, 12, 12]\n'
        '[tool.onnxlint.per-path-input-shape]\n"models/dyn/*" = { input = [1, 64, 8, 8] }\n'
    )
    rc, out, err = run(["check", "models", "--format", "json"], capsys, cwd=repo)
    assert rc == 1  # findings, no file failed (was: bad-input-shape on every fixed model)
    got = files_of(out)
    assert all(fr["status"] == "ok" for fr in got.values())
    # the dynamic model is analyzed exactly as with --input-shape input=1,64,8,8
    _, cli, _ = run(["check", "models/dyn/a.onnx", "--format", "json", "--isolated", "--input-shape", "input=1,64,8,8"], capsys, cwd=repo)
    _, free, _ = run(["check", "models/dyn/a.onnx", "--format", "json", "--isolated"], capsys, cwd=repo)
    assert comparable(got["models/dyn/a.onnx"]) == comparable(files_of(cli)["models/dyn/a.onnx"])
    assert comparable(got["models/dyn/a.onnx"]) != comparable(files_of(free)["models/dyn/a.onnx"])
    assert not got["models/dyn/a.onnx"]["notices"]
    # the fixed models keep their dims, with a note saying why
    for path, fixed in (("models/fixed/b.onnx", 28), ("models/old/c.onnx", 16)):
        note = [n for n in got[path]["notices"] if "not applied" in n]
        assert note == [f"configured input shape input=1,64,12,12 not applied: dim 2 is fixed to {fixed} in the model, 12 configured"]
        assert note[0] in got[path]["notes"]
        _, alone, _ = run(["check", path, "--format", "json", "--isolated"], capsys, cwd=repo)
        assert comparable(got[path]) == comparable(files_of(alone)[path])
    # the note shows in the text output too
    _, text, _ = run(["check", "models/fixed/b.onnx"], capsys, cwd=repo)
    assert "models/fixed/b.onnx: note: configured input shape input=1,64,12,12 not applied" in text


def test_config_accepts_question_mark_like_the_cli(repo, capsys):
    (repo / "onnxlint.toml").write_text('format = "json"\n[input-shape]\ninput = [1, 64, "?", 8]\n')
    rc, out, _ = run(["check", "models/dyn/a.onnx"], capsys, cwd=repo)
    _, cli, _ = run(["check", "models/dyn/a.onnx", "--isolated", "--format", "json", "--input-shape", "input=1,64,?,8"], capsys, cwd=repo)
    assert comparable(files_of(out)["models/dyn/a.onnx"]) == comparable(files_of(cli)["models/dyn/a.onnx"])
    assert not files_of(out)["models/dyn/a.onnx"]["notices"]


@pytest.mark.parametrize(
    "shape,why",
    [
        ("other = [1, 64, 8, 8]", "the model has no input 'other' (inputs: input)"),
        ("input = [1, 64, 8]", "3 dims configured, the input has 4"),
    ],
)
def test_configured_shape_that_does_not_fit_is_a_note_but_on_the_cli_an_error(repo, capsys, shape, why):
    (repo / "onnxlint.toml").write_text(f"[input-shape]\n{shape}\n")
    rc, out, err = run(["check", "models/dyn/a.onnx", "--format", "json"], capsys, cwd=repo)
    fr = files_of(out)["models/dyn/a.onnx"]
    assert fr["status"] == "ok" and any(n.endswith(why) for n in fr["notices"]) and rc == 1
    cli = shape.replace(" ", "").replace("=[", "=").rstrip("]")
    rc, out, err = run(["check", "models/dyn/a.onnx", "--isolated", "--input-shape", cli], capsys, cwd=repo)
    assert rc == 2 and "bad-input-shape" in out + err


def test_command_line_shape_overrides_the_configured_one(repo, capsys):
    (repo / "onnxlint.toml").write_text("[input-shape]\ninput = [1, 64, 8, 8]\n")
    _, out, _ = run(["check", "models/dyn/a.onnx", "--format", "json", "--input-shape", "input=1,64,32,32"], capsys, cwd=repo)
    _, cli, _ = run(["check", "models/dyn/a.onnx", "--format", "json", "--isolated", "--input-shape", "input=1,64,32,32"], capsys, cwd=repo)
    assert comparable(files_of(out)["models/dyn/a.onnx"]) == comparable(files_of(cli)["models/dyn/a.onnx"])


def test_setup_cfg_per_path_input_shape(repo, capsys):
    (repo / "setup.cfg").write_text("[onnxlint]\nformat = json\nper-path-input-shape =\n    models/dyn/* = input=1,64,?,8; other=1\n")
    _, out, _ = run(["check", "models/dyn/a.onnx"], capsys, cwd=repo)
    _, cli, _ = run(["check", "models/dyn/a.onnx", "--isolated", "--format", "json", "--input-shape", "input=1,64,?,8"], capsys, cwd=repo)
    fr = files_of(out)["models/dyn/a.onnx"]
    assert comparable(fr) == comparable(files_of(cli)["models/dyn/a.onnx"])
    assert any("input shape other=1 not applied" in n for n in fr["notices"])


@pytest.mark.parametrize(
    "name,text,needle",
    [
        ("pyproject.toml", "[tool.onnxlint.input-shape]\ninput = [1, 'a']\n", "pyproject.toml: [tool.onnxlint] input-shape.input: "),
        ("pyproject.toml", "[tool.onnxlint.input-shape]\ninput = [1, -3]\n", "pyproject.toml: [tool.onnxlint] input-shape.input: "),
        ("pyproject.toml", "[tool.onnxlint.input-shape]\ninput = []\n", "pyproject.toml: [tool.onnxlint] input-shape.input: "),
        ("pyproject.toml", '[tool.onnxlint.per-path-input-shape]\n"m/*" = { input = [1.5] }\n', "pyproject.toml: [tool.onnxlint] per-path-input-shape.m/*.input: "),
        ("pyproject.toml", '[tool.onnxlint.per-path-input-shape]\n"m/*" = 3\n', "pyproject.toml: [tool.onnxlint] per-path-input-shape.m/*: "),
        ("setup.cfg", "[onnxlint]\ninput-shape =\n    input = 1,a\n", "setup.cfg: [onnxlint] input-shape.input: "),
        ("onnxlint.toml", "[input-shape]\ninput = 'a,b'\n", "onnxlint.toml: input-shape.input: "),
        ("pyproject.toml", "[tool.onnxlint]\nextend-select = ['QQ']\n", "pyproject.toml: [tool.onnxlint] extend-select: unknown rule code or prefix 'QQ'"),
        ("pyproject.toml", "[tool.onnxlint]\nexclude = 3\n", "pyproject.toml: [tool.onnxlint] exclude: must be a list of strings"),
    ],
)
def test_config_errors_name_the_file_and_key_not_the_option(repo, capsys, name, text, needle):
    (repo / name).write_text(text)
    rc, out, err = run(["check", "models/dyn/a.onnx"], capsys, cwd=repo)
    assert rc == 2 and needle in err and "--input-shape" not in err
    assert len(err.strip().splitlines()) == 1


# -- onnxlint.toml: both forms ---------------------------------------------------

def test_onnxlint_toml_takes_the_pyproject_table_too(repo, capsys):
    (repo / "onnxlint.toml").write_text('[tool.onnxlint]\nignore = ["DT002"]\nformat = "json"\n')
    rc, out, err = run(["check", "models/fixed/b.onnx"], capsys, cwd=repo)
    assert {f["rule"] for f in files_of(out)["models/fixed/b.onnx"]["findings"]} == {"DT001"}
    (repo / "onnxlint.toml").write_text('ignore = ["DT002"]\nformat = "json"\n')
    rc, top, err = run(["check", "models/fixed/b.onnx"], capsys, cwd=repo)
    assert top == out
    (repo / "onnxlint.toml").write_text('format = "json"\n[tool.onnxlint]\nignore = ["DT002"]\n')
    rc, out, err = run(["check", "models/fixed/b.onnx"], capsys, cwd=repo)
    assert rc == 2 and "onnxlint.toml" in err and "use one form" in err and len(err.strip().splitlines()) == 1


# -- exclude ---------------------------------------------------------------------

def test_exclude_defaults_extend_exclude_and_explicit_files(repo, capsys):
    rc, out, _ = run(["check", ".", "--format", "json", "--isolated"], capsys, cwd=repo)
    assert set(files_of(out)) == {"./models/dyn/a.onnx", "./models/fixed/b.onnx", "./models/old/c.onnx"}  # .venv: default exclude
    (repo / "pyproject.toml").write_text('[tool.onnxlint]\nextend-exclude = ["models/old", "b.onnx"]\n')
    rc, out, _ = run(["check", ".", "--format", "json"], capsys, cwd=repo)
    assert set(files_of(out)) == {"./models/dyn/a.onnx"}
    rc, out, _ = run(["check", "models", "--format", "json", "--extend-exclude", "dyn"], capsys, cwd=repo / "models" / "..")
    assert set(files_of(out)) == set()  or rc == 2
    # a file named on the command line is linted anyway (ruff's rule) ...
    rc, out, _ = run(["check", "models/old/c.onnx", "models/dyn/a.onnx", "--format", "json"], capsys, cwd=repo)
    assert set(files_of(out)) == {"models/old/c.onnx", "models/dyn/a.onnx"}
    # ... unless --force-exclude (what a pre-commit hook passes)
    rc, out, _ = run(["check", "models/old/c.onnx", "models/dyn/a.onnx", "--format", "json", "--force-exclude"], capsys, cwd=repo)
    assert set(files_of(out)) == {"models/dyn/a.onnx"}
    rc, out, err = run(["check", "models/old/c.onnx", "--force-exclude"], capsys, cwd=repo)
    assert rc == 0 and "nothing to check" in err
    # globs are relative to the config file's folder, wherever onnxlint runs
    rc, out, _ = run(["check", "..", "--format", "json"], capsys, cwd=repo / "models")
    assert {os.path.basename(p) for p in files_of(out)} == {"a.onnx"}


def test_exclude_replaces_the_defaults(repo, capsys):
    (repo / "pyproject.toml").write_text('[tool.onnxlint]\nexclude = ["models"]\n')
    rc, out, _ = run(["check", ".", "--format", "json"], capsys, cwd=repo)
    assert set(files_of(out)) == {"./.venv/lib/d.onnx"}


def test_path_filter_patterns(tmp_path):
    f = PathFilter([".venv", "*_old.onnx", "models/legacy", "zoo/*.onnx"], tmp_path)
    assert f.match(tmp_path / "a" / ".venv" / "x.onnx") == ".venv"
    assert f.match(tmp_path / "m" / "net_old.onnx") == "*_old.onnx"
    assert f.match(tmp_path / "models" / "legacy" / "deep" / "x.onnx") == "models/legacy"
    assert f.match(tmp_path / "zoo" / "x.onnx") == "zoo/*.onnx"
    assert f.match(tmp_path / "other" / "models" / "legacy" / "x.onnx") is None  # anchored at the root
    assert f.match(tmp_path / "models" / "legacy2" / "x.onnx") is None
    assert f.match(tmp_path / "m" / "net.onnx") is None


def test_scan_honours_exclude_and_configured_shapes(repo, capsys):
    (repo / "pyproject.toml").write_text('[tool.onnxlint]\nextend-exclude = ["models/old"]\n[tool.onnxlint.input-shape]\ninput = [1, 64, 12, 12]\n')
    rc, out, _ = run(["scan", ".", "--format", "json", "--jobs", "1", "--quiet", "--timeout", "0"], capsys, cwd=repo)
    got = {r["path"]: r for r in json.loads(out)["files"]}
    assert set(got) == {"./models/dyn/a.onnx", "./models/fixed/b.onnx"}
    assert all(r["status"] == "ok" for r in got.values())
    assert any("not applied: dim 2 is fixed to 28" in n for n in got["./models/fixed/b.onnx"]["notices"])
    _, cli, _ = run(["check", "./models/dyn/a.onnx", "--format", "json"], capsys, cwd=repo)
    assert comparable(got["./models/dyn/a.onnx"]) == comparable(files_of(cli)["./models/dyn/a.onnx"])
    rc, out, _ = run(["scan", ".", "--format", "json", "--jobs", "1", "--quiet", "--timeout", "0", "--extend-exclude", "b.onnx"], capsys, cwd=repo)
    assert {r["path"] for r in json.loads(out)["files"]} == {"./models/dyn/a.onnx"}
    # named files: scanned unless --force-exclude; all excluded is not an error
    rc, out, _ = run(["scan", "models/old/c.onnx", "--format", "json", "--jobs", "1", "--quiet", "--timeout", "0"], capsys, cwd=repo)
    assert [r["path"] for r in json.loads(out)["files"]] == ["models/old/c.onnx"]
    rc, out, err = run(["scan", "models/old/c.onnx", "--format", "json", "--jobs", "1", "--quiet", "--force-exclude"], capsys, cwd=repo)
    assert rc == 0 and json.loads(out)["files"] == [] and "nothing to scan" in err


# -- rule selection: extend-*, precedence ----------------------------------------

def rules_found(out):
    return {f["rule"] for fr in json.loads(out)["files"] for f in fr["findings"]}


def test_cli_select_wins_over_config_ignore(repo, capsys):
    (repo / "pyproject.toml").write_text('[tool.onnxlint]\nignore = ["DT002"]\nformat = "json"\n')
    _, out, _ = run(["check", "models/fixed/b.onnx"], capsys, cwd=repo)
    assert rules_found(out) == {"DT001"}
    rc, out, _ = run(["check", "models/fixed/b.onnx", "--select", "DT002"], capsys, cwd=repo)
    assert rules_found(out) == {"DT002"} and rc == 1  # was: 0 findings and no hint why
    # --ignore on the command line adds to the configuration's
    _, out, _ = run(["check", "models/fixed/b.onnx", "--ignore", "DT001"], capsys, cwd=repo)
    assert rules_found(out) == set()


def test_extend_select_and_extend_ignore(repo, capsys):
    (repo / "pyproject.toml").write_text('[tool.onnxlint]\nselect = ["DT001"]\nextend-select = ["DT002"]\nformat = "json"\n')
    _, out, _ = run(["check", "models/fixed/b.onnx"], capsys, cwd=repo)
    assert rules_found(out) == {"DT001", "DT002"}
    (repo / "pyproject.toml").write_text('[tool.onnxlint]\nextend-ignore = ["DT001"]\nformat = "json"\n')
    _, out, _ = run(["check", "models/fixed/b.onnx"], capsys, cwd=repo)
    assert rules_found(out) == {"DT002"}
    (repo / "pyproject.toml").write_text('[tool.onnxlint]\nselect = ["DT001"]\nformat = "json"\n')
    _, out, _ = run(["check", "models/fixed/b.onnx", "--extend-select", "DT002"], capsys, cwd=repo)
    assert rules_found(out) == {"DT001", "DT002"}


def test_resolve_selection_is_rufflike():
    codes = ["DT001", "DT002", "MV001"]
    cfg = {"select": None, "extend_select": [], "ignore": ["DT"], "extend_ignore": []}
    assert resolve_selection(codes, [cfg, {"select": None}]) == ["MV001"]
    assert resolve_selection(codes, [cfg, {"select": ["DT002"]}]) == ["DT002"]  # CLI select resets
    assert resolve_selection(codes, [dict(cfg, extend_select=["DT001"]), {"select": None}]) == ["DT001", "MV001"]  # more specific wins
    assert resolve_selection(codes, [{"select": ["DT001"], "ignore": ["DT001"]}, {"select": None}]) == []  # tie: ignore
    assert resolve_selection(codes, [{"select": ["ALL"], "ignore": ["ALL"]}, {"select": None, "extend_select": ["MV"]}]) == ["MV001"]


# -- --show-settings --------------------------------------------------------------

def test_show_settings(repo, capsys):
    (repo / "pyproject.toml").write_text(
        '[tool.onnxlint]\nignore = ["DT002"]\nextend-exclude = ["models/old"]\nfail-on = "error"\n'
        '[tool.onnxlint.per-path-input-shape]\n"models/dyn/*" = { input = [1, 64, "?", 8] }\n'
        '[tool.onnxlint.per-path-ignores]\n"models/dyn/*" = ["MV"]\n[tool.onnxlint.rules.DT001]\nmin-dead-weights = 100\n'
    )
    rc, out, err = run(["check", "--show-settings", "dyn/a.onnx", "old/c.onnx"], capsys, cwd=repo / "models")
    assert rc == 0 and err == ""
    blocks = out.split("Settings for ")[1:]
    a, c = blocks
    assert f"config file      = {repo / 'pyproject.toml'}" in a
    assert "configured shape = input=1,64,?,8" in a and "per-path-ignores = MV" in a and "excluded         = no" in a
    assert "fail-on          = error  (config)" in a and "rules.DT001.min-dead-weights = 100" in a
    assert "DT002" in a.split("rules            = ")[1].splitlines()[0]  # listed as not run
    assert "excluded         = yes, by 'models/old'" in c and "configured shape = none" in c
    rc, out, _ = run(["check", "--show-settings", "--isolated", "--fail-on", "info", "x.onnx"], capsys, cwd=repo)
    assert rc == 0 and "config file      = none (--isolated)" in out and "fail-on          = info  (command line)" in out


def test_pre_commit_hook_keeps_the_configured_exclude(repo, capsys):
    """pre-commit runs the hook's entry followed by the staged file names."""
    import yaml

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    (hook,) = [h for h in yaml.safe_load(open(os.path.join(root, ".pre-commit-hooks.yaml"))) if h["id"] == "onnxlint"]
    argv = hook["entry"].split()[1:]
    (repo / "pyproject.toml").write_text('[tool.onnxlint]\nextend-exclude = ["models/old", "models/fixed"]\n')
    rc, out, err = run(argv + ["models/old/c.onnx", "models/fixed/b.onnx"], capsys, cwd=repo)
    assert rc == 0 and "nothing to check" in err
    rc, out, err = run(argv + ["models/old/c.onnx", "models/dyn/a.onnx", "--format", "json"], capsys, cwd=repo)
    assert rc == 1 and set(files_of(out)) == {"models/dyn/a.onnx"}


def _two_inputs(path, dim):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [dim, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [dim, 4])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, None)
    g = helper.make_graph([helper.make_node("Add", ["x", "y"], ["z"], name="add")], "g", [x, y], [z])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(m, str(path))
    return m


def test_configured_shapes_binding_one_symbol_two_ways(tmp_path, capsys):
    _two_inputs(tmp_path / "m.onnx", "N")
    (tmp_path / "onnxlint.toml").write_text('format = "json"\n[input-shape]\nx = [2, 4]\ny = [3, 4]\n')
    rc, out, err = run(["check", "m.onnx"], capsys, cwd=tmp_path)
    fr = files_of(out)["m.onnx"]
    assert rc == 0 and fr["status"] == "ok"
    assert fr["notices"] == ["configured input shape y=3,4 not applied: symbol N is 2 in another configured input, 3 here"]
    rc, out, err = run(["check", "m.onnx", "--isolated", "--input-shape", "x=2,4", "--input-shape", "y=3,4"], capsys, cwd=tmp_path)
    assert rc == 2 and "bad-input-shape" in out + err


def test_fit_input_shapes_unnamed_dims_are_each_their_own(tmp_path):
    from analyzer.linter.config import fit_input_shapes

    m = _two_inputs(tmp_path / "m.onnx", None)  # [?, 4]: unnamed, not one shared symbol
    assert fit_input_shapes(m, {"x": [2, 4], "y": [3, 4]}) == ({"x": [2, 4], "y": [3, 4]}, [])
    m = _two_inputs(tmp_path / "m.onnx", "N")
    fitted, notes = fit_input_shapes(m, {"x": [2, 4], "y": [2, None], "nope": [1]})
    assert fitted == {"x": [2, 4], "y": [2, None]} and notes == ["configured input shape nope=1 not applied: the model has no input 'nope' (inputs: x, y)"]
