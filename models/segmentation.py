"""Semantic segmentation as torchvision builds it: FCN-ResNet50, DeepLabV3 and LRASPP on
MobileNetV3-Large, with torchvision's module structure and parameter names.

Each model returns an OrderedDict like torchvision's (``out``, and ``aux`` where the model
has an auxiliary classifier); ``models.export`` exports ``out`` only.  Every upsampling is
``F.interpolate(size=<a tensor's shape>, mode="bilinear")``, so the exported Resize takes
its output size from the input's shape (Shape -> Slice -> Concat -> Resize).
"""
from collections import OrderedDict

import torch
from torch import nn
import torch.nn.functional as F

from .mobilenetv3 import mobilenet_v3_large
from .resnet import resnet50

__all__ = ["IntermediateLayerGetter", "FCN", "FCNHead", "DeepLabV3", "DeepLabHead", "LRASPP",
           "fcn_resnet50", "deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large"]

NUM_CLASSES = 21  # Pascal VOC's 20 classes and background, as torchvision's weights have


class IntermediateLayerGetter(nn.ModuleDict):
    """The backbone's children up to the last one returned; returns {new name: output}."""

    def __init__(self, model, return_layers):
        if not set(return_layers).issubset(name for name, _ in model.named_children()):
            raise ValueError(f"return_layers {sorted(return_layers)} are not all in the model")
        wanted = dict(return_layers)
        layers = OrderedDict()
        for name, module in model.named_children():
            layers[name] = module
            wanted.pop(name, None)
            if not wanted:
                break
        super().__init__(layers)
        self.return_layers = dict(return_layers)

    def forward(self, x):
        out = OrderedDict()
        for name, module in self.items():
            x = module(x)
            if name in self.return_layers:
                out[self.return_layers[name]] = x
        return out


class _SimpleSegmentationModel(nn.Module):
    def __init__(self, backbone, classifier, aux_classifier=None):
        super().__init__()
        self.backbone = backbone
        self.classifier = classifier
        self.aux_classifier = aux_classifier

    def forward(self, x):
        input_shape = x.shape[-2:]
        features = self.backbone(x)
        result = OrderedDict()
        out = self.classifier(features["out"])
        result["out"] = F.interpolate(out, size=input_shape, mode="bilinear", align_corners=False)
        if self.aux_classifier is not None:
            aux = self.aux_classifier(features["aux"])
            result["aux"] = F.interpolate(aux, size=input_shape, mode="bilinear",
                                          align_corners=False)
        return result


class FCN(_SimpleSegmentationModel):
    pass


class FCNHead(nn.Sequential):
    def __init__(self, in_channels, channels):
        inter_channels = in_channels // 4
        super().__init__(
            nn.Conv2d(in_channels, inter_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(inter_channels),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Conv2d(inter_channels, channels, 1),
        )


class DeepLabV3(_SimpleSegmentationModel):
    pass


class ASPPConv(nn.Sequential):
    def __init__(self, in_channels, out_channels, dilation):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=dilation, dilation=dilation,
                      bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )


