"""Building blocks shared by the mobile networks, named as torchvision's ``ops.misc`` names them.

``Conv2dNormActivation`` is an ``nn.Sequential`` (conv, norm, activation), so its
parameters are ``<name>.0.weight``, ``<name>.1.running_mean``... exactly as in torchvision's
checkpoints; ``SqueezeExcitation`` keeps torchvision's ``fc1``/``fc2`` names.
"""
from torch import nn

__all__ = ["Conv2dNormActivation", "SqueezeExcitation", "ResidualSequence", "make_divisible"]


def make_divisible(v, divisor, min_value=None):
    """Round ``v`` to a multiple of ``divisor`` without going more than 10% below it.

    The channel rounding of the TensorFlow MobileNet reference, which every torchvision
    mobile network uses to size its layers (so the parameter counts depend on it).
    """
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class Conv2dNormActivation(nn.Sequential):
    """Conv2d, then a norm layer (BatchNorm2d by default), then an activation (ReLU)."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=None,
                 groups=1, norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU, dilation=1,
                 inplace=True, bias=None):
        if padding is None:
            padding = (kernel_size - 1) // 2 * dilation
        if bias is None:
            bias = norm_layer is None  # a norm layer right after makes a bias redundant
        layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding,
                            dilation=dilation, groups=groups, bias=bias)]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            params = {} if inplace is None else {"inplace": inplace}
            layers.append(activation_layer(**params))
        super().__init__(*layers)
        self.out_channels = out_channels


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation: global average, 1x1 down, activation, 1x1 up, gate, scale."""

    def __init__(self, input_channels, squeeze_channels, activation=nn.ReLU,
                 scale_activation=nn.Sigmoid):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def forward(self, x):
        scale = self.avgpool(x)
        scale = self.activation(self.fc1(scale))
        scale = self.scale_activation(self.fc2(scale))
        return scale * x


class ResidualSequence(nn.Module):
    """``self.block`` (a Sequential ending in a Conv2dNormActivation without activation),
    plus the input when ``self.use_res_connect``: MobileNetV3's and EfficientNet's blocks."""

    def _set_block(self, layers):
        self.block = nn.Sequential(*layers)
        if self.use_res_connect:
            self.branch_end_bn = f"block.{len(layers) - 1}.1"  # see models/_init.py

    def forward(self, x):
        result = self.block(x)
        if self.use_res_connect:
            result += x
        return result
