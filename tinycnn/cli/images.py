"""The command line's side of image input (infer, verify --input IMAGE): options to a
tinycnn.images.Preprocessing, and image files to a batch, with one-line errors."""
from typing import Dict, Sequence, Tuple

import numpy as np

from .. import images
from .args import CLIError


def require_pillow(what: str):
    try:
        import PIL  # noqa: F401
    except ImportError:
        raise CLIError(f"{what} needs Pillow to read images: pip install tinycnn[cli]") from None


def preprocessing_for(args, metadata: Dict[str, str]) -> images.Preprocessing:
    """--preset, else the model's metadata; then --mean, --std, --bgr and --crop-ratio."""
    std = getattr(args, "std", None)
    if std and any(s == 0 for s in std):
        raise CLIError("--std must not contain 0")
    mean = getattr(args, "mean", None)
    try:
        return images.preprocessing_for(
            metadata, args.preset, mean=tuple(mean) if mean else None,
            std=tuple(std) if std else None, bgr=True if getattr(args, "bgr", False) else None,
            crop_ratio=getattr(args, "crop_ratio", None))
    except ValueError as e:
        raise CLIError(str(e)) from None


def find_images(paths: Sequence[str]) -> list:
    try:
        return images.find_images(paths)
    except images.ImageError as e:
        raise CLIError(str(e)) from None


def load_batch(paths: Sequence[str], size: Tuple[int, int], channels: int,
               spec: images.Preprocessing) -> np.ndarray:
    """[len(paths), channels, H, W] float32; a file that is not an image is a CLIError."""
    try:
        return np.stack([images.load_and_preprocess(p, size, channels, spec) for p in paths])
    except images.ImageError as e:
        raise CLIError(str(e)) from None
