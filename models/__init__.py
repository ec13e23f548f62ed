"""A small zoo of reference CNNs for testing and benchmarking tinycnn.

The modules mirror torchvision's definitions and parameter names exactly, so a
torchvision ``state_dict`` loads into them with ``strict=True`` (torchvision itself is
not a dependency).  ``build(name, seed=..., flatten=...)`` returns a deterministically
initialised model in eval mode; ``models.export`` turns it into ONNX.
"""
import torch

from ._flatten import FLATTEN_MODES, check_flatten_mode
from ._init import init_model
from .alexnet import AlexNet, alexnet
from .resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50, resnet101
from .vgg import (VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19,
                  vgg19_bn)

__all__ = ["MODELS", "PARAM_COUNTS", "FLATTEN_MODES", "build", "count_parameters",
           "AlexNet", "VGG", "ResNet", "BasicBlock", "Bottleneck"]

# name -> constructor (keyword arguments: num_classes=1000, flatten="flatten")
MODELS = {
    "alexnet": alexnet,
    "vgg11": vgg11,
    "vgg11_bn": vgg11_bn,
    "vgg13": vgg13,
    "vgg13_bn": vgg13_bn,
    "vgg16": vgg16,
    "vgg16_bn": vgg16_bn,
    "vgg19": vgg19,
    "vgg19_bn": vgg19_bn,
    "resnet18": resnet18,
    "resnet34": resnet34,
    "resnet50": resnet50,
    "resnet101": resnet101,
}

# Parameter counts of the torchvision models (1000 classes), as torchvision documents them.
PARAM_COUNTS = {
    "alexnet": 61_100_840,
    "vgg11": 132_863_336,
    "vgg11_bn": 132_868_840,
    "vgg13": 133_047_848,
    "vgg13_bn": 133_053_736,
    "vgg16": 138_357_544,
    "vgg16_bn": 138_365_992,
    "vgg19": 143_667_240,
    "vgg19_bn": 143_678_248,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
}


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())


def build(name, seed=0, flatten="flatten", init=True, **kwargs):
    """Construct model ``name`` and initialise it from ``seed`` (eval mode)."""
    try:
        ctor = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}") from None
    check_flatten_mode(flatten)
    if not init:
        return ctor(flatten=flatten, **kwargs).eval()
    # Build on the meta device: torch's default init of ~140M parameters would be
    # thrown away by init_model, which writes every parameter and buffer.
    with torch.device("meta"):
        model = ctor(flatten=flatten, **kwargs)
    model = model.to_empty(device="cpu")
    return init_model(model, seed)
