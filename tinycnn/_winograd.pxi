# Wrappers of the winograd kernels (included by _kernels.pyx).
