"""``onnxlint verify`` on conditional findings and on several findings of one node (issue 19).

A conditional DT001 finding (dead only when an input dim is at most T) must be run where its
condition holds (T) and past it (T + 1, where the taps it calls dead must be live), never at
the default size where it need not hold.  Several findings on one node must each be checked
on its own model: when they shared one rewrite, the last one won and the others were checked
against an input nothing read ("inconclusive ... changed by 0").  Wrong thresholds (the rule
made to claim one too low or one too high, monkeypatched) must be refuted.
"""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import rules.dt001_dead_conv_taps as dt001
from analyzer import cli
from analyzer.commands import verify as V

pytest.importorskip("onnxruntime")


def _model(dims, path):
    """x -> stride-2 conv -> 3x3 dilation-4 'same' conv 'target' (dead taps while the map is
    at most 4, i.e. the input dim at most 8)."""
    rng = np.random.default_rng(0)

    def w(name, shape):
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["x", "w0"], ["p"], name="pre", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["p", "w"], ["y"], name="target", kernel_shape=[3, 3], dilations=[4, 4], pads=[4, 4, 4, 4]),
    ]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, *dims])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [w("w0", (2, 2, 3, 3)), w("w", (3, 2, 3, 3))])  # fmt: skip
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save_model(m, str(path))
    return str(path)


@pytest.fixture
def one_symbol(tmp_path):
    return _model(["S", "S"], tmp_path / "s.onnx")


@pytest.fixture
def two_symbols(tmp_path):
    return _model(["H", "W"], tmp_path / "hw.onnx")


def _dt001(v):
    return [r for r in v["findings"] if r["rule"] == "DT001"]


def test_conditional_finding_is_run_where_it_holds_and_past_it(one_symbol, capsys):
    v = V.verify_findings(one_symbol)
    (r,) = _dt001(v)
    assert r["status"] == "confirmed", r["message"]
    assert r["inputs"] == {"x": [1, 2, 8, 8]}  # at the threshold, not the default 16
    (past,) = r["past"]
    assert past["inputs"] == {"x": [1, 2, 9, 9]} and past["status"] == "refuted"
    assert "S=8" in r["message"] and "S=9" in r["message"] and "bug" not in r["message"]
    assert v["ok"] and v["runs"] >= 3
    rc = cli.main(["verify", one_symbol, "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["counts"]["confirmed"] == 1 and out["counts"]["refuted"] == 0


def test_several_findings_on_one_node_are_each_verified(two_symbols):
    """H alone, W alone, both: three findings on 'target', each confirmed at its own sizes."""
    v = V.verify_findings(two_symbols)
    found = _dt001(v)
    assert len(found) == 3 and {r["node"] for r in found} == {"target"}
    assert all(r["status"] == "confirmed" for r in found), [r["message"] for r in found]
    at = sorted(tuple(r["inputs"]["x"][2:]) for r in found)
    assert at == [(8, 8), (8, 9), (9, 8)]  # a free symbol sits past every threshold
    assert sorted(len(r["past"]) for r in found) == [1, 1, 2]
    assert all(p["status"] == "refuted" for r in found for p in r["past"])


def _shifted(monkeypatch, delta):
    original = dt001.check

    def check(model, options=None):
        for f in original(model, options):
            for c in f.details.get("condition") or []:
                c["value"] += delta
            yield f

    monkeypatch.setattr(dt001, "check", check)


def test_threshold_too_low_is_refuted(one_symbol, monkeypatch):
    _shifted(monkeypatch, -1)  # claims S <= 7: the taps are still dead at 8, past the claim
    (r,) = _dt001(V.verify_findings(one_symbol))
    assert r["status"] == "refuted" and "not exact" in r["message"] and "S=8" in r["message"]


def test_threshold_too_high_is_refuted(one_symbol, monkeypatch):
    _shifted(monkeypatch, +1)  # claims S <= 9: at 9 the taps are live
    v = V.verify_findings(one_symbol)
    (r,) = _dt001(v)
    assert r["status"] == "refuted" and "S=9" in r["message"] and not v["ok"]


def test_duplicate_definite_findings_on_one_node(tmp_path, monkeypatch):
    """Two definite findings on one node (the rule made to report it twice): each gets its
    own run; sharing one, the first was checked against an input nothing read."""
    path = _model([8, 8], tmp_path / "static.onnx")
    original = dt001.check

    def check(model, options=None):
        for f in original(model, options):
            yield f
            yield f

    monkeypatch.setattr(dt001, "check", check)
    found = _dt001(V.verify_findings(path))
    assert len(found) == 2 and all(r["status"] == "confirmed" for r in found), [r["message"] for r in found]
    assert all("changed by 0," not in r["message"] for r in found)


def test_condition_too_large_to_run_is_skipped(one_symbol, monkeypatch):
    monkeypatch.setattr(V, "MAX_RUN_ELEMENTS", 10)
    v = V.verify_findings(one_symbol)
    (r,) = _dt001(v)
    assert r["status"] == "skipped" and "too large" in r["message"] and v["ok"]


def test_rounds_keep_nodes_apart():
    class F:
        def __init__(self, node_index, graph="main"):
            self.node_index, self.graph = node_index, graph

    fs = [F(1), F(2), F(1), F(1), F(2, "sub")]
    batches = V._rounds(fs)
    assert [[i for i, _ in b] for b in batches] == [[0, 1, 4], [2], [3]]
    for b in batches:
        keys = [(f.graph, f.node_index) for _, f in b]
        assert len(keys) == len(set(keys))


def test_text_summary_names_the_rules_with_findings(two_symbols, capsys):
    rc = cli.main(["verify", two_symbols])
    last = capsys.readouterr().out.splitlines()[-1]
    assert rc == 0 and ": 3 DT001 finding(s): 3 confirmed" in last and " 0 WS" not in last
    assert "conditional findings at the sizes of their conditions" in last
