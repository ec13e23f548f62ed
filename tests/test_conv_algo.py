"""The convolution decision (tinycnn/ops/conv_algo.py): which algorithm for which geometry,
numeric budget, thread count and weights."""
import itertools

import pytest

from tinycnn import _kernels
from tinycnn.ops.conv_algo import WINOGRAD4_MAX_CHAIN, ConvGeometry, choose_conv_algo


def same_pad(c, k, hw, kernel=3, batch=1):
    """A stride-1 convolution whose output is hw x hw (pads kernel // 2)."""
    p = kernel // 2
    return ConvGeometry(batch, c, k, hw, hw, (kernel, kernel), (1, 1), (p, p, p, p))


@pytest.mark.parametrize("c,k,hw,want", [
    (3, 64, 224, "gemm"),                    # RGB input layer: the transforms dominate
    (32, 32, 56, "winograd_f4x4_3x3"),       # c*k/(c + k) = 16: F(4x4) pays from 8
    (16, 16, 160, "winograd_f4x4_3x3"),      # YOLOv8n's narrowest C2f: ratio 8
    (8, 16, 56, "gemm"),                     # ratio 5.3: the transforms dominate
    (64, 64, 224, "winograd_f4x4_3x3"),      # VGG-16 conv1_2 ...
    (128, 128, 112, "winograd_f4x4_3x3"),
    (256, 256, 56, "winograd_f4x4_3x3"),
    (512, 512, 28, "winograd_f4x4_3x3"),
    (256, 512, 14, "winograd_f2x2_3x3"),     # 16 F(4x4) tiles, 18.9 MB of F(4x4) weights
    (512, 512, 14, "winograd_f2x2_3x3"),     # VGG conv5: 37.7 MB of F(4x4) weights
    (128, 128, 14, "winograd_f4x4_3x3"),     # 16 tiles, but only 2.4 MB of weights
    (512, 512, 7, "winograd_f2x2_3x3"),      # ResNet's last stage: too few 4x4 tiles
    (512, 512, 5, "gemm"),                   # 9 F(2x2) tiles, below the 12 that pay
    (512, 512, 2, "gemm"),                   # 1 tile: nothing won
])
def test_3x3_layers(c, k, hw, want):
    got = choose_conv_algo(same_pad(c, k, hw))
    assert got == want, f"3x3 {c}->{k} at {hw}x{hw}: {got}, expected {want}"


@pytest.mark.parametrize("c,k,hw,want", [
    (64, 192, 27, "winograd_f2x2_5x5"),      # AlexNet conv2: 2.2x faster than the GEMM
    (32, 64, 56, "winograd_f2x2_5x5"),
    (192, 384, 13, "winograd_f2x2_5x5"),
    (16, 32, 28, "gemm"),                    # too few channels: the transforms dominate
    (3, 64, 224, "gemm"),                    # RGB input
    (512, 512, 7, "gemm"),                   # 16 tiles: nothing won
])
def test_5x5_layers(c, k, hw, want):
    got = choose_conv_algo(same_pad(c, k, hw, kernel=5))
    assert got == want, f"5x5 {c}->{k} at {hw}x{hw}: {got}, expected {want}"


@pytest.mark.parametrize("c,k,hw,want", [
    (32, 32, 80, "gemm"),                    # ratio 16: F(4x4) would pay, F(2x2) does not
    (64, 64, 80, "winograd_f2x2_3x3"),       # ratio 32
    (64, 64, 5, "gemm"),                     # 9 F(2x2) tiles
])
def test_3x3_layers_of_a_long_chain(c, k, hw, want):
    """Past the numeric budget F(4x4) is out, and F(2x2), which saves less, needs more channels."""
    got = choose_conv_algo(same_pad(c, k, hw), conv_chain=WINOGRAD4_MAX_CHAIN + 1)
    assert got == want, f"3x3 {c}->{k} at {hw}x{hw}, long chain: {got}, expected {want}"


