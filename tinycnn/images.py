"""Image loading and preprocessing for classifiers (Pillow and numpy only).

The pipeline, in the order it runs:

1. `load_image(path)`: open with Pillow, apply the EXIF orientation, force the decode so that a
   truncated or corrupt file fails here (as `ImageError`, naming the file) and not later.
2. `to_mode(img, channels)`: any Pillow mode to "L" (1 channel) or "RGB" (3 channels): 16-bit and
   32-bit integer images are scaled to 8 bits, float images are taken as [0, 1] (or [0, 255] when
   their maximum says so), palette and alpha images are composited on a white background.
3. `resize_and_crop(img, (H, W), crop_ratio)`: scale so that the image covers an H/crop_ratio x
   W/crop_ratio box (for a square model: the shorter side becomes H/crop_ratio), then take the centre
   H x W.  crop_ratio 0.875 is torchvision's Resize(256) + CenterCrop(224); 1.0 keeps the whole
   shorter side.
4. `normalize(pixels, spec, invert)`: scale, optional inversion, channel order, mean / std.
   Output: float32 [C, H, W].

Polarity: a model of drawn characters (the bundled digits model, MNIST-like models) wants one
polarity, light ink on a dark ground or dark ink on a light one, and says which in
`Preprocessing.polarity`.  A picture's own polarity is then read from its border
(`detect_polarity`: what touches the edges of a drawing is its ground), or forced by
`Preprocessing.picture_polarity`, and the picture is inverted when the two differ
(`needs_inversion`).  A model that states no polarity (photographs) gets its pictures as they
are, inverted only when `Preprocessing.invert` says so.

`Preprocessing` describes steps 2 to 4; `PRESETS` has the named ones (`imagenet`, `caffe`, `none`),
and `preprocessing_for(metadata)` the one a model asks for in its ONNX metadata.  Everything here is
a plain function of (image, settings): `tinycnn infer` uses it, and so can any other caller.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")

# torchvision's ImageNet statistics, in [0, 1] RGB.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Caffe's BVLC models: BGR pixels in [0, 255], per-channel mean subtracted, no division.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

DARK_ON_LIGHT, LIGHT_ON_DARK = "dark-on-light", "light-on-dark"
POLARITIES = (DARK_ON_LIGHT, LIGHT_ON_DARK)


class ImageError(ValueError):
    """An image file that is missing, unreadable or corrupt.  The message names the file."""


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """How a picture becomes a model input.

    `mean` and `std` are in the scale of the pixels after `scale` is applied, in the model's
    channel order (BGR when `bgr`), one value per channel or a single value for all.
    `polarity`: what the model wants, "light-on-dark" or "dark-on-light", or None (pictures go in
    as they are, inverted only with `invert`); `picture_polarity`: what the pictures are, "auto"
    (read from each picture's border) or one of the two.
    """

    name: str = "imagenet"
    scale: float = 1.0 / 255.0
    mean: Tuple[float, ...] = IMAGENET_MEAN
    std: Tuple[float, ...] = IMAGENET_STD
    bgr: bool = False
    invert: bool = False
    crop_ratio: float = 0.875
    polarity: Optional[str] = None
    picture_polarity: str = "auto"

    def replace(self, **changes) -> "Preprocessing":
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


PRESETS = {
    "imagenet": Preprocessing(),
    "caffe": Preprocessing(name="caffe", scale=1.0, mean=CAFFE_MEAN_BGR, std=(1.0,), bgr=True),
    "none": Preprocessing(name="none", mean=(0.0,), std=(1.0,), crop_ratio=1.0),
}


def preprocessing_for(metadata: Dict[str, str], preset: Optional[str] = None, **changes) -> Preprocessing:
    """The Preprocessing a model asks for: `preset` if given, else the one its metadata names
    (`tinycnn.preset`, default imagenet) refined by its metadata (`tinycnn.invert`,
    `tinycnn.polarity`, `tinycnn.crop_ratio`, `tinycnn.mean`, `tinycnn.std`, `tinycnn.bgr`); then
    `changes` (mean, std, bgr, crop_ratio, picture_polarity; None keeps the value).  ValueError
    names a bad entry."""
    name = preset or metadata.get("tinycnn.preset", "imagenet")
    if name not in PRESETS:
        raise ValueError(f"{'--preset' if preset else 'model metadata'} names an unknown preset "
                         f"{name!r} (known: {', '.join(PRESETS)})")
    spec = PRESETS[name]
    if not preset:  # the model's own metadata refines its preset
        spec = spec.replace(**{field: _metadata_value(metadata, f"tinycnn.{field}", parse)
                               for field, parse in _METADATA_FIELDS})
    spec = spec.replace(**changes)
    if any(s == 0 for s in spec.std):
        raise ValueError(f"std {spec.std} must not contain 0")
    if not 0.0 < spec.crop_ratio <= 1.0:
        raise ValueError(f"crop ratio must be in (0, 1], got {spec.crop_ratio}")
    if spec.polarity is not None and spec.invert:
        raise ValueError("model metadata gives both tinycnn.polarity and tinycnn.invert; "
                         "tinycnn.polarity alone decides when to invert")
    if spec.picture_polarity not in ("auto",) + POLARITIES:
        raise ValueError(f"picture polarity must be auto, {' or '.join(POLARITIES)}, "
                         f"got {spec.picture_polarity!r}")
    return spec


def _bool(text):
    return text.strip().lower() in ("1", "true", "yes")


def _floats(text):
    return tuple(float(x) for x in text.replace(",", " ").split())


def _polarity(text):
    value = text.strip().lower()
    if value not in POLARITIES:
        raise ValueError(value)
    return value


_METADATA_FIELDS = (("invert", _bool), ("polarity", _polarity), ("crop_ratio", float),
                    ("mean", _floats), ("std", _floats), ("bgr", _bool))


def _metadata_value(metadata, key, parse):
    text = metadata.get(key)
    if text is None:
        return None
    try:
        return parse(text)
    except ValueError:
        raise ValueError(f"model metadata {key}={text!r} is not valid") from None


def find_images(paths: Sequence[str]) -> list:
    """Expand folders (sorted, non-recursive, by extension) and keep files as given."""
    found = []
    for path in paths:
        if os.path.isdir(path):
            names = sorted(n for n in os.listdir(path) if n.lower().endswith(IMAGE_EXTENSIONS))
            if not names:
                raise ImageError(f"{path}: folder has no images ({', '.join(IMAGE_EXTENSIONS)})")
            found.extend(os.path.join(path, n) for n in names)
        elif os.path.exists(path):
            found.append(path)
        else:
            raise ImageError(f"{path}: no such file or directory")
    return found


def load_image(path: str):
    """Open an image with Pillow and decode it fully; raises ImageError naming the file."""
    if not os.path.exists(path):
        raise ImageError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ImageError(f"{path}: is a folder, not an image")
    return _decode(path, path)


def decode_image(data: bytes, name: str = "<bytes>"):
    """`load_image` for a file's content held in memory (as Ray Data's read_binary_files gives
    it); ImageError naming `name`."""
    import io

    return _decode(io.BytesIO(data), name)


def _decode(source, name: str):
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        img = Image.open(source)
        img.load()  # decode now: a truncated file fails here, with its name
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"{name}: cannot decode image ({e})") from None
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block is not worth failing for
        pass
    return img


def from_array(a):
    """A picture held as an array (H x W, or H x W x C with C 1, 2 (gray and alpha), 3 or 4: what
    Ray Data's read_images yields) to a Pillow image: uint8 as it is, booleans (a 1-bit picture)
    as 0 and 255; 16-bit, 32-bit and float arrays go through to_mode's scaling.  ImageError for
    any other shape or type."""
    from PIL import Image

    a = np.asarray(a)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 3 and a.shape[2] in (2, 3, 4) and a.dtype != np.uint8:
        raise ImageError(f"array picture of shape {list(a.shape)}: color needs uint8 values, "
                         f"got {a.dtype}")
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (2, 3, 4)) or 0 in a.shape:
        raise ImageError(f"array picture of shape {list(a.shape)}: expected H x W or H x W x C "
                         "with C 1, 2, 3 or 4")
    if a.ndim == 2 and a.dtype != np.uint8:
        if a.dtype == bool:
            a = a.astype(np.uint8) * np.uint8(255)
        elif a.dtype.kind == "f":
            a = a.astype(np.float32)
        elif a.dtype.kind in "ui" and a.dtype.itemsize <= 4:
            a = a.astype(np.int32)
        else:
            raise ImageError(f"array picture of type {a.dtype}: expected integers or floats")
    return Image.fromarray(np.ascontiguousarray(a))


def _to_8bit(img):
    """Integer images wider than 8 bits and float images, scaled to mode "L" (or "RGB")."""
    from PIL import Image

    a = np.asarray(img)
    if img.mode == "F":
        a = a.astype(np.float64)
        top = 1.0 if np.nanmax(a, initial=0.0) <= 1.0 else 255.0
        a = np.clip(np.nan_to_num(a) / top, 0.0, 1.0) * 255.0
    else:  # I;16*, I: 16-bit data unless the values say 8-bit or 32-bit
        a = a.astype(np.float64)
        hi = a.max(initial=0.0)
        top = 255.0 if hi <= 255 else 65535.0 if hi <= 65535 else float(hi)
        a = np.clip(a, 0.0, None) / top * 255.0
    return Image.fromarray(np.round(a).astype(np.uint8))


def to_mode(img, channels: int):
    """Convert any Pillow image to "L" (channels == 1) or "RGB" (channels == 3)."""
    from PIL import Image

    if img.mode.startswith("I") or img.mode == "F":
        img = _to_8bit(img)
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    target = "L" if channels == 1 else "RGB"
    return img if img.mode == target else img.convert(target)


def resize_and_crop(img, size: Tuple[int, int], crop_ratio: float = 0.875):
    """Scale so the image covers (H, W) / crop_ratio, then centre-crop (H, W)."""
    from PIL import Image

    height, width = size
    if not 0.0 < crop_ratio <= 1.0:
        raise ValueError(f"crop ratio must be in (0, 1], got {crop_ratio}")
    w0, h0 = img.size
    scale = max(height / h0, width / w0) / crop_ratio
    new_w, new_h = max(width, round(w0 * scale)), max(height, round(h0 * scale))
    if (new_w, new_h) != (w0, h0):
        img = img.resize((new_w, new_h), Image.BILINEAR)
    left, top = (new_w - width) // 2, (new_h - height) // 2
    return img.crop((left, top, left + width, top + height))


def detect_polarity(img) -> str:
    """"dark-on-light" or "light-on-dark" of a picture, read from its border: the ground of a
    drawing is what touches its edges.  The border's median brightness is compared with the
    midpoint of the picture's range (1st to 99th percentile, so that a few specks do not
    count); a picture of one flat value is dark-on-light when its value is 128 or more."""
    a = np.asarray(img.convert("L") if img.mode != "L" else img, dtype=np.float32)
    h, w = a.shape
    ring = max(1, min(h, w) // 16)
    border = np.concatenate([a[:ring].ravel(), a[-ring:].ravel(),
                             a[:, :ring].ravel(), a[:, -ring:].ravel()])
    lo, hi = np.percentile(a, (1, 99))
    if hi - lo < 1.0:
        return DARK_ON_LIGHT if a.mean() >= 128.0 else LIGHT_ON_DARK
    return DARK_ON_LIGHT if np.median(border) >= (lo + hi) / 2.0 else LIGHT_ON_DARK


def needs_inversion(img, spec: Preprocessing) -> bool:
    """Whether `img` ("L" or "RGB", before resizing) is to be inverted for a model of `spec`:
    when its polarity (spec.picture_polarity, or read from its border) differs from the
    model's; for a model that states no polarity, spec.invert."""
    if spec.polarity is None:
        return spec.invert
    have = spec.picture_polarity if spec.picture_polarity != "auto" else detect_polarity(img)
    return have != spec.polarity


