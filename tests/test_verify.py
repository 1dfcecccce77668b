"""``onnxlint verify`` (issue 7): DT001 findings confirmed or refuted by execution.

The models come from ``tests/test_fix.py``'s builders; the full DRLN x2 exports are shared with
it through ``drln_exports`` (exported once per session).  Refutation is exercised by making the
rule claim a live tap dead (monkeypatched), and an inconclusive verdict by a conv whose input
is always zero.
"""
from __future__ import annotations

import json
import pathlib
import sys

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import rules.dt001_dead_conv_taps as dt001
from analyzer import cli
from analyzer.commands import verify as V
from analyzer.fix import compare as C, feeds as F
from tests.test_fix import attention_model, conv_model, drln_exports, save  # noqa: F401  (fixture)

REPO = pathlib.Path(__file__).resolve().parent.parent
SAMPLES = REPO / "sample_models"

GEOMETRIES = {
    "grouped": lambda: conv_model([1, 8, 2, 3], [8, 2, 5, 5], group=4, dilations=[2, 2], pads=[4, 4, 4, 4]),
    "conv1d": lambda: conv_model([1, 3, 2], [4, 3, 7], pads=[4, 4]),
    "7x7_on_3x3": lambda: conv_model([1, 4, 3, 3], [5, 4, 7, 7], pads=[3, 3, 3, 3], post_relu=True),
    "conv3d": lambda: conv_model([1, 2, 1, 4, 4], [3, 2, 3, 3, 3], pads=[1, 1, 1, 1, 1, 1]),
    "conv_transpose": lambda: conv_model([1, 4, 1, 1], [4, 6, 3, 3], op="ConvTranspose", pads=[1, 1, 1, 1]),
    "conv_transpose_strided_grouped": lambda: conv_model(
        [1, 4, 2, 2], [4, 3, 5, 5], op="ConvTranspose", group=2, strides=[2, 2], pads=[3, 3, 3, 3], output_padding=[1, 1]),
    "uneven_live_taps": lambda: conv_model([1, 2, 2], [3, 2, 4], strides=[3], pads=[2, 3]),
    "attention": lambda: attention_model(),
}


@pytest.mark.parametrize("name", sorted(GEOMETRIES))
def test_confirms_geometry(name, tmp_path):
    path = save(GEOMETRIES[name](), tmp_path / f"{name}.onnx")
    v = V.verify_findings(path)
    assert v["findings"], "the analyzer should flag this model"
    assert v["ok"] and v["counts"]["confirmed"] == len(v["findings"]), v["findings"]
    taps = [r for r in v["findings"] if r["rule"] == "DT001"]  # the others are verified through their fix
    assert taps
    for r in taps:
        assert r["dead_max_abs"] == 0.0
        assert any(t["changed"] for t in r["live"]["tries"])


def test_computed_weight_is_verified(tmp_path):
    model = conv_model([1, 4, 1, 1], [4, 4, 3, 3], pads=[1, 1, 1, 1])
    w = model.graph.initializer[0]
    model.graph.node.insert(0, helper.make_node("Constant", [], ["Wc"], name="const", value=w))
    next(n for n in model.graph.node if n.name == "conv").input[1] = "Wc"
    del model.graph.initializer[0]
    v = V.verify_findings(save(model, tmp_path / "c.onnx"))
    assert v["counts"] == {"confirmed": 1, "refuted": 0, "inconclusive": 0, "skipped": 0}


def test_refuted_finding_exits_2(tmp_path, monkeypatch, capsys):
    """A finding that claims a live tap is dead must be refuted (and is a bug: exit 2)."""
    path = save(GEOMETRIES["7x7_on_3x3"](), tmp_path / "m.onnx")
    real = dt001.check

    def lying(model, options=None):
        for f in real(model, options):
            live = f.details["live_taps_per_axis"]
            f.details["live_taps_per_axis"] = [live[0][1:]] + live[1:]  # tap row 1 declared dead
            yield f

    monkeypatch.setattr(dt001, "check", lying)
    assert cli.main(["verify", str(path)]) == 2
    out = capsys.readouterr().out
    assert "DT001 refuted" in out and "bug in onnxlint" in out and "0 confirmed, 1 refuted" in out


def test_inconclusive_when_input_is_always_zero(tmp_path, capsys):
    zero = numpy_helper.from_array(np.zeros((1, 4, 1, 1), np.float32), "zero")
    pre = [helper.make_node("Mul", ["x", "zero"], ["xz"], name="mul")]
    model = conv_model([1, 4, 1, 1], [4, 4, 3, 3], pads=[1, 1, 1, 1], x_name="xz", pre=pre)
    model.graph.initializer.append(zero)
    path = save(model, tmp_path / "z.onnx")
    assert cli.main(["verify", str(path)]) == 2
    assert "DT001 inconclusive" in capsys.readouterr().out


