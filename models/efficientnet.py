"""EfficientNet-B0, laid out as torchvision's (stages of MBConv blocks in ``features``).

Stochastic depth only acts in training; it has no parameters, so it is left out.
"""
import copy
import math
from functools import partial

from torch import nn

from ._blocks import (Conv2dNormActivation, ResidualSequence, SqueezeExcitation,
                      make_divisible)
from ._flatten import flatten_features

__all__ = ["MBConvConfig", "MBConv", "EfficientNet", "efficientnet_b0"]


class MBConvConfig:
    def __init__(self, expand_ratio, kernel, stride, input_channels, out_channels, num_layers,
                 width_mult=1.0, depth_mult=1.0):
        self.expand_ratio = expand_ratio
        self.kernel = kernel
        self.stride = stride
        self.input_channels = self.adjust_channels(input_channels, width_mult)
        self.out_channels = self.adjust_channels(out_channels, width_mult)
        self.num_layers = int(math.ceil(num_layers * depth_mult))

    @staticmethod
    def adjust_channels(channels, width_mult, min_value=None):
        return make_divisible(channels * width_mult, 8, min_value)


class MBConv(ResidualSequence):
    """1x1 expand (SiLU), depthwise kxk (SiLU), SE (SiLU, sigmoid gate), linear 1x1 project."""

    def __init__(self, cnf, norm_layer):
        super().__init__()
        if cnf.stride not in (1, 2):
            raise ValueError(f"stride should be 1 or 2, got {cnf.stride}")
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        layers = []
        expanded = cnf.adjust_channels(cnf.input_channels, cnf.expand_ratio)
        if expanded != cnf.input_channels:
            layers.append(Conv2dNormActivation(cnf.input_channels, expanded, kernel_size=1,
                                               norm_layer=norm_layer, activation_layer=nn.SiLU))
        layers.append(Conv2dNormActivation(expanded, expanded, kernel_size=cnf.kernel,
                                           stride=cnf.stride, groups=expanded,
                                           norm_layer=norm_layer, activation_layer=nn.SiLU))
        squeeze_channels = max(1, cnf.input_channels // 4)
        layers.append(SqueezeExcitation(expanded, squeeze_channels,
                                        activation=partial(nn.SiLU, inplace=True)))
        layers.append(Conv2dNormActivation(expanded, cnf.out_channels, kernel_size=1,
                                           norm_layer=norm_layer, activation_layer=None))
        self._set_block(layers)
        self.out_channels = cnf.out_channels


class EfficientNet(nn.Module):
    def __init__(self, inverted_residual_setting, dropout, num_classes=1000, flatten="flatten"):
        super().__init__()
        self.flatten_mode = flatten
        norm_layer = nn.BatchNorm2d
        layers = [Conv2dNormActivation(3, inverted_residual_setting[0].input_channels,
                                       kernel_size=3, stride=2, norm_layer=norm_layer,
                                       activation_layer=nn.SiLU)]
        for cnf in inverted_residual_setting:
            stage = []
            for _ in range(cnf.num_layers):
                block_cnf = copy.copy(cnf)
                if stage:  # every block after a stage's first keeps the shape
                    block_cnf.input_channels = block_cnf.out_channels
                    block_cnf.stride = 1
                stage.append(MBConv(block_cnf, norm_layer))
            layers.append(nn.Sequential(*stage))
        last_in = inverted_residual_setting[-1].out_channels
        last_out = 4 * last_in
        layers.append(Conv2dNormActivation(last_in, last_out, kernel_size=1,
                                           norm_layer=norm_layer, activation_layer=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True),
                                        nn.Linear(last_out, num_classes))

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = flatten_features(x, self.flatten_mode)
        return self.classifier(x)


def efficientnet_conf(width_mult=1.0, depth_mult=1.0):
    bneck = partial(MBConvConfig, width_mult=width_mult, depth_mult=depth_mult)
    # expand ratio, kernel, stride, input channels, output channels, layers
    return [
        bneck(1, 3, 1, 32, 16, 1),
        bneck(6, 3, 2, 16, 24, 2),
        bneck(6, 5, 2, 24, 40, 2),
        bneck(6, 3, 2, 40, 80, 3),
        bneck(6, 5, 1, 80, 112, 3),
        bneck(6, 5, 2, 112, 192, 4),
        bneck(6, 3, 1, 192, 320, 1),
    ]


def efficientnet_b0(**kwargs):
    return EfficientNet(efficientnet_conf(1.0, 1.0), dropout=0.2, **kwargs)
