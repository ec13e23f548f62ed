"""Deterministic, data-calibrated random initialisation for the zoo.

Plain Kaiming init on a deep ReLU network without batch norm gives activations that
drift to a common direction (every input ends up with the same top-1 class), and
BatchNorm layers left at their defaults (mean 0, var 1, weight 1, bias 0) make
conv+BN folding a no-op that tests nothing.  So after a Kaiming-style init we run one
small random batch through the network and, layer by layer (in a single pass, via
forward hooks), rescale each layer so that its output is roughly zero-mean, unit-variance
per channel:

- a Conv/Linear *with* bias that is not followed by BatchNorm gets its weight and bias
  rescaled (data-dependent init, like LSUV);
- a BatchNorm gets running_mean/running_var close to (but deliberately not equal to) the
  statistics it sees, and random weight/bias away from 1/0.

Everything draws from one ``torch.Generator`` seeded by the caller, so a (model, seed)
pair always gives the same weights on the same torch version.
"""
import math

import torch
from torch import nn
import torch.nn.functional as F

__all__ = ["init_model"]

# The BatchNorm closing a residual branch (a block's ``branch_end_bn``, a submodule path
# such as "bn2" or "block.3.1", set by blocks whose branch is added to their input) gets a small
# weight, as with torchvision's zero_init_residual: otherwise every block adds a unit-
# variance branch to the identity path, float32 rounding accumulates over ResNet-50/101's
# depth, and onnxruntime itself lands ~1e-4 away from a float64 forward pass.
DAMPED_BN_WEIGHT = (0.1, 0.3)

# Calibrate on what the tests feed: N(0, 1) images at 224x224.
CALIBRATION_BATCH = 2
CALIBRATION_SIZE = 224


def _kaiming_(tensor, gain, generator, fan_in=None):
    fan_in = fan_in or tensor[0].numel()
    with torch.no_grad():
        tensor.normal_(0.0, gain / math.sqrt(fan_in), generator=generator)


