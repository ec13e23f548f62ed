"""A DBNet-style text detector, built as PaddleOCR's mobile detector is: a MobileNetV3-Large
x0.5 backbone tapped at strides 4, 8, 16 and 32 (16, 24, 56 and 480 channels), a DB-FPN
neck and the DB head.

- neck: 1x1 convs to 256 channels, a top-down path of nearest 2x upsampling and adds,
  3x3 convs to 64 channels per level, nearest upsampling of each level to stride 4,
  concatenation (256 channels);
- head (``binarize``): conv 3x3 -> BN -> ReLU -> ConvTranspose 2x2/2 -> BN -> ReLU ->
  ConvTranspose 2x2/2 -> Sigmoid: the shrink-map probability at the input's resolution.
  The threshold branch (``thresh``, same layout) only runs in training, as in PaddleOCR's
  inference graph.

Output ``maps`` [N, 1, H, W].  Input height and width must be multiples of 32.
"""
import torch
from torch import nn
import torch.nn.functional as F

from .mobilenetv3 import mobilenet_v3_large

__all__ = ["DBFPN", "DBHead", "DBNet", "dbnet_mobilenet_v3"]


class MobileNetV3Backbone(nn.Module):
    """The features of a MobileNetV3-Large at ``width_mult``, returning the last map of each
    stride 4, 8, 16 and 32."""

    def __init__(self, width_mult=0.5):
        super().__init__()
        self.features = mobilenet_v3_large(width_mult=width_mult).features
        # the block before each stride-2 block, and the final 1x1 conv
        cn = [i for i, b in enumerate(self.features) if getattr(b, "_is_cn", False)]
        self.taps = [i - 1 for i in cn[1:]] + [len(self.features) - 1]
        self.out_channels = [self.features[i].out_channels for i in self.taps]

    def forward(self, x):
        outs = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.taps:
                outs.append(x)
        return outs


def _up(x, factor):
    return F.interpolate(x, scale_factor=factor, mode="nearest")


class DBFPN(nn.Module):
    def __init__(self, in_channels, out_channels=256):
        super().__init__()
        self.out_channels = out_channels
        c2, c3, c4, c5 = in_channels
        self.in2_conv = nn.Conv2d(c2, out_channels, 1, bias=False)
        self.in3_conv = nn.Conv2d(c3, out_channels, 1, bias=False)
        self.in4_conv = nn.Conv2d(c4, out_channels, 1, bias=False)
        self.in5_conv = nn.Conv2d(c5, out_channels, 1, bias=False)
        self.p5_conv = nn.Conv2d(out_channels, out_channels // 4, 3, padding=1, bias=False)
        self.p4_conv = nn.Conv2d(out_channels, out_channels // 4, 3, padding=1, bias=False)
        self.p3_conv = nn.Conv2d(out_channels, out_channels // 4, 3, padding=1, bias=False)
        self.p2_conv = nn.Conv2d(out_channels, out_channels // 4, 3, padding=1, bias=False)

    def forward(self, x):
        c2, c3, c4, c5 = x
        in5 = self.in5_conv(c5)
        out4 = self.in4_conv(c4) + _up(in5, 2)  # 1/16
        out3 = self.in3_conv(c3) + _up(out4, 2)  # 1/8
        out2 = self.in2_conv(c2) + _up(out3, 2)  # 1/4
        p5 = _up(self.p5_conv(in5), 8)
        p4 = _up(self.p4_conv(out4), 4)
        p3 = _up(self.p3_conv(out3), 2)
        p2 = self.p2_conv(out2)
        return torch.cat([p5, p4, p3, p2], dim=1)


class Head(nn.Module):
    def __init__(self, in_channels):
        super().__init__()
        mid = in_channels // 4
        self.conv1 = nn.Conv2d(in_channels, mid, 3, padding=1, bias=False)
        self.conv_bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.ConvTranspose2d(mid, mid, 2, stride=2)
        self.conv_bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.ConvTranspose2d(mid, 1, 2, stride=2)

    def forward(self, x):
        x = F.relu(self.conv_bn1(self.conv1(x)))
        x = F.relu(self.conv_bn2(self.conv2(x)))
        return torch.sigmoid(self.conv3(x))


class DBHead(nn.Module):
    def __init__(self, in_channels, k=50):
        super().__init__()
        self.k = k
        self.binarize = Head(in_channels)
        self.thresh = Head(in_channels)

    def step_function(self, x, y):
        return torch.reciprocal(1 + torch.exp(-self.k * (x - y)))

    def forward(self, x):
        shrink_maps = self.binarize(x)
        if not self.training:
            return shrink_maps
        threshold_maps = self.thresh(x)
        binary_maps = self.step_function(shrink_maps, threshold_maps)
        return torch.cat([shrink_maps, threshold_maps, binary_maps], dim=1)


class DBNet(nn.Module):
    def __init__(self, width_mult=0.5, fpn_channels=256):
        super().__init__()
        self.backbone = MobileNetV3Backbone(width_mult)
        self.neck = DBFPN(self.backbone.out_channels, fpn_channels)
        self.head = DBHead(fpn_channels)

    def forward(self, x):
        return self.head(self.neck(self.backbone(x)))


def dbnet_mobilenet_v3(**kwargs):
    return DBNet(**kwargs)