class ASPPPooling(nn.Sequential):
    """Image-level features: global average, 1x1 conv, broadcast back by a bilinear resize."""

    def __init__(self, in_channels, out_channels):
        super().__init__(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )

    def forward(self, x):
        size = x.shape[-2:]
        for mod in self:
            x = mod(x)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class ASPP(nn.Module):
    def __init__(self, in_channels, atrous_rates, out_channels=256):
        super().__init__()
        modules = [nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False),
                                 nn.BatchNorm2d(out_channels), nn.ReLU())]
        modules += [ASPPConv(in_channels, out_channels, rate) for rate in atrous_rates]
        modules.append(ASPPPooling(in_channels, out_channels))
        self.convs = nn.ModuleList(modules)
        self.project = nn.Sequential(
            nn.Conv2d(len(self.convs) * out_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            nn.Dropout(0.5),
        )

    def forward(self, x):
        return self.project(torch.cat([conv(x) for conv in self.convs], dim=1))


class DeepLabHead(nn.Sequential):
    def __init__(self, in_channels, num_classes, atrous_rates=(12, 24, 36)):
        super().__init__(
            ASPP(in_channels, atrous_rates),
            nn.Conv2d(256, 256, 3, padding=1, bias=False),
            nn.BatchNorm2d(256),
            nn.ReLU(),
            nn.Conv2d(256, num_classes, 1),
        )


class LRASPP(nn.Module):
    """Lite R-ASPP: a gated high-level branch, upsampled onto a low-level classifier."""

    def __init__(self, backbone, low_channels, high_channels, num_classes, inter_channels=128):
        super().__init__()
        self.backbone = backbone
        self.classifier = LRASPPHead(low_channels, high_channels, num_classes, inter_channels)

    def forward(self, x):
        features = self.backbone(x)
        out = self.classifier(features)
        out = F.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return OrderedDict([("out", out)])


class LRASPPHead(nn.Module):
    def __init__(self, low_channels, high_channels, num_classes, inter_channels):
        super().__init__()
        self.cbr = nn.Sequential(
            nn.Conv2d(high_channels, inter_channels, 1, bias=False),
            nn.BatchNorm2d(inter_channels),
            nn.ReLU(inplace=True),
        )
        self.scale = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(high_channels, inter_channels, 1, bias=False),
            nn.Sigmoid(),
        )
        self.low_classifier = nn.Conv2d(low_channels, num_classes, 1)
        self.high_classifier = nn.Conv2d(inter_channels, num_classes, 1)

    def forward(self, features):
        low, high = features["low"], features["high"]
        x = self.cbr(high) * self.scale(high)
        x = F.interpolate(x, size=low.shape[-2:], mode="bilinear", align_corners=False)
        return self.low_classifier(low) + self.high_classifier(x)


def _mobilenet_v3_stages(backbone):
    # Blocks that halve the resolution ("C" points), with the first and last feature layers.
    return ([0] + [i for i, b in enumerate(backbone) if getattr(b, "_is_cn", False)]
            + [len(backbone) - 1])


def fcn_resnet50(num_classes=NUM_CLASSES, aux_loss=True):
    """FCN on a dilated ResNet-50 (output stride 8); the aux head reads layer3."""
    backbone = resnet50(replace_stride_with_dilation=[False, True, True])
    return_layers = {"layer4": "out"}
    if aux_loss:
        return_layers["layer3"] = "aux"
    backbone = IntermediateLayerGetter(backbone, return_layers)
    aux = FCNHead(1024, num_classes) if aux_loss else None
    return FCN(backbone, FCNHead(2048, num_classes), aux)


def deeplabv3_mobilenet_v3_large(num_classes=NUM_CLASSES, aux_loss=True):
    """DeepLabV3 (ASPP, rates 12/24/36) on a dilated MobileNetV3-Large (output stride 16)."""
    backbone = mobilenet_v3_large(dilated=True).features
    stages = _mobilenet_v3_stages(backbone)
    out_pos, aux_pos = stages[-1], stages[-4]
    return_layers = {str(out_pos): "out"}
    if aux_loss:
        return_layers[str(aux_pos)] = "aux"
    out_inplanes = backbone[out_pos].out_channels
    aux_inplanes = backbone[aux_pos].out_channels
    backbone = IntermediateLayerGetter(backbone, return_layers)
    aux = FCNHead(aux_inplanes, num_classes) if aux_loss else None
    return DeepLabV3(backbone, DeepLabHead(out_inplanes, num_classes), aux)


def lraspp_mobilenet_v3_large(num_classes=NUM_CLASSES):
    backbone = mobilenet_v3_large(dilated=True).features
    stages = _mobilenet_v3_stages(backbone)
    low_pos, high_pos = stages[-4], stages[-1]
    low_channels = backbone[low_pos].out_channels
    high_channels = backbone[high_pos].out_channels
    backbone = IntermediateLayerGetter(backbone, {str(low_pos): "low", str(high_pos): "high"})
    return LRASPP(backbone, low_channels, high_channels, num_classes)
