"""VGG-11/13/16/19, with and without batch norm, laid out exactly like torchvision's."""
from torch import nn

from ._flatten import flatten_features

__all__ = ["VGG", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn",
           "vgg19", "vgg19_bn"]

# Output channels of each 3x3 conv; "M" is a 2x2/2 max pool.
CONFIGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
          512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],
}


def make_layers(config, batch_norm=False):
    layers = []
    in_channels = 3
    for v in config:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        # torchvision keeps the conv bias even when batch norm follows.
        layers.append(nn.Conv2d(in_channels, v, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU(inplace=True))
        in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, features, num_classes=1000, dropout=0.5, flatten="flatten"):
        super().__init__()
        self.flatten_mode = flatten
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = flatten_features(x, self.flatten_mode)
        return self.classifier(x)


def _vgg(config, batch_norm, **kwargs):
    return VGG(make_layers(CONFIGS[config], batch_norm=batch_norm), **kwargs)


def vgg11(**kwargs):
    return _vgg("A", False, **kwargs)


def vgg11_bn(**kwargs):
    return _vgg("A", True, **kwargs)


def vgg13(**kwargs):
    return _vgg("B", False, **kwargs)


def vgg13_bn(**kwargs):
    return _vgg("B", True, **kwargs)


def vgg16(**kwargs):
    return _vgg("D", False, **kwargs)


def vgg16_bn(**kwargs):
    return _vgg("D", True, **kwargs)


def vgg19(**kwargs):
    return _vgg("E", False, **kwargs)


def vgg19_bn(**kwargs):
    return _vgg("E", True, **kwargs)
