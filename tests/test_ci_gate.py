"""The CI gate: SARIF, GitHub annotations, configuration, baselines, suppressions,
pre-commit hook, determinism (issue 4).  End to end through the CLI."""
import json
import os
import random
import shutil
import subprocess
import sys

import jsonschema
import onnx
import pytest
import yaml

from analyzer.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "sample_models")
SCHEMA = json.load(open(os.path.join(ROOT, "tests", "data", "sarif-schema-2.1.0.json")))
LEGACY = os.path.join(SAMPLES, "drln_attention_legacy.onnx")
DYNAMO = os.path.join(SAMPLES, "drln_attention_dynamo.onnx")
NEGATIVE = os.path.join(SAMPLES, "conv_stack_legacy.onnx")


def run(argv, capsys, cwd=None):
    old = os.getcwd()
    if cwd:
        os.chdir(cwd)
    try:
        rc = main(argv)
    finally:
        os.chdir(old)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return rc, out, err


def validate_sarif(text):
    doc = json.loads(text)
    jsonschema.validate(doc, SCHEMA)
    return doc


def shuffled_copy(src, dst, seed):
    """The same model with its nodes in another (still topological) order."""
    m = onnx.load(src)
    nodes = list(m.graph.node)
    produced_by = {o: i for i, n in enumerate(nodes) for o in n.output}
    deps = {i: {produced_by[x] for x in n.input if x in produced_by} for i, n in enumerate(nodes)}
    rng = random.Random(seed)
    order, done = [], set()
    while len(order) < len(nodes):
        ready = [i for i in range(len(nodes)) if i not in done and deps[i] <= done]
        pick = rng.choice(ready)
        order.append(pick)
        done.add(pick)
    assert order != list(range(len(nodes))), "shuffle must change the order"
    copies = [onnx.NodeProto() for _ in order]
    for c, i in zip(copies, order):
        c.CopyFrom(nodes[i])
    del m.graph.node[:]
    m.graph.node.extend(copies)
    onnx.save(m, dst)
    return dst


# -- SARIF ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def full_drln(tmp_path_factory):
    """The full DRLN x2 (legacy exporter: one file, 138 MB) and a copy with nodes shuffled."""
    export = pytest.importorskip("sample_models.export")
    d = tmp_path_factory.mktemp("drln_sarif")
    path = export.export("drln", d / "drln.onnx", "legacy", scale=2, height=16, width=16)
    return str(path)


def test_sarif_full_drln_validates_and_fingerprints_are_stable(full_drln, tmp_path, capsys):
    rc, out1, _ = run(["check", full_drln, "--format", "sarif"], capsys)
    assert rc == 1
    doc = validate_sarif(out1)
    results = doc["runs"][0]["results"]
    # one result per finding: 80 DT001 + 20 DT002, and whatever else the export carries
    # (the legacy exporter leaves an Identity: a WS007 no-op)
    assert sum(r["ruleId"] == "DT001" for r in results) == 80
    assert sum(r["ruleId"] == "DT002" for r in results) == 20
    import analyzer

    assert len(results) == len(analyzer.lint(full_drln).findings)
    fps = [r["partialFingerprints"]["onnxlintFinding/v1"] for r in results]
    assert len(set(fps)) == len(fps)
    rc, out2, _ = run(["check", full_drln, "--format", "sarif"], capsys)
    assert out1 == out2  # byte-identical across runs
    shuffled = shuffled_copy(full_drln, str(tmp_path / "drln.onnx"), seed=3)
    rc, out3, _ = run(["check", shuffled, "--format", "sarif"], capsys)
    doc3 = validate_sarif(out3)
    fps3 = [r["partialFingerprints"]["onnxlintFinding/v1"] for r in doc3["runs"][0]["results"]]
    assert sorted(fps3) == sorted(fps)
    # the same node carries the same fingerprint
    by_node = {r["locations"][0]["logicalLocations"][0]["name"] + r["ruleId"]: r["partialFingerprints"] for r in results}
    for r in doc3["runs"][0]["results"]:
        assert by_node[r["locations"][0]["logicalLocations"][0]["name"] + r["ruleId"]] == r["partialFingerprints"]