def test_cli_json_and_drln_attention_samples(capsys):
    for name in ("drln_attention_dynamo", "drln_attention_legacy"):
        assert cli.main(["verify", str(SAMPLES / f"{name}.onnx"), "--format", "json"]) == 0
        d = json.loads(capsys.readouterr().out)
        assert d["tool"]["name"] == "onnxlint"
        # 4 dead-tap findings by perturbation, the collapsed-branch finding through its fix
        assert d["counts"] == {"confirmed": 5, "refuted": 0, "inconclusive": 0, "skipped": 0}
        taps = [r for r in d["findings"] if "dead_weights" in r]
        assert len(taps) == 4 and sum(r["dead_weights"] for r in taps) == 3 * 2048 + 6144
        (merged,) = [r for r in d["findings"] if r not in taps]
        assert merged["params_removed"] == merged["waste_weights"] == 3 * 2048 + 6144  # the dead taps its fix needs first


def test_dynamic_dims_defaults_and_binding(capsys):
    path = SAMPLES / "drln_attention_dynamic_dynamo.onnx"
    v = V.verify_findings(path)
    assert v["inputs"] == {"input": [1, 64, 16, 16]} and v["ok"]
    assert cli.main(["verify", str(path), "--input-shape", "input=2,64,5,7"]) == 0
    assert "inputs input=2x64x5x7" in capsys.readouterr().out


def test_input_dims_rule():
    class Arg:
        def __init__(self, name, shape, type="tensor(float)"):
            self.name, self.shape, self.type = name, shape, type

    a = [Arg("x", ["batch", 3, "h", "w"]), Arg("y", [None, "h", "seq"]), Arg("z", ["N", "bs", "Batch_Size"])]
    assert F.input_dims(a) == {"x": [1, 3, 16, 16], "y": [1, 16, 16], "z": [1, 1, 1]}
    assert F.input_dims(a, {"x": [2, 3, 5, 6]}) == {"x": [2, 3, 5, 6], "y": [1, 5, 16], "z": [1, 1, 1]}
    with pytest.raises(F.VerifyError):
        F.input_dims(a, {"nope": [1]})
    feeds = F.make_feeds(a, F.input_dims(a), 0)
    assert feeds["x"].dtype == np.float32 and feeds["x"].min() >= 0
    assert (F.make_feeds(a, F.input_dims(a), 1)["x"] < 0).any()  # run 1 is standard normal


def test_tolerances():
    m = conv_model([1, 2, 3], [2, 2, 3])
    assert C.model_precision(m) == "float32"
    m.graph.node.append(helper.make_node("Cast", ["y"], ["y16"], to=TensorProto.FLOAT16))
    assert C.model_precision(m) == "float16"
    a = np.array([1.0, np.nan, np.inf], np.float32)
    ok = C.compare_outputs(["o"], [a], [a + np.float32(5e-6)], "float32")[0]
    assert ok["ok"] and ok["max_abs"] > 0
    assert not C.compare_outputs(["o"], [a], [a + np.float32(5e-4)], "float32")[0]["ok"]
    assert C.compare_outputs(["o"], [a], [a + np.float32(5e-4)], "float16")[0]["ok"]
    assert not C.compare_outputs(["o"], [a], [np.array([1.0, 0.0, np.inf], np.float32)], "float32")[0]["ok"]
    assert not C.compare_outputs(["o"], [np.arange(3)], [np.arange(3) + 1], "float32")[0]["ok"]


def test_verify_without_onnxruntime(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert cli.main(["verify", str(SAMPLES / "drln_attention_legacy.onnx")]) == 2
    assert capsys.readouterr().err == "onnxruntime is not installed: pip install 'onnxlint[verify]'\n"


def test_verify_errors(tmp_path, capsys):
    assert cli.main(["verify", str(tmp_path / "missing.onnx")]) == 2
    assert "not-found" in capsys.readouterr().err
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model at all")
    assert cli.main(["verify", str(bad)]) == 2


@pytest.mark.parametrize("kind", ["dynamo", "legacy"])
def test_drln_full_every_finding_confirmed(kind, drln_exports, capsys):
    rc = cli.main(["verify", str(drln_exports(kind)), "--format", "json"])
    d = json.loads(capsys.readouterr().out)
    assert rc == 0
    taps = [r for r in d["findings"] if r["rule"] == "DT001"]
    # 80 dead-tap findings by perturbation, 20 collapsed-branch groups and any other finding
    # (the legacy export's Identity) through their fixes: all confirmed
    assert len(taps) == 80 and sum(r["rule"] == "DT002" for r in d["findings"]) == 20
    assert d["counts"] == {"confirmed": len(d["findings"]), "refuted": 0, "inconclusive": 0, "skipped": 0}
    assert sum(r["dead_weights"] for r in taps) == 245_760
    assert all(r["dead_max_abs"] == 0.0 for r in taps)
