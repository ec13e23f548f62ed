"""A YOLOv8n-style detector: CSP backbone with C2f blocks, SPPF, an upsampling neck (nearest
2x, Concat), a decoupled head, and the distribution-focal box decode inside the graph.

Written after the published YOLOv8 design (n scale: depth 0.33, width 0.25; 80 classes,
16 distance bins), module names as its reference implementation uses them (``cv1``,
``cv2``, ``m``, ``dfl``).  The decode is what makes real exports of such detectors more
than convolutions: the per-level anchor grid is built from the feature maps' shapes
(Shape -> Range -> Expand, ConstantOfShape for the strides), the head output is split
into box bins and class logits (Split), and each box side is the expectation of a
softmax over 16 bins (Softmax, then a fixed 1x1 conv).

Output ``[N, 4 + 80, A]``: box centre x, y, width, height in input pixels, then the 80
class probabilities, for every anchor A of the three levels (strides 8, 16, 32).
Input height and width must be multiples of 32.
"""
import torch
from torch import nn

__all__ = ["Conv", "C2f", "SPPF", "Detect", "DFL", "YOLOv8", "yolov8n"]

BN_EPS, BN_MOMENTUM = 1e-3, 0.03


class Conv(nn.Module):
    """Conv (no bias), BatchNorm, SiLU."""

    def __init__(self, c1, c2, k=1, s=1):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = nn.SiLU(inplace=True)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c1, c2, shortcut=True):
        super().__init__()
        self.cv1 = Conv(c1, c2, 3)
        self.cv2 = Conv(c2, c2, 3)
        self.add = shortcut and c1 == c2
        if self.add:
            self.branch_end_bn = "cv2.bn"  # see models/_init.py

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    """CSP bottleneck, 2 convs: split in two halves, chain n bottlenecks on the second,
    concatenate every intermediate result."""

    def __init__(self, c1, c2, n=1, shortcut=False):
        super().__init__()
        self.c = c2 // 2
        self.cv1 = Conv(c1, 2 * self.c, 1)
        self.cv2 = Conv((2 + n) * self.c, c2, 1)
        self.m = nn.ModuleList(Bottleneck(self.c, self.c, shortcut) for _ in range(n))

    def forward(self, x):
        y = list(self.cv1(x).chunk(2, 1))
        for m in self.m:
            y.append(m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    """Spatial pyramid pooling, fast: three chained 5x5 max pools, concatenated."""

    def __init__(self, c1, c2, k=5):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1)
        self.cv2 = Conv(c_ * 4, c2, 1)
        self.m = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)

    def forward(self, x):
        y = [self.cv1(x)]
        for _ in range(3):
            y.append(self.m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class Concat(nn.Module):
    def __init__(self, dimension=1):
        super().__init__()
        self.d = dimension

    def forward(self, x):
        return torch.cat(x, self.d)


class DFL(nn.Module):
    """Distribution focal loss decode: the expectation of a softmax over ``c1`` bins."""

    def __init__(self, c1=16):
        super().__init__()
        self.conv = nn.Conv2d(c1, 1, 1, bias=False).requires_grad_(False)
        self.c1 = c1
        self.init_extra_()

    def init_extra_(self, generator=None):
        # Fixed, not learned: the weights are the bin indices 0..c1-1.
        with torch.no_grad():
            self.conv.weight.copy_(torch.arange(self.c1, dtype=torch.float32,
                                                device=self.conv.weight.device)
                                   .view(1, self.c1, 1, 1))

    def forward(self, x):
        b, _, a = x.shape  # [N, 4 * c1, A]
        x = x.view(b, 4, self.c1, a).transpose(2, 1).softmax(1)
        return self.conv(x).view(b, 4, a)


def make_anchors(feats, strides, offset=0.5):
    """Anchor centres (in grid cells) and strides of every cell of every level: [A, 2], [A, 1]."""
    anchor_points, stride_tensor = [], []
    for feat, stride in zip(feats, strides):
        h, w = feat.shape[2:]
        sx = torch.arange(end=w, dtype=feat.dtype) + offset
        sy = torch.arange(end=h, dtype=feat.dtype) + offset
        sy, sx = torch.meshgrid(sy, sx, indexing="ij")
        anchor_points.append(torch.stack((sx, sy), -1).view(-1, 2))
        stride_tensor.append(torch.full((h * w, 1), stride, dtype=feat.dtype))
    return torch.cat(anchor_points), torch.cat(stride_tensor)


def dist2bbox(distance, anchor_points, dim=1):
    """(left, top, right, bottom) distances -> (centre x, centre y, width, height)."""
    lt, rb = distance.chunk(2, dim)
    x1y1 = anchor_points - lt
    x2y2 = anchor_points + rb
    return torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), dim)