def test_sarif_structure(capsys, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_text("not a model")
    rc, out, _ = run(["check", LEGACY, NEGATIVE, str(bad), "--format", "sarif"], capsys)
    assert rc == 2
    doc = validate_sarif(out)
    run0 = doc["runs"][0]
    driver = run0["tool"]["driver"]
    assert driver["name"] == "onnxlint" and driver["version"]
    ids = [r["id"] for r in driver["rules"]]
    from analyzer.linter.registry import all_rules

    assert ids == [m.CODE for m in all_rules()]
    levels = {"info": "note", "warning": "warning", "error": "error"}
    for rule, mod in zip(driver["rules"], all_rules()):
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert "Why is this bad?" in rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] == levels[mod.SEVERITY]
    res = run0["results"][0]
    loc = res["locations"][0]
    assert loc["physicalLocation"]["artifactLocation"]["uri"].endswith("drln_attention_legacy.onnx")
    assert loc["logicalLocations"][0]["fullyQualifiedName"].startswith("main/")
    assert driver["rules"][res["ruleIndex"]]["id"] == res["ruleId"]
    inv = run0["invocations"][0]
    assert inv["executionSuccessful"] is False
    assert inv["toolExecutionNotifications"][0]["descriptor"]["id"] == "not-onnx"
    assert len(run0["results"]) == 5


def test_sarif_no_findings_still_valid(capsys):
    rc, out, _ = run(["check", NEGATIVE, "--format", "sarif"], capsys)
    assert rc == 0
    doc = validate_sarif(out)
    assert doc["runs"][0]["results"] == []


def test_fingerprint_survives_file_rename(tmp_path, capsys):
    a = tmp_path / "a.onnx"
    shutil.copy(LEGACY, a)
    rc, out1, _ = run(["check", str(a), "--format", "json"], capsys)
    b = tmp_path / "renamed.onnx"
    a.rename(b)
    rc, out2, _ = run(["check", str(b), "--format", "json"], capsys)
    f1 = [f["fingerprint"] for f in json.loads(out1)["files"][0]["findings"]]
    f2 = [f["fingerprint"] for f in json.loads(out2)["files"][0]["findings"]]
    assert f1 == f2 and all(f1)


# -- GitHub annotations ----------------------------------------------------------

def test_github_annotations(capsys, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"")
    rc, out, _ = run(["check", LEGACY, str(bad), "--format", "github"], capsys)
    assert rc == 2
    lines = out.splitlines()
    warn = [l for l in lines if l.startswith("::warning file=")]
    assert len(warn) == 5
    assert all("::" in l[2:] for l in warn)
    assert any(l.startswith("::error file=") and "empty" in l for l in lines)
    title = warn[0].split("title=", 1)[1].split("::", 1)[0]
    assert "," not in title and ":" not in title  # property values are escaped


def test_github_escapes_newlines_in_names(tmp_path, capsys):
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = helper.make_tensor("w", TensorProto.FLOAT, [2, 2, 3, 3], [0.1] * 36)
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["p"]),
        helper.make_node("Conv", ["p", "w"], ["y"], name="evil\n::error file=x::forged", pads=[1, 1, 1, 1]),
    ]
    m = helper.make_model(helper.make_graph(nodes, "g", [x], [y], [w]), opset_imports=[helper.make_opsetid("", 17)])
    p = tmp_path / "evil.onnx"
    onnx.save(m, p)
    rc, out, _ = run(["check", str(p), "--format", "github"], capsys)
    assert rc == 1
    assert not any(l.startswith("::error") for l in out.splitlines())  # no forged annotation line


# -- configuration ---------------------------------------------------------------

@pytest.fixture
def project(tmp_path):
    (tmp_path / "models" / "legacy").mkdir(parents=True)
    (tmp_path / "sub").mkdir()
    shutil.copy(LEGACY, tmp_path / "models" / "att.onnx")
    shutil.copy(LEGACY, tmp_path / "models" / "legacy" / "old.onnx")
    return tmp_path


def findings(out):
    return [(os.path.basename(fr["path"]), f["rule"]) for fr in json.loads(out)["files"] for f in fr["findings"]]


