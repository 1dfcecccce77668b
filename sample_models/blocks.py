"""Small comparison models for the dead-conv-taps rule.

Positives (a conv whose kernel taps can never all read real data):
:class:`~sample_models.drln.DRLNAttention` and :class:`ASPP` (on a 28x28 map).
Negatives (every tap reads data somewhere): :class:`RCANAttention` (1x1 convs only),
:class:`PlainConvStack` (3x3 convs on a full-size map) and :class:`ECAAttention`
(a Conv1d that slides along the channel axis, which is long, not along a 1x1 spatial axis).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["RCANAttention", "PlainConvStack", "ECAAttention", "ASPP"]


class RCANAttention(nn.Module):
    """RCAN channel attention: global average pool, 1x1 conv squeeze/excite, sigmoid gate."""

    def __init__(self, channels: int = 64, reduction: int = 16):
        super().__init__()
        width = max(1, channels // reduction)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.gate = nn.Sequential(
            nn.Conv2d(channels, width, 1),
            nn.ReLU(),
            nn.Conv2d(width, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.pool(x))


class PlainConvStack(nn.Module):
    """``depth`` 3x3 convs (padding 1) with ReLU, width ``channels`` throughout."""

    def __init__(self, channels: int = 16, depth: int = 3):
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(depth):
            layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU()]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class ECAAttention(nn.Module):
    """ECA-Net attention: pooled channel vector treated as a 1-D signal, Conv1d(k=3) across channels.

    The Conv1d's spatial axis is the channel axis (length C), so every tap reads data.
    """

    def __init__(self, channels: int = 64, kernel_size: int = 3):
        super().__init__()
        self.channels = channels
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pool(x).squeeze(-1).transpose(-1, -2)  # N x 1 x C
        y = self.conv(y).transpose(-1, -2).unsqueeze(-1)  # N x C x 1 x 1
        return x * torch.sigmoid(y)


class ASPP(nn.Module):
    """DeepLab-style atrous spatial pyramid pooling head (without the image-pooling branch).

    A 1x1 conv and 3x3 convs with dilation ``d`` and padding ``d`` run in parallel on the
    feature map; their outputs are concatenated and projected by a 1x1 conv. On a 28x28
    map the dilation-36 kernel reaches outside the map with all outer taps (only its
    centre tap is live); the dilation-24 outer taps are live for only 4 of 28 output
    positions per axis.
    """

    def __init__(self, in_channels: int = 64, channels: int = 16, dilations=(12, 24, 36)):
        super().__init__()
        branches: list[nn.Module] = [nn.Sequential(nn.Conv2d(in_channels, channels, 1), nn.ReLU())]
        for d in dilations:
            branches.append(nn.Sequential(nn.Conv2d(in_channels, channels, 3, padding=d, dilation=d), nn.ReLU()))
        self.branches = nn.ModuleList(branches)
        self.project = nn.Sequential(nn.Conv2d(channels * len(branches), channels, 1), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(torch.cat([branch(x) for branch in self.branches], dim=1))
