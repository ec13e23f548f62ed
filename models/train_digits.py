"""Train the digits model that ships with tinycnn (tinycnn/data/digits.onnx).

    python models/train_digits.py     # a minute or two on an idle 2-core machine

Data: scikit-learn's bundled handwritten digits (`load_digits`, 1797 images of 8x8 pixels, values
0..16, no download).  A stratified split holds out 25% (seed 0); `split()` is imported by
tests/test_digits.py so that the test sees exactly the images training never saw.

Model: a little ResNet on the 8x8 input (conv-bn-relu stem, a residual block at 8x8 with 16
channels, a strided residual block to 4x4 with 32 channels, global average pool, linear), trained
with torch on the CPU with fixed seeds, exported with the legacy (TorchScript) exporter at
opset 13 with a dynamic batch axis; the exporter folds batch norm into the convolutions.

Input convention (stored in the ONNX metadata as tinycnn.* keys, which `tinycnn infer` reads):
a grayscale picture resized to 8x8 (whole image, no crop) and scaled to [0, 1], light ink on a
dark ground (`tinycnn.polarity: light-on-dark`), so ink is 1.0 and paper 0.0: the same as
`load_digits().images / 16`.  A picture of the other polarity (dark ink on light paper, as the
samples are drawn) is inverted first: tinycnn.images reads each picture's polarity from its
border.  Training sees both those arrays and the same digits rendered as PNG-like pictures at
other sizes and sent through tinycnn.images, so that a user's 128x128 picture gives the same
answer as the 8x8 array.

Writes: tinycnn/data/digits.onnx, tinycnn/data/digits_labels.txt, models/digits/samples/digit_<d>.png
(one held-out test image per class, drawn at 128x128).
"""
from __future__ import annotations

import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA_DIR = os.path.join(ROOT, "tinycnn", "data")
SAMPLES_DIR = os.path.join(HERE, "digits", "samples")
MODEL_PATH = os.path.join(DATA_DIR, "digits.onnx")
LABELS_PATH = os.path.join(DATA_DIR, "digits_labels.txt")

SEED = 0
TEST_SIZE = 0.25
SAMPLE_SIZE = 128  # pixels of the sample pictures
METADATA = {
    "tinycnn.preset": "none",
    "tinycnn.polarity": "light-on-dark",
    "tinycnn.crop_ratio": "1.0",
    "tinycnn.labels": "digits_labels.txt",
    "tinycnn.description": "8x8 handwritten digits (scikit-learn load_digits); "
                           "pictures of either polarity (read from their border)",
}


