"""ConvNeXt-Tiny, laid out as torchvision's (``features`` of stages and downsamplers).

Each block: depthwise 7x7, then (channels-last) LayerNorm, Linear 4x, exact GELU, Linear,
scaled by a learned per-channel ``layer_scale`` and added to the input.  Exports as
LayerNormalization and Erf (GELU) with Transposes around them.  Stochastic depth only acts
in training and has no parameters, so it is left out.
"""
from functools import partial

import torch
from torch import nn
import torch.nn.functional as F

from ._blocks import Conv2dNormActivation

__all__ = ["LayerNorm2d", "CNBlock", "ConvNeXt", "convnext_tiny"]


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class Permute(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.dims = list(dims)

    def forward(self, x):
        return torch.permute(x, self.dims)


class CNBlock(nn.Module):
    def __init__(self, dim, layer_scale, norm_layer=partial(nn.LayerNorm, eps=1e-6)):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True),
            Permute([0, 2, 3, 1]),
            norm_layer(dim),
            nn.Linear(in_features=dim, out_features=4 * dim, bias=True),
            nn.GELU(),
            nn.Linear(in_features=4 * dim, out_features=dim, bias=True),
            Permute([0, 3, 1, 2]),
        )
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * layer_scale)

    def forward(self, x):
        return self.layer_scale * self.block(x) + x

    def init_extra_(self, generator):
        # The layer scale starts at 1e-6 in training, which would make every block an
        # identity; the zoo gives it trained-like magnitudes instead (see models/_init.py).
        with torch.no_grad():
            self.layer_scale.uniform_(0.1, 0.4, generator=generator)


class CNBlockConfig:
    def __init__(self, input_channels, out_channels, num_layers):
        self.input_channels = input_channels
        self.out_channels = out_channels
        self.num_layers = num_layers


class ConvNeXt(nn.Module):
    def __init__(self, block_setting, layer_scale=1e-6, num_classes=1000, flatten="flatten"):
        super().__init__()
        if flatten != "flatten":
            raise ValueError("ConvNeXt flattens with nn.Flatten in its classifier: it has no "
                             "flatten to choose")
        norm_layer = partial(LayerNorm2d, eps=1e-6)
        first = block_setting[0].input_channels
        layers = [Conv2dNormActivation(3, first, kernel_size=4, stride=4, padding=0,
                                       norm_layer=norm_layer, activation_layer=None, bias=True)]
        for cnf in block_setting:
            layers.append(nn.Sequential(*[CNBlock(cnf.input_channels, layer_scale)
                                          for _ in range(cnf.num_layers)]))
            if cnf.out_channels is not None:  # downsampling between stages
                layers.append(nn.Sequential(
                    norm_layer(cnf.input_channels),
                    nn.Conv2d(cnf.input_channels, cnf.out_channels, kernel_size=2, stride=2),
                ))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        last = block_setting[-1]
        last_channels = last.out_channels if last.out_channels is not None else last.input_channels
        self.classifier = nn.Sequential(norm_layer(last_channels), nn.Flatten(1),
                                        nn.Linear(last_channels, num_classes))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)))


def convnext_tiny(**kwargs):
    setting = [CNBlockConfig(96, 192, 3), CNBlockConfig(192, 384, 3), CNBlockConfig(384, 768, 9),
               CNBlockConfig(768, None, 3)]
    return ConvNeXt(setting, **kwargs)
