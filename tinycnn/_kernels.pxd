# C declarations of csrc/tinycnn.h.  Everything is nogil: the wrappers in
# _kernels.pyx check shapes with the GIL held, then call these without it.

cdef extern from "tinycnn.h" nogil:
    enum:
        TC_ISA_PORTABLE
        TC_ISA_AVX2
        TC_ACT_NONE
        TC_ACT_RELU

    int tc_cpu_best_isa()

    ctypedef struct tc_pool:
        pass
    tc_pool *tc_pool_create(int nthreads)
    void tc_pool_destroy(tc_pool *pool)
    int tc_pool_size(const tc_pool *pool)

    ctypedef struct tc_ctx:
        tc_pool *pool
        int isa
    int tc_ctx_init(tc_ctx *ctx, tc_pool *pool, int isa)
