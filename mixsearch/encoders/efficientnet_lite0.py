"""EfficientNet-lite0 with TensorFlow's padding, in plain torch: timm's ``tf_efficientnet_lite0``.

The offline default's image classifier. timm builds the same network, but ``import timm``
imports every timm model (seconds per process), and each CLI command that encodes an image
would pay that. This file rebuilds only what ``timm.create_model("tf_efficientnet_lite0")``
makes, with the same module, parameter and buffer names, so the same state dict loads with
``strict=True``; ``tests/encoders/test_efficientnet_lite0.py`` checks its logits against timm's.

The network (EfficientNet-B0 made "lite": no squeeze-excite, ReLU6, stem and head kept at 32
and 1280 channels):

    stem:   3×3 conv stride 2 → 32 channels, BN + ReLU6
    blocks: 7 stages; the first is depthwise-separable (3×3 depthwise, 1×1 projection), the
            others inverted residuals (1×1 expansion ×6, k×k depthwise, 1×1 projection),
            with a residual connection when a block keeps its shape
    head:   1×1 conv → 1280, BN + ReLU6, global average pool, linear → 1000 ImageNet logits
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# TensorFlow's BatchNorm epsilon, which timm sets for its tf_ ports (BN_EPS_TF_DEFAULT);
# torch's default 1e-5 would shift every activation the weights were trained with.
BN_EPS = 1e-3
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
NUM_CLASSES = 1000
# Per stage: (blocks, depthwise kernel, first block's stride, expansion, output channels);
# timm's arch_def "ds_r1_k3_s1_e1_c16", "ir_r2_k3_s2_e6_c24", ... Expansion 1 is the
# depthwise-separable first stage.
STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)


class Conv2dSame(nn.Conv2d):
    """A convolution with TensorFlow's "SAME" padding, computed from the input size.

    For stride 2, TF pads so the output is ceil(input / 2) and puts the odd pixel of padding at
    the bottom/right, where torch's symmetric padding would put it on both sides: the weights
    were trained with TF's, so a symmetric pad would shift every strided layer by half a pixel.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        pad_h = _same_padding(height, self.kernel_size[0], self.stride[0])
        pad_w = _same_padding(width, self.kernel_size[1], self.stride[1])
        x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _same_padding(size: int, kernel: int, stride: int) -> int:
    return max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)


def conv(in_chs: int, out_chs: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """A bias-free convolution padded as TF's "SAME". At stride 1 with an odd kernel that is
    plain symmetric padding, so (like timm) only strided convolutions need `Conv2dSame`."""
    if stride == 1:
        return nn.Conv2d(in_chs, out_chs, kernel, padding=kernel // 2, groups=groups, bias=False)
    return Conv2dSame(in_chs, out_chs, kernel, stride=stride, groups=groups, bias=False)


class BatchNormAct2d(nn.BatchNorm2d):
    """BatchNorm then ReLU6 (or nothing, after a projection): timm's fused module, whose
    parameters and buffers are BatchNorm's own, so state dict keys match."""

    def __init__(self, channels: int, *, act: bool = True) -> None:
        super().__init__(channels, eps=BN_EPS)
        self.act = nn.ReLU6(inplace=True) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(super().forward(x))


class DepthwiseSeparableConv(nn.Module):
    """k×k depthwise conv, BN + ReLU6, 1×1 projection, BN (no activation)."""

    def __init__(self, in_chs: int, out_chs: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.has_skip = stride == 1 and in_chs == out_chs
        self.conv_dw = conv(in_chs, in_chs, kernel, stride, groups=in_chs)
        self.bn1 = BatchNormAct2d(in_chs)
        self.conv_pw = conv(in_chs, out_chs, 1)
        self.bn2 = BatchNormAct2d(out_chs, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv_pw(self.bn1(self.conv_dw(x))))
        return out + x if self.has_skip else out


class InvertedResidual(nn.Module):
    """1×1 expansion, BN + ReLU6, k×k depthwise, BN + ReLU6, 1×1 projection, BN (linear)."""

    def __init__(self, in_chs: int, out_chs: int, kernel: int, stride: int, expansion: int) -> None:
        super().__init__()
        mid_chs = in_chs * expansion  # lite0's widths are multiples of 8 already: no rounding
        self.has_skip = stride == 1 and in_chs == out_chs
        self.conv_pw = conv(in_chs, mid_chs, 1)
        self.bn1 = BatchNormAct2d(mid_chs)
        self.conv_dw = conv(mid_chs, mid_chs, kernel, stride, groups=mid_chs)
        self.bn2 = BatchNormAct2d(mid_chs)
        self.conv_pwl = conv(mid_chs, out_chs, 1)
        self.bn3 = BatchNormAct2d(out_chs, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv_dw(self.bn1(self.conv_pw(x))))
        out = self.bn3(self.conv_pwl(out))
        return out + x if self.has_skip else out


class EfficientNetLite0(nn.Module):
    """[n, 3, H, W] images scaled to [-1, 1] → [n, 1000] ImageNet logits (timm's interface:
    ``forward_features``, ``forward_head(pre_logits=...)``, ``forward``). Built in eval-ready
    form: no dropout (timm's default drop rate for this model is 0)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_stem = conv(3, STEM_CHANNELS, 3, stride=2)
        self.bn1 = BatchNormAct2d(STEM_CHANNELS)
        self.blocks = nn.Sequential(*_stages(STEM_CHANNELS))
        last_stage_chs = STAGES[-1][-1]
        self.conv_head = conv(last_stage_chs, HEAD_CHANNELS, 1)
        self.bn2 = BatchNormAct2d(HEAD_CHANNELS)
        self.classifier = nn.Linear(HEAD_CHANNELS, NUM_CLASSES)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The [n, 1280, H/32, W/32] feature map before pooling."""
        x = self.blocks(self.bn1(self.conv_stem(x)))
        return self.bn2(self.conv_head(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Global average pool, then (unless ``pre_logits``) the classifier."""
        pooled = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return pooled if pre_logits else self.classifier(pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def _stages(in_chs: int) -> list[nn.Sequential]:
    """The 7 stages; within one, only the first block changes stride and width."""
    stages = []
    for repeats, kernel, stride, expansion, out_chs in STAGES:
        blocks: list[nn.Module] = []
        for index in range(repeats):
            block_stride = stride if index == 0 else 1
            if expansion == 1:
                blocks.append(DepthwiseSeparableConv(in_chs, out_chs, kernel, block_stride))
            else:
                blocks.append(InvertedResidual(in_chs, out_chs, kernel, block_stride, expansion))
            in_chs = out_chs
        stages.append(nn.Sequential(*blocks))
    return stages
