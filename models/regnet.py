"""RegNetY-400MF, laid out as torchvision's (``stem``, ``trunk_output.block1..4``, ``fc``)."""
import math
from collections import OrderedDict

import torch
from torch import nn

from ._blocks import Conv2dNormActivation, SqueezeExcitation, make_divisible
from ._flatten import flatten_features

__all__ = ["BlockParams", "RegNet", "regnet_y_400mf"]


class BottleneckTransform(nn.Sequential):
    """1x1 (a), grouped 3x3 (b), SE, 1x1 (c, no activation)."""

    def __init__(self, width_in, width_out, stride, norm_layer, activation_layer, group_width,
                 bottleneck_multiplier, se_ratio):
        layers = OrderedDict()
        w_b = int(round(width_out * bottleneck_multiplier))
        groups = w_b // group_width
        layers["a"] = Conv2dNormActivation(width_in, w_b, kernel_size=1, norm_layer=norm_layer,
                                           activation_layer=activation_layer)
        layers["b"] = Conv2dNormActivation(w_b, w_b, kernel_size=3, stride=stride, groups=groups,
                                           norm_layer=norm_layer, activation_layer=activation_layer)
        if se_ratio:
            # the SE width is relative to the block's input width
            layers["se"] = SqueezeExcitation(w_b, int(round(se_ratio * width_in)),
                                             activation=activation_layer)
        layers["c"] = Conv2dNormActivation(w_b, width_out, kernel_size=1, norm_layer=norm_layer,
                                           activation_layer=None)
        super().__init__(layers)


class ResBottleneckBlock(nn.Module):
    """x + f(x), with a 1x1 projection of x when the shape changes; ReLU after the sum."""

    branch_end_bn = "f.c.1"  # see models/_init.py

    def __init__(self, width_in, width_out, stride, norm_layer, activation_layer, group_width=1,
                 bottleneck_multiplier=1.0, se_ratio=None):
        super().__init__()
        self.proj = None
        if width_in != width_out or stride != 1:
            self.proj = Conv2dNormActivation(width_in, width_out, kernel_size=1, stride=stride,
                                             norm_layer=norm_layer, activation_layer=None)
        self.f = BottleneckTransform(width_in, width_out, stride, norm_layer, activation_layer,
                                     group_width, bottleneck_multiplier, se_ratio)
        self.activation = activation_layer(inplace=True)

    def forward(self, x):
        if self.proj is not None:
            x = self.proj(x) + self.f(x)
        else:
            x = x + self.f(x)
        return self.activation(x)


class AnyStage(nn.Sequential):
    def __init__(self, width_in, width_out, stride, depth, norm_layer, activation_layer,
                 group_width, bottleneck_multiplier, se_ratio, stage_index):
        super().__init__()
        for i in range(depth):
            block = ResBottleneckBlock(width_in if i == 0 else width_out, width_out,
                                       stride if i == 0 else 1, norm_layer, activation_layer,
                                       group_width, bottleneck_multiplier, se_ratio)
            self.add_module(f"block{stage_index}-{i}", block)


class BlockParams:
    """Per-stage depths, widths and group widths of a RegNet from its design-space parameters."""

    def __init__(self, depths, widths, group_widths, bottleneck_multipliers, strides,
                 se_ratio=None):
        self.depths = depths
        self.widths = widths
        self.group_widths = group_widths
        self.bottleneck_multipliers = bottleneck_multipliers
        self.strides = strides
        self.se_ratio = se_ratio

    @classmethod
    def from_init_params(cls, depth, w_0, w_a, w_m, group_width, bottleneck_multiplier=1.0,
                         se_ratio=None):
        # Block widths grow linearly (w_0 + w_a * i), are snapped to the nearest power of
        # w_m in log space and quantised to multiples of 8; a stage is a run of equal widths.
        # Computed with torch as the design's reference does, so the rounding matches.
        quant = 8
        if w_a < 0 or w_0 <= 0 or w_m <= 1 or w_0 % 8 != 0:
            raise ValueError("invalid RegNet settings")
        widths_cont = torch.arange(depth, device="cpu") * w_a + w_0  # not meta: read back
        block_capacity = torch.round(torch.log(widths_cont / w_0) / math.log(w_m))
        block_widths = (torch.round(torch.divide(w_0 * torch.pow(w_m, block_capacity), quant))
                        * quant).int().tolist()
        stage_widths, stage_depths = [], []
        for w in block_widths:
            if stage_widths and stage_widths[-1] == w:
                stage_depths[-1] += 1
            else:
                stage_widths.append(w)
                stage_depths.append(1)
        n = len(stage_widths)
        bottleneck_multipliers = [bottleneck_multiplier] * n
        # make the bottleneck widths multiples of the group width
        bottleneck = [int(w * b) for w, b in zip(stage_widths, bottleneck_multipliers)]
        group_widths = [min(group_width, w_b) for w_b in bottleneck]
        bottleneck = [make_divisible(w_b, g) for w_b, g in zip(bottleneck, group_widths)]
        stage_widths = [int(w_b / b) for w_b, b in zip(bottleneck, bottleneck_multipliers)]
        return cls(stage_depths, stage_widths, group_widths, bottleneck_multipliers, [2] * n,
                   se_ratio)


class RegNet(nn.Module):
    def __init__(self, block_params, num_classes=1000, stem_width=32, flatten="flatten"):
        super().__init__()
        self.flatten_mode = flatten
        norm_layer, activation = nn.BatchNorm2d, nn.ReLU
        self.stem = Conv2dNormActivation(3, stem_width, kernel_size=3, stride=2,
                                         norm_layer=norm_layer, activation_layer=activation)
        current_width = stem_width
        blocks = []
        params = zip(block_params.widths, block_params.strides, block_params.depths,
                     block_params.group_widths, block_params.bottleneck_multipliers)
        for i, (width_out, stride, depth, group_width, bottleneck_multiplier) in enumerate(params):
            blocks.append((f"block{i + 1}", AnyStage(
                current_width, width_out, stride, depth, norm_layer, activation, group_width,
                bottleneck_multiplier, block_params.se_ratio, stage_index=i + 1)))
            current_width = width_out
        self.trunk_output = nn.Sequential(OrderedDict(blocks))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(in_features=current_width, out_features=num_classes)

    def forward(self, x):
        x = self.trunk_output(self.stem(x))
        x = self.avgpool(x)
        x = flatten_features(x, self.flatten_mode)
        return self.fc(x)


def regnet_y_400mf(**kwargs):
    params = BlockParams.from_init_params(depth=16, w_0=48, w_a=27.89, w_m=2.09, group_width=8,
                                          se_ratio=0.25)
    return RegNet(params, **kwargs)
