# Wrappers of the pool kernels (included by _kernels.pyx).
