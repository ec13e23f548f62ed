/* Private to qwinograd*.c: the integer Winograd F(2x2, 3x3) of 8-bit convolutions. */
#ifndef TC_QWINOGRAD_INTERNAL_H
#define TC_QWINOGRAD_INTERNAL_H

#include "quant_internal.h"

/* One layer's run, shared by its chunks of tiles.  A tile is 2 x 2 output pixels of one
 * image, read from the 4 x 4 input pixels at (2 ty - pt, 2 tx - pl). */
typedef struct tc_qwg_job {
    const tc_ctx *ctx;
    int n, h, w, C, K, oh, ow, pt, pl;
    int tiles_y, tiles_x, ntiles;
    int chunk, nchunks;                   /* the most tiles of a chunk; chunks of tiles */
    int npchunks;                         /* chunks of panels: a task is (panels, tiles) */
    int cpad;                             /* C rounded up to 2 (S16X2's pairs) */
    const uint8_t *x;
    uint8_t flip;                         /* int8 input: bytes read as x ^ 0x80 */
    int x_zero_point;                     /* in the flipped (unsigned) domain */
    const uint8_t *zero_row;              /* C bytes that read as x_zero_point */
    const int16_t *packed;                /* [16][np][cpad / 2][16][2] */
    const tc_qoutput *out;
    const int32_t *bias;                  /* [np * 16] */
    const float *scale;                   /* [np * 16] */
    tc_qukernel uk;                       /* the tier's S16X2 micro-kernel */
    int prefetch_all;                     /* prefetch the weights in every chunk */
    char *y;
    char *ws;                             /* per thread: ws_thread bytes */
    size_t ws_thread;
} tc_qwg_job;

/* Tiles [t0, t0 + nt) of the job (nt <= job->chunk), panels [p0, p1) of 16 output channels,
 * ws: the thread's workspace.  prefetch: the weights are not expected in L2 (this thread's
 * first chunk, or more weights than L2 holds), each panel is prefetched during the one
 * before it. */

void tc_qwg_chunk_portable(const tc_qwg_job *jb, int t0, int nt, int p0, int p1, int prefetch,
                           char *ws);
#ifdef TC_HAVE_AVX2_SOURCES
void tc_qwg_chunk_avx2(const tc_qwg_job *jb, int t0, int nt, int p0, int p1, int prefetch,
                       char *ws);
#endif

#define QWG_CAT_(a, b) a##b
#define QWG_CAT(a, b) QWG_CAT_(a, b)

/* Bytes of a thread's workspace for chunks of `chunk` tiles. */
static inline size_t tc_qwg_thread_bytes(int chunk, int cpad)
{
    size_t v = (size_t)16 * chunk * cpad * sizeof(int16_t);
    size_t m = (size_t)16 * chunk * TC_QNR * sizeof(int32_t);
    return ((v + 63) & ~(size_t)63) + ((m + 63) & ~(size_t)63);
}

#endif /* TC_QWINOGRAD_INTERNAL_H */
