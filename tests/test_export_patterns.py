"""The blocks of issue 13's networks as PyTorch's two exporters write them (legacy at opsets 13
and 17, dynamo at 18), with a symbolic batch, height and width: each loads once and matches
onnxruntime at two batch sizes and two spatial sizes.  (The whole networks are in models/.)"""
import io
import warnings

import numpy as np
import onnx
import pytest

import tinycnn
from helpers import ort_run, rel_diff

torch = pytest.importorskip("torch")
nn, F = torch.nn, torch.nn.functional
pytestmark = pytest.mark.slow  # exports (the dynamo exporter: seconds each)


class YoloNeckHead(nn.Module):
    """Nearest 2x upsampling and a skip Concat, then YOLOv8's decoupled head decode: Split of box
    and class channels, Softmax over the DFL bins, anchors from arange, Sigmoid."""

    def __init__(self, c=16, reg=8, nc=5):
        super().__init__()
        self.reg, self.nc = reg, nc
        self.conv = nn.Conv2d(2 * c, 4 * reg + nc, 1)
        self.register_buffer("proj", torch.arange(reg, dtype=torch.float32))

    def forward(self, x):
        up = F.interpolate(x, scale_factor=2.0, mode="nearest")
        y = self.conv(torch.cat([up, up * 0.5], 1))
        b, _, h, w = y.shape
        box, cls = y.view(b, -1, h * w).split((4 * self.reg, self.nc), 1)
        box = box.view(b, 4, self.reg, h * w).softmax(2)
        dist = (box * self.proj.view(1, 1, -1, 1)).sum(2)
        sy, sx = torch.meshgrid(torch.arange(h, dtype=torch.float32) + 0.5,
                                torch.arange(w, dtype=torch.float32) + 0.5, indexing="ij")
        anchors = torch.stack((sx, sy), 0).view(1, 2, -1).expand(b, 2, h * w)
        lt, rb = dist.chunk(2, 1)
        return torch.cat((anchors - lt, anchors + rb, cls.sigmoid()), 1)


class DBNetHead(nn.Module):
    """DBNet's probability head: conv-BN-ReLU, two ConvTranspose 2x2/2 (BN-ReLU between)."""

    def __init__(self, c=16):
        super().__init__()
        self.conv = nn.Conv2d(c, c // 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c // 4)
        self.up1 = nn.ConvTranspose2d(c // 4, c // 4, 2, 2)
        self.bn2 = nn.BatchNorm2d(c // 4)
        self.up2 = nn.ConvTranspose2d(c // 4, 1, 2, 2)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv(x)))
        return torch.sigmoid(self.up2(F.relu(self.bn2(self.up1(x)))))


class ConvNeXtBlock(nn.Module):
    """Depthwise 7x7, channels-last LayerNorm, Linear-GELU-Linear, layer scale, residual."""

    def __init__(self, c=32):
        super().__init__()
        self.dw = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.norm = nn.LayerNorm(c, eps=1e-6)
        self.fc1, self.fc2 = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)
        self.gamma = nn.Parameter(torch.full((c,), 0.5))

    def forward(self, x):
        y = self.fc2(F.gelu(self.fc1(self.norm(self.dw(x).permute(0, 2, 3, 1))))) * self.gamma
        return x + y.permute(0, 3, 1, 2)


class SegmentationHead(nn.Module):
    """A strided stem, GroupNorm, a classifier, bilinear upsampling to the input's own size."""

    def __init__(self, c=8, k=5):
        super().__init__()
        self.stem, self.gn, self.cls = nn.Conv2d(3, c, 3, stride=4, padding=1), nn.GroupNorm(4, c), nn.Conv2d(c, k, 1)

    def forward(self, x):
        y = self.cls(F.relu(self.gn(self.stem(x))))
        return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)


BLOCKS = {"yolo": (YoloNeckHead, (16, 10, 12), [(1, 16, 10, 12), (2, 16, 7, 5)]),
          "dbnet": (DBNetHead, (16, 12, 12), [(1, 16, 12, 12), (2, 16, 9, 15)]),
          "convnext": (ConvNeXtBlock, (32, 14, 14), [(1, 32, 14, 14), (2, 32, 9, 11)]),
          "segmentation": (SegmentationHead, (3, 64, 64), [(1, 3, 64, 64), (2, 3, 50, 70)])}


def export(module, shape, dynamo, opset):
    x = torch.randn((1,) + shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            dims = {0: torch.export.Dim("n"), 2: torch.export.Dim("h", min=4), 3: torch.export.Dim("w", min=4)}
            return torch.onnx.export(module, (x,), None, dynamo=True, opset_version=opset, input_names=["x"],
                                     dynamic_shapes={"x": dims}, verbose=False).model_proto
        f = io.BytesIO()
        torch.onnx.export(module, (x,), f, dynamo=False, opset_version=opset, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}})
        return onnx.load_from_string(f.getvalue())


@pytest.mark.parametrize("exporter,opset", [("legacy", 13), ("legacy", 17), ("dynamo", 18)])
@pytest.mark.parametrize("block", sorted(BLOCKS))
def test_exported_block_matches_onnxruntime_at_any_size(block, exporter, opset):
    cls, shape, feeds = BLOCKS[block]
    torch.manual_seed(0)
    module = cls().eval()
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2)
    model = export(module, shape, exporter == "dynamo", opset)
    session = tinycnn.InferenceSession(model.SerializeToString())
    name = session.get_inputs()[0].name
    rng = np.random.default_rng(1)
    for feed in feeds:
        x = rng.normal(size=feed).astype(np.float32)
        (got,) = session.run(None, {name: x})
        (ref,) = ort_run(model, {name: x})
        with torch.no_grad():
            eager = module(torch.from_numpy(x)).numpy()
        assert got.shape == ref.shape == eager.shape
        assert rel_diff(got, ref) <= 1e-5, (feed, rel_diff(got, ref))
        assert rel_diff(got, eager) <= 1e-5, (feed, rel_diff(got, eager))
