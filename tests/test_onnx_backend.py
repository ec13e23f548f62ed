"""ONNX's own conformance tests (onnx.backend.test) for the ops tinycnn implements.

The node test cases of every op below run against tinycnn.backend.  A case that
cannot pass is excluded with a one-line reason: each exclusion is a debt.
Run: pytest tests/test_onnx_backend.py  (-k maxpool to select an op).
"""
import onnx.backend.test

import tinycnn.backend

backend_test = onnx.backend.test.BackendTest(tinycnn.backend, __name__)

# Node test case name prefixes (test_<prefix>[_...]_cpu), one per op of issue 3.
NODE_TESTS = [
    "conv", "basic_conv", "maxpool", "averagepool", "globalaveragepool", "globalmaxpool",
    "relu", "leakyrelu", "prelu", "clip", "sigmoid", "hardsigmoid", "hardswish", "flatten",
    "gemm", "matmul", "add", "sub", "mul", "div", "sum", "max", "min", "batchnorm", "lrn",
    "dropout", "training_dropout", "softmax", "reshape", "identity", "concat", "reduce_mean",
    "constant", "constantofshape", "shape", "gather", "unsqueeze", "squeeze", "transpose",
    "constant_pad", "edge_pad", "reflect_pad", "wrap_pad", "slice",
]
for prefix in NODE_TESTS:
    backend_test.include(rf"^test_{prefix}(_.*)?_cpu$")
# Small models exported by PyTorch (opset 6 to 12): the same ops, written by a converter.
backend_test.include(r"^test_operator_.*_cpu$")
backend_test.include(r"^test_(Conv|MaxPool|AvgPool|BatchNorm|ReLU|LeakyReLU|PReLU|Sigmoid|Softmax|"
                     r"Softmin|LogSoftmax|log_softmax|softmax|Linear|ConstantPad|ZeroPad|"
                     r"ReflectionPad|ReplicationPad|Embedding|PixelShuffle|Tanh|Softsign|"
                     r"PoissonNLLLLoss|GLU|ELU|SELU|Softplus|ConvTranspose)[0-9a-z_]*_cpu$")
backend_test.include(r"^test_single_relu_model_cpu$")

# -- not the op (a longer op name shares the prefix) --
backend_test.exclude(r"^test_gather_elements_")  # GatherElements, another op (not in issue 3)

# -- element types: tinycnn computes float32 at run time --
backend_test.exclude(r"^test_(add|sub|mul|div|max|min)_u?int(8|16|32|64)")  # integer math at run time
backend_test.exclude(r"^test_div_int32_trunc_")  # integer division at run time
backend_test.exclude(r"^test_(max|min)_float(16|64)_")  # float16/float64 math at run time
backend_test.exclude(r"^test_clip_default_int8_")  # int8 Clip at run time
backend_test.exclude(r"^test_maxpool_2d_uint8_")  # uint8 pooling at run time
backend_test.exclude(r"^test_identity_opt_")  # optional type, not a tensor
backend_test.exclude(r"^test_identity_sequence_")  # sequence type, not a tensor

# -- 3-D (volumetric) pooling and convolution: tinycnn does 1-D and 2-D --
backend_test.exclude(r"^test_(maxpool|averagepool)_3d_")  # 3-D pooling
backend_test.exclude(r"^test_(MaxPool|AvgPool)3d")  # 3-D pooling
backend_test.exclude(r"^test_Conv3d")  # 3-D convolution

# -- PyTorch-exported models whose other ops are outside issue 3 --
backend_test.exclude(r"^test_(operator_)?[Cc]onv[Tt]ranspose")  # ConvTranspose
backend_test.exclude(r"^test_(ELU|SELU|operator_selu|Softplus)_")  # Elu, Selu, Softplus
backend_test.exclude(r"^test_(GLU|operator_chunk)")  # Split
backend_test.exclude(r"^test_operator_repeat")  # Tile
backend_test.exclude(r"^test_operator_symbolic_override_cpu")  # InstanceNormalization
backend_test.exclude(r"^test_operator_add_(broadcast|size1_\w+)_cpu")  # float64 math at run time
backend_test.exclude(r"^test_operator_addconstant_cpu")  # float64 math at run time
backend_test.exclude(r"^test_operator_non_float_params_cpu")  # int64 math at run time

# -- function-body expansions built on ops outside issue 3 --
backend_test.exclude(r"^test_clip(_.*)?_expanded_")  # expansion uses Less and Where (bool tensors)
backend_test.exclude(r"^test_(leakyrelu|prelu).*_expanded_")  # expansion uses Less and Where

# -- training mode --
backend_test.exclude(r"^test_training_dropout(?!_zero_ratio)")  # random mask (training mode)

globals().update(backend_test.test_cases)