def test_long_chains_of_convolutions_take_the_accurate_winograd():
    """The numeric budget: past WINOGRAD4_MAX_CHAIN convolutions in a row, F(4x4,3x3) (and
    F(2x2,5x5), which rounds alike) give way to F(2x2,3x3) and the GEMM."""
    vgg = same_pad(256, 256, 56)
    alexnet = same_pad(64, 192, 27, kernel=5)
    for chain, f4, f5 in [(0, "winograd_f4x4_3x3", "winograd_f2x2_5x5"),
                          (WINOGRAD4_MAX_CHAIN, "winograd_f4x4_3x3", "winograd_f2x2_5x5"),
                          (WINOGRAD4_MAX_CHAIN + 1, "winograd_f2x2_3x3", "gemm")]:
        assert choose_conv_algo(vgg, conv_chain=chain) == f4, f"3x3, chain {chain}"
        assert choose_conv_algo(alexnet, conv_chain=chain) == f5, f"5x5, chain {chain}"


def test_winograd_off_or_weights_it_cannot_take():
    for g in (same_pad(256, 256, 56), same_pad(64, 192, 27, kernel=5)):
        assert choose_conv_algo(g, winograd=False) == "gemm"
        assert choose_conv_algo(g, winograd_weights=False) == "gemm"


@pytest.mark.parametrize("g,want", [
    (ConvGeometry(1, 256, 256, 56, 56, (3, 3), (2, 2), (1, 1, 1, 1)), "gemm"),      # strided
    (ConvGeometry(1, 256, 256, 56, 56, (3, 3), (1, 1), (2, 2, 2, 2), (2, 2)), "gemm"),  # dilated
    (ConvGeometry(1, 256, 256, 56, 56, (3, 3), (1, 1), (1, 1, 1, 1), group=2), "gemm"),
    (ConvGeometry(1, 256, 256, 56, 56, (3, 3), (1, 1), (1, 1, 1, 1), group=8), "grouped"),  # 32 each
    (ConvGeometry(1, 256, 256, 56, 56, (3, 3), (1, 1), (1, 1, 1, 1), group=4), "gemm"),  # 64 each
    (ConvGeometry(1, 440, 440, 14, 14, (3, 3), (2, 2), (1, 1, 1, 1), group=55), "grouped"),  # RegNet
    (ConvGeometry(1, 64, 128, 56, 56, (1, 1), (2, 2), group=4), "grouped"),        # 16 -> 32 each
    (ConvGeometry(1, 32, 32, 112, 112, (3, 3), (1, 1), (1, 1, 1, 1), group=32), "depthwise"),
    (ConvGeometry(1, 32, 64, 112, 112, (3, 3), (2, 2), (1, 1, 1, 1), group=32), "depthwise"),
    (ConvGeometry(1, 64, 256, 56, 56, (1, 1)), "1x1"),
    (ConvGeometry(1, 64, 256, 56, 56, (1, 1), group=4), "1x1"),
    (ConvGeometry(1, 512, 1024, 28, 28, (1, 1), (2, 2)), "gemm"),                  # 1x1 stride 2
    (ConvGeometry(1, 1, 4, 28, 28, (1, 1)), "1x1"),                                # C = group = 1
    (ConvGeometry(1, 960, 160, 5, 5, (1, 1)), "1x1_chan"),                         # small maps
    (ConvGeometry(1, 160, 960, 6, 6, (1, 1)), "1x1_chan"),
    (ConvGeometry(1, 960, 160, 3, 3, (1, 1)), "1x1_chan"),
    (ConvGeometry(1, 1152, 48, 1, 1, (1, 1)), "1x1_chan"),
    (ConvGeometry(1, 960, 160, 4, 4, (1, 1)), "1x1"),                              # 16 pixels
    (ConvGeometry(1, 960, 160, 7, 7, (1, 1)), "1x1"),                              # 3 x 16 + 1
    (ConvGeometry(1, 160, 960, 7, 7, (1, 1)), "1x1"),
    (ConvGeometry(1, 576, 96, 14, 14, (1, 1)), "1x1"),                             # deep K
    (ConvGeometry(1, 96, 576, 14, 14, (1, 1)), "1x1"),                             # expansion
    (ConvGeometry(1, 960, 160, 5, 5, (1, 1), group=2), "1x1"),
    (ConvGeometry(1, 3, 64, 224, 224, (7, 7), (2, 2), (3, 3, 3, 3)), "gemm"),      # ResNet stem
    (ConvGeometry(1, 3, 64, 224, 224, (11, 11), (4, 4), (2, 2, 2, 2)), "gemm"),    # AlexNet stem
    (ConvGeometry(1, 64, 64, 1, 100, (1, 3), (1, 1), (0, 1, 0, 1)), "gemm"),       # a 1-D conv
])
def test_other_geometries(g, want):
    assert choose_conv_algo(g) == want, g


