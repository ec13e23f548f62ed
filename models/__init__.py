"""A small zoo of reference CNNs for testing and benchmarking tinycnn.

The modules mirror torchvision's definitions and parameter names exactly, so a
torchvision ``state_dict`` loads into them with ``strict=True`` (torchvision itself is
not a dependency).  ``build(name, seed=..., flatten=...)`` returns a deterministically
initialised model in eval mode; ``models.export`` turns it into ONNX.

Three families beside the classic classifiers: ``MOBILE_MODELS`` (issue 12), and
``DENSE_MODELS``, the fully convolutional detectors and segmenters of issue 13 (any input
size; their output is named in ``OUTPUT_NAMES``), with ConvNeXt-Tiny, a classifier whose
export needs LayerNormalization and Erf.  YOLOv8n and the DBNet text detector are not
torchvision models: they follow their reference designs (see their modules).
"""
import torch

from ._flatten import FLATTEN_MODES, check_flatten_mode
from ._init import init_model
from .alexnet import AlexNet, alexnet
from .convnext import ConvNeXt, convnext_tiny
from .dbnet import DBNet, dbnet_mobilenet_v3
from .densenet import DenseNet, densenet121
from .efficientnet import EfficientNet, efficientnet_b0
from .googlenet import GoogLeNet, googlenet
from .mnasnet import MNASNet, mnasnet0_5, mnasnet1_0
from .mobilenetv2 import MobileNetV2, mobilenet_v2
from .mobilenetv3 import MobileNetV3, mobilenet_v3_large, mobilenet_v3_small
from .regnet import RegNet, regnet_y_400mf
from .resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50, resnet101
from .segmentation import (DeepLabV3, FCN, LRASPP, deeplabv3_mobilenet_v3_large, fcn_resnet50,
                           lraspp_mobilenet_v3_large)
from .shufflenetv2 import ShuffleNetV2, shufflenet_v2_x1_0
from .squeezenet import SqueezeNet, squeezenet1_1
from .vgg import (VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19,
                  vgg19_bn)
from .yolo import YOLOv8, yolov8n

__all__ = ["MODELS", "MOBILE_MODELS", "DENSE_MODELS", "OUTPUT_NAMES", "PARAM_COUNTS",
           "FLATTEN_MODES", "build", "count_parameters", "AlexNet", "VGG", "ResNet",
           "BasicBlock", "Bottleneck", "MobileNetV2", "MobileNetV3", "EfficientNet", "MNASNet",
           "ShuffleNetV2", "SqueezeNet", "RegNet", "GoogLeNet", "DenseNet", "ConvNeXt", "FCN",
           "DeepLabV3", "LRASPP", "YOLOv8", "DBNet"]

# The networks apps embed (issue 12): depthwise and grouped convolutions, SE blocks,
# hard-swish, channel shuffle, dense concatenation.
MOBILE_MODELS = {
    "mobilenet_v2": mobilenet_v2,
    "mobilenet_v3_small": mobilenet_v3_small,
    "mobilenet_v3_large": mobilenet_v3_large,
    "efficientnet_b0": efficientnet_b0,
    "mnasnet0_5": mnasnet0_5,
    "mnasnet1_0": mnasnet1_0,
    "shufflenet_v2_x1_0": shufflenet_v2_x1_0,
    "squeezenet1_1": squeezenet1_1,
    "regnet_y_400mf": regnet_y_400mf,
    "googlenet": googlenet,
    "densenet121": densenet121,
}

# Fully convolutional (issue 13): any input size (YOLOv8n and DBNet: multiples of 32).
DENSE_MODELS = {
    "fcn_resnet50": fcn_resnet50,
    "deeplabv3_mobilenet_v3_large": deeplabv3_mobilenet_v3_large,
    "lraspp_mobilenet_v3_large": lraspp_mobilenet_v3_large,
    "yolov8n": yolov8n,
    "dbnet_mobilenet_v3": dbnet_mobilenet_v3,
}

# The exported output's name; classifiers export "logits".
OUTPUT_NAMES = {
    "fcn_resnet50": "out",  # [N, 21, H, W] class scores at the input's resolution
    "deeplabv3_mobilenet_v3_large": "out",
    "lraspp_mobilenet_v3_large": "out",
    "yolov8n": "detections",  # [N, 4 + 80, anchors]: box (cx, cy, w, h), class probabilities
    "dbnet_mobilenet_v3": "maps",  # [N, 1, H, W] text probability
}

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
    **MOBILE_MODELS,
    "convnext_tiny": convnext_tiny,
    **DENSE_MODELS,
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
    "mobilenet_v2": 3_504_872,
    "mobilenet_v3_small": 2_542_856,
    "mobilenet_v3_large": 5_483_032,
    "efficientnet_b0": 5_288_548,
    "mnasnet0_5": 2_218_512,
    "mnasnet1_0": 4_383_312,
    "shufflenet_v2_x1_0": 2_278_604,
    "squeezenet1_1": 1_235_496,
    "regnet_y_400mf": 4_344_144,
    "googlenet": 6_624_904,  # without the auxiliary classifiers, as torchvision counts it
    "densenet121": 7_978_856,
    "convnext_tiny": 28_589_128,
    # segmentation models with their auxiliary classifier where torchvision's weights have one
    "fcn_resnet50": 35_322_218,
    "deeplabv3_mobilenet_v3_large": 11_029_328,
    "lraspp_mobilenet_v3_large": 3_221_538,
    "yolov8n": 3_157_200,  # as the reference implementation reports it (unfused)
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
    if name in DENSE_MODELS:
        if flatten != "flatten":
            raise ValueError(f"{name} is fully convolutional: it has no flatten to choose")
    else:
        kwargs["flatten"] = flatten
    if not init:
        return ctor(**kwargs).eval()
    # Build on the meta device: torch's default init of ~140M parameters would be
    # thrown away by init_model, which writes every parameter and buffer.
    with torch.device("meta"):
        model = ctor(**kwargs)
    model = model.to_empty(device="cpu")
    return init_model(model, seed)
