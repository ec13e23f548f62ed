/* The two-build harnesses' loading (pointwise_ab.c, qpw_ab.c, ir_ab.c,
 * chan_nhwc_potential.c via ab_conv.h): a build opened, a function
 * of it, its AVX2 context, each or the loader's message and exit. */
#ifndef AB_DL_H
#define AB_DL_H
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include "tinycnn.h"

static inline void *ab_open(const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "%s\n", dlerror());
        exit(1);
    }
    return h;
}

/* A build that is the Python extension itself: its Cython part needs libpython's symbols */
static inline void ab_libpython(void)
{
    if (!dlopen("libpython3.11.so.1.0", RTLD_NOW | RTLD_GLOBAL) &&
        !dlopen("libpython3.so", RTLD_NOW | RTLD_GLOBAL))
        fprintf(stderr, "no libpython (set LD_LIBRARY_PATH): %s\n", dlerror());
}

static void *sym(void *h, const char *name)
{
    void *f = dlsym(h, name);
    if (!f) {
        fprintf(stderr, "%s\n", dlerror());
        exit(1);
    }
    return f;
}

/* ctx with the build's AVX2 kernels (tc_ctx_init of that build) */
static inline void ab_avx2(void *h, const char *path, tc_ctx *ctx, tc_pool *pool)
{
    int (*init)(tc_ctx *, tc_pool *, int);
    *(void **)&init = sym(h, "tc_ctx_init");
    if (init(ctx, pool, TC_ISA_AVX2)) {
        fprintf(stderr, "%s: no AVX2 kernels on this CPU or build\n", path);
        exit(1);
    }
}
#endif