def test_config_pyproject_found_walking_up(project, capsys):
    (project / "pyproject.toml").write_text('[tool.onnxlint]\nignore = ["DT002"]\n')
    rc, out, _ = run(["check", "../models/att.onnx", "--format", "json"], capsys, cwd=project / "sub")
    assert rc == 1
    assert {r for _, r in findings(out)} == {"DT001"}
    rc, out, _ = run(["check", "../models/att.onnx", "--format", "json", "--isolated"], capsys, cwd=project / "sub")
    assert {r for _, r in findings(out)} == {"DT001", "DT002"}


def test_config_setup_cfg_and_rule_options(project, capsys):
    (project / "setup.cfg").write_text("[onnxlint]\nselect = DT001\nfail-on = warning\n\n[onnxlint.rules.DT001]\nmin-dead-weights = 3000\n")
    rc, out, _ = run(["check", "models/att.onnx", "--format", "json"], capsys, cwd=project)
    fs = json.loads(out)["files"][0]["findings"]
    assert [f["details"]["dead_weights"] for f in fs] == [6144]  # the 2048-weight branches stay quiet
    assert rc == 1


def test_config_per_path_ignores_and_cli_override(project, capsys):
    (project / "pyproject.toml").write_text('[tool.onnxlint]\n[tool.onnxlint.per-path-ignores]\n"models/legacy/*" = ["DT"]\n')
    rc, out, _ = run(["check", "models", "--format", "json"], capsys, cwd=project)
    got = findings(out)
    assert ("old.onnx", "DT001") not in got and ("att.onnx", "DT001") in got
    rc, out, _ = run(["check", "models", "--format", "json", "--select", "DT002"], capsys, cwd=project)
    assert {r for _, r in findings(out)} == {"DT002"}


def test_config_input_shape_and_fail_on(project, capsys):
    shutil.copy(os.path.join(SAMPLES, "drln_attention_dynamic_dynamo.onnx"), project / "dyn.onnx")
    (project / "onnxlint.toml").write_text('fail-on = "error"\nformat = "json"\n[input-shape]\ninput = [1, 64, 8, 8]\n')
    rc, out, _ = run(["check", "dyn.onnx"], capsys, cwd=project)
    assert rc == 0  # warnings only, fail-on error
    assert json.loads(out)["files"][0]["findings"]  # format from config
    # a configured shape naming an input the model lacks is skipped with a note (issue 19);
    # the same on the command line stays an error
    (project / "onnxlint.toml").write_text('[input-shape]\nwrong_name = [1, 64, 8, 8]\n')
    rc, out, err = run(["check", "dyn.onnx"], capsys, cwd=project)
    assert rc == 1 and "wrong_name" in out and "not applied" in out
    rc, out, err = run(["check", "dyn.onnx", "--input-shape", "wrong_name=1,64,8,8"], capsys, cwd=project)
    assert rc == 2 and "wrong_name" in out + err


@pytest.mark.parametrize(
    "name,text,needle",
    [
        ("pyproject.toml", "[tool.onnxlint]\nselectt = ['DT001']\n", "selectt"),
        ("pyproject.toml", "[tool.onnxlint]\nfail-on = 'sometimes'\n", "fail-on"),
        ("pyproject.toml", "[tool.onnxlint]\nselect = ['ZZ9']\n", "ZZ9"),
        ("pyproject.toml", "[tool.onnxlint]\nselect = 3\n", "select"),
        ("pyproject.toml", "[tool.onnxlint\n", "TOML"),
        ("pyproject.toml", "[tool.onnxlint.rules.DT001]\nmin-dead = 3\n", "min-dead"),
        ("pyproject.toml", "[tool.onnxlint.rules.DT001]\nmin-dead-weights = -3\n", "min-dead-weights"),
        ("pyproject.toml", "[tool.onnxlint.rules.XX001]\na = 1\n", "XX001"),
        ("pyproject.toml", "[tool.onnxlint.input-shape]\ninput = ['a']\n", "input-shape.input"),
        ("setup.cfg", "[onnxlint]\nmax-nodes = lots\n", "max-nodes"),
    ],
)
def test_bad_config_exits_2_naming_the_key(project, capsys, name, text, needle):
    (project / name).write_text(text)
    rc, out, err = run(["check", "models/att.onnx"], capsys, cwd=project)
    assert rc == 2
    assert needle in err and name in err
    assert len(err.strip().splitlines()) == 1


