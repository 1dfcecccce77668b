"""Regenerate and verify the committed sample ONNX files in this folder.

    python -m sample_models.build            # rebuild all, verify, print a summary
    python -m sample_models.build --check    # only verify the files that are there

Every sample is one self-contained file (no external data), opset 17, seeded weights, so a
rebuild with the same torch/onnx versions writes byte-identical files. Verification: the file
loads with ``onnx.load``, passes ``onnx.checker.check_model(full_check=True)``, and
onnxruntime reproduces the PyTorch output within ``atol=1e-4``.
See ``README.md`` beside this file for what each sample is for.
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import sys
from dataclasses import dataclass, field

import numpy as np
import onnx
import torch

from .export import INPUT_NAME, build_model, export

__all__ = ["SAMPLES", "SAMPLE_DIR", "Sample", "build", "op_counts", "verify", "verify_sample"]

SAMPLE_DIR = pathlib.Path(__file__).resolve().parent


@dataclass(frozen=True)
class Sample:
    filename: str
    model: str
    exporter: str
    dynamic: bool = False
    cfg: dict = field(default_factory=dict)
    positive: bool = False  # expected to trigger the dead-conv-taps rule


_NARROW_DRLN = {"n_blocks": 20, "channels": 4, "reduction": 2, "height": 24, "width": 24}

SAMPLES = (
    Sample("drln_attention_dynamo.onnx", "drln-attention", "dynamo", positive=True),
    Sample("drln_attention_legacy.onnx", "drln-attention", "legacy", positive=True),
    Sample("drln_attention_dynamic_dynamo.onnx", "drln-attention", "dynamo", dynamic=True, positive=True),
    Sample("drln_narrow_dynamo.onnx", "drln", "dynamo", cfg=_NARROW_DRLN, positive=True),
    Sample("rcan_attention_dynamo.onnx", "rcan-attention", "dynamo"),
    Sample("rcan_attention_legacy.onnx", "rcan-attention", "legacy"),
    Sample("conv_stack_dynamo.onnx", "conv-stack", "dynamo"),
    Sample("conv_stack_legacy.onnx", "conv-stack", "legacy"),
    Sample("eca_attention_dynamo.onnx", "eca-attention", "dynamo"),
    Sample("aspp_dynamo.onnx", "aspp", "dynamo", positive=True),
)


def op_counts(path) -> dict[str, int]:
    """Op type -> number of nodes in the main graph."""
    model = onnx.load(str(path), load_external_data=False)
    return dict(sorted(collections.Counter(node.op_type for node in model.graph.node).items()))


def verify(path, model: torch.nn.Module, x: torch.Tensor, atol: float = 1e-4) -> float:
    """Load, check and run ``path`` in onnxruntime; assert it matches ``model(x)``. Returns max |diff|."""
    import onnxruntime as ort

    path = pathlib.Path(path)
    onnx.load(str(path))  # with any external data, resolved from the model's own folder
    onnx.checker.check_model(str(path), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {INPUT_NAME: x.numpy()})[0]
    with torch.no_grad():
        want = model(x).numpy()
    if got.shape != want.shape:
        raise AssertionError(f"{path.name}: onnxruntime shape {got.shape} != torch shape {want.shape}")
    diff = float(np.max(np.abs(got - want)))
    if diff > atol:
        raise AssertionError(f"{path.name}: onnxruntime differs from torch by {diff:.3g} > {atol}")
    return diff


def verify_sample(sample: Sample, directory: pathlib.Path) -> float:
    path = directory / sample.filename
    model, x = build_model(sample.model, **sample.cfg)
    diff = verify(path, model, x)
    if sample.dynamic:  # a second, different size must also run
        _, x2 = build_model(sample.model, **dict(sample.cfg, batch=3, height=9, width=13))
        diff = max(diff, verify(path, model, x2))
    if (directory / (sample.filename + ".data")).exists():
        raise AssertionError(f"{sample.filename}: samples must not use external data")
    return diff


def build(directory=SAMPLE_DIR, check_only: bool = False, out=sys.stdout) -> list[tuple[Sample, int, float]]:
    """(Re)build every sample into ``directory`` and verify it; returns (sample, bytes, max diff)."""
    directory = pathlib.Path(directory)
    results = []
    for sample in SAMPLES:
        path = directory / sample.filename
        if not check_only:
            export(sample.model, path, sample.exporter, dynamic=sample.dynamic, external_data=False, **sample.cfg)
        diff = verify_sample(sample, directory)
        size = path.stat().st_size
        results.append((sample, size, diff))
        kind = "positive" if sample.positive else "negative"
        ops = ", ".join(f"{op} {n}" for op, n in op_counts(path).items())
        print(f"{sample.filename:38s} {size:>9,d} B  {kind:8s} max|diff| {diff:.1e}  {ops}", file=out)
    total = sum(size for _, size, _ in results)
    print(f"{'total':38s} {total:>9,d} B", file=out)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sample_models.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only verify the existing files")
    parser.add_argument("--dir", type=pathlib.Path, default=SAMPLE_DIR, help="where the samples live")
    args = parser.parse_args(argv)
    build(args.dir, check_only=args.check)
    return 0


if __name__ == "__main__":
    sys.exit(main())
