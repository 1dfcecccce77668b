"""Conditional DT001 findings against brute force.

A DeepLab-style network (a stride-2 backbone to output stride 8 or 16, then ASPP
with dilations 12/24/36) is exported with dynamic H and W by both torch exporters.
DT001 reports, per dilated conv, the input sizes at which taps are dead.  Each
threshold T is then checked by execution: the network is exported again with a
static input of T and of T + 1, and the onnxruntime oracle (tests/oracle.py, which
knows nothing of the geometry) finds which taps of each conv change the output.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

import analyzer  # noqa: E402
from sample_models.blocks import ASPP  # noqa: E402
from sample_models.export import INPUT_NAME, _dynamo_proto, _legacy_proto  # noqa: E402

from . import oracle  # noqa: E402

DILATIONS = (12, 24, 36)


class DeepLabish(torch.nn.Module):
    def __init__(self, output_stride: int):
        super().__init__()
        layers, c = [], 3
        for _ in range(int(math.log2(output_stride))):
            layers += [torch.nn.Conv2d(c, 8, 3, stride=2, padding=1), torch.nn.ReLU()]
            c = 8
        self.backbone = torch.nn.Sequential(*layers)
        self.aspp = ASPP(8, 4, DILATIONS)

    def forward(self, x):
        return self.aspp(self.backbone(x))


def _model(output_stride):
    torch.manual_seed(output_stride)
    return DeepLabish(output_stride).eval()


def _export(output_stride, exporter, path, size=None):
    model = _model(output_stride)
    h, w = size if size is not None else (96, 80)
    x = torch.rand(2 if size is None else 1, 3, h, w)
    with torch.no_grad():
        if exporter == "dynamo":
            proto = _dynamo_proto(model, x, dynamic=size is None)
        else:
            proto = _legacy_proto(model, x, dynamic=size is None, upscales=False)
    import onnx

    onnx.save_model(proto, str(path))
    return path


def _by_dilation(findings):
    """dilation -> {frozenset of bounded symbols' axes: finding}"""
    out: dict = {}
    for f in findings:
        if f.rule != "DT001" or not f.details.get("condition"):
            continue
        d = f.details["dilations"][0]
        axes = frozenset(c["axis"] for c in f.details["condition"])
        out.setdefault(d, {})[axes] = f
    return out


def _oracle_dead(path):
    """dilation -> set of dead taps, by execution."""
    import onnx

    model = onnx.load(str(path))
    found = oracle.dead_taps_by_execution(path, model=model)
    out = {}
    for index, ct in found.items():
        node = model.graph.node[index]
        dil = next((list(a.ints) for a in node.attribute if a.name == "dilations"), [1, 1])
        if dil[0] > 1:
            out[dil[0]] = {tuple(t) for t in ct.dead_taps}
    return out


@pytest.fixture(scope="module", params=[(8, "legacy"), (8, "dynamo"), (16, "legacy"), (16, "dynamo")], ids=lambda p: f"os{p[0]}-{p[1]}")
def dynamic_case(request, tmp_path_factory):
    output_stride, exporter = request.param
    path = _export(output_stride, exporter, tmp_path_factory.mktemp("aspp") / f"aspp_os{output_stride}_{exporter}.onnx")
    (fr,) = analyzer.lint(str(path)).files
    assert fr.status == "ok", fr.error
    return output_stride, exporter, path, fr


def test_every_dilated_branch_gets_conditions_in_the_input_dims(dynamic_case):
    output_stride, exporter, path, fr = dynamic_case
    by_d = _by_dilation(fr.findings)
    assert sorted(by_d) == list(DILATIONS), [f.message for f in fr.findings]
    for d, per in by_d.items():
        assert set(per) == {frozenset({2}), frozenset({3}), frozenset({2, 3})}
        joint = per[frozenset({2, 3})]
        assert joint.severity == "info"
        for clause in joint.details["condition"]:
            assert clause["input"] == INPUT_NAME and clause["op"] == "<="
        # the example of the issue: a dilation-36 conv at output stride 8 loses all but
        # its centre tap up to an input of 288 (brute force below is the real proof)
        if d == 36 and output_stride == 8:
            assert [c["value"] for c in joint.details["condition"]] == [288, 288]
            assert "only the centre tap is live" in joint.message
    # nothing else is reported: the backbone's convs only lose taps on maps smaller
    # than their kernel, which is expected
    assert all(f.details.get("dilations", [1])[0] in DILATIONS for f in fr.findings if f.rule == "DT001")


def test_thresholds_match_brute_force(dynamic_case, tmp_path):
    """At T taps are dead exactly as reported; at T + 1 (the size just past it) the
    conv has no dead tap; bounding one axis only kills exactly the reported taps."""
    output_stride, exporter, path, fr = dynamic_case
    by_d = _by_dilation(fr.findings)
    assert sorted(by_d) == list(DILATIONS)
    for d, per in sorted(by_d.items()):
        joint = per[frozenset({2, 3})]
        t_h, t_w = (c["value"] for c in sorted(joint.details["condition"], key=lambda c: c["axis"]))
        at = _oracle_dead(_export(output_stride, "legacy", tmp_path / f"s{d}_at.onnx", (t_h, t_w)))
        assert at[d] == {tuple(t) for t in joint.details["dead_taps"]}, (d, t_h)
        past = _oracle_dead(_export(output_stride, "legacy", tmp_path / f"s{d}_past.onnx", (t_h + 1, t_w + 1)))
        assert past[d] == set(), (d, t_h + 1)
        only_h = per[frozenset({2})]
        mixed = _oracle_dead(_export(output_stride, "legacy", tmp_path / f"s{d}_h.onnx", (t_h, t_w + 1)))
        assert mixed[d] == {tuple(t) for t in only_h.details["dead_taps"]}


def test_input_shape_turns_conditions_into_definite_findings(dynamic_case):
    output_stride, exporter, path, fr = dynamic_case
    by_d = _by_dilation(fr.findings)
    assert sorted(by_d) == list(DILATIONS)
    for d, per in by_d.items():
        joint = per[frozenset({2, 3})]
        t = joint.details["condition"][0]["value"]
        for size, expect_dead in ((t, True), (t + 1, False)):
            (bound,) = analyzer.lint(str(path), input_shapes={INPUT_NAME: [1, 3, size, size]}).files
            mine = [f for f in bound.findings if f.rule == "DT001" and f.details["dilations"][0] == d]
            assert not any(f.details.get("condition") for f in bound.findings)
            if expect_dead:
                assert len(mine) == 1 and mine[0].severity == "warning"
                assert mine[0].details["dead_taps"] == joint.details["dead_taps"]
            else:
                assert mine == []


def test_json_condition_contract(dynamic_case):
    output_stride, exporter, path, fr = dynamic_case
    out = subprocess.run([sys.executable, "-m", "analyzer", "check", str(path), "--format", "json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr  # info findings do not fail the default gate
    doc = json.loads(out.stdout)
    conds = [f["details"]["condition"] for f in doc["files"][0]["findings"] if f["details"].get("condition")]
    assert conds
    for cond in conds:
        for clause in cond:
            assert set(clause) >= {"input", "axis", "op", "value"}
            assert isinstance(clause["value"], int) and clause["op"] == "<="
    gate = subprocess.run([sys.executable, "-m", "analyzer", "check", str(path), "--fail-on", "info"], capture_output=True, text=True)
    assert gate.returncode == 1
    # nothing is dead in the model as given: conditional findings are not dead weights
    # the summary counts them among the findings ("N findings ..., K of them only at some input sizes"),
    # not as extra findings on top of the total
    summary = gate.stdout.splitlines()[-1]
    n = len(doc["files"][0]["findings"])
    assert f" {n} finding{'s' if n != 1 else ''} (" in summary
    assert f"), {len(conds)} of them only at some input sizes, 0 dead weights" in summary
    assert "more finding" not in summary