def test_explicit_config_file(project, capsys):
    cfg = project / "lint.toml"
    cfg.write_text('select = ["DT002"]\n')
    rc, out, _ = run(["check", "models/att.onnx", "--config", str(cfg), "--format", "json"], capsys, cwd=project)
    assert {r for _, r in findings(out)} == {"DT002"}
    rc, _, err = run(["check", "models/att.onnx", "--config", str(project / "nope.toml")], capsys, cwd=project)
    assert rc == 2 and "nope.toml" in err
    (project / "empty.cfg").write_text("[other]\n")
    rc, _, err = run(["check", "models/att.onnx", "--config", str(project / "empty.cfg")], capsys, cwd=project)
    assert rc == 2 and "no onnxlint section" in err


# -- baseline --------------------------------------------------------------------

def test_baseline_adoption(project, capsys, tmp_path):
    base = project / "baseline.json"
    rc, _, _ = run(["check", "models", "--write-baseline", str(base)], capsys, cwd=project)
    assert rc == 0 and base.exists()
    recorded = json.loads(base.read_text())
    assert len(recorded["findings"]) == 10
    rc, out, _ = run(["check", "models", "--baseline", str(base), "--format", "json"], capsys, cwd=project)
    assert rc == 0 and findings(out) == []
    # node order shuffled and file renamed (the move recorded in the baseline): still known
    shuffled_copy(str(project / "models" / "att.onnx"), str(project / "models" / "renamed.onnx"), seed=1)
    os.remove(project / "models" / "att.onnx")
    recorded["moved"] = {"models/att.onnx": "models/renamed.onnx"}
    base.write_text(json.dumps(recorded))
    rc, out, _ = run(["check", "models", "--baseline", str(base), "--format", "json"], capsys, cwd=project)
    assert rc == 0 and findings(out) == []
    # a new model with findings: only its findings are reported, and they fail the gate
    shutil.copy(os.path.join(SAMPLES, "aspp_dynamo.onnx"), project / "models" / "aspp.onnx")
    rc, out, _ = run(["check", "models", "--baseline", str(base), "--format", "json"], capsys, cwd=project)
    assert rc == 1
    assert {name for name, _ in findings(out)} == {"aspp.onnx"}


def test_baseline_counts_duplicates(project, capsys):
    base = project / "b.json"
    run(["check", "models/att.onnx", "--write-baseline", str(base)], capsys, cwd=project)
    # a second identical model adds a second copy of each finding: those are new
    rc, out, _ = run(["check", "models/att.onnx", "models/legacy/old.onnx", "--baseline", str(base), "--format", "json"], capsys, cwd=project)
    assert rc == 1 and len(findings(out)) == 5


@pytest.mark.parametrize(
    "content,needle",
    [(None, "no such file"), ("{not json", "not JSON"), ('{"findings": []}', "not an onnxlint baseline"), ('{"onnxlint_baseline": 2, "findings": [{"path": "m.onnx"}]}', "fingerprint"), ('{"onnxlint_baseline": 1, "findings": []}', "regenerate")],
)
def test_bad_baseline_exits_2(project, capsys, content, needle):
    base = project / "b.json"
    if content is not None:
        base.write_text(content)
    rc, out, err = run(["check", "models/att.onnx", "--baseline", str(base)], capsys, cwd=project)
    assert rc == 2 and needle in err and "b.json" in err


# -- suppressions ----------------------------------------------------------------

def test_suppress_writes_new_file_and_check_honours_it(tmp_path, capsys):
    src = tmp_path / "m.onnx"
    shutil.copy(LEGACY, src)
    before = src.read_bytes()
    out_path = tmp_path / "s.onnx"
    rc, out, _ = run(["suppress", str(src), "DT002", "DT001@/fuse/fuse.0/Conv", "-o", str(out_path)], capsys)
    assert rc == 0
    assert src.read_bytes() == before  # input untouched
    meta = {p.key: p.value for p in onnx.load(out_path).metadata_props}
    assert meta["onnxlint:ignore"] == "DT002, DT001@/fuse/fuse.0/Conv"
    rc, out, _ = run(["check", str(out_path), "--format", "json"], capsys)
    fr = json.loads(out)["files"][0]
    assert {f["rule"] for f in fr["findings"]} == {"DT001"}
    assert "/fuse/fuse.0/Conv" not in {f["node"] for f in fr["findings"]}
    assert len(fr["findings"]) == 3
    assert any("suppressed" in n for n in fr["notes"])
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_suppress_in_place_and_stale_entry(tmp_path, capsys):
    src = tmp_path / "m.onnx"
    shutil.copy(NEGATIVE, src)
    rc, _, _ = run(["suppress", str(src), "DT001", "--in-place"], capsys)
    assert rc == 0
    rc, out, _ = run(["check", str(src), "--format", "json"], capsys)
    notes = json.loads(out)["files"][0]["notes"]
    assert any("stale" in n and "DT001" in n for n in notes)
    # adding the same code again does not duplicate it
    run(["suppress", str(src), "DT001", "--in-place"], capsys)
    meta = [p.value for p in onnx.load(src).metadata_props if p.key == "onnxlint:ignore"]
    assert meta == ["DT001"]


