"""Tests for the sample_models package: the DRLN implementation, the exporters and the committed samples."""

from __future__ import annotations

import collections
import os
import pathlib
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from sample_models.blocks import ASPP, ECAAttention, PlainConvStack, RCANAttention
from sample_models.build import SAMPLE_DIR, SAMPLES, verify_sample, verify
from sample_models.drln import (
    DRLN,
    DRLNAttention,
    cascade_sizes,
    count_parameters,
    drln_parameter_formula,
)
from sample_models.export import build_model, export, lower_opset_18_to_17

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


def _ops(path) -> collections.Counter:
    return collections.Counter(n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node)


def _opset(path) -> int:
    model = onnx.load(str(path), load_external_data=False)
    return {o.domain: o.version for o in model.opset_import}[""]


def _run(path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


# --- the PyTorch models ---------------------------------------------------------------


def test_default_cascades_match_the_paper():
    assert cascade_sizes(20) == [3, 3, 3, 3, 4, 4]
    for n in range(1, 40):
        assert sum(cascade_sizes(n)) == n


def test_drln_x2_has_about_34m_parameters():
    model = DRLN(scale=2)
    count = count_parameters(model)
    assert 33_500_000 <= count <= 35_000_000
    assert count == drln_parameter_formula(scale=2)
    # The frozen mean shifts (two 1x1 convs 3 -> 3 with bias) are the only untrained parameters.
    assert count_parameters(model, trainable_only=False) == count + 2 * (9 + 3)


@pytest.mark.parametrize("scale", [3, 4])
def test_parameter_formula_other_scales(scale):
    assert count_parameters(DRLN(scale=scale)) == drln_parameter_formula(scale=scale)
    small = dict(n_blocks=7, channels=8, reduction=4)
    assert count_parameters(DRLN(scale, **small)) == drln_parameter_formula(scale, **small)


def test_forward_shapes():
    with torch.no_grad():
        assert DRLN(scale=2).eval()(torch.rand(1, 3, 6, 5)).shape == (1, 3, 12, 10)
        for scale in (2, 3, 4):
            model = DRLN(scale=scale, n_blocks=4, channels=8, reduction=4).eval()
            assert model(torch.rand(2, 3, 7, 9)).shape == (2, 3, 7 * scale, 9 * scale)


def test_small_blocks_keep_shape():
    x = torch.rand(2, 64, 28, 28)
    with torch.no_grad():
        for block in (DRLNAttention(), RCANAttention(), ECAAttention(), PlainConvStack(64), ASPP(64, 16)):
            out = block.eval()(x)
            assert out.shape[0] == 2 and out.shape[2:] == (28, 28)


def test_drln_attention_outer_taps_never_matter():
    # The fact the whole project is about: on the pooled 1x1 map only the centre taps count.
    torch.manual_seed(0)
    layer = DRLNAttention().eval()
    x = torch.rand(2, 64, 9, 9)
    with torch.no_grad():
        before = layer(x)
        for conv in [branch[0] for branch in layer.branches] + [layer.fuse[0]]:
            centre = conv.weight[:, :, 1, 1].clone()
            conv.weight.normal_()
            conv.weight[:, :, 1, 1] = centre
        after = layer(x)
    torch.testing.assert_close(before, after)


# --- export -----------------------------------------------------------------------------


@pytest.mark.parametrize("exporter", ["dynamo", "legacy"])
def test_attention_export_matches_torch(tmp_path, exporter):
    path = export("drln-attention", tmp_path / f"att_{exporter}.onnx", exporter)
    assert _opset(path) == 17
    model, x = build_model("drln-attention")
    assert verify(path, model, x) <= 1e-4
    ops = _ops(path)
    assert ops["Conv"] == 4
    # The exporters' known difference for AdaptiveAvgPool2d(1).
    if exporter == "legacy":
        assert ops["GlobalAveragePool"] == 1 and "ReduceMean" not in ops
        assert not (tmp_path / "att_legacy.onnx.data").exists()
    else:
        assert ops["ReduceMean"] == 1 and "GlobalAveragePool" not in ops
        # dynamo's own layout: the weights beside the model in PATH.data
        assert (tmp_path / "att_dynamo.onnx.data").exists()


@pytest.mark.parametrize("exporter", ["dynamo", "legacy"])
@pytest.mark.parametrize("model_name", ["drln-attention", "eca-attention"])
def test_dynamic_export_accepts_two_sizes(tmp_path, exporter, model_name):
    path = export(model_name, tmp_path / "dyn.onnx", exporter, dynamic=True, external_data=False)
    dims = [d.dim_param or d.dim_value for d in onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 64, "height", "width"]
    model, _ = build_model(model_name)
    for shape in [(1, 64, 16, 16), (3, 64, 7, 11)]:
        x = torch.rand(shape)
        with torch.no_grad():
            want = model(x).numpy()
        np.testing.assert_allclose(_run(path, x.numpy()), want, atol=1e-4, rtol=0)


def test_dynamo_external_data_loads_from_model_folder(tmp_path, monkeypatch):
    cfg = dict(n_blocks=2, channels=8, reduction=4, height=12, width=12)
    path = export("drln", tmp_path / "m" / "drln.onnx", "dynamo", scale=3, **cfg)
    assert (tmp_path / "m" / "drln.onnx.data").exists()
    monkeypatch.chdir(tmp_path)  # onnx.load must resolve PATH.data relative to the model, not the cwd
    model, x = build_model("drln", 3, **cfg)
    assert verify(path, model, x) <= 1e-4
    assert _opset(path) == 17
    # Forcing one file removes the stale .data and still loads.
    export("drln", path, "dynamo", scale=3, external_data=False, **cfg)
    assert not (tmp_path / "m" / "drln.onnx.data").exists()
    assert verify(path, model, x) <= 1e-4


def test_dynamo_export_is_deterministic(tmp_path):
    a = export("aspp", tmp_path / "a.onnx", "dynamo", external_data=False)
    b = export("aspp", tmp_path / "b.onnx", "dynamo", external_data=False)
    assert a.read_bytes() == b.read_bytes()
    assert b"stack_trace" not in a.read_bytes()  # absolute source paths are stripped


def test_export_cli_subprocess(tmp_path):
    out = tmp_path / "cli" / "stack.onnx"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "sample_models.export", "--model", "conv-stack", "--exporter", "legacy",
           "--channels", "8", "--blocks", "2", "--height", "10", "--width", "12", "--dynamic", "--out", str(out)]
    result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    assert _ops(out) == {"Conv": 2, "Relu": 2}
    assert _run(out, np.random.rand(2, 8, 5, 7).astype(np.float32)).shape == (2, 8, 5, 7)
    bad = subprocess.run([*cmd[:3], "--model", "eca-attention", "--reduction", "4", "--out", str(out)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "does not take option 'reduction'" in bad.stderr


def test_lower_opset_refuses_what_it_does_not_know():
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])
    ys = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 2]) for n in ("a", "b")]
    split = helper.make_node("Split", ["x"], ["a", "b"], axis=1, num_outputs=2)
    model = helper.make_model(helper.make_graph([split], "g", [x], ys), opset_imports=[helper.make_opsetid("", 18)])
    with pytest.raises(NotImplementedError, match="Split"):
        lower_opset_18_to_17(model)

    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    mean = helper.make_node("ReduceMean", ["x", "axes"], ["a"], keepdims=1)
    out = helper.make_tensor_value_info("a", TensorProto.FLOAT, [2, 1])
    graph = helper.make_graph([mean], "g", [x], [out], initializer=[axes])
    model = lower_opset_18_to_17(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]))
    onnx.checker.check_model(model, full_check=True)
    assert not model.graph.initializer
    assert [(a.name, list(a.ints)) for a in model.graph.node[0].attribute if a.name == "axes"] == [("axes", [1])]


# --- the committed samples ----------------------------------------------------------------


def test_committed_samples_exist_and_are_small():
    paths = [SAMPLE_DIR / s.filename for s in SAMPLES]
    assert all(p.is_file() for p in paths), [p.name for p in paths if not p.is_file()]
    assert not list(SAMPLE_DIR.glob("*.data"))  # each sample is self-contained
    assert sum(p.stat().st_size for p in paths) < 5_000_000


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.filename)
def test_committed_sample_verifies(sample):
    # loads, passes the full checker, and onnxruntime equals the seeded torch model
    assert verify_sample(sample, SAMPLE_DIR) <= 1e-4
    assert _opset(SAMPLE_DIR / sample.filename) == 17


def test_committed_attention_pooling_ops():
    assert _ops(SAMPLE_DIR / "drln_attention_legacy.onnx")["GlobalAveragePool"] == 1
    for name in ("drln_attention_dynamo.onnx", "drln_attention_dynamic_dynamo.onnx"):
        assert _ops(SAMPLE_DIR / name)["ReduceMean"] == 1
    narrow = _ops(SAMPLE_DIR / "drln_narrow_dynamo.onnx")
    assert narrow["ReduceMean"] == 20 and narrow["Conv"] == 245
