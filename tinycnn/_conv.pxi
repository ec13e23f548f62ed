# Wrappers of the conv kernels (included by _kernels.pyx).