def _fan_in(module):
    if isinstance(module, nn.ConvTranspose2d):
        # weight [C_in, C_out / groups, kH, kW]: each output sees C_in / groups inputs
        # through about kH * kW / (sH * sW) taps
        taps = module.weight[0, 0].numel() / math.prod(module.stride)
        return max(1, int(module.weight.shape[0] // module.groups * taps))
    return module.weight[0].numel()


def _uniform_(tensor, low, high, generator):
    with torch.no_grad():
        tensor.uniform_(low, high, generator=generator)


def _channel_stats(x, channel_dim=1):
    # x: [N, C, ...] (or channels last) -> per-channel mean and (biased) variance over
    # everything but the channels
    channel_dim %= x.dim()
    dims = [d for d in range(x.dim()) if d != channel_dim]
    return x.mean(dim=dims), x.var(dim=dims, unbiased=False)


def _bcast(v, x, channel_dim=1):
    shape = [1] * x.dim()
    shape[channel_dim] = -1
    return v.view(shape)


def _normalise_affine(module, x_out):
    """Rescale weight and bias of a biased Conv/Linear so its output is ~N(0, 1) per channel."""
    # A Linear's features are last (ConvNeXt applies them to [N, H, W, C] maps).
    channel_dim = -1 if isinstance(module, nn.Linear) else 1
    mean, var = _channel_stats(x_out, channel_dim)
    if x_out.dim() == 2:
        # A Linear sees only CALIBRATION_BATCH samples per channel: too few for a
        # per-channel scale, so centre per channel but scale by one global std.
        var = var.mean().expand_as(var)
    elif x_out[0, 0].numel() == 1:
        # A 1x1 conv on pooled [N, C, 1, 1] features (a squeeze-and-excitation block):
        # per channel, CALIBRATION_BATCH samples would be normalised to exactly +-1 and
        # every gate would sit at sigmoid(+-1).  One mean and std for the whole layer
        # keeps the channels different and the gates spread over (0, 1).
        mean, var = mean.mean().expand_as(mean), var.mean().expand_as(var) + mean.var()
    std = torch.sqrt(var + 1e-5)
    # the weight's output-channel axis: 1 for ConvTranspose ([C_in, C_out, kH, kW]), else 0
    out_axis = 1 if isinstance(module, nn.ConvTranspose2d) else 0
    with torch.no_grad():
        module.weight.div_(_bcast(std, module.weight, out_axis))
        module.bias.sub_(mean).div_(std)
    return (x_out - _bcast(mean, x_out, channel_dim)) / _bcast(std, x_out, channel_dim)


def _randomise_batchnorm(module, x_in, generator, damped=False):
    """Give a BatchNorm near-calibrated but non-trivial running stats and affine params."""
    mean, var = _channel_stats(x_in)
    if x_in[0, 0].numel() == 1:
        # pooled [N, C, 1, 1] input (DeepLabV3's image pooling): CALIBRATION_BATCH samples
        # per channel say little, and a near-zero variance would blow the output up
        mean, var = mean.mean().expand_as(mean), var.mean().expand_as(var) + mean.var()
    c = mean.numel()
    noise = torch.empty(c).normal_(0.0, 0.1, generator=generator)
    scale = torch.empty(c).uniform_(0.7, 1.4, generator=generator)
    with torch.no_grad():
        module.running_mean.copy_(mean + noise * torch.sqrt(var))
        module.running_var.copy_(var * scale + 1e-3)
        if damped:
            module.weight.uniform_(*DAMPED_BN_WEIGHT, generator=generator)
        else:
            module.weight.uniform_(0.5, 1.5, generator=generator)
        module.bias.normal_(0.0, 0.2, generator=generator)
        module.num_batches_tracked.fill_(1)
    return F.batch_norm(x_in, module.running_mean, module.running_var, module.weight,
                        module.bias, False, 0.0, module.eps)


def init_model(model, seed=0):
    """Initialise ``model`` in place, deterministically from ``seed``; returns it in eval mode.

    Every parameter and buffer is written, so the model may come from ``to_empty()``:
    Conv, ConvTranspose, Linear, BatchNorm and LayerNorm here; anything else by the module
    that owns it, in an ``init_extra_(generator)`` method (ConvNeXt's layer scale, the
    fixed weights of YOLO's distribution-focal decode).
    """
    g = torch.Generator().manual_seed(int(seed))
    modules = list(model.modules())
    linears = [m for m in modules if isinstance(m, nn.Linear)]
    last_linear = linears[-1] if linears else None  # SqueezeNet classifies with a conv
    for m in modules:
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            _kaiming_(m.weight, 1.0 if m is last_linear else math.sqrt(2.0), g, _fan_in(m))
            if m.bias is not None:
                _uniform_(m.bias, -0.1, 0.1, g)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
            m.reset_running_stats()
        elif isinstance(m, nn.LayerNorm):  # also ConvNeXt's LayerNorm2d
            _uniform_(m.weight, 0.5, 1.5, g)
            with torch.no_grad():
                m.bias.normal_(0.0, 0.2, generator=g)
    for m in modules:
        if hasattr(m, "init_extra_"):
            m.init_extra_(g)

    # Hooks fire in execution order, so each layer is calibrated on the already
    # calibrated output of the layers before it: one forward pass is enough.
    damped = {id(m.get_submodule(m.branch_end_bn)) for m in modules
              if getattr(m, "branch_end_bn", None)}
    hooks = []
    for m in modules:
        if isinstance(m, nn.BatchNorm2d):
            hooks.append(m.register_forward_hook(
                lambda mod, inp, out: _randomise_batchnorm(mod, inp[0], g, id(mod) in damped)))
        elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)) and m.bias is not None:
            hooks.append(m.register_forward_hook(
                lambda mod, inp, out: _normalise_affine(mod, out)))
    model.eval()
    x = torch.empty(CALIBRATION_BATCH, 3, CALIBRATION_SIZE, CALIBRATION_SIZE).normal_(generator=g)
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return model
