"""tinycnn.images: modes, resize + centre crop, presets, errors that name the file."""
import numpy as np
import pytest

from PIL import Image  # noqa: E402

from tinycnn.images import (PRESETS, ImageError, decode_image, detect_polarity, find_images,  # noqa: E402
                            from_array, load_and_preprocess, load_image, needs_inversion, normalize,
                            preprocess, preprocessing_for, resize_and_crop, to_mode)


def _gradient_rgb(w, h):
    x = np.linspace(0, 255, w, dtype=np.float64)[None, :].repeat(h, 0)
    y = np.linspace(0, 255, h, dtype=np.float64)[:, None].repeat(w, 1)
    return np.stack([x, y, 255 - x], axis=2).round().astype(np.uint8)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "LA", "P", "1", "I;16", "I", "F", "CMYK"])
@pytest.mark.parametrize("channels", [1, 3])
def test_every_mode_converts(mode, channels):
    rgb = Image.fromarray(_gradient_rgb(20, 12))
    if mode == "I;16":
        img = Image.fromarray(np.asarray(rgb.convert("L"), np.uint16) * 257)
        assert img.mode == "I;16"
    elif mode == "I":
        img = Image.fromarray(np.asarray(rgb.convert("L"), np.int32) * 257)
    elif mode == "F":
        img = Image.fromarray(np.asarray(rgb.convert("L"), np.float32) / 255.0)
    else:
        img = rgb.convert(mode)
    out = to_mode(img, channels)
    assert out.mode == ("L" if channels == 1 else "RGB"), (mode, out.mode)
    assert out.size == (20, 12)
    if mode in ("I;16", "I", "F", "L"):  # scaled to 8 bits, not clipped
        want = np.asarray(rgb.convert("L"), np.float64)
        got = np.asarray(out.convert("L"), np.float64)
        assert np.abs(got - want).max() <= 1.0, f"mode {mode}: max error {np.abs(got - want).max()}"


def test_alpha_composites_on_white():
    a = np.zeros((4, 4, 4), np.uint8)  # fully transparent black
    out = np.asarray(to_mode(Image.fromarray(a), 3))
    assert (out == 255).all(), out[..., 0]


@pytest.mark.parametrize("w,h,size,ratio", [(640, 480, (224, 224), 0.875), (480, 640, (224, 224), 0.875),
                                            (100, 100, (8, 8), 1.0), (50, 30, (60, 40), 1.0),
                                            (300, 200, (227, 227), 0.875), (224, 224, (224, 224), 1.0)])
def test_resize_and_crop_shape_and_centre(w, h, size, ratio):
    img = Image.fromarray(_gradient_rgb(w, h))
    out = resize_and_crop(img, size, ratio)
    assert out.size == (size[1], size[0]), (w, h, size, out.size)
    # A horizontal gradient stays centred: the middle column keeps the middle value.
    mid = np.asarray(out)[:, size[1] // 2, 0].astype(np.float64).mean()
    assert abs(mid - 127.5) < 255.0 / min(size) * 2 + 2, f"centre column {mid} for {w}x{h} -> {size}"


def test_identity_size_keeps_pixels():
    a = _gradient_rgb(32, 32)
    out = resize_and_crop(Image.fromarray(a), (32, 32), 1.0)
    assert np.array_equal(np.asarray(out), a)


def test_shorter_side_is_resized_to_size_over_ratio():
    # 512x256 to 224 with ratio 0.875: height becomes 256, width 512, centre 224x224 crop.
    a = np.zeros((256, 512, 3), np.uint8)
    a[:, 256 - 112:256 + 112] = 255  # a white band exactly the crop's width
    out = np.asarray(resize_and_crop(Image.fromarray(a), (224, 224), 0.875))
    assert out.shape == (224, 224, 3)
    assert out.min() == 255, "centre crop should fall exactly inside the band"


def test_presets_numbers():
    a = np.full((2, 2, 3), [255, 128, 0], np.uint8)
    img = Image.fromarray(a)
    x = normalize(img, PRESETS["imagenet"])
    want = (np.array([255, 128, 0]) / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(x[:, 0, 0], want, rtol=1e-5, err_msg="imagenet preset")
    x = normalize(img, PRESETS["caffe"])  # BGR, 0..255, minus the BGR mean
    np.testing.assert_allclose(x[:, 0, 0], np.array([0, 128, 255]) - np.array([103.939, 116.779, 123.68]),
                               rtol=1e-5, err_msg="caffe preset")
    x = normalize(img, PRESETS["none"])
    np.testing.assert_allclose(x[:, 0, 0], np.array([255, 128, 0]) / 255.0, rtol=1e-6, err_msg="none preset")
    x = normalize(img.convert("L"), PRESETS["none"].replace(invert=True))
    assert x.shape == (1, 2, 2) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, 0, 0], 1.0 - np.asarray(img.convert("L"))[0, 0] / 255.0, rtol=1e-6)


