"""Baselines that cannot collide (issue 19): an entry is the model's path (relative to
the baseline file) plus the finding's in-model fingerprint, so the dynamo exporter's
generic node names (``node_conv2d``) in one model never hide another model's findings;
node order, a re-export that renames nodes and a recorded move keep matching."""
import json
import os
import shutil

import onnx
import pytest

from analyzer import lint
from tests.test_ci_gate import SAMPLES, run, shuffled_copy

DRLN = os.path.join(SAMPLES, "drln_attention_dynamo.onnx")
ASPP = os.path.join(SAMPLES, "aspp_dynamo.onnx")


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "models").mkdir()
    shutil.copy(DRLN, tmp_path / "models" / "drln.onnx")
    shutil.copy(ASPP, tmp_path / "models" / "aspp.onnx")
    return tmp_path


def rules_of(out):
    return sorted((os.path.basename(fr["path"]), f["rule"], f["node"]) for fr in json.loads(out)["files"] for f in fr["findings"])


def test_generic_node_names_collide_without_the_path():
    """The premise: the two models share in-model fingerprints (same rule, node name, op)."""
    a = {f.fingerprint for f in lint(DRLN).findings}
    b = {f.fingerprint for f in lint(ASPP).findings}
    assert a & b


def test_baseline_of_one_model_does_not_hide_another(repo, capsys):
    rc, _, err = run(["check", "models/drln.onnx", "--write-baseline", "b.json"], capsys, cwd=repo)
    assert rc == 0 and "onnxlint: 5 findings written to b.json" in err
    doc = json.loads((repo / "b.json").read_text())
    assert doc["onnxlint_baseline"] == 2 and {e["path"] for e in doc["findings"]} == {"models/drln.onnx"}
    _, alone, _ = run(["check", "models/aspp.onnx", "--format", "json"], capsys, cwd=repo)
    rc, out, err = run(["check", "models/aspp.onnx", "--baseline", "b.json", "--format", "json"], capsys, cwd=repo)
    assert rc == 1
    assert rules_of(out) == rules_of(alone) and len(rules_of(out)) == 2
    assert "baseline b.json: 0 matched, 2 new, 0 stale (fixed) entries" in err
    assert json.loads(out)["baseline"] == {"file": "b.json", "matched": 0, "new": 2, "stale": 0}


def test_paths_are_relative_to_the_baseline_file_not_the_cwd(repo, capsys):
    run(["check", "models/drln.onnx", "--write-baseline", "b.json"], capsys, cwd=repo)
    rc, out, err = run(["check", "drln.onnx", "--baseline", "../b.json", "--format", "json"], capsys, cwd=repo / "models")
    assert rc == 0 and rules_of(out) == []
    assert "5 matched, 0 new, 0 stale" in err


def test_node_order_shuffled_still_matches(repo, capsys):
    run(["check", "models/drln.onnx", "--write-baseline", "b.json"], capsys, cwd=repo)
    path = str(repo / "models" / "drln.onnx")
    shuffled_copy(DRLN, path, seed=3)
    assert [n.name for n in onnx.load(path).graph.node] != [n.name for n in onnx.load(DRLN).graph.node]
    rc, out, err = run(["check", "models/drln.onnx", "--baseline", "b.json", "--format", "json"], capsys, cwd=repo)
    assert rc == 0 and rules_of(out) == []
    assert json.loads(out)["baseline"]["matched"] == 5


def test_reexport_renaming_nodes_still_matches_by_rule_op_and_message(repo, capsys):
    run(["check", "models/drln.onnx", "--write-baseline", "b.json"], capsys, cwd=repo)
    m = onnx.load(DRLN)
    for i, n in enumerate(m.graph.node):  # a re-export numbering its nodes differently
        n.name = f"n{i + 100}_{n.op_type.lower()}"
    onnx.save(m, str(repo / "models" / "drln.onnx"))
    before = {f.fingerprint for f in lint(DRLN).findings}
    after = {f.fingerprint for f in lint(str(repo / "models" / "drln.onnx")).findings}
    assert not before & after  # every fingerprint changed
    rc, out, err = run(["check", "models/drln.onnx", "--baseline", "b.json", "--format", "json"], capsys, cwd=repo)
    assert rc == 0 and rules_of(out) == [] and "5 matched, 0 new, 0 stale" in err


