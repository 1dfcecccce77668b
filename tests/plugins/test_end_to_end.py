"""A new rule appears everywhere with no other edit, whether it is one file dropped
into ``rules/`` or the same file shipped as a plugin (an ``onnxlint.rules`` entry
point of an installed distribution): ``rules``, ``check`` in every format (text, json,
sarif, github, html), ``scan``, ``--select``/``--ignore``, configuration and
``suppress``.  And a plugin that cannot be loaded is one line naming it, exit 2.

Each case runs ``python -m analyzer`` in a subprocess with a folder first on its
sys.path: for the drop-in, a copy of the project's ``rules`` package with the rule
file added (the real ``rules/`` is not touched); for the plugin, ``tests/plugins``
(the example package and its ``*.dist-info``)."""
from __future__ import annotations

import json

import pytest
from onnx import TensorProto, helper, save

from tests.plugins._sites import (
    EXAMPLE_CODE,
    EXAMPLE_DIST,
    EXAMPLE_RULE_FILE,
    EXAMPLE_SITE,
    GOOD_RULE,
    rules_copy_with,
    run_onnxlint,
    write_plugin,
)

CODE = EXAMPLE_CODE


def identity_model(path):
    """x -> Identity 'copy' -> y and x -> Relu -> z: one XID001 finding, nothing for the
    built-in rules (the no-op rule leaves an Identity from a graph input to a graph output
    alone: that is the model's interface)."""
    vi = helper.make_tensor_value_info
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"], name="copy"), helper.make_node("Relu", ["x"], ["z"], name="relu")],
        "g",
        [vi("x", TensorProto.FLOAT, [1, 3, 4, 4])],
        [vi("y", TensorProto.FLOAT, [1, 3, 4, 4]), vi("z", TensorProto.FLOAT, [1, 3, 4, 4])],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    save(m, str(path))
    return path


@pytest.fixture(params=["dropped-into-rules", "plugin"])
def setup(request, tmp_path):
    """(sys.path folders, cwd, expected origin) for the rule as a drop-in or as a plugin."""
    if request.param == "plugin":
        return [EXAMPLE_SITE], tmp_path, f"plugin {EXAMPLE_DIST} 0.1.0"
    site = rules_copy_with(tmp_path, EXAMPLE_RULE_FILE)
    return [site], site, "built-in"  # cwd = site: `python -m` puts it first on sys.path


def test_new_rule_appears_everywhere(setup, tmp_path):
    path, cwd, origin = setup
    model = identity_model(tmp_path / "models" / "identity.onnx")

    def run(*args):
        return run_onnxlint(*args, path=path, cwd=cwd)

    # rules: listed last (after the built-in rules of the project), with its origin
    rc, out, err = run("rules")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[-1].split()[:3] == [CODE, "identity-node", "warning"] and origin in lines[-1]
    assert [ln.split()[0] for ln in lines[:-1]] == sorted(ln.split()[0] for ln in lines[:-1])
    rc, out, err = run("rules", "--format", "json")
    assert rc == 0, err
    (entry,) = [r for r in json.loads(out) if r["code"] == CODE]
    assert entry["origin"] == origin and entry["name"] == "identity-node"
    rc, out, err = run("rules", CODE.lower())
    assert rc == 0 and out.startswith(f"{CODE} identity-node") and origin in out and "Why is this bad?" in out, err

    # check, every format
    rc, out, err = run("check", model, "--color", "never")
    assert rc == 1, err
    assert f"identity.onnx:copy: {CODE} [warning] Identity copies 'x' to 'y'" in out
    assert f"({CODE}: 1)" in out.splitlines()[-1]
    rc, out, err = run("check", model, "--format", "json")
    assert rc == 1, err
    (f,) = json.loads(out)["files"][0]["findings"]
    assert (f["rule"], f["node"], f["details"]) == (CODE, "copy", {"input": "x", "output": "y"}) and f["fingerprint"]
    rc, out, err = run("check", model, "--format", "sarif")
    assert rc == 1, err
    run0 = json.loads(out)["runs"][0]
    rules = run0["tool"]["driver"]["rules"]
    assert rules[-1]["id"] == CODE and rules[-1]["name"] == "identity-node"
    assert "Why is this bad?" in rules[-1]["help"]["text"] and rules[-1]["defaultConfiguration"]["level"] == "warning"
    (res,) = run0["results"]
    assert res["ruleId"] == CODE and rules[res["ruleIndex"]]["id"] == CODE
    rc, out, err = run("check", model, "--format", "github")
    assert rc == 1, err
    assert out.startswith("::warning ") and f"title={CODE} identity-node (copy)" in out
    report = tmp_path / "report.html"
    rc, out, err = run("check", model, "--format", "html", "-o", report)
    assert rc == 1, err
    html = report.read_text()
    assert CODE in html and "Identity copies" in html

    # scan (isolated worker processes discover the rule too)
    rc, out, err = run("scan", model.parent, "-j", "1", "-q")
    assert rc == 1, err
    (record,) = [json.loads(ln) for ln in out.splitlines()]
    assert [f["rule"] for f in record["findings"]] == [CODE]

    # selection, configuration and suppressions treat its code like a built-in one
    rc, out, err = run("check", model, "--select", CODE, "--format", "json")
    assert rc == 1 and [f["rule"] for f in json.loads(out)["files"][0]["findings"]] == [CODE], err
    rc, out, err = run("check", model, "--select", "XI", "--ignore", CODE)
    assert rc == 0, err
    cfg = tmp_path / "onnxlint.toml"
    cfg.write_text(f'ignore = ["{CODE}"]\n')
    rc, out, err = run("check", model, "--config", cfg, "--format", "json")
    assert rc == 0 and json.loads(out)["files"][0]["findings"] == [], err
    cfg.write_text(f'select = ["{CODE}"]\nfail-on = "error"\n')
    rc, out, err = run("check", model, "--config", cfg, "--format", "json")
    assert rc == 0 and [f["rule"] for f in json.loads(out)["files"][0]["findings"]] == [CODE], err
    quiet = tmp_path / "quiet.onnx"
    rc, out, err = run("suppress", model, f"{CODE}@copy", "-o", quiet)
    assert rc == 0, err
    rc, out, err = run("check", quiet, "--format", "json")
    assert rc == 0 and json.loads(out)["files"][0]["findings"] == [], err


