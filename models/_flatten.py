"""The two ways a classifier head flattens [N, C, H, W] features, which export differently."""
import torch

FLATTEN_MODES = ("flatten", "view")


def check_flatten_mode(mode):
    if mode not in FLATTEN_MODES:
        raise ValueError(f"flatten must be one of {FLATTEN_MODES}, got {mode!r}")
    return mode


def flatten_features(x, mode):
    # "flatten" is torchvision's torch.flatten(x, 1): exports as a single Flatten node.
    # "view" is the older idiom; the legacy exporter traces x.size(0) and emits
    # Shape -> Gather -> Unsqueeze -> Concat -> Reshape.
    if mode == "flatten":
        return torch.flatten(x, 1)
    if mode == "view":
        return x.view(x.size(0), -1)
    raise ValueError(f"flatten must be one of {FLATTEN_MODES}, got {mode!r}")
