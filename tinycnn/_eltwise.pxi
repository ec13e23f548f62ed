# Wrappers of the eltwise kernels (included by _kernels.pyx).
