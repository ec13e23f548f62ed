/* A build's convolution entry points, dlopen'ed (pointwise_ab.c, chan_nhwc_potential.c): load()
 * resolves them and makes a context at TC_ISA_AVX2 (with a pool of `threads` from 2), or
 * exits with the loader's message.  Needs tinycnn.h. */
#ifndef AB_CONV_H
#define AB_CONV_H
#include "ab_dl.h"

typedef struct {
    tc_pool *(*pool_create)(int);
    size_t (*pack_size)(const tc_conv2d_params *, int);
    void (*pack)(const tc_ctx *, const tc_conv2d_params *, int, const float *, float *);
    size_t (*ws_size)(const tc_ctx *, const tc_conv2d_params *, int, int, int, int);
    void (*conv)(const tc_ctx *, const tc_conv2d_params *, int, int, int, int, const float *,
                 const float *, const float *, const float *, const tc_activation *, float *,
                 float *);
    tc_ctx ctx;
} build;

static void load(build *b, const char *path, int threads)
{
    void *h = ab_open(path);
    *(void **)&b->pool_create = sym(h, "tc_pool_create");
    *(void **)&b->pack_size = sym(h, "tc_conv2d_pack_size");
    *(void **)&b->pack = sym(h, "tc_conv2d_pack_f32");
    *(void **)&b->ws_size = sym(h, "tc_conv2d_workspace_size");
    *(void **)&b->conv = sym(h, "tc_conv2d_f32");
    ab_avx2(h, path, &b->ctx, threads > 1 ? b->pool_create(threads) : NULL);
}

#endif