def test_without_the_plugin_its_code_is_unknown(tmp_path):
    model = identity_model(tmp_path / "identity.onnx")
    rc, out, err = run_onnxlint("check", model, "--select", CODE, cwd=tmp_path)
    assert rc == 2 and CODE in err and "Traceback" not in err


def _one_line_error(rc, out, err, dist):
    assert rc == 2, (out, err)
    assert "Traceback" not in out + err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"onnxlint: error: plugin '{dist}': "), line
    return line


BROKEN = {
    "import-error": ({"XBR001": "xbr001_rule"}, {"xbr001_rule": 'raise ImportError("needs onnx_graphsurgeon")\n'}, "ImportError: needs onnx_graphsurgeon"),
    "syntax-error": ({"XBR001": "xbr001_rule"}, {"xbr001_rule": "def check(:\n"}, "SyntaxError"),
    "missing-module": ({"XBR001": "no_such_module"}, {}, "No module named 'no_such_module'"),
    "missing-attribute": ({"XBR001": "xbr001_rule"}, {"xbr001_rule": GOOD_RULE.format(code="XBR001").replace('SEVERITY = "warning"\n', "")}, "SEVERITY"),
    "clash-with-built-in": ({"DT001": "xbr001_rule"}, {"xbr001_rule": GOOD_RULE.format(code="DT001")}, "rule code DT001 is already defined by rule module 'rules.dt001"),
    "clash-with-plugin": ({CODE: "xbr001_rule"}, {"xbr001_rule": GOOD_RULE.format(code=CODE)}, f"rule code {CODE} is already defined by plugin"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_plugin_that_cannot_be_loaded_is_one_line_naming_it(case, tmp_path):
    entry_points, modules, expected = BROKEN[case]
    site = write_plugin(tmp_path / "site", "onnxlint-broken-plugin", entry_points, modules)
    path = [site, EXAMPLE_SITE] if case == "clash-with-plugin" else [site]
    model = identity_model(tmp_path / "identity.onnx")
    dist = "onnxlint-broken-plugin"
    if case == "clash-with-plugin":  # two plugins with one code: the second by name is blamed
        dist = max(dist, EXAMPLE_DIST)
        expected = f"rule code {CODE} is already defined by plugin '{min('onnxlint-broken-plugin', EXAMPLE_DIST)}'"
    line = _one_line_error(*run_onnxlint("rules", path=path, cwd=tmp_path), dist)
    assert expected in line, line
    for args in (["check", model], ["scan", tmp_path, "-q"]):
        assert _one_line_error(*run_onnxlint(*args, path=path, cwd=tmp_path), dist) == line
    rc, out, err = run_onnxlint("--version", path=path, cwd=tmp_path)  # discovers nothing
    assert rc == 0 and out.startswith("onnxlint "), err
