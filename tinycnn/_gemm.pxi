# Wrappers of the gemm kernels (included by _kernels.pyx).