def split():
    """(X_train, X_test, y_train, y_test): 8x8 float images with values 0..16, int labels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    return train_test_split(digits.images.astype(np.float32), digits.target.astype(np.int64),
                            test_size=TEST_SIZE, random_state=SEED, stratify=digits.target)


def to_array(images8):
    """8x8 digits (0..16) to the model input [N, 1, 8, 8] float32: ink 1.0, paper 0.0."""
    return (np.asarray(images8, dtype=np.float32) / 16.0).reshape(-1, 1, 8, 8)


def to_picture(image8, size=8, resample=None, light_on_dark=False):
    """One 8x8 digit as a Pillow "L" picture, `size` x `size` pixels: dark ink on light paper,
    or light on dark (as MNIST and load_digits store digits) with `light_on_dark`."""
    from PIL import Image

    ink = np.asarray(image8, dtype=np.float64) * (255.0 / 16.0)
    pixels = np.round(ink if light_on_dark else 255.0 - ink)
    img = Image.fromarray(pixels.astype(np.uint8))
    if size != 8:
        img = img.resize((size, size), Image.BICUBIC if resample is None else resample)
    return img


def build_model():
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            y = torch.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            return torch.relu(y + (x if self.down is None else self.down(x)))

    return nn.Sequential(
        nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        Block(16, 16, 1),
        Block(16, 32, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
    )


def _images_module():
    """tinycnn/images.py by path: training needs no built extension (tinycnn/__init__ imports it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_tinycnn_images", os.path.join(ROOT, "tinycnn", "images.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def augmented(X, y, rng):
    """The arrays themselves, shifted copies, and copies drawn as pictures of other sizes that go
    through the same preprocessing as `tinycnn infer` (so resampling blur is seen in training)."""
    from PIL import Image

    images = _images_module()
    preprocess = images.preprocess
    spec = images.preprocessing_for(METADATA)  # as `tinycnn infer` will read the model
    views, labels = [to_array(X)], [y]
    for _ in range(2):  # one-pixel shifts
        shifted = np.zeros_like(X)
        for i, img in enumerate(X):
            dy, dx = rng.integers(-1, 2, size=2)
            shifted[i] = np.roll(np.roll(img, dy, axis=0), dx, axis=1)
            if dy:
                shifted[i][0 if dy > 0 else -1, :] = 0
            if dx:
                shifted[i][:, 0 if dx > 0 else -1] = 0
        views.append(to_array(shifted))
        labels.append(y)
    for _ in range(3):  # rendered at 16..160 pixels, read back to 8x8
        drawn = np.empty((len(X), 1, 8, 8), np.float32)
        for i, img in enumerate(X):
            size = int(rng.integers(16, 161))
            resample = Image.BICUBIC if rng.random() < 0.5 else Image.NEAREST
            drawn[i] = preprocess(to_picture(img, size, resample), (8, 8), 1, spec)
        views.append(drawn)
        labels.append(y)
    return np.concatenate(views), np.concatenate(labels)


def train(X, y, epochs=15, seed=SEED):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    torch.set_num_threads(1)  # tiny tensors: one thread is as fast and shares the machine
    model = build_model()
    xs, ys = torch.from_numpy(X), torch.from_numpy(y)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    steps_per_epoch = (len(xs) + 127) // 128
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(seed)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(xs), generator=gen)
        total = 0.0
        for start in range(0, len(xs), 128):
            idx = order[start:start + 128]
            opt.zero_grad()
            loss = loss_fn(model(xs[idx]), ys[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        print(f"epoch {epoch + 1:3d}  loss {total / len(xs):.4f}", flush=True)
    return model.eval()


def export(model, path=MODEL_PATH):
    import onnx
    import torch

    dummy = torch.zeros(1, 1, 8, 8)
    torch.onnx.export(model, (dummy,), path, dynamo=False, opset_version=13,
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}})
    proto = onnx.load(path)
    proto.doc_string = "tinycnn's bundled digits classifier; trained by models/train_digits.py"
    for key, value in METADATA.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, path)


def main():
    import onnxruntime as ort

    rng = np.random.default_rng(SEED)
    X_train, X_test, y_train, y_test = split()
    X_aug, y_aug = augmented(X_train, y_train, rng)
    print(f"train {len(X_train)} images ({len(X_aug)} with augmentation), test {len(X_test)}")
    model = train(X_aug, y_aug)

    os.makedirs(DATA_DIR, exist_ok=True)
    export(model)
    with open(LABELS_PATH, "w") as f:
        f.write("".join(f"{d}\n" for d in range(10)))

    sess = ort.InferenceSession(MODEL_PATH, providers=["CPUExecutionProvider"])
    logits = sess.run(None, {"image": to_array(X_test)})[0]
    accuracy = float((logits.argmax(1) == y_test).mean())
    print(f"held-out accuracy (onnxruntime, arrays): {accuracy:.4f}  "
          f"model {os.path.getsize(MODEL_PATH)} bytes")

    os.makedirs(SAMPLES_DIR, exist_ok=True)
    for d in range(10):
        first = int(np.flatnonzero(y_test == d)[0])  # the first held-out image of each class
        to_picture(X_test[first], SAMPLE_SIZE).save(os.path.join(SAMPLES_DIR, f"digit_{d}.png"))
    print(f"wrote {MODEL_PATH}, {LABELS_PATH}, {SAMPLES_DIR}/digit_[0-9].png")


if __name__ == "__main__":
    main()
