"""TensorFlow-"same" padding computed at run time, as timm's ``Conv2dSame`` writes it.

:class:`Conv2dSame` pads its input so that the output size is ``ceil(i / s)`` whatever
the input size ``i``: ``pad = max((ceil(i/s) - 1)*s + (k - 1)*d + 1 - i, 0)``, split as
``pad // 2`` before and the rest after, then an unpadded conv.  With an int size
(eager, or a static export) the pads are Python ints; with a tensor size (the legacy
exporter traces ``x.size()`` as tensors) they are computed by tensor ops in float
(``/``, ``ceil``, ``clamp``), which export as
``Shape -> Gather -> Cast -> Div -> Ceil -> Sub/Mul/Add -> Clip/Max -> Cast -> Pad``;
the dynamo exporter writes its own symbolic-int arithmetic for dynamic sizes.

:class:`TFSameMobileNet` is a small MobileNet-like network built from it: a stride-2
stem, depthwise 3x3 and 5x5 blocks (some stride 2) with pointwise convs, so that a
32x32 input shrinks to 2x2 and then 1x1 maps under 5x5 kernels, where most taps only
ever read padding.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Conv2dSame", "TFSameMobileNet", "same_pad_amount"]


def same_pad_amount(size, kernel: int, stride: int, dilation: int):
    """Total padding along one axis of size ``size`` (an int, or a 0-d tensor when traced)."""
    if isinstance(size, torch.Tensor):
        return torch.clamp(((size / stride).ceil() - 1) * stride + (kernel - 1) * dilation + 1 - size, min=0)
    return max((math.ceil(size / stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)


class Conv2dSame(nn.Conv2d):
    """A Conv2d with TF "same" padding computed from the input size at run time."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, dilation=1, groups=1, bias=True):
        super().__init__(in_channels, out_channels, kernel_size, stride, 0, dilation, groups, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.size()[-2:]
        ph = same_pad_amount(ih, self.kernel_size[0], self.stride[0], self.dilation[0])
        pw = same_pad_amount(iw, self.kernel_size[1], self.stride[1], self.dilation[1])
        x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, (0, 0), self.dilation, self.groups)


class _Block(nn.Module):
    """Depthwise kxk (TF same) + ReLU, then pointwise 1x1 + ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int):
        super().__init__()
        self.dw = Conv2dSame(cin, cin, kernel, stride, groups=cin)
        self.pw = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        return torch.relu(self.pw(torch.relu(self.dw(x))))


class _Branches(nn.Module):
    """A multi-scale pair: depthwise 3x3 and 5x5 TF-same convs read the same map, summed.  On a
    2x2 or 1x1 map both reduce to the same effective kernel (DT002)."""

    def __init__(self, channels: int):
        super().__init__()
        self.small = Conv2dSame(channels, channels, 3, groups=channels)
        self.large = Conv2dSame(channels, channels, 5, groups=channels)

    def forward(self, x):
        return torch.relu(self.small(x) + self.large(x))


class TFSameMobileNet(nn.Module):
    """Stem 3x3/2, then (kernel, stride) blocks 3/1, 3/2, 5/2, 5/2, 5/1, 3/1: at 32x32 the
    maps are 16, 16, 8, 4, 2, 2, 2; at 16x16 they reach 1x1.  A multi-scale pair of
    3x3 and 5x5 convs, a global pool and a 1x1 classifier end it."""

    PLAN = ((8, 3, 1), (16, 3, 2), (16, 5, 2), (24, 5, 2), (24, 5, 1), (32, 3, 1))

    def __init__(self, width: int = 8, classes: int = 10, plan=None):
        super().__init__()
        plan = self.PLAN if plan is None else plan
        self.stem = Conv2dSame(3, width, 3, 2)
        blocks = []
        cin = width
        for cout, k, s in plan:
            blocks.append(_Block(cin, cout, k, s))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.branches = _Branches(cin)
        self.head = nn.Conv2d(cin, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.branches(self.blocks(torch.relu(self.stem(x))))
        return self.head(x.mean(dim=(2, 3), keepdim=True))


# -- the committed exports ------------------------------------------------------------------
#: (file name, exporter, dynamic H/W): the input is 1x3x32x32 (static) or 1x3xHxW.
EXPORTS = (
    ("tf_same_legacy.onnx", "legacy", False),
    ("tf_same_legacy_dynamic.onnx", "legacy", True),
    ("tf_same_dynamo.onnx", "dynamo", False),
    ("tf_same_dynamo_dynamic.onnx", "dynamo", True),
)
#: The dynamo exporter with dynamic H/W gets a shorter plan: torch 2.13's sympy
#: value-range analysis of the nested ceilings does not finish on the full one (see README).
SHORT_PLAN = ((16, 3, 2), (16, 5, 2), (24, 5, 2))
#: Sizes at which the dynamic exports are checked (maps reach 2x2 and 1x1).
CHECK_SIZES = (32, 24, 16, 8)


def build_tf_same(seed: int = 0, plan=None) -> tuple[nn.Module, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = TFSameMobileNet(plan=plan).eval()
    return model, torch.rand((1, 3, 32, 32), generator=generator)


def export_all(directory, names=None, out=None) -> list:
    """Export (and verify against torch at every CHECK_SIZES for the dynamic ones) into ``directory``."""
    import pathlib
    import sys

    from .build import verify
    from .export import _dynamo_proto, _legacy_proto

    directory = pathlib.Path(directory)
    out = out or sys.stdout
    written = []
    for filename, exporter, dynamic in EXPORTS:
        if names and filename not in names:
            continue
        path = directory / filename
        short = exporter == "dynamo" and dynamic
        model, x = build_tf_same(plan=SHORT_PLAN if short else None)
        proto = _legacy_proto(model, x, dynamic, False) if exporter == "legacy" else _dynamo_proto(model, x, dynamic)
        if short:
            strip_dynamo_extras(proto)
        import onnx

        onnx.save_model(proto, str(path))
        diff = verify(path, model, x)
        if dynamic:
            for s in CHECK_SIZES:
                diff = max(diff, verify(path, model, torch.rand((1, 3, s, s), generator=torch.Generator().manual_seed(s))))
        print(f"{filename:32s} {path.stat().st_size:>8,d} B  max|diff| {diff:.1e}", file=out)
        written.append(path)
    return written


def strip_dynamo_extras(proto) -> None:
    """Drop what makes the dynamic dynamo export large: its value_info (sympy expressions as
    dim names, ~150 KB) and the per-node metadata (module paths and class hierarchies)."""
    del proto.graph.value_info[:]
    for node in proto.graph.node:
        del node.metadata_props[:]


def main(argv=None) -> int:
    import argparse
    import pathlib

    parser = argparse.ArgumentParser(prog="python -m sample_models.tf_same", description="Export the TF-'same' samples.")
    parser.add_argument("--dir", type=pathlib.Path, default=pathlib.Path(__file__).resolve().parent)
    parser.add_argument("names", nargs="*", help="only these files")
    args = parser.parse_args(argv)
    export_all(args.dir, args.names)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