@pytest.mark.parametrize(
    "args,needle",
    [
        (["XX001", "-o", "OUT"], "XX001"),
        (["DT001"], "exactly one"),
        (["DT001", "-o", "OUT", "--in-place"], "exactly one"),
    ],
)
def test_suppress_bad_input(tmp_path, capsys, args, needle):
    src = tmp_path / "m.onnx"
    shutil.copy(LEGACY, src)
    args = [str(tmp_path / "o.onnx") if a == "OUT" else a for a in args]
    rc, out, err = run(["suppress", str(src)] + args, capsys)
    assert rc == 2 and needle in err
    assert not (tmp_path / "o.onnx").exists()


def test_suppress_bad_model(tmp_path, capsys):
    src = tmp_path / "m.onnx"
    src.write_bytes(open(LEGACY, "rb").read()[:500])
    rc, out, err = run(["suppress", str(src), "DT001", "-o", str(tmp_path / "o.onnx")], capsys)
    assert rc == 2 and "truncated" in err and "m.onnx" in err
    assert not (tmp_path / "o.onnx").exists()


def test_suppress_external_data_model_elsewhere_refused(tmp_path, capsys):
    m = onnx.load(LEGACY)
    d = tmp_path / "ext"
    d.mkdir()
    onnx.save_model(m, d / "m.onnx", save_as_external_data=True, location="m.onnx.data", size_threshold=0)
    other = tmp_path / "other"
    other.mkdir()
    rc, out, err = run(["suppress", str(d / "m.onnx"), "DT001", "-o", str(other / "s.onnx")], capsys)
    assert rc == 2 and "external" in err
    rc, out, err = run(["suppress", str(d / "m.onnx"), "DT002", "-o", str(d / "s.onnx")], capsys)
    assert rc == 0
    rc, out, _ = run(["check", str(d / "s.onnx"), "--format", "json"], capsys)
    assert {f["rule"] for f in json.loads(out)["files"][0]["findings"]} == {"DT001"}


# -- pre-commit and determinism ------------------------------------------------------

def test_pre_commit_hook_definition():
    hooks = yaml.safe_load(open(os.path.join(ROOT, ".pre-commit-hooks.yaml")))
    (hook,) = [h for h in hooks if h["id"] == "onnxlint"]
    assert hook["entry"].split()[:2] == ["onnxlint", "check"]
    assert hook["language"] == "python"
    import re

    assert re.search(hook["files"], "models/a.onnx") and not re.search(hook["files"], "a.py")


def test_pre_commit_style_invocation(tmp_path):
    """pre-commit runs `entry` followed by the changed file names."""
    shutil.copy(NEGATIVE, tmp_path / "ok.onnx")
    shutil.copy(LEGACY, tmp_path / "bad.onnx")
    cmd = [sys.executable, "-m", "analyzer", "check"]
    ok = subprocess.run(cmd + ["ok.onnx"], cwd=tmp_path, capture_output=True, text=True, env=_env())
    bad = subprocess.run(cmd + ["ok.onnx", "bad.onnx"], cwd=tmp_path, capture_output=True, text=True, env=_env())
    assert ok.returncode == 0 and bad.returncode == 1


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_output_is_deterministic(tmp_path, capsys, fmt):
    outs = []
    for i in range(2):
        target = tmp_path / f"r{i}.out"
        rc, _, _ = run(["check", SAMPLES, "--format", fmt, "--output", str(target)], capsys)
        assert rc == 1
        outs.append(target.read_bytes())
    assert outs[0] == outs[1]