def normalize(img, spec: Preprocessing, invert: Optional[bool] = None) -> np.ndarray:
    """An "L" or "RGB" image to float32 [C, H, W] as `spec` says; `invert` (default
    spec.invert) flips the pixels (255 - value) first."""
    a = np.asarray(img, dtype=np.float32)
    if a.ndim == 2:
        a = a[:, :, None]
    if spec.invert if invert is None else invert:
        a = 255.0 - a
    if spec.bgr and a.shape[2] == 3:
        a = a[:, :, ::-1]
    a = a * np.float32(spec.scale)
    channels = a.shape[2]
    mean = _per_channel(spec.mean, channels, "mean")
    std = _per_channel(spec.std, channels, "std")
    a = (a - mean) / std
    return np.ascontiguousarray(a.transpose(2, 0, 1), dtype=np.float32)


def _per_channel(values, channels: int, what: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32).reshape(-1)
    if v.size == channels or v.size == 1:
        return np.broadcast_to(v, (channels,)).astype(np.float32)
    if channels == 1:  # a 3-channel statistic for a grayscale model: use its average
        return np.array([v.mean()], dtype=np.float32)
    raise ValueError(f"--{what} has {v.size} values but the model takes {channels} channels")


def preprocess(img, size: Tuple[int, int], channels: int, spec: Preprocessing) -> np.ndarray:
    """One Pillow image to a float32 [C, H, W] model input."""
    img = to_mode(img, channels)
    invert = needs_inversion(img, spec)  # on the picture as drawn: resizing blurs its border
    img = resize_and_crop(img, size, spec.crop_ratio)
    return normalize(img, spec, invert)


def load_and_preprocess(path: str, size: Tuple[int, int], channels: int,
                        spec: Optional[Preprocessing] = None) -> np.ndarray:
    """`load_image` then `preprocess`; errors name the file."""
    img = load_image(path)
    try:
        return preprocess(img, size, channels, spec or PRESETS["imagenet"])
    except (OSError, SyntaxError) as e:
        raise ImageError(f"{path}: cannot decode image ({e})") from None