def test_grayscale_model_with_imagenet_stats_uses_their_average():
    x = normalize(Image.new("L", (3, 3), 255), PRESETS["imagenet"])
    np.testing.assert_allclose(x[0, 0, 0], (1.0 - np.mean([0.485, 0.456, 0.406])) / np.mean([0.229, 0.224, 0.225]),
                               rtol=1e-5)


def test_preprocess_output_layout():
    x = preprocess(Image.fromarray(_gradient_rgb(300, 200)), (224, 224), 3, PRESETS["imagenet"])
    assert x.shape == (3, 224, 224) and x.dtype == np.float32 and x.flags.c_contiguous


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP"])
def test_formats_round_trip(tmp_path, fmt):
    a = _gradient_rgb(40, 30)
    path = tmp_path / f"x.{fmt.lower()}"
    Image.fromarray(a).save(path, format=fmt)
    x = load_and_preprocess(str(path), (30, 40), 3, PRESETS["none"])
    tol = 0.06 if fmt == "JPEG" else 1e-6
    np.testing.assert_allclose(x, a.transpose(2, 0, 1) / 255.0, atol=tol, err_msg=fmt)


def test_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.png"
    with pytest.raises(ImageError, match="nope.png"):
        load_image(str(missing))
    text = tmp_path / "notes.png"
    text.write_text("this is not an image")
    with pytest.raises(ImageError, match="notes.png"):
        load_image(str(text))
    good = tmp_path / "cut.png"
    Image.fromarray(_gradient_rgb(64, 64)).save(good)
    data = good.read_bytes()
    cut = tmp_path / "truncated.png"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="truncated.png"):
        load_image(str(cut))


@pytest.mark.parametrize("mode", ["RGB", "P", "I;16", "CMYK", "LA"])
def test_decode_image_from_bytes_equals_the_file(tmp_path, mode):
    img = Image.fromarray(_gradient_rgb(40, 30))
    img = (Image.fromarray(np.asarray(img.convert("L"), np.uint16) * 257) if mode == "I;16"
           else img.convert(mode))
    path = tmp_path / ("x.tif" if mode == "CMYK" else "x.png")
    img.save(path)
    from_bytes = decode_image(path.read_bytes(), "x")
    assert from_bytes.mode == load_image(str(path)).mode
    np.testing.assert_array_equal(np.asarray(from_bytes), np.asarray(load_image(str(path))))
    cut = path.read_bytes()[:len(path.read_bytes()) // 2]
    with pytest.raises(ImageError, match=r"^s3://b/x.png: (cannot decode image|not an image Pillow)"):
        decode_image(cut, "s3://b/x.png")
    with pytest.raises(ImageError, match=r"^<bytes>: not an image Pillow can read"):
        decode_image(b"not a picture")


def test_from_array_reads_what_ray_read_images_gives():
    """Arrays of every Pillow mode read_images hands over: as the file's own modes, so that
    preprocessing gives the same input."""
    rgba = _gradient_rgb(20, 12)
    rgba = np.concatenate([rgba, rgba[:, :, :1]], axis=2)
    for mode in ("L", "LA", "RGB", "RGBA", "1"):
        img = Image.fromarray(rgba, "RGBA").convert(mode)
        got = from_array(np.asarray(img))
        want = img if mode != "1" else img.convert("L")
        assert got.mode == want.mode, mode
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want), err_msg=mode)
        np.testing.assert_array_equal(preprocess(got, (8, 8), 3, PRESETS["imagenet"]),
                                      preprocess(img, (8, 8), 3, PRESETS["imagenet"]), err_msg=mode)
    with pytest.raises(ImageError, match=r"shape \[4, 4, 5\]: expected H x W or H x W x C with C 1, 2, 3 or 4"):
        from_array(np.zeros((4, 4, 5), np.uint8))


def test_find_images_expands_folders_sorted(tmp_path):
    for name in ["b.png", "a.jpg", "c.txt"]:
        (tmp_path / name).write_bytes(b"")
    assert find_images([str(tmp_path)]) == [str(tmp_path / "a.jpg"), str(tmp_path / "b.png")]
    with pytest.raises(ImageError, match="missing"):
        find_images([str(tmp_path / "missing")])