def test_move_recorded_in_the_baseline(repo, capsys):
    run(["check", "models/drln.onnx", "--write-baseline", "b.json"], capsys, cwd=repo)
    (repo / "zoo").mkdir()
    os.rename(repo / "models" / "drln.onnx", repo / "zoo" / "drln.onnx")
    rc, out, err = run(["check", "zoo/drln.onnx", "--baseline", "b.json", "--format", "json"], capsys, cwd=repo)
    assert rc == 1 and len(rules_of(out)) == 5 and "0 matched, 5 new, 0 stale" in err  # unrecorded move: new
    doc = json.loads((repo / "b.json").read_text())
    doc["moved"] = {"models/drln.onnx": "zoo/drln.onnx"}
    (repo / "b.json").write_text(json.dumps(doc))
    rc, out, err = run(["check", "zoo/drln.onnx", "--baseline", "b.json", "--format", "json"], capsys, cwd=repo)
    assert rc == 0 and rules_of(out) == [] and "5 matched, 0 new, 0 stale" in err
    # rewriting the baseline records the new path
    run(["check", "zoo/drln.onnx", "--write-baseline", "b.json"], capsys, cwd=repo)
    doc = json.loads((repo / "b.json").read_text())
    assert {e["path"] for e in doc["findings"]} == {"zoo/drln.onnx"} and doc["moved"] == {}


def test_stale_entries_count_only_models_checked(repo, capsys):
    run(["check", "models", "--write-baseline", "b.json"], capsys, cwd=repo)
    rc, out, err = run(["check", "models/drln.onnx", "--baseline", "b.json", "--ignore", "DT002"], capsys, cwd=repo)
    # drln: 4 DT001 match, its DT002 entry is stale; aspp's 2 entries are not counted (not checked)
    assert rc == 0 and "4 matched, 0 new, 1 stale (fixed) entries" in err


def test_one_entry_matches_once(repo, capsys):
    run(["check", "models/drln.onnx", "--write-baseline", "b.json"], capsys, cwd=repo)
    rc, out, err = run(["check", "models/drln.onnx", "models/drln.onnx", "--baseline", "b.json", "--format", "json"], capsys, cwd=repo)
    assert rc == 1 and len(rules_of(out)) == 5 and "5 matched, 5 new" in err


def test_format_1_is_refused_with_how_to_regenerate(repo, capsys):
    (repo / "old.json").write_text(json.dumps({"onnxlint_baseline": 1, "findings": [{"fingerprint": "ab" * 16, "rule": "DT001", "path": "x", "node": "n"}]}))
    rc, out, err = run(["check", "models/drln.onnx", "--baseline", "old.json"], capsys, cwd=repo)
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "old.json" in err and "--write-baseline old.json" in err and "format 1" in err


@pytest.mark.parametrize("moved", ['"x"', '{"a": 3}'])
def test_bad_moved_table_is_one_line(repo, capsys, moved):
    (repo / "b.json").write_text('{"onnxlint_baseline": 2, "moved": %s, "findings": []}' % moved)
    rc, _, err = run(["check", "models/drln.onnx", "--baseline", "b.json"], capsys, cwd=repo)
    assert rc == 2 and '"moved"' in err and len(err.strip().splitlines()) == 1


def test_write_baseline_with_baseline_records_every_finding(repo, capsys):
    run(["check", "models/drln.onnx", "--write-baseline", "b.json"], capsys, cwd=repo)
    rc, out, err = run(["check", "models", "--baseline", "b.json", "--write-baseline", "b.json"], capsys, cwd=repo)
    assert rc == 0 and "7 findings written to b.json" in err and "5 matched, 2 new, 0 stale" in err
    doc = json.loads((repo / "b.json").read_text())
    assert sorted({e["path"] for e in doc["findings"]}) == ["models/aspp.onnx", "models/drln.onnx"] and len(doc["findings"]) == 7