class Detect(nn.Module):
    def __init__(self, nc=80, ch=(), strides=(8, 16, 32)):
        super().__init__()
        self.nc = nc
        self.nl = len(ch)
        self.reg_max = 16
        self.no = nc + self.reg_max * 4
        self.strides = tuple(float(s) for s in strides)
        c2 = max(16, ch[0] // 4, self.reg_max * 4)
        c3 = max(ch[0], min(nc, 100))
        self.cv2 = nn.ModuleList(nn.Sequential(Conv(x, c2, 3), Conv(c2, c2, 3),
                                               nn.Conv2d(c2, 4 * self.reg_max, 1)) for x in ch)
        self.cv3 = nn.ModuleList(nn.Sequential(Conv(x, c3, 3), Conv(c3, c3, 3),
                                               nn.Conv2d(c3, nc, 1)) for x in ch)
        self.dfl = DFL(self.reg_max)

    def forward(self, x):
        x = [torch.cat((self.cv2[i](xi), self.cv3[i](xi)), 1) for i, xi in enumerate(x)]
        anchors, strides = (t.transpose(0, 1) for t in make_anchors(x, self.strides))
        n = x[0].shape[0]
        x_cat = torch.cat([xi.view(n, self.no, -1) for xi in x], 2)
        box, cls = x_cat.split((self.reg_max * 4, self.nc), 1)
        dbox = dist2bbox(self.dfl(box), anchors.unsqueeze(0), dim=1) * strides
        return torch.cat((dbox, cls.sigmoid()), 1)


class YOLOv8(nn.Module):
    def __init__(self, depth=0.33, width=0.25, nc=80):
        super().__init__()

        def c(ch):  # channels at this width (multiples of 8)
            return max(8, int(round(ch * width / 8)) * 8)

        def n(reps):  # repeats at this depth
            return max(round(reps * depth), 1)

        # Indexed as the reference's layer list (Upsample and Concat count as layers),
        # so parameters are named model.<layer>.<...> the same way.
        self.model = nn.ModuleList([
            Conv(3, c(64), 3, 2),                       # 0  P1/2
            Conv(c(64), c(128), 3, 2),                  # 1  P2/4
            C2f(c(128), c(128), n(3), True),            # 2
            Conv(c(128), c(256), 3, 2),                 # 3  P3/8
            C2f(c(256), c(256), n(6), True),            # 4
            Conv(c(256), c(512), 3, 2),                 # 5  P4/16
            C2f(c(512), c(512), n(6), True),            # 6
            Conv(c(512), c(1024), 3, 2),                # 7  P5/32
            C2f(c(1024), c(1024), n(3), True),          # 8
            SPPF(c(1024), c(1024), 5),                  # 9
            nn.Upsample(scale_factor=2, mode="nearest"),  # 10
            Concat(1),                                  # 11 (10, 6)
            C2f(c(1024) + c(512), c(512), n(3)),        # 12
            nn.Upsample(scale_factor=2, mode="nearest"),  # 13
            Concat(1),                                  # 14 (13, 4)
            C2f(c(512) + c(256), c(256), n(3)),         # 15 P3 out
            Conv(c(256), c(256), 3, 2),                 # 16
            Concat(1),                                  # 17 (16, 12)
            C2f(c(256) + c(512), c(512), n(3)),         # 18 P4 out
            Conv(c(512), c(512), 3, 2),                 # 19
            Concat(1),                                  # 20 (19, 9)
            C2f(c(512) + c(1024), c(1024), n(3)),       # 21 P5 out
            Detect(nc, (c(256), c(512), c(1024))),      # 22
        ])

    def forward(self, x):
        m = self.model
        x = m[1](m[0](x))
        p3 = m[4](m[3](m[2](x)))
        p4 = m[6](m[5](p3))
        p5 = m[9](m[8](m[7](p4)))
        h4 = m[12](m[11]([m[10](p5), p4]))
        o3 = m[15](m[14]([m[13](h4), p3]))
        o4 = m[18](m[17]([m[16](o3), h4]))
        o5 = m[21](m[20]([m[19](o4), p5]))
        return m[22]([o3, o4, o5])


def yolov8n(**kwargs):
    return YOLOv8(depth=0.33, width=0.25, **kwargs)