def test_preprocessing_for_metadata():
    meta = {"tinycnn.preset": "caffe", "tinycnn.mean": "1, 2, 3", "tinycnn.invert": "yes",
            "tinycnn.crop_ratio": "0.5"}
    spec = preprocessing_for(meta)
    assert (spec.name, spec.mean, spec.invert, spec.crop_ratio, spec.bgr) == ("caffe", (1.0, 2.0, 3.0), True, 0.5, True)
    # A preset named by the caller replaces the model's, refinements included; options apply last.
    spec = preprocessing_for(meta, "imagenet", std=(2.0,))
    assert spec == PRESETS["imagenet"].replace(std=(2.0,))
    assert preprocessing_for({}) == PRESETS["imagenet"]


@pytest.mark.parametrize("meta,changes,message", [
    ({"tinycnn.preset": "sepia"}, {}, "unknown preset 'sepia'"),
    ({"tinycnn.crop_ratio": "most"}, {}, "tinycnn.crop_ratio='most' is not valid"),
    ({"tinycnn.std": "0.2 0 0.2"}, {}, "must not contain 0"),
    ({}, {"crop_ratio": 1.5}, r"crop ratio must be in \(0, 1\], got 1.5"),
    ({"tinycnn.polarity": "white-on-black"}, {}, "tinycnn.polarity='white-on-black' is not valid"),
    ({"tinycnn.polarity": "light-on-dark", "tinycnn.invert": "1"}, {}, "both tinycnn.polarity and tinycnn.invert"),
    ({}, {"picture_polarity": "sideways"}, "picture polarity must be auto, dark-on-light or light-on-dark"),
])
def test_preprocessing_for_refuses(meta, changes, message):
    with pytest.raises(ValueError, match=message):
        preprocessing_for(meta, **changes)


def _stroke(size, ink, paper, thickness=0.12):
    """A ring drawn with `ink` on `paper`, not touching the edges, as a pen would draw an 0."""
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1) - 0.5
    r = np.hypot(yy, xx)
    a = np.where(np.abs(r - 0.3) < thickness / 2, ink, paper)
    return Image.fromarray(a.astype(np.uint8))


@pytest.mark.parametrize("size", [8, 28, 200])
def test_detect_polarity_from_the_border(size):
    assert detect_polarity(_stroke(size, 0, 255)) == "dark-on-light"
    assert detect_polarity(_stroke(size, 255, 0)) == "light-on-dark"
    # Low contrast and a grey ground: the midpoint of the picture's own range decides.
    assert detect_polarity(_stroke(size, 90, 170)) == "dark-on-light"
    assert detect_polarity(_stroke(size, 170, 90)) == "light-on-dark"
    # Colour pictures are read by their brightness.
    assert detect_polarity(_stroke(size, 30, 220).convert("RGB")) == "dark-on-light"
    # A flat picture: by its value.
    assert detect_polarity(Image.new("L", (size, size), 200)) == "dark-on-light"
    assert detect_polarity(Image.new("L", (size, size), 20)) == "light-on-dark"


def test_detect_polarity_ignores_specks_and_ink_touching_the_border():
    img = np.asarray(_stroke(64, 255, 0)).copy()
    img[0, :10] = 255        # a stroke running off the top edge
    img[5, 5] = img[60, 3] = 255
    assert detect_polarity(Image.fromarray(img)) == "light-on-dark"


def test_inversion_follows_the_model_and_the_picture():
    model = PRESETS["none"].replace(polarity="light-on-dark")
    dark_ink, light_ink = _stroke(28, 0, 255), _stroke(28, 255, 0)
    assert needs_inversion(dark_ink, model) and not needs_inversion(light_ink, model)
    forced = model.replace(picture_polarity="dark-on-light")
    assert needs_inversion(dark_ink, forced) and needs_inversion(light_ink, forced)
    # Both polarities of one drawing become the same input.
    np.testing.assert_array_equal(preprocess(dark_ink, (8, 8), 1, model), preprocess(light_ink, (8, 8), 1, model))
    x = preprocess(light_ink, (28, 28), 1, model)
    assert x.max() == 1.0 and x[0, 0, 0] == 0.0, "ink 1, ground 0 for a light-on-dark model"
    # A model that states no polarity: pictures as they are, unless invert.
    plain = PRESETS["none"]
    assert not needs_inversion(dark_ink, plain) and needs_inversion(dark_ink, plain.replace(invert=True))