@pytest.mark.parametrize("k,pads,want", [
    (16, (1, 1, 1, 1), "stem"),     # MobileNetV3
    (24, (1, 1, 1, 1), "stem"),     # ShuffleNetV2
    (32, (1, 1, 1, 1), "stem"),     # MobileNetV2, EfficientNet, MnasNet, RegNetY
    (64, (0, 0, 0, 0), "stem"),     # SqueezeNet 1.1 (STEM_MAX_K, s18)
    (96, (0, 0, 0, 0), "gemm"),     # past STEM_MAX_K
])
def test_rgb_stems_take_the_direct_kernel_on_avx2(k, pads, want):
    g = ConvGeometry(1, 3, k, 224, 224, (3, 3), (2, 2), pads)
    assert choose_conv_algo(g) == want
    assert [choose_conv_algo(g, isa=i) for i in ("avx512", "portable")] == ["gemm", "gemm"]


def test_channel_lane_tiles_only_on_avx2():
    """AVX-512's row tiles (12x32, x read in place) beat the channel-lane tile on small maps,
    and the portable build keeps the row tiles (the thresholds were measured on AVX2)."""
    g = ConvGeometry(1, 960, 160, 5, 5, (1, 1))
    assert [choose_conv_algo(g, isa=i) for i in ("avx2", "avx512", "portable")] == \
        ["1x1_chan", "1x1", "1x1"]


def test_the_thread_count_and_batch_do_not_move_the_thresholds():
    """Measured at 1 and 2 threads alike (see conv_algo.py); the batch only adds tiles, and
    the thresholds count the tiles of one image."""
    for g in (same_pad(512, 512, 7), same_pad(64, 64, 224), same_pad(3, 64, 224)):
        assert {choose_conv_algo(g, num_threads=t) for t in (1, 2, 8)} == {choose_conv_algo(g)}


GRID = [ConvGeometry(1, c, k, 20, 20, kernel, strides, pads, dil, group)
        for (c, k, group), kernel, strides, pads, dil in itertools.product(
            [(64, 64, 1), (64, 64, 64), (64, 128, 64), (64, 64, 2), (3, 64, 1)],
            [(1, 1), (3, 3), (5, 5), (3, 1)], [(1, 1), (2, 2)], [(0, 0, 0, 0), (1, 1, 1, 1), (0, 2, 1, 0)],
            [(1, 1), (2, 2)])]


@pytest.mark.parametrize("chain", [0, WINOGRAD4_MAX_CHAIN + 1])
def test_the_kernels_can_compute_every_choice(chain):
    """Whatever the decision picks, the C layer accepts for that geometry (tc_conv2d_check)."""
    for g in GRID:
        algo = choose_conv_algo(g, conv_chain=chain)
        can = _kernels.conv2d_algos(g.in_channels, g.out_channels, g.kernel, g.strides, g.pads,
                                    g.dilations, g.group)
        assert algo in can, f"{g}: chose {algo!r}, the kernels can do {can}"
        assert algo != "reference"
