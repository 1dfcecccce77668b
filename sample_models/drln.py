"""DRLN: Densely Residual Laplacian Super-Resolution (Anwar & Barnes, TPAMI 2020).

An independent implementation written from the architecture facts in
``drln-attention.md``; it mirrors the published layer shapes so that the parameter
count matches the paper (34.43 M trainable parameters at scale 2), but it is not the
reference code.

Layout (``C`` = ``channels``, default 64)::

    x - mean  (fixed 1x1 conv)
    head      3x3 conv 3 -> C                                   = h
    cascades  of DRLN blocks; in a cascade of k blocks, block i sees
              conv3x3(concat(cascade_input, block_1 .. block_i)) -> C + ReLU
              (2C, 3C, ... (k+1)C -> C), and the cascade ends with a long
              residual add of the cascade input
    + h       global residual
    upsample  scale 2/3: 3x3 conv C -> C*s*s + ReLU + PixelShuffle(s); scale 4: two x2 stages
    tail      3x3 conv C -> 3, then + mean (fixed 1x1 conv)

A DRLN block is three residual blocks with dense concatenation (C -> 2C -> 4C -> 8C),
a 1x1 conv 8C -> C + ReLU, then the attention layer :class:`DRLNAttention`.

Cascade split (:func:`cascade_sizes`): ``n_blocks // 3`` cascades (at least one) of 3
blocks each, the remaining 0-2 blocks given one each to the last cascades. For the
default 20 blocks this is 3+3+3+3+4+4, as in the paper. Other examples: 1 -> [1],
4 -> [4], 5 -> [5], 6 -> [3, 3], 7 -> [3, 4], 8 -> [4, 4], 10 -> [3, 3, 4].
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "DIV2K_MEAN",
    "DRLN",
    "DRLNAttention",
    "CALayer",
    "DRLNBlock",
    "ResidualBlock",
    "MeanShift",
    "cascade_sizes",
    "count_parameters",
    "drln_parameter_formula",
]

#: RGB mean of the DIV2K training set (images scaled to [0, 1]).
DIV2K_MEAN = (0.4488, 0.4371, 0.4040)


def cascade_sizes(n_blocks: int) -> list[int]:
    """Split ``n_blocks`` into cascades: ``n // 3`` cascades of 3, remainder to the last ones."""
    if n_blocks < 1:
        raise ValueError(f"n_blocks must be >= 1, got {n_blocks}")
    n_cascades = max(1, n_blocks // 3)
    base, extra = divmod(n_blocks, n_cascades)
    return [base + (1 if i >= n_cascades - extra else 0) for i in range(n_cascades)]


def branch_width(channels: int, reduction: int) -> int:
    """Width of each attention branch: ``channels // reduction``, at least 1."""
    return max(1, channels // reduction)


class MeanShift(nn.Conv2d):
    """Fixed 1x1 conv adding ``sign * mean`` per RGB channel (weights frozen, not trained)."""

    def __init__(self, mean=DIV2K_MEAN, sign: float = -1.0):
        super().__init__(3, 3, kernel_size=1)
        with torch.no_grad():
            self.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
            self.bias.copy_(sign * torch.tensor(mean, dtype=torch.float32))
        self.weight.requires_grad_(False)
        self.bias.requires_grad_(False)


def _conv_relu(cin: int, cout: int, k: int = 3, padding: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=padding, dilation=dilation), nn.ReLU())


class DRLNAttention(nn.Module):
    """DRLN's "Laplacian" channel attention (``CALayer``).

    ``y = AdaptiveAvgPool2d(1)(x)`` is 1x1, so in the three dilated 3x3 branches every
    outer tap reads zero padding: only the centre tap of each kernel ever sees data.
    """

    def __init__(self, channels: int = 64, reduction: int = 16, dilations=(3, 5, 7)):
        super().__init__()
        width = branch_width(channels, reduction)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.branches = nn.ModuleList(
            _conv_relu(channels, width, 3, padding=d, dilation=d) for d in dilations
        )
        self.fuse = nn.Sequential(nn.Conv2d(width * len(dilations), channels, 3, padding=1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pool(x)
        y = torch.cat([branch(y) for branch in self.branches], dim=1)
        return x * self.fuse(y)


#: The name used in the paper's code.
CALayer = DRLNAttention


class ResidualBlock(nn.Module):
    """conv3x3, ReLU, conv3x3, add the input, ReLU (width preserved)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv2(self.relu(self.conv1(x))) + x)


class DRLNBlock(nn.Module):
    """Three densely concatenated residual blocks (C, 2C, 4C wide), 1x1 fuse 8C -> C, attention."""

    def __init__(self, channels: int = 64, reduction: int = 16):
        super().__init__()
        self.res = nn.ModuleList(ResidualBlock(channels * 2**i) for i in range(3))
        self.fuse = _conv_relu(channels * 8, channels, 1, padding=0)
        self.attention = DRLNAttention(channels, reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for res in self.res:
            x = torch.cat([x, res(x)], dim=1)
        return self.attention(self.fuse(x))


class _Cascade(nn.Module):
    """``k`` DRLN blocks; each block's output joins a dense concat that a 3x3 conv reduces to C."""

    def __init__(self, n_blocks: int, channels: int, reduction: int):
        super().__init__()
        self.blocks = nn.ModuleList(DRLNBlock(channels, reduction) for _ in range(n_blocks))
        self.reducers = nn.ModuleList(_conv_relu(channels * (i + 2), channels) for i in range(n_blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dense = x
        out = x
        for block, reduce in zip(self.blocks, self.reducers):
            dense = torch.cat([dense, block(out)], dim=1)
            out = reduce(dense)
        return out + x  # long residual


def _upsampler(channels: int, scale: int) -> nn.Sequential:
    if scale in (2, 3):
        stages = [scale]
    elif scale == 4:
        stages = [2, 2]
    else:
        raise ValueError(f"scale must be 2, 3 or 4, got {scale}")
    layers: list[nn.Module] = []
    for s in stages:
        layers += [nn.Conv2d(channels, channels * s * s, 3, padding=1), nn.ReLU(), nn.PixelShuffle(s)]
    return nn.Sequential(*layers)


class DRLN(nn.Module):
    """The full super-resolution network; input N x 3 x H x W in [0, 1], output N x 3 x sH x sW."""

    def __init__(self, scale: int = 2, n_blocks: int = 20, channels: int = 64, reduction: int = 16):
        super().__init__()
        self.scale = scale
        self.sub_mean = MeanShift(sign=-1.0)
        self.head = nn.Conv2d(3, channels, 3, padding=1)
        self.cascades = nn.ModuleList(_Cascade(k, channels, reduction) for k in cascade_sizes(n_blocks))
        self.upsample = _upsampler(channels, scale)
        self.tail = nn.Conv2d(channels, 3, 3, padding=1)
        self.add_mean = MeanShift(sign=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(self.sub_mean(x))
        y = h
        for cascade in self.cascades:
            y = cascade(y)
        y = self.upsample(y + h)  # global residual
        return self.add_mean(self.tail(y))


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of parameters; by default the trainable ones (the mean shifts are frozen)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def drln_parameter_formula(scale: int = 2, n_blocks: int = 20, channels: int = 64, reduction: int = 16) -> int:
    """Trainable parameter count of :class:`DRLN` from the architecture, without building it."""

    def conv(cin: int, cout: int, k: int) -> int:
        return cin * cout * k * k + cout

    c, w = channels, branch_width(channels, reduction)
    attention = 3 * conv(c, w, 3) + conv(3 * w, c, 3)
    block = sum(2 * conv(c * 2**i, c * 2**i, 3) for i in range(3)) + conv(8 * c, c, 1) + attention
    reducers = sum(conv(c * (i + 2), c, 3) for k in cascade_sizes(n_blocks) for i in range(k))
    stages = [2, 2] if scale == 4 else [scale]
    upsample = sum(conv(c, c * s * s, 3) for s in stages)
    return conv(3, c, 3) + n_blocks * block + reducers + upsample + conv(c, 3, 3)
