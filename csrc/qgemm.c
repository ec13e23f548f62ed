/* 8-bit GEMM: weight packing, portable micro-kernels, the output stage and
 * the threaded driver shared with the convolution (qconv.c).
 *
 *   y[M, N] = output( sum_k (a[m, k] - a_zp) * w[n, k] )
 *
 * a (activations: pixels x channels) is read by rows; w (the weights minus
 * their zero point) is packed once into panels of QNR = 16 output channels.
 * The micro-kernel computes QMR x QNR exact 32-bit sums of a[m, k] * w[n, k]
 * (activations as unsigned bytes: int8 inputs are flipped to a + 128), and
 * the input zero point comes in through the bias:
 *   sum_k (a - a_zp) * w = sum_k a * w - a_zp * colsum(w)
 * Packed buffer: colsum [roundup(N, 16)] int32, then the panels
 * [N / 16][kpad / g][16][g] (g = 4 int8 for S8X4 and U8S8X2, 2 int16 for S16X2);
 * U8S8X2 then holds its correction pass (tinycnn.h): fix_start [np + 1] int32 (the
 * first entry of each panel), fix_k [nfix] int32 (an entry's first k), fix_w
 * [nfix][16][4] int8; U7S8 its window's widths per k, lim [2][kpad] uint8 (per pair of k,
 * then paired for the long kernels at base 0: u7s8_limits).
 *
 * Driver: rows are cut into blocks of QMB; a task packs its block's rows
 * (im2col for convolutions, widening to int16 for S16X2) into its thread's
 * workspace, unless they can be read in place, then runs every panel of its
 * column range over the block, QMR rows at a time.
 */
#include <string.h>
#include "qgemm_internal.h"

/* ------------------------------------------------------------------------ */
/* CPU and format                                                            */
/* ------------------------------------------------------------------------ */

#if defined(TC_HAVE_AVX2_SOURCES) && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TC_CPU_SUPPORTS(f) __builtin_cpu_supports(f)
#else
#define TC_CPU_SUPPORTS(f) 0
#endif

int tc_cpu_has_avxvnni(void)
{
#ifdef TC_HAVE_AVX2_SOURCES
    __builtin_cpu_init();
#endif
    return TC_CPU_SUPPORTS("avx2") && TC_CPU_SUPPORTS("avxvnni");
}

int tc_cpu_has_avx512vnni(void)
{
#ifdef TC_HAVE_AVX2_SOURCES
    __builtin_cpu_init();
#endif
    return TC_CPU_SUPPORTS("avx512f") && TC_CPU_SUPPORTS("avx512bw") &&
           TC_CPU_SUPPORTS("avx512vl") && TC_CPU_SUPPORTS("avx512vnni");
}

int tc_cpu_has_vnni(int vnni)
{
    if (vnni == TC_VNNI_NONE)
        return 1;
    if (tc_cpu_best_isa() < TC_ISA_AVX2)   /* the VNNI rows are twins of AVX2's and AVX-512's */
        return 0;
    return vnni == TC_VNNI_AVX ? tc_cpu_has_avxvnni()
           : vnni == TC_VNNI_AVX512 ? tc_cpu_has_avx512vnni() : 0;
}

int tc_cpu_best_vnni(void)
{
    return tc_cpu_has_vnni(TC_VNNI_AVX512) ? TC_VNNI_AVX512
           : tc_cpu_has_vnni(TC_VNNI_AVX)  ? TC_VNNI_AVX
                                           : TC_VNNI_NONE;
}

int tc_qgemm_choose_format(const tc_ctx *ctx, int w_min, int w_max)
{
    int fits8 = w_min >= -128 && w_max <= 127;
    /* portable: both layouts run the same C; SIMD: S8X4 only where vpdpbusd runs it */
    int s8 = !ctx || ctx->isa == TC_ISA_PORTABLE || tc_quant_kernels_of(ctx)->s8x4_native;
    return fits8 && s8 ? TC_QFMT_S8X4 : TC_QFMT_S16X2;
}

/* U8S8X2's split of a pair: the weight w1 the panel keeps (so that 255 * (|w0| + |w1|)
 * fits int16 when both have the same sign) and the correction w1 - that. */
static inline int u8s8_kept(int w0, int w1)
{
    if (w0 > 0 && w1 > 0 && w0 + w1 > 128)
        return 128 - w0;
    if (w0 < 0 && w1 < 0 && w0 + w1 < -128)
        return -128 - w0;
    return w1;
}

/* Does the 4-k group kg of panel p (16 columns) need a correction? */
static int u8s8_group_fixed(int K, int N, const int16_t *w, ptrdiff_t ldw, int p, int kg)
{
    for (int j = 0; j < TC_QNR; j++) {
        int n = p * TC_QNR + j;
        for (int i = 0; n < N && i < 4; i += 2) {
            int k = kg * 4 + i;
            int w0 = k < K ? w[(ptrdiff_t)n * ldw + k] : 0;
            int w1 = k + 1 < K ? w[(ptrdiff_t)n * ldw + k + 1] : 0;
            if (u8s8_kept(w0, w1) != w1)
                return 1;
        }
    }
    return 0;
}

static int u8s8_count_fixed(int K, int N, const int16_t *w, ptrdiff_t ldw)
{
    int np = (N + TC_QNR - 1) / TC_QNR, nkg = (K + 3) / 4, count = 0;
    for (int p = 0; p < np; p++)
        for (int kg = 0; kg < nkg; kg++)
            count += u8s8_group_fixed(K, N, w, ldw, p, kg);
    return count;
}

double tc_qgemm_u8s8x2_share(int K, int N, const int16_t *w, ptrdiff_t ldw)
{
    long groups = (long)((N + TC_QNR - 1) / TC_QNR) * ((K + 3) / 4);
    return groups ? (double)u8s8_count_fixed(K, N, w, ldw) / (double)groups : 0.0;
}

int tc_qgemm_choose_format_for(const tc_ctx *ctx, int K, int N, const int16_t *w, ptrdiff_t ldw)
{
    int w_min = 0, w_max = 0;
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) {
            int v = w[(ptrdiff_t)n * ldw + k];
            w_min = v < w_min ? v : w_min;
            w_max = v > w_max ? v : w_max;
        }
    int format = tc_qgemm_choose_format(ctx, w_min, w_max);
    if (format != TC_QFMT_S16X2 || !ctx || ctx->isa == TC_ISA_PORTABLE || w_min < -128 ||
        w_max > 127)
        return format;
    /* vpmaddubsw + vpmaddwd + vpaddd per 4 k against twice vpmaddwd + vpaddd: 3 against 4
     * instructions, less the correction pass over its share of the groups */
    return tc_qgemm_u8s8x2_share(K, N, w, ldw) <= TC_QGEMM_U8S8X2_MAX_SHARE ? TC_QFMT_U8S8X2
                                                                        : TC_QFMT_S16X2;
}

/* The micro-kernel of a format in ctx's row of the table. */
tc_qukernel tc_qukernel_for(const tc_ctx *ctx, int format)
{
    const tc_quant_kernels *k = tc_quant_kernels_of(ctx);
    return format == TC_QFMT_S8X4     ? k->s8x4
           : format == TC_QFMT_U8S8X2 ? k->u8s8x2
           : format == TC_QFMT_U7S8   ? k->u7s8
                                      : k->s16x2;
}

/* ------------------------------------------------------------------------ */
/* Packing                                                                   */
/* ------------------------------------------------------------------------ */

static size_t panels_size(int format, int K, int N)
{
    size_t np = (size_t)(N + TC_QNR - 1) / TC_QNR;
    return np * TC_QNR * sizeof(int32_t) +
           np * (size_t)tc_qfmt_kpad(format, K) * TC_QNR * tc_qfmt_elem(format);
}

/* U8S8X2's correction section of nfix entries */
static size_t fix_size(int N, size_t nfix)
{
    return (size_t)((N + TC_QNR - 1) / TC_QNR + 1) * sizeof(int32_t) +
           nfix * (sizeof(int32_t) + 4 * TC_QNR);
}

/* U7S8's window widths after the panels: per pair of k, then paired (u7s8_limits) */
static size_t lim_size(int format, int K)
{
    return format == TC_QFMT_U7S8 ? 2 * (size_t)tc_qfmt_kpad(format, K) : 0;
}

/* The most a pair of input channels' weights can add per byte of activation over the N
 * columns (u7s8_limits: lim = 32767 / this), max(|w0| + |w1| of same sign, |w0|, |w1|),
 * saturated at 255; pa, na / pb, nb: the two channels' positive and negative parts.  By 64
 * columns (the inner loop vectorised), stopping once it reaches stop. */
static int pair_cost(const uint8_t *pa, const uint8_t *na, const uint8_t *pb, const uint8_t *nb,
                     int N, int stop)
{
    int most = 0;
    for (int n0 = 0; n0 < N && most < stop; n0 += 64) {
        const int n1 = N - n0 < 64 ? N : n0 + 64;
        uint8_t m = 0;
        for (int n = n0; n < n1; n++) {
            const unsigned p = pa[n] + pb[n], q = na[n] + nb[n], s = p > q ? p : q;
            const uint8_t c = (uint8_t)(s > 255 ? 255 : s);
            m = c > m ? c : m;
        }
        most = m > most ? m : most;
    }
    return most;
}

/* pos, neg [K][N]: the int8 weights' positive and negative parts by input channel; order
 * [K]: the channels, hardest first, in; out: each even position's channel followed by the
 * first later one whose pair costs at most wide (else the cheapest), the rest in their
 * order (tinycnn/qdq.py _pair_channels).  MobileNetV2 int8's 960 -> 320: 6 ms. */
void tc_qpair_channels(const uint8_t *pos, const uint8_t *neg, int K, int N, int wide,
                       int32_t *order)
{
    for (int p = 0; p + 1 < K; p += 2) {
        const uint8_t *pa = pos + (ptrdiff_t)order[p] * N, *na = neg + (ptrdiff_t)order[p] * N;
        int best = p + 1, best_cost = 1 << 30;
        for (int q = p + 1; q < K; q++) {
            const ptrdiff_t at = (ptrdiff_t)order[q] * N;
            const int c = pair_cost(pa, na, pos + at, neg + at, N, best_cost);
            if (c < best_cost) {
                best = q;
                best_cost = c;
                if (c <= wide)
                    break;
            }
        }
        const int32_t chosen = order[best];
        memmove(order + p + 2, order + p + 1, (size_t)(best - p - 1) * sizeof(int32_t));
        order[p + 1] = chosen;
    }
}

/* The most four input channels' weights can add per byte over the N columns (the paired
 * widths of u7s8_limits: lim = 32767 / this): the larger of a column's positive and
 * negative parts, qp / qn [N] the quad's first channels' sums plus pa / na, the candidate's
 * (int16: at most 4 x 128; signed, for SSE2's pmaxsw).  By 64 columns, stopping once it
 * reaches stop: then a lower bound. */
static int quad_cost(const int16_t *qp, const int16_t *qn, const uint8_t *pa,
                     const uint8_t *na, int N, int stop)
{
    int most = 0;
    for (int n0 = 0; n0 < N && most < stop; n0 += 64) {
        const int n1 = N - n0 < 64 ? N : n0 + 64;
        int16_t m = 0;
        for (int n = n0; n < n1; n++) {
            const int16_t p = (int16_t)(qp[n] + pa[n]), q = (int16_t)(qn[n] + na[n]);
            const int16_t s = p > q ? p : q;
            m = s > m ? s : m;
        }
        most = m > most ? m : most;
    }
    return most;
}

/* pos, neg [K][N] as tc_qpair_channels; order [K]: the channels, hardest first, in; out: in
 * runs of four, each run's first channel followed by the three later ones that, added one at
 * a time, keep the four's cost (quad_cost) lowest; the rest in their order.  Workspace:
 * sums 2 N int16, bound K int32.  A candidate's cost only grows as the four fills, so its
 * last one bounds the next from below: the second and third picks start from the candidate
 * of the lowest bound and skip those whose bound is no lower than the best so far (ResNet-50
 * int8's 3x3 layers, 512 channels by 9 x 512 columns, about 3x fewer columns read).
 * (tinycnn/qdq.py _pair_channels: ResNet's conv1 -> conv2 -> conv3.) */
void tc_qquad_channels(const uint8_t *pos, const uint8_t *neg, int K, int N, int32_t *order,
                       int16_t *sums, int32_t *bound)
{
    int16_t *qp = sums, *qn = sums + N;
    for (int p = 0; p + 1 < K; p += 4) {
        for (int n = 0; n < N; n++) {
            qp[n] = pos[(ptrdiff_t)order[p] * N + n];
            qn[n] = neg[(ptrdiff_t)order[p] * N + n];
        }
        for (int t = p + 1; t < p + 4 && t < K; t++) {
            int best = t, best_cost = 1 << 30, first = -1;
            if (t > p + 1) {   /* bounds from the last pick */
                first = t;
                for (int q = t + 1; q < K; q++)
                    if (bound[order[q]] < bound[order[first]])
                        first = q;
                const ptrdiff_t at = (ptrdiff_t)order[first] * N;
                best = first;
                best_cost = bound[order[first]] = quad_cost(qp, qn, pos + at, neg + at, N, 1 << 30);
            }
            for (int q = t; q < K; q++) {
                if (q == first || (first >= 0 && bound[order[q]] >= best_cost))
                    continue;
                const ptrdiff_t at = (ptrdiff_t)order[q] * N;
                const int c = quad_cost(qp, qn, pos + at, neg + at, N, best_cost);
                bound[order[q]] = c;
                if (c < best_cost) {
                    best = q;
                    best_cost = c;
                }
            }
            const int32_t chosen = order[best];
            memmove(order + t + 1, order + t, (size_t)(best - t) * sizeof(int32_t));
            order[t] = chosen;
            for (int n = 0; n < N; n++) {
                qp[n] = (int16_t)(qp[n] + pos[(ptrdiff_t)chosen * N + n]);
                qn[n] = (int16_t)(qn[n] + neg[(ptrdiff_t)chosen * N + n]);
            }
        }
    }
}

size_t tc_qgemm_pack_size(int format, int K, int N)
{
    size_t all = (size_t)((N + TC_QNR - 1) / TC_QNR) * ((K + 3) / 4);
    return panels_size(format, K, N) + lim_size(format, K) +
           (format == TC_QFMT_U8S8X2 ? fix_size(N, all) : 0);
}

size_t tc_qgemm_pack_size_for(int format, int K, int N, const int16_t *w, ptrdiff_t ldw)
{
    return panels_size(format, K, N) + lim_size(format, K) +
           (format == TC_QFMT_U8S8X2 ? fix_size(N, u8s8_count_fixed(K, N, w, ldw)) : 0);
}

/* U8S8X2: the correction section after the panels */
typedef struct fix_view {
    int32_t *start, *k;
    int8_t *w;
} fix_view;

static fix_view fix_section(int K, int N, const void *packed, int nfix)
{
    fix_view v;
    int np = (N + TC_QNR - 1) / TC_QNR;
    v.start = (int32_t *)((char *)packed + panels_size(TC_QFMT_U8S8X2, K, N));
    v.k = v.start + np + 1;
    v.w = (int8_t *)(v.k + (nfix >= 0 ? nfix : v.start[np]));
    return v;
}

size_t tc_qgemm_packed_size(int format, int K, int N, const void *packed)
{
    if (format != TC_QFMT_U8S8X2)
        return panels_size(format, K, N) + lim_size(format, K);
    fix_view v = fix_section(K, N, packed, -1);
    return panels_size(format, K, N) + fix_size(N, v.start[(N + TC_QNR - 1) / TC_QNR]);
}

/* U7S8's window width at each k of the pair (k, k + 1), the same for both: the most
 * bytes a and b in [0, lim] can reach without a pair sum a * w0 + b * w1 of any column
 * leaving int16, lim * (|w0| + |w1|) <= 32767 where the weights have the same sign
 * (lim * max(|w0|, |w1|) otherwise), 127 for weights of -128 and 255 at most.  The main
 * pass then sums min(a - base, lim) in place of min(a - base, 127): MobileNetV2's
 * projections' tiles have a byte above in 0-3% of their 4-k groups against 1-13%. */
static void u7s8_limits(int K, int N, const int16_t *w, ptrdiff_t ldw, uint8_t *lim)
{
    const int kpad = tc_qfmt_kpad(TC_QFMT_U7S8, K);
    for (int k = 0; k < kpad; k += 2) {
        int most = 0;
        for (int n = 0; n < N; n++) {
            int w0 = k < K ? w[(ptrdiff_t)n * ldw + k] : 0;
            int w1 = k + 1 < K ? w[(ptrdiff_t)n * ldw + k + 1] : 0;
            int a0 = w0 < 0 ? -w0 : w0, a1 = w1 < 0 ? -w1 : w1;
            int s = (w0 > 0 && w1 > 0) || (w0 < 0 && w1 < 0) ? a0 + a1 : a0 > a1 ? a0 : a1;
            most = s > most ? s : most;
        }
        int l = most ? 32767 / most : 255;
        lim[k] = lim[k + 1] = (uint8_t)(l > 255 ? 255 : l);
    }
    /* paired, at lim + kpad: the long kernels at base 0 add the pair sums of two 4-k steps
     * in int16 before widening them (vpmaddubsw twice, vpaddw, vpmaddwd by ones, vpaddd: 5
     * instructions per 8 k in place of 6, 3 multiplies in place of 4), so the bytes
     * of the lanes k, k + 1, k + 4, k + 5 share a width: lim * (the column's positive or
     * negative weights of the four, summed) <= 32767 for every column.  ResNet-50's b = 0
     * layers at 1t: 0.3-6% of the 4-row tiles' groups then have a byte above (9-20% in the
     * conv3 layers after a 3x3), against 0-5% with the pair's width */
    uint8_t *pl = lim + kpad;
    for (int k8 = 0; k8 < kpad; k8 += 8)
        for (int i = 0; i < 4 && k8 + i < kpad; i += 2) {
            int most = 0;
            for (int n = 0; n < N; n++) {
                int pos = 0, neg = 0;
                for (int q = 0; q < 4; q++) {
                    int k = k8 + i + (q & 1) + (q >> 1) * 4;
                    int v = k < K ? w[(ptrdiff_t)n * ldw + k] : 0;
                    pos += v > 0 ? v : 0;
                    neg += v < 0 ? -v : 0;
                }
                int s = pos > neg ? pos : neg;
                most = s > most ? s : most;
            }
            int l = most ? 32767 / most : 255;
            l = l > 255 ? 255 : l;
            for (int q = 0; q < 4; q++) {
                int k = k8 + i + (q & 1) + (q >> 1) * 4;
                if (k < kpad)
                    pl[k] = (uint8_t)l;
            }
        }
}

void tc_qgemm_pack(int format, int K, int N, const int16_t *w, ptrdiff_t ldw, void *packed)
{
    const int g = tc_qfmt_group(format), kpad = tc_qfmt_kpad(format, K);
    const int np = (N + TC_QNR - 1) / TC_QNR;
    int32_t *colsum = packed;
    for (int n = 0; n < np * TC_QNR; n++) {
        int32_t s = 0;
        for (int k = 0; n < N && k < K; k++)
            s += w[(ptrdiff_t)n * ldw + k];
        colsum[n] = s;
    }
    char *panels = (char *)packed + (size_t)np * TC_QNR * sizeof(int32_t);
    const size_t panel_elems = (size_t)kpad * TC_QNR;
    for (int p = 0; p < np; p++) {
        for (int kg = 0; kg < kpad / g; kg++)
            for (int j = 0; j < TC_QNR; j++)
                for (int i = 0; i < g; i++) {
                    int n = p * TC_QNR + j, k = kg * g + i;
                    int16_t v = n < N && k < K ? w[(ptrdiff_t)n * ldw + k] : 0;
                    size_t at = p * panel_elems + ((size_t)kg * TC_QNR + j) * g + i;
                    if (format == TC_QFMT_U8S8X2 && i % 2 == 1)
                        v = (int16_t)u8s8_kept(n < N && k - 1 < K ? w[(ptrdiff_t)n * ldw + k - 1] : 0, v);
                    if (format != TC_QFMT_S16X2)
                        ((int8_t *)panels)[at] = (int8_t)v;
                    else
                        ((int16_t *)panels)[at] = v;
                }
    }
    if (format == TC_QFMT_U7S8)
        u7s8_limits(K, N, w, ldw, (uint8_t *)packed + panels_size(format, K, N));
    if (format != TC_QFMT_U8S8X2)
        return;
    fix_view f = fix_section(K, N, packed, u8s8_count_fixed(K, N, w, ldw));
    int nfix = 0;
    for (int p = 0; p < np; p++) {
        f.start[p] = nfix;
        for (int kg = 0; kg < kpad / 4; kg++) {
            if (!u8s8_group_fixed(K, N, w, ldw, p, kg))
                continue;
            f.k[nfix] = kg * 4;
            int8_t *fw = f.w + (size_t)nfix * 4 * TC_QNR;
            for (int j = 0; j < TC_QNR; j++)
                for (int i = 0; i < 4; i++) {
                    int n = p * TC_QNR + j, k = kg * 4 + i, v = 0;
                    if (i % 2 == 1 && n < N && k - 1 < K) {
                        int w0 = w[(ptrdiff_t)n * ldw + k - 1];
                        int w1 = k < K ? w[(ptrdiff_t)n * ldw + k] : 0;
                        v = w1 - u8s8_kept(w0, w1);
                    }
                    fw[j * 4 + i] = (int8_t)v;
                }
            nfix++;
        }
    }
    f.start[np] = nfix;
}

/* ------------------------------------------------------------------------ */
/* Output stage and portable micro-kernels                                   */
/* ------------------------------------------------------------------------ */

void tc_qstore_tile(const uint32_t *acc, int ldacc, int mr, int nr, const tc_qepi *e, void *y,
                    ptrdiff_t ldy)
{
    const float flo = (float)(e->lo - e->zero_point), fhi = (float)(e->hi - e->zero_point);
    for (int r = 0; r < mr; r++) {
        for (int j = 0; j < nr; j++) {
            int32_t v = (int32_t)(acc[r * ldacc + j] + (uint32_t)e->bias[j]);
            ptrdiff_t at = r * ldy + j;
            switch (e->type) {
            case TC_QOUT_S32:
                ((int32_t *)y)[at] = v;
                break;
            case TC_QOUT_F32:
                ((float *)y)[at] = (float)v * e->scale[j];
                break;
            default: {
                int32_t q = tc_rne(tc_clampf((float)v * e->scale[j], flo, fhi)) + e->zero_point;
                int is_signed = e->type == TC_QOUT_S8;
                if (e->residual)
                    q = tc_qresidual_add(e->residual, q, tc_q8_load(e->r, at, is_signed),
                                         is_signed ? -128 : 0, is_signed ? 127 : 255);
                tc_q8_store(y, at, q, is_signed);
            }
            }
        }
    }
}

void tc_qukernel_s8x4_portable(int ntaps, int klen, const void *const *rows, int mr,
                               const void *b, ptrdiff_t ldb, const tc_qepi *e, int nr, void *y,
                               ptrdiff_t ldy)
{
    uint32_t acc[6 * TC_QNR];
    memset(acc, 0, sizeof(acc));
    (void)ldb;
    const int8_t *bk = b;
    for (int t = 0; t < ntaps; t++, bk += (size_t)klen * TC_QNR) {
        for (int r = 0; r < mr; r++) {
            const uint8_t *ar = rows[t * TC_QMR_MAX + r];
            uint32_t *cr = acc + r * TC_QNR;
            const int8_t *bs = bk;
            for (int k = 0; k < klen; k += 4, bs += 4 * TC_QNR)
                for (int j = 0; j < TC_QNR; j++) {
                    const int8_t *bj = bs + 4 * j;
                    int32_t v = ar[k] * bj[0] + ar[k + 1] * bj[1] + ar[k + 2] * bj[2] +
                                ar[k + 3] * bj[3];
                    cr[j] += (uint32_t)v;
                }
        }
    }
    tc_qstore_tile(acc, TC_QNR, mr, nr, e, y, ldy);
}

/* nr > 16 columns: kernel fn over the panels after the first (ldb bytes apart, see
 * tc_qepi_panel); returns the first panel's columns */
static int later_panels(tc_qukernel_fn fn, int ntaps, int klen, const void *const *rows, int mr,
                        const void *b, ptrdiff_t ldb, const tc_qepi *e, int nr, void *y,
                        ptrdiff_t ldy)
{
    for (int n0 = TC_QNR; n0 < nr; n0 += TC_QNR) {
        tc_qepi ep;
        void *yp = tc_qepi_panel(e, n0, y, &ep);
        fn(ntaps, klen, rows, mr, (const char *)b + n0 / TC_QNR * ldb, ldb, &ep,
           nr - n0 < TC_QNR ? nr - n0 : TC_QNR, yp, ldy);
    }
    return nr < TC_QNR ? nr : TC_QNR;
}

void tc_qukernel_s16x2_portable(int ntaps, int klen, const void *const *rows, int mr,
                                const void *b, ptrdiff_t ldb, const tc_qepi *e, int nr, void *y,
                                ptrdiff_t ldy)
{
    nr = later_panels(tc_qukernel_s16x2_portable, ntaps, klen, rows, mr, b, ldb, e, nr, y, ldy);
    uint32_t acc[6 * TC_QNR];
    memset(acc, 0, sizeof(acc));
    (void)ldb;
    const int16_t *bk = b;
    for (int t = 0; t < ntaps; t++, bk += (size_t)klen * TC_QNR) {
        for (int r = 0; r < mr; r++) {
            const int16_t *ar = rows[t * TC_QMR_MAX + r];
            uint32_t *cr = acc + r * TC_QNR;
            const int16_t *bs = bk;
            for (int k = 0; k < klen; k += 2, bs += 2 * TC_QNR)
                for (int j = 0; j < TC_QNR; j++) {
                    int32_t v = ar[k] * bs[2 * j] + ar[k + 1] * bs[2 * j + 1];
                    cr[j] += (uint32_t)v;
                }
        }
    }
    tc_qstore_tile(acc, TC_QNR, mr, nr, e, y, ldy);
}

static inline int32_t sat16(int32_t v)
{
    return v < -32768 ? -32768 : v > 32767 ? 32767 : v;
}

/* one 4-k group of bytes: vpmaddubsw's two saturated pair sums, added (vpmaddwd by ones) */
static inline int32_t u8s8_group(const uint8_t *a, const int8_t *w)
{
    return sat16(a[0] * w[0] + a[1] * w[1]) + sat16(a[2] * w[2] + a[3] * w[3]);
}

void tc_qukernel_u8s8x2_portable(int ntaps, int klen, const void *const *rows, int mr,
                                 const void *b, ptrdiff_t ldb, const tc_qepi *e, int nr, void *y,
                                 ptrdiff_t ldy)
{
    uint32_t acc[6 * TC_QNR];
    memset(acc, 0, sizeof(acc));
    (void)ldb;
    const int8_t *bk = b;
    for (int t = 0; t < ntaps; t++, bk += (size_t)klen * TC_QNR)
        for (int r = 0; r < mr; r++) {
            const uint8_t *ar = rows[t * TC_QMR_MAX + r];
            for (int k = 0; k < klen; k += 4)
                for (int j = 0; j < TC_QNR; j++)
                    acc[r * TC_QNR + j] += (uint32_t)u8s8_group(ar + k, bk + (k * TC_QNR + 4 * j));
        }
    for (int i = 0; i < e->nfix; i++) {
        int t = e->fix_k[i] / klen, k = e->fix_k[i] - t * klen;
        for (int r = 0; r < mr; r++) {
            const uint8_t *ar = rows[t * TC_QMR_MAX + r];
            for (int j = 0; j < TC_QNR; j++)
                acc[r * TC_QNR + j] +=
                    (uint32_t)u8s8_group(ar + k, e->fix_w + ((size_t)i * TC_QNR + j) * 4);
        }
    }
    tc_qstore_tile(acc, TC_QNR, mr, nr, e, y, ldy);
}

void tc_qukernel_u7s8_portable(int ntaps, int klen, const void *const *rows, int mr,
                               const void *b, ptrdiff_t ldb, const tc_qepi *e, int nr, void *y,
                               ptrdiff_t ldy)
{
    nr = later_panels(tc_qukernel_u7s8_portable, ntaps, klen, rows, mr, b, ldb, e, nr, y, ldy);
    uint32_t acc[6 * TC_QNR];
    memset(acc, 0, sizeof(acc));
    (void)ldb;
    (void)ntaps;
    const int8_t *bk = b;
    const int base = e->base;
    for (int r = 0; r < mr; r++) {
        const uint8_t *in = rows[r], *a = e->hi_rows[r];
        for (int k = 0; k < klen; k += 4)
            for (int j = 0; j < TC_QNR; j++)
                acc[r * TC_QNR + j] += (uint32_t)u8s8_group(in + k, bk + (k * TC_QNR + 4 * j));
        /* the parts above and below the window, as vpmaddubsw sums each (exact: at most
         * 128 - base and base <= 127) and the difference of the two pair sums in int16 */
        const int nfix = e->row_nfix ? e->row_nfix[r] : e->nfix;
        const int32_t *fix_k = e->row_nfix ? e->fix_k + r * e->fix_stride : e->fix_k;
        for (int i = 0; i < nfix; i++) {
            const int k = fix_k[i];
            /* above in two parts, at most 127 and 128 (the paired widths leave up to
             * 255 - lim above): every pair sum within int16 */
            uint8_t above[4], above2[4], below[4];
            for (int q = 0; q < 4; q++) {
                const int top = base + e->lim[k + q] < 255 ? base + e->lim[k + q] : 255;
                const int x = a[k + q] > top ? a[k + q] - top : 0;
                above[q] = (uint8_t)(x < 127 ? x : 127);
                above2[q] = (uint8_t)(x - above[q]);
                below[q] = (uint8_t)(a[k + q] < base ? base - a[k + q] : 0);
            }
            for (int j = 0; j < TC_QNR; j++) {
                const int8_t *w = bk + (k * TC_QNR + 4 * j);
                int32_t v = 0;
                for (int q = 0; q < 4; q += 2)
                    v += sat16(above[q] * w[q] + above[q + 1] * w[q + 1]) +
                         sat16(above2[q] * w[q] + above2[q + 1] * w[q + 1]) -
                         sat16(below[q] * w[q] + below[q + 1] * w[q + 1]);
                acc[r * TC_QNR + j] += (uint32_t)v;
            }
        }
    }
    tc_qstore_tile(acc, TC_QNR, mr, nr, e, y, ldy);
}

/* ------------------------------------------------------------------------ */
/* Driver                                                                    */
/* ------------------------------------------------------------------------ */

/* The task grid.  Rows: the M rows' tiles (mr rows each) dealt evenly into nblocks
 * blocks of at most d->qmb rows (TC_QMB, or TC_QMB_SHORT for short rows; no short last
 * block: 100 rows are 30 + 36 + 34, not 48 + 48 + 4), or on one thread one block up to
 * TC_QMB_WHOLE rows; columns: the panels
 * dealt evenly, in whole kernel calls, into ncchunks chunks.  The threads start at
 * evenly spaced tasks, so equal tasks in a multiple of the threads give each an equal
 * share; the order of the tasks decides which operand a thread reads only
 * its share of: with more columns than rows (late layers, GEMVs), column chunk outer,
 * each thread streaming its share of the weights; else row block outer, each thread
 * reading its share of the activations (which the previous layer's threads wrote by
 * rows).  Few row blocks (late layers, GEMVs) are not enough tasks: the
 * columns are split too, and then the rows are packed once, before the tasks, rather
 * than by each chunk.
 *
 * Measured at 2 threads (s18, 2026-12-02, Zen 4, emulated AVX2, load 6-7): the int8 splits
 * are not what ResNet-50 int8 loses to onnxruntime from 1 to 2 threads (0.80 -> 0.96 in
 * bench_int8.py).  A simulation build (every chunk of a 2-thread job run in turn on the
 * caller, claimed as the pool would, each timed; not committed) gives the jobs' ideal
 * speedup: ResNet-50 int8 1.91-1.95 over the run (GEMM tasks 1.95-1.96, Winograd 1.81-1.91,
 * the stem's copy 1.91-1.93, the input's quantization 1.17-1.80, the shared-row fill 1.06-1.30
 * before qdriver_fill_rows), ResNet-18 int8 1.93.  Per layer, the 2-thread work (sum of the
 * chunks) over the 1-thread work: about 1.0 (0.91-1.20 per step), within the noise (timing
 * each chunk by CLOCK_THREAD_CPUTIME_ID, a 2 us syscall here, had read as 1.16: per-chunk
 * timings need the vDSO clock); the U7S8 split redone per column chunk (4 x at 7x7, 2 x at
 * 14x14) is about 0.6% of the 2-thread run.
 * On the AMD EPYC Zen 3, native (n25-q2t, 2026-12-03), with both cores given to the timed
 * process (chrt -f 10; the host at load 6-8 otherwise leaves a 2-thread run 3-6x slower):
 * ResNet-50 int8's steps scale as onnxruntime's, 1 -> 2 threads 1.97 (sum of the step
 * medians, 49.5 -> 25.6 ms; 1.8-2.2 per step, the fc 1.32) against onnxruntime's 2.01
 * (mt_procs.py --fifo, its good processes; 1.94 over all), and tinycnn / onnxruntime (alt.py under chrt) is 0.88-0.91 at 1
 * thread, 0.89-0.93 at 2: what 2 threads lose against it is the 1-thread gap, not the split.
 * Tried and dropped there: 2 threads take a product of at most TC_QMB_WHOLE rows as one row
 * block too, its columns in 8 chunks (each thread streams its half of the weights once, not
 * twice: a column chunk of the 7x7 3x3 layers, 590 KB, does not stay in the 512 KB L2):
 * ResNet-50 int8 at 2 threads (alt.py under chrt, 12 x 4 runs) 0.994, 1.042, 1.031 of the
 * base's wall, its 7x7 layers within 2% (in one process, 16 x 3 runs, twice), MobileNetV2
 * int8's 7x7 projections 1.08-1.12 (960 -> 320 with the residual 0.152 -> 0.165 ms).
 * On the Zen 4 host (n27-r50q, 2026-12-04, emulated AVX2, 2 threads, SCHED_FIFO, one process
 * alternating the plans run by run through an environment switch (benchmarks/mt_inproc.py),
 * 6 processes x 40 runs, per-step wall medians; the steps of the layers left alone moved by
 * 0.5-1%): ResNet-50 int8
 * loses 3.0 ms of its 20.1 against half its 1-thread time (34.3 ms in the same processes),
 * layer3 (14x14) 1.2, layer4 0.7, layer2 0.5, layer1 0.3, the rest 0.3.  Tried and dropped:
 * split by rows where there are at least 4 row blocks (14x14, 196 rows: 6 blocks, one column
 * chunk, each thread its rows' activations and all the weights, so that a layer's outputs
 * stay in the cache of the thread that reads them next and U7S8's split is not redone per
 * column chunk): layer3's 1x1 steps 1.036 and 1.050 of their time in two runs (the following
 * 3x3 Winograd steps 0.98-1.00), the network 0.999-1.009; also at 7x7 (2 blocks) layer4 1.09;
 * the row blocks outer with the column chunks kept (10 tasks at 14x14): 1.002-1.019 and the
 * network 0.997-1.002.  Not the split: whole processes alternating under SCHED_FIFO (both
 * cores given, 4 rounds of 30 runs, medians of the process medians), tinycnn / onnxruntime
 * int8 ResNet-50 1 thread 33.7 / 42.8 ms (0.79), 2 threads 17.9 / 22.7 (0.79), each engine
 * 1.88x from 1 to 2 threads; ResNet-18 13.75 / 18.2 (0.76) and 8.1 / 10.55 (0.77).  What
 * bench_int8.py's ordinary (CFS) 2-thread processes lose beside that (ResNet-50 1.37x from 1
 * to 2 threads where onnxruntime's spinning pool got 1.57x, 07:32, de8dfca) is the scheduling
 * of a shared host (threadpool.c), not this partition. */

/* the most panel bytes (kpad x columns) for which U7S8's column chunks go row block outer
 * (plan_tasks): each thread then reads every panel, which stays in its L2.  Measured
 * (n27-q2t, 2026-12-04, Zen 4, AVX2 kernels, qpw_ab.c at QPW_THREADS=2 under chrt -f 10, min
 * of 100 rounds, against column chunk outer): MobileNetV2's 96 -> 576 at 14x14 (zero point
 * 144) 87.7 -> 75.6 and 88.1 -> 75.6 us (median ratio 0.853-0.857), its 64 -> 384 unchanged
 * (0.991-0.999), EfficientNet-B0's 112 -> 672 and 80 -> 480 0.91 and 0.84, ResNet-18's 128 ->
 * 256 at 14x14 0.91.  With split_memo, whole networks at 2 threads against the base
 * (ab_threads.py --fifo, burst medians, 30 rounds): MobileNetV2 int8 0.971 [0.957-0.993] and
 * 0.949 [0.917-1.019], EfficientNet-B0 int8 0.974 [0.951-0.995]; ResNet-18 1.008
 * [0.996-1.094] (16 rounds), ResNet-50 1.007 and 1.009 (10-12 rounds, ranges +-0.1); 1 thread
 * (no column chunks) MobileNetV2 0.992 [0.937-1.022]; the same bytes.  ResNet-50's 14x14
 * products (256 KiB of panels and more) keep the column chunks outer: not measured alone.
 * Tried and dropped there (qpw_ab.c, 2 threads): column chunks cut at even panels where the
 * whole calls do not divide (64 -> 384: 3 calls of 8 panels into 2 chunks of 8 + 4 each,
 * in place of 8 | 8 + 8) 1.18 of the time (a call more per tile: U7S8's correction pass and
 * output stage per call); the row blocks rounded up to a multiple of the threads, no column
 * chunks, 0.96-1.01 (load 18, within noise).
 * Raised from 128 KiB to 1 MiB (h50-r50, 2026-12-07, the Xeon, emulated AVX2, 2 threads):
 * ResNet-50 int8's 14x14 products (256-576 KiB of panels, 2 row blocks x 4 column chunks)
 * had their chunks outer, so each of a thread's tasks took the other row block and scanned
 * it again for the steps above the paired widths (split_memo keeps one block): layer3's
 * conv1 (1024 -> 256, 4 panels a chunk) scaled 1.69-1.70x from 1 to 2 threads against
 * onnxruntime's 1.78-1.80x (qsteps_mt.py --input photo), its conv3 (16 panels a chunk)
 * 1.87x.  Rows outer (benchmarks/mt_inproc.py --fifo --input photo, one build switching run
 * by run, 8 x 40 runs, step medians, bit-identical): layer3's conv1 0.293-0.295 -> 0.260-0.263
 * ms, its 3x3 stride-2 conv2 (im2col, 576 KiB) 0.609 -> 0.593, layer4.0's conv1 (M = 196,
 * 512 KiB) 0.523 -> 0.514, layer3's 1x1 steps 0.959 of their time, the whole run 0.992
 * [0.987-0.998]; rows outer only where a chunk has at most 4 panels: 0.968 / 0.994.
 * Whole runs against the base (ab_threads.py --fifo, 2 threads, 20 x 10 runs, each checkout's
 * tool against the other, burst medians): ResNet-50 int8 photograph 0.995 [0.990-0.998],
 * 0.989 [0.987-0.991] and 1 / 1.013, 1 / 1.015; noise 0.986 and 1 / 1.011; ResNet-18 int8
 * (its layer3.0 3x3 stride 2, 288 KiB) 0.997 and 1 / 0.997, level.  One thread: no chunks,
 * unchanged. */
#define TC_QU7S8_ROWS_OUTER_BYTES (1024 * 1024)

/* U7S8 products of at most TC_QMB_WHOLE rows whose panels pass this many bytes (kpad x
 * columns: ResNet's layer4 at 7x7, 1-2.4 MB) stay one row block at several threads too, as
 * on one, their columns in chunks (each thread a run of them: its share of the weights read
 * once, the block split once, split_memo), in place of two row blocks whose column chunks
 * alternate (each thread splitting each block at every task, its chunk's panels read per
 * block).  Measured (h46-q, 2026-12-06, the Xeon, emulated AVX2, 2 threads under chrt -f 10,
 * bit-identical): benchmarks/mt_inproc.py --input photo (one build switching run by run,
 * 8 x 40 runs, per-step wall medians) ResNet-50 int8 layer4's 1x1 layers 0.981 and 0.959 of
 * their time (two runs, both orders), its 3x3 layers 0.981 and 0.962, the layers it leaves
 * 0.995-1.002; ResNet-18 int8 layer4 0.984 / 0.976; whole runs (ab_threads.py --fifo --input
 * photo, 20 x 10, each checkout's tool against the other) ResNet-50 0.989 [0.981-0.992] and
 * 1 / 1.010 [1.000-1.025], ResNet-18 0.991 [0.982-1.002] and 1 / 1.014 [1.002-1.036] (the
 * build against itself 1.000, 0.997).  One thread: the plan as before.  n25-q2t had tried
 * one block for every product of at most TC_QMB_WHOLE rows on the Zen 3 (before split_memo
 * and the in-place steps kernel): MobileNetV2 int8's 7x7 projections (panels of at most
 * 307 KB) lost 8-12% there, so they keep two blocks. */
#define TC_QU7S8_WHOLE_BYTES (512 * 1024)

static void plan_tasks(int threads, tc_qdriver *d, int np)
{
    const int mr = d->uk.mr, step = d->uk.nr / TC_QNR, per_block = d->qmb / mr;
    const int tiles = (d->M + mr - 1) / mr, steps = (np + step - 1) / step;
    /* one thread: one block up to TC_QMB_WHOLE rows (several threads split the columns in
     * chunks, each read by every block while in L2), and U7S8 with large panels at any
     * thread count (TC_QU7S8_WHOLE_BYTES) */
    const int whole = d->M <= TC_QMB_WHOLE &&
                      (threads == 1 || (d->format == TC_QFMT_U7S8 &&
                                        (size_t)np * TC_QNR * d->kpad > TC_QU7S8_WHOLE_BYTES));
    int nblocks = whole ? 1 : (tiles + per_block - 1) / per_block;
    int chunks = 1;
    /* at least 4 tasks a thread.  Tried (n29-q, 2026-12-04, Zen 4, emulated AVX2, host load
     * 30-45): 1, 2, 8 and 16 in place of 4.  int8 ResNet-18 at 2 threads (mt_inproc.py
     * --fifo, one process switching run by run, 6-10 x 25 runs): 1.025 [1.000-1.047], 0.998
     * [0.977-1.024], 0.999-1.002 [0.975-1.030], 1.011 [0.985-1.035] of its time, layer4's
     * 7x7 3x3 layers (49 rows, 4-task chunks of 512 columns) 0.99-1.10; lone 1x1 layers
     * (qpw_ab.c, QPW_THREADS=2, 21 rounds) 256 -> 512 and 512 -> 1024 at 7x7, 128 -> 256 at
     * 14x14 0.96-1.09 with ranges across 1: kept at 4. */
    if (threads > 1 && nblocks < 4 * threads) {
        chunks = (4 * threads + nblocks - 1) / nblocks;
        while ((long)chunks * nblocks % threads) /* whole tasks per thread */
            chunks++;
        chunks = chunks < steps ? chunks : steps;
    } else if (threads > 1) {
        nblocks = (nblocks + threads - 1) / threads * threads;
        nblocks = nblocks < tiles ? nblocks : tiles;
    }
    d->tiles = tiles;
    /* U7S8 splits a row block for the tasks of its columns (split_memo): where the columns
     * are chunked over few row blocks and the panels are small, a thread takes its row blocks'
     * chunks one after the other, each block split once, rather than one column chunk of
     * every block (each block split by both threads). */
    d->columns_outer = np * TC_QNR > d->M &&
                       !(d->format == TC_QFMT_U7S8 && nblocks > 1 && chunks > 1 &&
                         (size_t)np * TC_QNR * d->kpad <= TC_QU7S8_ROWS_OUTER_BYTES);
    d->nblocks = nblocks;
    d->steps = steps;
    d->ncchunks = chunks;
}

/* Rows [*m0, *m0 + *mcount) of row block b, panels [*p0, *p1) of column chunk cc */
static void task_range(const tc_qdriver *d, int b, int cc, int np, int *m0, int *mcount,
                       int *p0, int *p1)
{
    const int mr = d->uk.mr, step = d->uk.nr / TC_QNR;
    int t0 = (int)((long)d->tiles * b / d->nblocks), t1 = (int)((long)d->tiles * (b + 1) / d->nblocks);
    *m0 = t0 * mr;
    *mcount = (t1 * mr < d->M ? t1 * mr : d->M) - *m0;
    int s0 = (int)((long)d->steps * cc / d->ncchunks), s1 = (int)((long)d->steps * (cc + 1) / d->ncchunks);
    *p0 = s0 * step;
    *p1 = s1 * step < np ? s1 * step : np;
}

/* U7S8 takes the tier's u7s8_long kernel (AVX2: 4 x 16 tiles, qgemm_avx2.c) from this kpad.
 * MobileNetV2 int8 at 1t (emulated AVX2, 2026-12-01 20:55, one process alternating, min of
 * 40 per layer): the 4 x 16 tiles from kpad 192 took its projections (K = 192-960) and
 * last layer 0.94-0.97 of the 6 x 16 time, the model 0.995; from kpad 96 the 56x56 and
 * 28x28 layers lost 3-8% (per-tile costs over fewer rows), from 1 up to 14%.  Tried again
 * with the paired 8-k loop (s14, base 0 only, from kpad 96): MobileNetV2's projections at
 * K = 96 and 144 in the model (one process alternating, thread CPU min of 40, 03:35, load
 * 8.6): features.2 conv.2 145.0 / 150.9 us, features.3 conv.2 (+ add) 216.5 / 228.1,
 * features.4 conv.2 within 3%: dropped.
 * Was 192; 224 on the AMD EPYC Zen 3, native (n23-q, 2026-12-03, qconv_layers.py against
 * the base, same compiler flags, min of 80-100 runs, load 5-10): K = 192 takes the 6 x 16
 * kernel again, MobileNetV2's 192 -> 32 at 28x28 (paired long kernel before) 0.94-0.97 in
 * two runs (69 -> 66, 67 -> 63 us), 192 -> 64 at 14x14 0.96-0.97, EfficientNet-B0's
 * 192 -> 1152 at 7x7 (windows around mid-range zero points) 0.976-0.982; but its K = 240
 * projections lost 1.09-1.17 with the 6 x 16 kernel (threshold 256), and MobileNetV2's
 * K = 384 and 576 at 14x14 1.02-1.05 (threshold 1024): so between 192 and 240.  The whole
 * networks (subgraph_shapes.py, 20 rounds) 1.000 [0.991-1.008] and 1.000 [0.994-1.032]:
 * the 7 us it saves are below their noise.  Same bits. */
/* On the Intel Xeon (Sapphire Rapids class, n32-q, 2026-12-05, emulated AVX2, 1 thread,
 * qconv_layers.py --against the base through an environment switch, 8 rounds): from kpad 96
 * MobileNetV2 int8's projections at 56x56 and 28x28 took 1.06-1.27 of their time (96 -> 24
 * 1.10, 144 -> 24 1.27, 192 -> 32 1.06-1.07); the 6 x 16 kernel for every kpad (no long
 * kernel) left the projections level (sum 1.001, 960 -> 160 at 7x7 0.99-1.00): kept. */
/* Tried and left (h37-qmv, 2026-12-05, the Xeon, emulated AVX2 1t, bit-identical): the long
 * kernels from kpad 144 where the tiles are read in place (base 0, K == kpad, the tier's
 * u7s8_steps) and the last panel has more than 8 columns (MobileNetV2 int8's 144 -> 32 /
 * 192 -> 32 at 28x28, 192 -> 64 at 14x14).  Cut alone (qconv_layers.py --input photo, 10 x 20,
 * each checkout against the other) they took 0.84 / 0.90 / 0.85 / 0.90 of their time (0.86-0.92
 * on max(noise, 0)); from kpad 96 the 56x56 projections to 24 channels (a last panel of 8,
 * which the steps kernel runs at 16) 1.12-1.13.  But a cut has the file's channel order, and in
 * the network qdq._pair_channels has already widened those layers' pair windows so that their
 * 6-row tiles are read in place: there (qsteps.py --input photo, 15 x 10, both orders; and
 * max(noise, 0)) the four steps summed 0.201 / 0.201, 0.201 / 0.203 and 0.199 / 0.198 ms: level.
 * Cut alone is no guide for the projections after a pairing.  (h38-qmv, 2026-12-05: after
 * the pairing those layers took U8S8X2 in the network, few of its weight pairs then needing
 * corrections, so the in-network sums above timed U8S8X2 both times, not these kernels; the
 * long projections now take U7S8 there: tinycnn/ops/qconv.py _U7S8_OVER_U8S8X2_K.) */
#define TC_QU7S8_LONG_K 224

/* and from this kpad in products of at least TC_QU7S8_LONG_MN rows and columns.  On the
 * AMD EPYC (Zen 4, emulated AVX2, 1 thread; s16, 2026-12-02) the lone main loops of 4 x 16
 * paired against 6 x 16 (780 x 512, thread CPU, min of 30): K = 96 362 / 397 us, K = 128
 * 454 / 512.  In the model (thread CPU min per step of 25 runs, 4 alternated processes,
 * 10:30-10:36): ResNet-50's layer2 conv3 (K = 128, N = 512, 784 rows, the fused add)
 * 0.87-0.91 in two runs (545-592 against 593-655 us).  Tried and dropped there: the long
 * kernels from kpad 96 for every product: MobileNetV2's projections to 24 channels (K = 96
 * and 144) 1.19-1.34 (their half panels over 50% more tiles), K = 160 at 7x7 1.05-1.07,
 * K = 96 at 14x14 (N = 576) unchanged; from kpad 64 with these sizes: ResNet-50's layer1
 * downsample 1.09, its conv3 0.95-0.96.  From kpad 64 again on the AMD EPYC Zen 3, native
 * (n25-q2t, 2026-12-03, in the model, 1 thread under chrt, one process, both orders): the
 * conv3 layers (the residual fused) 0.96-1.07 of their time, the downsample 1.06 and 0.98,
 * within what the layers it does not touch moved (0.91-1.03): nothing to keep. */
/* Tried and left (h35-qm, 2026-12-05, the Xeon, emulated AVX2): the long kernels from kpad 96
 * too in products of >= 196 rows and >= 384 columns (the 14x14 expansions around a mid-range
 * zero point: MobileNetV2 int8's 96 -> 576, EfficientNet-B0's 112 -> 672; 4-row tiles, their
 * 4-k loop, as onnxruntime's MlasConvSymKernelAvx2).  At 1 thread (qconv_layers.py, each
 * checkout against the other, bit-identical) 96 -> 576 0.977-0.984 of the 6 x 16 time and
 * 1 / 1.015-1.021 (128.7 -> 126 us, 16 x 20 runs twice), 112 -> 672 0.961-0.964 and
 * 1 / 1.037-1.039 (171 -> 165 us); from kpad 64 the 64 -> 384 layers lost 2.5%.  But whole
 * MobileNetV2 int8 at 2 threads (ab_threads.py, 30 x 10, both orders, host load 4.6) took
 * 1.007 / 1 / 0.992 of its time (burst medians) against the build without it, and at 1 thread
 * its ~8 us are below the network's noise (qsteps.py): not kept. */
/* Measured again (h36-qm, 2026-12-05, the Xeon, emulated AVX2; the rule as a third test,
 * kpad >= 96 with M >= 196 and N >= 384, bit-identical): cut alone at 1t on max(noise, 0)
 * 96 -> 576 at 14x14 0.980-0.982 and 1 / 1.019-1.022 (qconv_layers.py 16 x 20, each checkout
 * against the other), on a photograph 0.996-0.999 (there the rows' corrections take these
 * layers to 136-139 us from 126-129); in the network (qsteps.py, both orders) those three
 * steps 1.02 of their time on max(noise, 0) in both orders (40 x 10), level on a photograph
 * (20 x 10), the whole run's steps 0.999-1.000; at 2 threads (ab_threads.py --fifo, 30 x 10,
 * six runs each order) 0.999 (the tool's first-named build reads ~1% slower).  Not kept. */
/* From kpad 64 on the Xeon with the in-place steps kernel (h39-q, 2026-12-06, emulated AVX2
 * 1t, ResNet-50 int8 on a photograph, qsteps.py against the base, 12 x 10 runs, both orders,
 * host load 5-7, bit-identical): the four layers it moves (layer1's K = 64 downsample and
 * conv3s, 4-row paired tiles in place of 6 x 16) read downsample 1.08 / 1.09 (the maxpool's
 * bytes: more steps listed), conv3 0.91-0.94 where every layer of the first-named build read
 * 0.93-0.97, 0.99-1.00 in the other order: level to worse.  Not kept. */
#define TC_QU7S8_LONG_K_WIDE 128
#define TC_QU7S8_LONG_MN 256

/* Tried and left (h35-q, 2026-12-05, benchmarks/u7s8_row_fix.patch, the Xeon, emulated AVX2
 * 1t): at base 0 from kpad 512 each row corrected over its own groups (as around a mid-range
 * zero point) in kernels of their own (tc_quant_kernels.u7s8_rows0), in one part where no
 * byte of the row is 127 above the paired widths, a tile leaving them past 1 / 10 of its
 * rows' groups; tiles without corrections by the plain kernels.  On a photograph ResNet-50
 * int8's bytes above 127 fall in the same channels of neighbouring pixels: the rows' own
 * groups above are 0.5-0.85 of the tiles' (u7s8_windows.py prow / pout).  Against the base
 * (qsteps.py --against, both orders, 15-20 x 10 runs, step minima, bit-identical): photo
 * 0.998 / 0.998, noise 1.008 / 1.005; with the per-row kernels on every tile of those layers
 * photo 0.990 / 0.992 but noise 1.018 / 1.010 (their main loops 1.03-1.06 on noise).  Per
 * step on the photograph layer3's conv1 (K = 1024) 0.93-0.95, layer4's conv1 / downsample /
 * im2col 3x3 0.93-0.96, but the K = 512 layers mostly read in place 1.03-1.05; at every kpad
 * (one build alternating by environment) layer1's K = 64 / 256 layers lost 4-5% (the rows'
 * short correction loops, a branch each per panel).  With the branch in the one tile function
 * gcc's main loops changed: 512 -> 2048 at 7x7 1.4x its time on noise.  The photograph's
 * extra time (42.2 against 39.2 ms of steps) is not mostly in the correction pass. */

/* A U7S8 tile at base 0 keeps the paired widths (u7s8_limits) while at most one in
 * TC_QU7S8_PAIRED_FIX of its 4-k groups has a byte above them; past that its corrections
 * cost more than the paired steps save, and it is split again at the pair's widths (mostly
 * none above) for the 4-k loop.  ResNet-50's layer3 conv3 (K = 256, N = 1024, at 14x14; in
 * the model, emulated AVX2 1t, 2026-12-02 00:20, paired / 4-k loop): 0.83 with 0.8% of the
 * groups above, 1.03 with 5%, 1.12 with 9%; layer4.1 conv3 (K = 512, 3.5% above) lost 5%
 * with 1/32 against all tiles paired (00:41).
 * Tried and left (h35-qm, 2026-12-05, the Xeon, emulated AVX2 1t, with the one-part
 * corrections of qgemm_avx2.c's above_ok; qconv_layers.py --only conv.2/Conv, 12 x 20 runs,
 * each checkout against the other, bit-identical): 14 / 10 / 8 / 6 in place of 20 took
 * MobileNetV2 int8's 14x14 projections (384 -> 64 / 96, 576 -> 96) 0.98-0.995 of their time
 * at 10 and 8 (0.99-1.00 at 14), but its 7x7 ones moved both ways (576 -> 160 1.008-1.012 at
 * 10 and 8, 960 -> 160 0.977-0.994, 960 -> 320 1.00 at 10, 1.025 at 8, 1.04 at 6): the
 * projections' sums 0.993 (10), 0.998 (8), 1.0 (6, 14), level. */
#define TC_QU7S8_PAIRED_FIX 20

/* The paired widths are the lower (u7s8_limits): on MobileNetV2 int8's projections, its own
 * weights and activations (a normal-noise image; s22-q, 2026-12-03), 75% of the 4-row tiles
 * of 192 -> 32 at 28x28 (4.2 of 48 groups above them, 1.1 at the pair's) went past
 * TC_QU7S8_PAIRED_FIX, 90% of 576 -> 96 at 14x14, all of the 960 -> 160 / 320 at 7x7: each
 * such tile was tested for a read in place, split at the paired widths, then split again at
 * the pair's.  So a task gives the paired widths up as it gives up the read in place, once
 * more than 1 / TC_QU7S8_PAIRED_SHARE of the tiles tried (past the first
 * TC_QU7S8_PAIRED_TRIES) left them; its later tiles are split (or read in place) once, at the
 * pair's widths.  The sums are exact either way: the same bits.  On calmer activations (the
 * same image after a ReLU, as qsteps.py feeds it) 12% of 192 -> 32's tiles leave the paired
 * widths, but 85% have a byte above them (a copy of the rows) where 77% would be read in
 * place at the pair's; the 4-k loop's cost (110 against 138 GMAC/s) and the copies' (the
 * split about a third of the kernel's time, perf) come out about even: not tried. */
#define TC_QU7S8_PAIRED_TRIES 2
#define TC_QU7S8_PAIRED_SHARE 2

/* U7S8 with the window at 0 (after a ReLU): the split copies a tile's rows' parts in the
 * window, min(a, lim[k]), for the kernel, where most tiles have no byte above the window
 * (MobileNetV2 int8's projections, its activations, the pair's widths: 90-95% of the 6-row
 * tiles at 56x56, 65-95% at 28x28, 33-82% at 14x14, 0-11% at 7x7), and the split was 17-22%
 * of those layers' time (perf, emulated AVX2, 1 thread).  So the rows are first only tested
 * (a read, no store), and a tile with none above is read in place; the test is given up in
 * a task once more than 1 / TC_QU7S8_IN_PLACE_SHARE of the tiles tested (past the first
 * TC_QU7S8_IN_PLACE_TRIES) needed the split anyway.  Measured (s21-q, 2026-12-03, one process
 * against integ20, qconv_layers.py --against, 10 rounds, host load 3-4): 96 -> 24 and
 * 144 -> 24 at 56x56 0.90 and 0.89 (109 -> 98, 153 -> 137 us; ORT 102, 145), 144 -> 32 at
 * 28x28 0.90, 192 -> 32 at 28x28 (the long kernels' paired widths: fewer tiles inside)
 * 0.95-1.00, 14x14 0.98-0.99, 7x7 1.00; the projections' sum 0.966.  Whole MobileNetV2
 * int8 (subgraph_shapes.py --against, 20 rounds): 0.991 [0.972-1.011] at load 4, 0.978
 * [0.963-1.043] at load 9; ResNet-50 int8 0.991 [0.926-1.033], EfficientNet-B0 int8 (its
 * windows not at 0) 0.943 [0.933-0.980]; bit-identical.
 * Tried and dropped (s21-q): MobileNetV2's 32 -> 16 at 112x112 (one panel, 1.4% of its
 * tiles with a byte above) as U7S8 (_U7S8_MIN_OUTPUTS 16) with the in-place tiles' runs in
 * one kernel call (s16x2_tiles_avx2's loop on bytes, the output stage set up once per call,
 * the driver's multi-tile call over a run of in-place tiles): 1.14-1.17x S16X2's time
 * (qconv_layers.py --set against the same build, 8 rounds, twice).  The 6 x 16 byte loop
 * issues as many multiplies per 4 k (12 vpmaddubsw + 12 vpmaddwd) as S16X2's (24 vpmaddwd
 * per 2 x 2 k), and the multiply pipes bound both: U7S8 saves only additions, broadcasts and
 * the widening there.  What could pay: the paired 8-k step (3 multiplies per 8 k in place
 * of 4) over 4-row tiles in one call, with the paired widths' lower tops (more tiles split).
 * Tried (n26-qpw, 2026-12-04, Zen 4, emulated AVX2): U7S8 at base 0 with one panel (N <= 16,
 * kpad a multiple of 8) through the long kernels (4-row tiles, the paired 8-k loop, tiles
 * split as the driver does), ops.qmatmul._U7S8_MIN_OUTPUTS 16: that 32 -> 16 at 112x112
 * (its own activations, a ReLU6's bytes up to 255) 180.7 against S16X2's 102.7 us
 * (qconv_layers.py --set against the base, 10 rounds), bit-identical: the split and the
 * corrections of tiles with bytes past the paired widths cost far more than the 4-row paired
 * loop saves over 32 k.  Not kept. */
/* On the Intel Xeon (n34-q, 2026-12-05, emulated AVX2 1t; one build whose tc_qdriver_run read
 * these four constants from the environment, the variants alternating run by run in one
 * process, whole-run thread CPU medians of 4 runs, per-round ratios to the defaults, the same
 * bytes in every variant): on a photograph (bench.input_feed, where ResNet-50 int8 takes 46.0
 * ms of thread CPU against 40.5 on noise) nothing moved it: TC_QU7S8_PAIRED_FIX 10 / 40 /
 * every tile with a group above left 0.996 / 1.004 / 1.013, the paired widths never tried
 * 1.008 (on noise 1.097), TC_QU7S8_PAIRED_SHARE 1 / 8 0.995 / 0.998, TC_QU7S8_IN_PLACE_SHARE
 * 1 / always tested 1.002 / 1.001 (16 rounds, ranges +-0.5-1%); MobileNetV2 int8 on a
 * photograph, max(noise, 0) and noise (40 rounds): TC_QU7S8_IN_PLACE_SHARE 0 (the test given
 * up after its first tries), 1, 4, always 0.997-1.002, the others 0.998-1.002: the Zen 4's
 * settings hold here, on pictures too. */
#define TC_QU7S8_IN_PLACE_TRIES 2
#define TC_QU7S8_IN_PLACE_SHARE 2

/* S16X2 and U7S8 kernels run a tile over up to TC_QWIDE_PANELS panels per call where kpad is at
 * most TC_QWIDE_KMAX (tc_qdriver_run), products of one row block included since h54-q2 (below).
 * From 32 up to 320 (s15): lone layers with their own activations (emulated AVX2, 1 thread, thread
 * CPU us, min of 200 x 5 alternated rounds, 06:19-06:21, kmax 32 / 320, same bytes): MobileNetV2's
 * expansions K = 64 at 28x28 65.4 / 61.5, K = 96 at 14x14 134.4 / 128.6; ResNet-50's 1x1 layers
 * with K = 64-256 0.96-0.98 (layer1.0 conv3 816.9 / 781.3), ResNet-18's downsamples 0.95-0.97;
 * EfficientNet-B0's layers summed 1.00.  Past 320 nothing moved (K = 384 projections 53.4 / 52.8 at
 * 400).  At first not at 7x7 (a block of 49 rows): there the weights come from memory once, and a
 * call's panels past TC_QGEMM_PREFETCH_BYTES go without the driver's prefetch.  In the model (one
 * process alternating, thread CPU, min of 100 per step, 06:57): K = 160 at 7x7 93-97 -> 103-105 us,
 * 320 -> 1280 at 7x7 230-239 -> 253, where K = 64 and 96 at 28x28 and 14x14 still gained (72-73 ->
 * 64-69, 145-154 -> 140).  At 7x7 too since h54-q2, on the AMD EPYC Zen 3 (native AVX2, 2026-12-07,
 * host load 7-14, bit-identical), with TC_QWIDE_PANELS_ONE's 64 panels a call at 1 thread.  The
 * rule switched by environment run by run in one session (MobileNetV2 int8 on a photograph,
 * per-step minima): the 160 -> 960 expansions 0.947-0.950 of their time (16 x 8 runs, thread CPU),
 * the step sum 0.997; at 2 threads (TC_QWIDE_PANELS, wall clock, 20 x 8) 0.937-0.953, 320 -> 1280
 * 0.952.  Against the base build (qsteps.py --against, 20 rounds, both orders, three times): the
 * wide calls run those expansions at 92-94 us wherever the session lies, the base's panel by panel
 * at 93-94 us as the first session and 97-99 us as the second (its loop is sensitive to where the
 * buffers fall, the wide one not); step sums and whole runs level (benchmarks/README.md, h54-q2).
 */
#define TC_QWIDE_KMAX 320
#define TC_QWIDE_PANELS 8
/* and up to this many on one thread (where no column chunks are planned: the panels per call
 * are plan_tasks's steps).  On the AMD EPYC Zen 3, native (h53-q, 2026-12-07, 1 thread, the
 * network's photograph, one build switching the count by environment run by run in one
 * process, 10 rounds x 5-10 runs, per-step minima, per-round ratios, host load ~11,
 * bit-identical): 64 against 8 took ResNet-50 int8's K = 64 / 128 / 256 conv3 and
 * downsample layers 0.943-0.987 of their time (layer1's conv3 0.95-0.99, layer2.0's conv3
 * 0.94-0.96, layer3's conv3 0.96-0.98), the layers it leaves 0.998-1.006, the step sum 0.995
 * (16: 0.994, its layers 0.96-0.99); MobileNetV2 int8's 14x14 expansions 0.966-0.972 (16:
 * 0.98-0.99), its step sum 0.996; EfficientNet-B0 int8's expansions at 28x28 and 14x14
 * 0.968-0.978, its step sum 0.996.  As committed against the base (qsteps.py --against, 10 x
 * 5, photograph): ResNet-50's touched steps 0.966-0.988, the sum 0.999; whole runs
 * (int8_inputs.py --against, 12-20 x 5, photo / noise, per-round medians): ResNet-50 0.990 /
 * 0.996, ResNet-18 0.990 / 0.981, MobileNetV2 1.001 / 0.995, EfficientNet-B0 0.967 / 1.016
 * (ranges +-2-15% under the load).  Several threads take as many where the rows alone make
 * 4 tasks a thread (a product planned with column chunks keeps TC_QWIDE_PANELS: its chunks are
 * whole calls, fewer panels a call make more tasks to share).  2 threads, the same switch in one
 * process (20 x 10, per-step minima, bit-identical): ResNet-50 int8's layer1 / layer2 conv3 and
 * downsample steps 0.959-0.980 of their time (two runs), the step sum 0.997 and 1.007 (the
 * shorter run; its untouched layer4 steps 1.03-1.05); MobileNetV2 int8 1.004 (no step past
 * +-2% bar the classifier), EfficientNet-B0 1.001, ResNet-18 untouched. */
#define TC_QWIDE_PANELS_ONE 64

/* The next call's panels are prefetched (in a thread's first task) up to this many bytes
 * (kpad <= 512 for one 8-bit panel).  ResNet-50's layer4.1 at 7x7 in the model (emulated
 * AVX2 1t, 2026-12-01 20:50, min of 20 runs, 2 alternations, without / with): 1x1 512 ->
 * 2048 (8 KiB panels) 677-689 / 573-620 us, 256 -> 1024 at 14x14 (4 KiB) 624-625 / 611-618;
 * longer panels lose: 2048 -> 512 (32 KiB) 588-627 / 646-696, 3x3 512 (73 KiB) 1366-1422 /
 * 1442-1515 (their own streams are long enough for the hardware prefetcher).  Tried and
 * dropped (s12b): with one call per panel (a GEMV: the classifiers), the panels two calls
 * ahead (the first call's next too): ResNet-18's fc (8 KiB panels) in the model, steps1t
 * min of 30, 3 alternations with the one-ahead prefetch (22:16): 87-97 / 90-93 us, noise.
 * Dropped too (s13): in the U7S8 one-row loop, a line 1 KiB ahead per line read (across the
 * panels' ends, whatever their length): ResNet-50's fc (32 KiB panels, no driver prefetch)
 * in the model, min of 25, 3 alternations (00:11): 322 / 252 / 302 against 323 / 252 / 297.
 * On the Zen 4 host (s22-q, 2026-12-03): MobileNetV2 int8's classifier (1280 -> 1000, 1.28 MB
 * of U7S8 panels) runs 22 us alone with its weights in L3 (the cut block with 4 MB written
 * between runs; onnxruntime's 36 with its Q/DQ nodes), 80-88 with 64 MB written between runs,
 * 93 in the network (onnxruntime 73): there its weights come from memory.  Dropped: a
 * prefetch D bytes ahead in the one-row loop (a line per 4 k), in the network (thread CPU
 * of the step, min of 150 runs, two alternations, load 4): D = 0 49.7 / 72.5 us, 512 49.7 /
 * 51.5, 1024 72.4 / 69.6, 2048 107.6 / 78.9, 4096 82.3 / 93.5, medians 95-144 for all: the
 * memory's noise, nothing to keep. */
/* Up to 16 KiB on the Intel Xeon (n32-q, 2026-12-05, emulated AVX2 1t, qsteps.py --against
 * the base through an environment switch, 16 rounds): MobileNetV2 int8's 9 KiB and 15 KiB
 * panels (576 -> 96 at 14x14, 576 -> 160 and 960 -> 160 / 320 at 7x7) level in the network
 * (112 / 112, 116 / 116, 82 / 82, 155 / 156 us; the run's own spread 1-4%): not kept. */
#define TC_QGEMM_PREFETCH_BYTES 8192
/* and up to this many where a call takes several panels (TC_QWIDE_PANELS): MobileNetV2 int8's
 * 96 -> 576 expansions at 14x14 (8 panels of 1.5 KiB, 12 KiB a call) had no prefetch, the
 * only expansions of that network without one; in the network they took 0.148-0.154 ms
 * (photograph) against 0.136-0.139 cut alone, onnxruntime's 0.130 against 0.125 (h36-qm,
 * 2026-12-05, the Xeon, emulated AVX2 1t, qsteps.py / qconv_layers.py --input photo).
 * Measured (h36-qm, qsteps.py --against the base, both orders, step minima, bit-identical):
 * the three expansions summed 0.986 and 0.982 of their time on a photograph (20 x 10 runs),
 * 0.990 / 0.975 and 0.990 / 0.983 on max(noise, 0) (40 x 10, twice): 2-3 of the ~15 us they
 * lose in the network; the whole run's steps level (photo 1.005 / 0.996, max(noise, 0) 1.004
 * / 0.985 and 0.999 / 1.001); 2 threads (ab_threads.py --fifo, 30 x 10, six runs each order,
 * host load 10-20) new / base medians 0.9965 and 0.996 (reversed), ranges 0.984-1.027;
 * EfficientNet-B0 int8 (112 -> 672 and 80 -> 480 at 14x14 take it too) step sums 1.001 /
 * 0.996, those expansions unchanged (15 x 10). */
#define TC_QGEMM_PREFETCH_WIDE_BYTES 16384

/* Bytes after each thread's slot of packed rows and of its slot of row pointers and U7S8
 * split, with more than one thread (as TC_QDW_RING_GAP in qdw.c: adjacent slots, which the
 * threads rewrite at every row block, most likely had the hardware prefetch of one core's
 * stream pull the start of the other's slot across).  n28-q had measured this gap (with the
 * Winograd's) at int8 MobileNetV2 0.985 [0.937-1.028], within that run's noise.  Measured
 * again (n31-q, 2026-12-04, Zen 4, emulated AVX2, 2 threads, ab_threads.py --fifo, 30 x 10
 * runs against the base, host load 5-13): int8 MobileNetV2 0.992 [0.990-0.998], 0.986
 * [0.982-0.991], 0.990 [0.980-0.995], 0.978 [0.975-0.985], 0.984 [0.981-0.987] of its time
 * (the base against itself in the same hour 1.000 [0.998-1.002] and 1.002 [0.997-1.007]);
 * EfficientNet-B0 0.994 [0.990-0.998], ResNet-50 0.997 [0.995-1.002] (12 x 5); bit-identical.
 * One thread: no gap, the same layout as before. */
#define TC_QSLOT_GAP 65536

/* Rows per thread at least, where the rows shared by the column chunks are filled first
 * (an im2col row of a 3x3 layer at 7x7 is 4.5 KiB) */
#define TC_QFILL_GRAIN 8

/* Products of fewer multiply-adds run on one thread: about 3 us on one core of the AVX2
 * kernels (vpmaddwd, 16 products each) */
#define TC_QGEMM_MIN_SPLIT 2.5e5

static size_t row_bytes(int format, int K)
{
    return (size_t)tc_qfmt_kpad(format, K) * tc_qfmt_elem(format);
}

/* a block's rows at most: TC_QMB_SHORT where the packed rows are short, else TC_QMB */
static int rows_per_block(int format, int K)
{
    return row_bytes(format, K) <= TC_QMB_SHORT_BYTES ? TC_QMB_SHORT : TC_QMB;
}

/* the most rows a block of the product has: rows_per_block, or one thread's whole product up
 * to TC_QMB_WHOLE rows */
static int block_rows_most(int format, int K)
{
    const int b = rows_per_block(format, K);
    return b > TC_QMB_WHOLE ? b : TC_QMB_WHOLE;
}

/* Row pointers of one row block's tiles: TILES_PER_BLOCK tiles of up to TC_QMR_MAX rows,
 * ntaps each (the 4-row kernels use up to 36 tiles: a block of TC_QMB_SHORT rows). */
#define BLOCK_ROWS_MAX (TC_QMB_SHORT > TC_QMB_WHOLE ? TC_QMB_SHORT : TC_QMB_WHOLE)
#define TILES_PER_BLOCK (BLOCK_ROWS_MAX / 4)

static size_t pointer_bytes(int most, int ntaps)
{
    return (size_t)(most / 4) * TC_QMR_MAX * ntaps * sizeof(void *);
}

/* Which row block a thread's split area holds (rows m0 .. m0 + mcount of the current
 * product; m0 -1: none), with its tiles' counts of groups outside the window and whether each
 * took the paired widths.  Several threads split the columns of few row blocks in chunks
 * (plan_tasks: 14x14 and 7x7 maps), and a thread's consecutive tasks are mostly the same
 * block's column chunks: it splits the block once, not once per chunk.  tc_qdriver_run
 * forgets every thread's block before the tasks.  Measured (n27-q2t, 2026-12-04, Zen 4,
 * AVX2 kernels, benchmarks/qpw_ab.c at QPW_THREADS=2, min of 40-80 rounds, load 7, against
 * a split per chunk): 384 -> 64 at 14x14 with the residual 37.8 -> 32.6 and 34.3 -> 28.6 us
 * (median ratio 0.81-0.84), 576 -> 96 75.2 -> 66.3 and 66.5 -> 58.3 (0.86), 960 -> 160 at
 * 7x7 and the 1280 -> 1000 GEMV unchanged, 1 thread unchanged (1.006-1.016); whole
 * MobileNetV2 int8 at 2 threads (benchmarks/ab_threads.py --fifo, 30 rounds) 0.984
 * [0.954-1.005] of its time (burst minima 0.978 [0.960-0.994]), the same bytes. */
typedef struct split_memo {
    int m0, mcount;
    int nfix[TILES_PER_BLOCK][TC_QMR_MAX];
    int paired[TILES_PER_BLOCK];
} split_memo;

/* U7S8's split of a row block (one tap), in its thread's pointer area after the row
 * pointers: the window rows' pointers, the window rows, a row of offsets from the window,
 * each row's list of its 4-k groups with a byte outside, and the memo of the block split. */
typedef struct split_area {
    const void **lo_ptrs;
    uint8_t *lo, *off;
    int32_t *groups;
    split_memo *memo;
} split_area;

static size_t split_bytes(int format, int kpad, int most)
{
    if (format != TC_QFMT_U7S8)
        return 0;
    return (size_t)(most / 4) * TC_QMR_MAX * sizeof(void *) + (size_t)most * kpad + kpad +
           (size_t)most * (kpad / 4) * sizeof(int32_t) + 64 + sizeof(split_memo);
}

/* A thread's slots for blocks of at most `most` rows (tc_qdriver_workspace_size and the
 * driver's layout alike): its packed rows, and its row pointers with the U7S8 split; whole
 * cache lines, TC_QSLOT_GAP after each with more than one thread */
static size_t rows_slot_bytes(int format, int K, int most, int threads)
{
    return (((size_t)most * row_bytes(format, K) + 63) & ~(size_t)63) +
           (threads > 1 ? TC_QSLOT_GAP : 0);
}

static size_t ptrs_slot_bytes(int format, int kpad, int most, int ntaps, int threads)
{
    return ((pointer_bytes(most, ntaps) + split_bytes(format, kpad, most) + 63) & ~(size_t)63) +
           (threads > 1 ? TC_QSLOT_GAP : 0);
}

static split_area split_area_at(char *p, int kpad, int most)
{
    split_area s;
    s.lo_ptrs = (const void **)p;
    s.lo = (uint8_t *)(s.lo_ptrs + (most / 4) * TC_QMR_MAX);
    s.off = s.lo + (size_t)most * kpad;
    s.groups = (int32_t *)(((uintptr_t)(s.off + kpad) + 3) & ~(uintptr_t)3);
    s.memo = (split_memo *)(((uintptr_t)(s.groups + (size_t)most * (kpad / 4)) + 7) &
                            ~(uintptr_t)7);
    return s;
}

/* a's parts in the window [base, base + lim[k]], min(max(a - base, 0), lim[k]), to lo;
 * 0x80 where a byte is outside (0 inside) to off, or ORed into it */
static void split_row(const uint8_t *a, int K, uint8_t base, const uint8_t *lim, uint8_t *lo,
                      uint8_t *off, int merge)
{
    for (int k = 0; k < K; k++) {
        uint8_t v = a[k], d = v > base ? (uint8_t)(v - base) : 0;
        uint8_t out = (uint8_t)(d > lim[k] || v < base ? 0x80 : 0);
        lo[k] = d < lim[k] ? d : lim[k];
        off[k] = merge ? (uint8_t)(off[k] | out) : out;
    }
}

/* one 4-k group of off: appended to groups (n of them) if a byte has its high bit */
static inline int outside_group(const uint8_t *off, int k, int32_t *groups, int n)
{
    uint32_t v;
    memcpy(&v, off + k, 4);
    groups[n] = k; /* without a branch */
    return n + ((v & 0x80808080u) != 0);
}

/* the byte offsets of off's 4-k groups with a high bit to groups; returns their count.
 * Few have one: 8 bytes tested at a time. */
static int outside_groups(const uint8_t *off, int kpad, int32_t *groups)
{
    int n = 0, k = 0;
    for (; k + 8 <= kpad; k += 8) {
        uint64_t v;
        memcpy(&v, off + k, 8);
        if (v & 0x8080808080808080ull) {
            n = outside_group(off, k, groups, n);
            n = outside_group(off, k + 4, groups, n);
        }
    }
    return k < kpad ? outside_group(off, k, groups, n) : n;
}

/* Is every byte of the mr rows (kpad each) at most its lim[k]? */
static int rows_within(const void *const *rows, int mr, int kpad, const uint8_t *lim)
{
    uint8_t above = 0;
    for (int r = 0; r < mr; r++) {
        const uint8_t *a = rows[r];
        for (int k = 0; k < kpad; k++)
            above |= (uint8_t)(a[k] > lim[k]);
    }
    return !above;
}

int tc_u7s8_split(const void *const *rows, int mr, int K, int kpad, int base, const uint8_t *lim,
                  int per_row, int in_place, uint8_t *lo, int32_t *groups, int stride,
                  uint8_t *scratch, int *nfix)
{
    if (in_place && rows_within(rows, mr, kpad, lim)) {
        nfix[0] = 0;
        return 1;
    }
    if (kpad > K)
        memset(scratch + K, 0, (size_t)(kpad - K));
    for (int r = 0; r < mr; r++) {
        uint8_t *lr = lo + (size_t)r * kpad;
        split_row(rows[r], K, (uint8_t)base, lim, lr, scratch, !per_row && r > 0);
        if (kpad > K)
            memset(lr + K, 0, (size_t)(kpad - K));
        if (per_row)
            nfix[r] = outside_groups(scratch, kpad, groups + (size_t)r * stride);
    }
    if (!per_row)
        nfix[0] = outside_groups(scratch, kpad, groups);
    return 0;
}

/* Tile i of the block (rows ptrs[i * TC_QMR_MAX + r], r < mr distinct ones, block rows
 * row0 + r) split by the tier's kernel: the window parts' rows at lo + row * kpad, each
 * row's groups at groups + row * kpad / 4 (per_row) or the tile's at row0's; the pointers
 * and counts past mr repeat the last row's and are 0.  in_place (base 0, the tile's
 * groups, K == kpad): a tile with no byte above the window keeps its rows (the parts in
 * the window are the bytes themselves); returns 1 then. */
static int split_tile(const tc_qdriver *d, const void *const *ptrs, int row0, int mr,
                      int per_row, int in_place, const uint8_t *lim, split_area *s, int *nfix)
{
    const int kpad = d->kpad, stride = kpad / 4;
    int kept = d->u7s8_split(ptrs, mr, d->K, kpad, d->u7s8_base, lim, per_row, in_place,
                             s->lo + (size_t)row0 * kpad,
                             s->groups + (size_t)row0 * stride, stride, s->off, nfix);
    for (int r = 0; r < TC_QMR_MAX; r++) {
        const int q = r < mr ? r : mr - 1;
        s->lo_ptrs[r] = kept ? ptrs[q] : s->lo + (size_t)(row0 + q) * kpad;
        if (r >= mr || (kept && r > 0))
            nfix[r] = 0;
    }
    return kept;
}

size_t tc_qdriver_workspace_size(const tc_ctx *ctx, int format, int M, int N, int K, int ntaps)
{
    int threads = ctx && ctx->pool ? tc_pool_size(ctx->pool) : 1;
    size_t epi = (size_t)(N + TC_QNR - 1) / TC_QNR * TC_QNR * (sizeof(int32_t) + sizeof(float));
    const int most = block_rows_most(format, K);
    /* rows packed once for all tasks (when the columns are split), or per thread */
    size_t shared = (size_t)M * row_bytes(format, K);
    size_t own = threads * rows_slot_bytes(format, K, most, threads);
    size_t ptrs = threads * ptrs_slot_bytes(format, tc_qfmt_kpad(format, K), most, ntaps, threads);
    return epi + 64 + (shared > own ? shared : own) + 64 + ptrs + 64;
}

/* Rows [r0, r1) of the rows shared by the tasks (the columns split), in pieces of at most
 * TC_QMB rows */
static void qdriver_fill_rows(void *arg, int tid, ptrdiff_t r0, ptrdiff_t r1)
{
    const tc_qdriver *d = arg;
    (void)tid;
    for (ptrdiff_t m0 = r0; m0 < r1; m0 += TC_QMB) {
        int mcount = r1 - m0 < TC_QMB ? (int)(r1 - m0) : TC_QMB;
        d->fill(d, (int)m0, mcount, d->ws_rows + (size_t)m0 * row_bytes(d->format, d->K));
    }
}

/* The row pointers of a block's tiles: [tile][tap][TC_QMR_MAX], of which the kernel reads
 * its mr rows (6 or 12), rows past the block's end repeating its last row. */
static void block_rows(const tc_qdriver *d, int m0, int mcount, const char *a, ptrdiff_t lda,
                       const void **ptrs)
{
    const int mr = d->uk.mr, ntaps = d->ntaps;
    for (int i = 0; i * mr < mcount; i++) {
        const void **tile = ptrs + (size_t)i * ntaps * TC_QMR_MAX;
        const int row0 = i * mr, rows = mcount - row0 < mr ? mcount - row0 : mr;
        /* the tile's taps at once (a lone 3x3 stem spent a third of its time finding the
         * taps of 12 rows one by one, 6 of them repeats) */
        if (d->taps)
            d->taps(d, m0 + row0, rows, tile, TC_QMR_MAX);
        else
            for (int r = 0; r < rows; r++)
                tile[r] = a + (row0 + r) * lda;
        for (int r = rows; r < mr; r++)
            for (int t = 0; t < ntaps; t++)
                tile[t * TC_QMR_MAX + r] = tile[t * TC_QMR_MAX + rows - 1];
    }
}

/* out->lut over columns [c0, c1) of rows m0 .. m0 + mcount of the (8-bit) output */
static void block_lookup(const tc_qdriver *d, int m0, int mcount, int c0, int c1)
{
    uint8_t *y = (uint8_t *)d->y + (ptrdiff_t)m0 * d->ldy;
    if (c0 == 0 && c1 == d->ldy) { /* the rows are contiguous */
        d->lookup_run(d->out->lut, y, (ptrdiff_t)mcount * d->ldy, y);
        return;
    }
    for (int r = 0; r < mcount; r++, y += d->ldy)
        d->lookup_run(d->out->lut, y + c0, c1 - c0, y + c0);
}

static void qdriver_task(void *arg, int tid, ptrdiff_t t0, ptrdiff_t t1)
{
    const tc_qdriver *d = arg;
    const int elem = tc_qfmt_elem(d->format);
    const size_t panel_bytes = (size_t)d->kpad * TC_QNR * elem;
    const int np = (d->N + TC_QNR - 1) / TC_QNR;
    const char *panels = (const char *)d->packed + (size_t)np * TC_QNR * sizeof(int32_t);
    const size_t ysz = d->out->type >= TC_QOUT_S32 ? 4 : 1;
    const void **ptrs = (const void **)(d->ws_ptrs + (size_t)tid * d->ws_ptrs_thread);
    const int klen = d->taps ? d->kpad / d->ntaps : d->kpad;
    int tested = 0, kept = 0; /* U7S8's tiles tested for a read in place, and kept so */
    int pair_tried = 0, pair_left = 0; /* its tiles tried at the paired widths, and left */
    for (ptrdiff_t t = t0; t < t1; t++) {
        int m0, mcount, p0, p1;
        if (d->columns_outer)
            task_range(d, (int)(t % d->nblocks), (int)(t / d->nblocks), np, &m0, &mcount, &p0, &p1);
        else
            task_range(d, (int)(t / d->ncchunks), (int)(t % d->ncchunks), np, &m0, &mcount, &p0, &p1);
        const char *a = NULL;
        ptrdiff_t lda = (ptrdiff_t)d->kpad * elem;
        if (d->direct) {
            lda = d->direct_lda;
            a = (const char *)d->direct + (ptrdiff_t)m0 * lda;
        } else if (d->shared_rows) {
            a = d->ws_rows + (ptrdiff_t)m0 * lda;
        } else if (!d->taps) {
            char *rows = d->ws_rows + (size_t)tid * d->ws_thread;
            d->fill(d, m0, mcount, rows);
            a = rows;
        }
        const int split = d->format == TC_QFMT_U7S8;
        /* a kernel taking a block's whole tiles per call (tc_qukernel.tiles, below) finds
         * their rows from the first two (tc_qepi.tiles): pointers for the first tile and the
         * tail only (a block's 144 pointers, then 6 loads per tile and panel: MobileNetV2's
         * 32 -> 16 at 112x112 0.93 of its time, n26-qpw) */
        const int rows_once = d->uk.tiles && d->uk.nr == TC_QNR && !split && d->ntaps == 1 &&
                              ysz == 1 && !d->out->residual && a && mcount >= 2 * d->uk.mr;
        const int whole = rows_once ? mcount / d->uk.mr * d->uk.mr : 0;
        if (whole)
            block_rows(d, m0, d->uk.mr, a, lda, ptrs);
        block_rows(d, m0 + whole, mcount - whole, whole ? a + (ptrdiff_t)whole * lda : a, lda,
                   ptrs + (size_t)(whole / d->uk.mr) * d->ntaps * TC_QMR_MAX);
        split_area sa;
        int(*nfix)[TC_QMR_MAX] = NULL, *paired = NULL;
        const uint8_t *pair_lim = d->u7s8_lim - (d->u7s8_paired ? d->kpad : 0);
        if (split) { /* one tap: tile i's row pointers at ptrs + i * TC_QMR_MAX */
            sa = split_area_at((char *)(ptrs + (d->rows_most / 4) * TC_QMR_MAX), d->kpad,
                               d->rows_most);
            nfix = sa.memo->nfix;
            paired = sa.memo->paired;
        }
        /* the block's split where this thread's previous task left it (split_memo) */
        if (split && (sa.memo->m0 != m0 || sa.memo->mcount != mcount)) {
            sa.memo->m0 = m0;
            sa.memo->mcount = mcount;
            for (int r = 0, i = 0; r < mcount; r += d->uk.mr, i++) {
                split_area si = sa;
                si.lo_ptrs = sa.lo_ptrs + (size_t)i * TC_QMR_MAX;
                int mr = mcount - r < d->uk.mr ? mcount - r : d->uk.mr;
                const void *const *tp = ptrs + (size_t)i * TC_QMR_MAX;
                if (d->u7s8_steps && mr >= 2) { /* read in place, no split (paired 2) */
                    nfix[i][0] = d->u7s8_scan(tp, mr, d->kpad, d->u7s8_lim, pair_lim,
                                              sa.groups + (size_t)r * (d->kpad / 4));
                    for (int q = 0; q < TC_QMR_MAX; q++) {
                        si.lo_ptrs[q] = tp[q];
                        nfix[i][q] = q ? 0 : nfix[i][0];
                    }
                    paired[i] = 2;
                    continue;
                }
                /* the window at 0: a tile with no byte above it is read in place, no copy
                 * of its rows (TC_QU7S8_IN_PLACE) while most tiles tested are such */
                const int in_place = d->u7s8_base == 0 && d->K == d->kpad &&
                                     (tested < TC_QU7S8_IN_PLACE_TRIES ||
                                      (long)kept * TC_QU7S8_IN_PLACE_SHARE >= tested);
                /* the paired widths tried while at most 1 / TC_QU7S8_PAIRED_SHARE of the
                 * tiles tried left them (past the first TC_QU7S8_PAIRED_TRIES), then the
                 * pair's straight away */
                const int try_paired = d->u7s8_paired &&
                                       (pair_tried < TC_QU7S8_PAIRED_TRIES ||
                                        (long)pair_left * TC_QU7S8_PAIRED_SHARE <= pair_tried);
                const int k = split_tile(d, tp, r, mr, d->u7s8_base > 0, in_place,
                                         d->u7s8_paired && !try_paired ? pair_lim : d->u7s8_lim,
                                         &si, nfix[i]);
                tested += in_place;
                kept += k;
                paired[i] = try_paired;
                pair_tried += try_paired;
                /* a tile with many bytes above the paired widths: the pair's instead */
                if (paired[i] && (long)nfix[i][0] * TC_QU7S8_PAIRED_FIX > d->kpad / 4) {
                    split_tile(d, tp, r, mr, 0, 0, pair_lim, &si, nfix[i]);
                    paired[i] = 0;
                    pair_left++;
                }
            }
        }
        const void *const *kernel_rows = split ? sa.lo_ptrs : (const void *const *)ptrs;
        const int step = d->uk.nr / TC_QNR; /* panels per kernel call */
        /* In a network the weights come from memory in the thread's first task (the other
         * layers evicted them): each call's panels prefetched into L2 during the previous
         * call's tiles, a slice per tile, where they are short streams */
        const int calls = (mcount + d->uk.mr - 1) / d->uk.mr;
        const size_t lines = panel_bytes * step / 64;
        const int prefetch =
            t == t0 && panel_bytes * step <= (step > 1 ? TC_QGEMM_PREFETCH_WIDE_BYTES
                                                       : TC_QGEMM_PREFETCH_BYTES);
        for (int p = p0; p < p1; p += step) {
            int n0 = p * TC_QNR, nr = d->N - n0 < d->uk.nr ? d->N - n0 : d->uk.nr;
            if (p + step > p1)
                nr = (p1 - p) * TC_QNR < nr ? (p1 - p) * TC_QNR : nr;
            /* zeroing e (gcc: a rep stos) is a fifth of this function's samples on MobileNetV2's
             * 16 -> 96 (perf annotate, s20-q), the function a tenth of the layer: e set up once
             * per task, only bias and scale per call, measured nothing (tc_qgemm alone, min of
             * 150: 365.0 / 365.4 us) */
            tc_qepi e = {d->bias_eff + n0, d->scale_full + n0, d->out->type, d->out->zero_point,
                         d->out->lo, d->out->hi, d->out->residual, NULL, NULL, NULL, 0};
            e.scale_below1 = d->scale_below1;
            if (d->format == TC_QFMT_U8S8X2) { /* the 6 x 16 kernels: one panel */
                e.fix_k = d->fix.k + d->fix.start[p];
                e.fix_w = d->fix.w + (size_t)d->fix.start[p] * 4 * TC_QNR;
                e.nfix = d->fix.start[p + 1] - d->fix.start[p];
            }
            const char *b = panels + (size_t)p * panel_bytes;
            const char *next = prefetch && p + step < p1 ? b + step * panel_bytes : NULL;
            /* the block's whole tiles in one call where the kernel takes several
             * (tc_qukernel.tiles): one panel, one tap, 8-bit outputs, nothing per tile; the
             * next panel's prefetch then the call's tiles' slices at once (with a thread's
             * first task of each pool chunk taking the per-tile calls, MobileNetV2 int8's
             * 16 -> 96 panel by panel ran 1.04-1.09x the wall time of integ19 at 2 threads,
             * alt.py) */
            const int multi = d->uk.tiles && nr <= TC_QNR && !split && d->ntaps == 1 &&
                              ysz == 1 && !e.residual && a;
            for (int r = 0, i = 0, n = 1; r < mcount; r += n * d->uk.mr, i += n) {
                int mr = mcount - r < d->uk.mr ? mcount - r : d->uk.mr;
                n = multi && mr == d->uk.mr ? (mcount - r) / d->uk.mr : 1;
                e.tiles = n;
                if (next)
                    for (size_t l = lines * i / calls; l < lines * (i + n) / calls; l++)
                        __builtin_prefetch(next + l * 64, 0, 2);
                ptrdiff_t at = ((ptrdiff_t)(m0 + r) * d->ldy + n0) * ysz;
                char *y = (char *)d->y + at;
                /* Tried and dropped (n25-q2t, Zen 3 native): the residual's rows of the
                 * next block (and of a thread's first) prefetched at each block's start;
                 * ResNet-50 int8's layer1 and layer2 conv3 (the residual fused, 800 and
                 * 400 KB, from L3) ran 1.05-1.10 of their time with prefetchw, 0.90-0.99
                 * with prefetcht1 (1.05 at 2 threads), but its layers without a residual
                 * moved by as much (-6% to +5%) between the two builds' sessions in one
                 * process (1 thread, chrt, 16 x 3 runs, five runs): no gain to show. */
                if (e.residual)
                    e.r = (const char *)e.residual->r + at;
                tc_qukernel_fn fn = d->uk.fn;
                if (split && paired[i] == 2) { /* the steps leaving the paired loop */
                    e.fix_k = sa.groups + (size_t)r * (d->kpad / 4);
                    e.nfix = nfix[i][0];
                    e.lim = pair_lim;
                    e.paired = 1;
                    fn = d->u7s8_steps;
                } else if (split) {
                    e.hi_rows = (const void *const *)ptrs + (size_t)i * TC_QMR_MAX;
                    e.fix_stride = d->kpad / 4;
                    e.fix_k = sa.groups + (size_t)r * e.fix_stride;
                    e.base = d->u7s8_base;
                    e.paired = paired[i];
                    e.lim = paired[i] ? d->u7s8_lim : pair_lim;
                    /* per row where the window is around a mid-range zero point (sparse
                     * bytes outside), per tile where it starts at 0 (after a ReLU: bytes
                     * >= 128, often in the same channels of many rows; the AVX2 kernel's
                     * tile list takes only that window); measured in tinycnn.h */
                    e.row_nfix = e.base > 0 ? nfix[i] : NULL;
                    e.nfix = nfix[i][0];
                }
                fn(d->ntaps, klen, kernel_rows + (size_t)i * d->ntaps * TC_QMR_MAX, mr, b,
                   (ptrdiff_t)panel_bytes, &e, nr, y, d->ldy);
            }
        }
        if (d->out->lut && ysz == 1) /* the fused lookup, over the block while it is in cache */
            block_lookup(d, m0, mcount, p0 * TC_QNR, p1 * TC_QNR < d->N ? p1 * TC_QNR : d->N);
    }
}

/* U7S8's window [base, base + lim[k]] around a mid-range zero point (zp > 64): centred on
 * zp for the median of the pair's widths, base = zp - median / 2 (in 1 .. 127), where
 * tc_u7s8_base's zp - 64 centres a width of 127 and leaves the wider windows (the median
 * 146-159 on MobileNetV2 int8's expansions) reaching above zp only.  Any base in 0 .. 127
 * keeps the sums exact (tinycnn.h: lim >= 127 bounds the part above by 128 - base), and
 * its rest of the zero point goes to the bias: the same bits.  On a photograph, the bytes
 * of MobileNetV2's K >= 64 expansions (numpy, each row's 4-k groups with a byte outside):
 * 0.7-3.1% of the groups at zp - 64, 0.5-2.5% with this base (the best base for that
 * input 0.4-2.3%, 70-90 below zp); on bench.py's noise 0.3-1.5% and 0.1-1.1%.  Alone that
 * was level (tc_u7s8_base's note); with the residual streams' channels in pairs (tinycnn/qdq.py
 * _stream_channels: the median width 146-159 -> 174-182) the groups outside are a quarter of
 * zp - 64's (benchmarks/u7s8_bases.py: 0.3-1.2%; noise 0.23 of them).  Measured (h51-q,
 * 2026-12-07, the Xeon, emulated AVX2 1t, host load 7-12, qsteps.py --input photo against
 * ref51, 16 and 24 rounds x 10, both orders, step minima, bit-identical): the 14x14 96 -> 576
 * expansions 0.954 / 0.993 and 0.929 / 0.973 of their time, 64 -> 384 0.978 / 0.961 and
 * 0.967 / 0.954, the 7x7 ones 0.966 / 0.979 and 0.983 / 0.976; all steps 0.993 / 1.008 and
 * 0.985 / 0.995; on noise the expansions 0.96-1.00, all steps 1.002 / 0.996; EfficientNet-B0
 * (photo) 0.999 / 0.989.  Counted per call (a histogram of K / 2 widths): well under 1 us. */
static int u7s8_mid_base(int zp, const uint8_t *lim, int K)
{
    int count[256] = {0}, n = 0;
    for (int k = 0; k < K; k += 2, n++)
        count[lim[k]]++;
    int width = 0, seen = count[0];
    while (seen <= (n - 1) / 2) /* the lower median */
        seen += count[++width];
    const int base = zp - width / 2;
    return base < 1 ? 1 : base > 127 ? 127 : base;
}

void tc_qdriver_run(const tc_ctx *ctx, tc_qdriver *d, void *workspace)
{
    const int np = (d->N + TC_QNR - 1) / TC_QNR;
    const int32_t *colsum = d->packed;
    char *ws = workspace;
    if (d->ntaps < 1)
        d->ntaps = 1;
    /* the output stage per column: bias - a_zp * colsum (wrapping), and the scale */
    int32_t *bias_eff = (int32_t *)ws;
    float *scale_full = (float *)(ws + (size_t)np * TC_QNR * sizeof(int32_t));
    /* U7S8 sums (a - base) * w: the rest of the zero point comes in through the bias */
    d->u7s8_base = d->format == TC_QFMT_U7S8 ? tc_u7s8_base(d->a_zero_point) : 0;
    d->u7s8_lim = (const uint8_t *)d->packed + panels_size(d->format, d->K, d->N);
    if (d->u7s8_base > 0)
        d->u7s8_base = u7s8_mid_base(d->a_zero_point, d->u7s8_lim, d->K);
    /* Tried and dropped (n31-q, 2026-12-04, Zen 4, emulated AVX2): the other threads each
     * making their own copy of these columns at their first task, instead of reading the
     * lines the caller has just written from its core (per-thread slots after the pointer
     * slots): at 2 threads against TC_QSLOT_GAP's build (ab_threads.py --fifo, 30 x 10) int8
     * MobileNetV2 0.991 [0.976-1.007], 0.993 [0.987-1.004], 0.997 [0.989-1.001],
     * EfficientNet-B0 1.003 [0.986-1.014], ResNet-50 1.004 [0.987-1.010] (12 x 5): level. */
    tc_qout_columns(d->out, d->N, np * TC_QNR, d->a_zero_point - d->u7s8_base, colsum, bias_eff,
                    scale_full);
    d->bias_eff = bias_eff;
    d->scale_full = scale_full;
    d->scale_below1 = tc_qscales_below1(scale_full, np * TC_QNR);
    int threads = ctx && ctx->pool ? tc_pool_size(ctx->pool) : 1;
    size_t epi = (size_t)np * TC_QNR * (sizeof(int32_t) + sizeof(float));
    d->ws_rows = (char *)(((uintptr_t)ws + epi + 63) & ~(uintptr_t)63);
    /* TC_QMB_SHORT rows where the block's outputs (and residual) stay in L1 too */
    const size_t out_bytes = (size_t)TC_QMB_SHORT * d->N * (d->out->type >= TC_QOUT_S32 ? 4 : 1) *
                             (d->out->residual ? 2 : 1);
    d->qmb = out_bytes <= TC_QMB_SHORT_OUT ? rows_per_block(d->format, d->K) : TC_QMB;
    d->rows_most = d->qmb > TC_QMB_WHOLE ? d->qmb : TC_QMB_WHOLE; /* block_rows_most at most */
    d->ws_thread = rows_slot_bytes(d->format, d->K, d->rows_most, threads);
    size_t shared = (size_t)d->M * row_bytes(d->format, d->K), own = threads * d->ws_thread;
    d->ws_ptrs = (char *)(((uintptr_t)d->ws_rows + (shared > own ? shared : own) + 63) &
                          ~(uintptr_t)63);
    d->ws_ptrs_thread = ptrs_slot_bytes(d->format, d->kpad, d->rows_most, d->ntaps, threads);
    d->uk = tc_qukernel_for(ctx, d->format);
    d->u7s8_paired = 0;
    if (d->format == TC_QFMT_U7S8 &&
        (d->kpad >= TC_QU7S8_LONG_K || (d->kpad >= TC_QU7S8_LONG_K_WIDE &&
                                        d->M >= TC_QU7S8_LONG_MN && d->N >= TC_QU7S8_LONG_MN))) {
        d->uk = tc_quant_kernels_of(ctx)->u7s8_long;
        /* the window at 0 (after a ReLU): the paired widths (u7s8_limits); a window around
         * a mid-range zero point keeps the pair's (its parts below and above are
         * subtracted in int16, exact only up to 128 - base above) */
        d->u7s8_paired = d->u7s8_base == 0;
        /* Looked at and left (h37-qmv, 2026-12-05): the paired widths around a mid-range
         * zero point too (the 4 x 16 paired loop for MobileNetV2 int8's 14x14 expansions).
         * Exact with these corrections from base 65 (a part above then stays within 128 -
         * base, every paired width being >= 32767 / 512 = 63), but on a photograph 12-18% of
         * those layers' row groups fall outside [base, base + paired width] against 2.7-3.1%
         * outside the pair's widths (7.7-11% at the best base; max(noise, 0) 4.4-8.9%;
         * counted in numpy with u7s8_windows.py's pair_widths / paired_widths and
         * groups_outside), where the correction pass was 8% of the 6 x 16 kernel's samples
         * at 3% (perf, 96 -> 576): more than the paired loop's quarter of the multiplies
         * saves.  Not built. */
        if (d->u7s8_paired)
            d->u7s8_lim += d->kpad;
        /* a GEMV (one row, the classifiers) whose panels the driver does not prefetch: the
         * long kernel's one-row loop over TC_QROW_PANELS panels per call, their weights
         * read as that many streams (qgemm_avx2.c u7s8_row_panels_avx2; other tiers loop
         * the panels) */
        if (d->M == 1 && d->ntaps == 1 && TC_QROW_PANELS > 1 &&
            (size_t)d->kpad * TC_QNR > TC_QGEMM_PREFETCH_BYTES)
            d->uk.nr = (np < TC_QROW_PANELS ? np : TC_QROW_PANELS) * TC_QNR;
    }
    /* the window at 0 with the paired widths: tiles of 2 rows or more read in place, only the
     * 8-k steps with a byte above those widths at the pair's (qgemm_u7s8_steps_avx2.c); the
     * split, the correction pass and TC_QU7S8_PAIRED_FIX / _SHARE / TC_QU7S8_IN_PLACE below
     * then serve the tiers without it (portable, and 1-row tiles: the GEMVs' one-row loop).
     * Measured (h36-q, 2026-12-05, the Xeon, emulated AVX2 1t, ResNet-50 int8, qsteps.py
     * against the base, both orders, 12 x 10 runs, step sums' minima, bit-identical): on a
     * photograph 0.960 / 0.957 (42.25 -> 40.54 ms; conv1 layers 0.85-0.97, downsamples
     * 0.89-0.93, layer4's im2col 3x3 0.91-0.93), on noise 0.995 / 0.991 (the committed
     * build, one order: 0.958 and 0.994); MobileNetV2 int8 (20 x 10, one order) photo 0.998,
     * noise 0.991.  benchmarks/u7s8_steps.py counts the steps per layer (photo: 2-42% of a
     * tile's steps, noise: 0-1.6%). */
    d->u7s8_scan = NULL;
    d->u7s8_steps = NULL;
    if (d->u7s8_paired && d->K == d->kpad && tc_quant_kernels_of(ctx)->u7s8_steps &&
        d->uk.mr == 4) {
        d->u7s8_scan = tc_quant_kernels_of(ctx)->u7s8_scan;
        d->u7s8_steps = tc_quant_kernels_of(ctx)->u7s8_steps;
    }
    /* S16X2 and U7S8 with few k (MobileNetV2's expansions): a tile's panels in one call, not
     * a call (and a setup of the output stage) per 16 columns, up to TC_QWIDE_KMAX, products
     * of one row block (at most TC_QMB_WHOLE rows: 7x7's 49) included (see TC_QWIDE_KMAX).
     * But S16X2 up to kpad 32 where the kernel takes a block's tiles per call
     * (tc_qukernel.tiles): a panel per call, its setup once per block (qgemm_avx2.c,
     * s16x2_tiles_avx2) */
    const int panel_tiles = d->format == TC_QFMT_S16X2 && d->uk.tiles && d->kpad <= 32;
    /* S16X2 with taps (the stems, qstem.c) too where kpad > 32: ResNet's 7x7 stem (64
     * columns, kpad 154; n32-q, 2026-12-05, Xeon, emulated AVX2 1t, qconv_layers.py against
     * the base, 20 x 10 runs, with qstem.c's unrolled taps, alone 0.994-0.995) 0.973 and
     * 0.991 (ResNet-18), 0.965 (ResNet-50) of its time,
     * whole ResNet-18 int8 1.001 [0.995-1.024] (subgraph_shapes.py, 20 rounds); MobileNetV2's
     * 3x3 stem (kpad 30, 32 columns) lost 3-4% with its two panels in one call */
    if ((d->format == TC_QFMT_S16X2 || d->format == TC_QFMT_U7S8) &&
        (d->ntaps == 1 || (d->format == TC_QFMT_S16X2 && d->kpad > 32)) &&
        d->kpad <= TC_QWIDE_KMAX && d->uk.nr == TC_QNR && !panel_tiles) {
        /* several threads: as many where the rows alone make plan_tasks's 4 tasks a thread
         * (its row blocks; no column chunks to share) */
        const int tiles = (d->M + d->uk.mr - 1) / d->uk.mr, per_block = d->qmb / d->uk.mr;
        const int most = threads == 1 || (tiles + per_block - 1) / per_block >= 4 * threads
                             ? TC_QWIDE_PANELS_ONE
                             : TC_QWIDE_PANELS;
        d->uk.nr = (np < most ? np : most) * TC_QNR;
    }
    d->lookup_run = tc_quant_kernels_of(ctx)->lookup_run;
    d->widen_run = tc_quant_kernels_of(ctx)->widen_run;
    d->u7s8_split = tc_quant_kernels_of(ctx)->u7s8_split;
    if (d->format == TC_QFMT_U8S8X2) {
        fix_view f = fix_section(d->K, d->N, d->packed, -1);
        d->fix.start = f.start;
        d->fix.k = f.k;
        d->fix.w = f.w;
    }

    /* products of a few microseconds (squeeze-excitation's 1x1 layers) on one thread: the
     * dispatch and the wait would cost more than the other threads save */
    tc_pool *pool = ctx && (double)d->M * d->N * d->K >= TC_QGEMM_MIN_SPLIT ? ctx->pool : NULL;
    plan_tasks(pool ? tc_pool_size(pool) : 1, d, np);
    d->shared_rows = !d->direct && !d->taps && d->ncchunks > 1;
    /* the threads fill even shares of the rows: in blocks of TC_QMB, a 7x7 map's 49 im2col
     * rows were 48 + 1 (ResNet-50 int8's 3x3 and strided 1x1 layers at 7x7, 2 threads: the
     * fill ran on one thread, s18 simulation build below) */
    if (d->shared_rows)
        tc_parallel_for(pool, d->M, TC_QFILL_GRAIN, qdriver_fill_rows, d);
    if (d->format == TC_QFMT_U7S8) /* no thread holds a block's split yet (split_memo) */
        for (int t = 0; t < threads; t++)
            split_area_at(d->ws_ptrs + (size_t)t * d->ws_ptrs_thread +
                              (size_t)(d->rows_most / 4) * TC_QMR_MAX * sizeof(void *),
                          d->kpad, d->rows_most)
                .memo->m0 = -1;
    /* Tried and dropped (n31-q, 2026-12-04, Zen 4, emulated AVX2):
     * - products split by rows alone (ncchunks 1) through tc_parallel_for, each thread a
     *   static contiguous half of the row blocks, so that a layer's rows are those its thread
     *   wrote in the layer before (the depthwise splits its rows so): int8 MobileNetV2 at 2
     *   threads (ab_threads.py --fifo, 30 x 10 runs) 1.013 [1.008-1.018] of its time, minima
     *   1.012, bit-identical.  The dynamic claims already give halves: the worker starts at
     *   the middle chunk (threadpool.c, by_thread), the caller at the first.
     * - U7S8 with the columns in chunks: each row block's tiles split once by the threads
     *   together (even shares, a tc_parallel_for into one area of all M rows' window parts,
     *   groups and counts, before the tasks) in place of each thread splitting every block it
     *   takes a chunk of (split_memo): qpw_ab.c at QPW_THREADS=2 under chrt -f 10, 60 rounds,
     *   against the base: 960 -> 160 at 7x7 1.103 [1.072-1.134], 960 -> 320 0.997, 576 -> 96
     *   at 14x14 1.036 (with the residual 1.045), 384 -> 64 with the residual 1.044, 320 ->
     *   1280 at 7x7 1.013, the same bytes: the second pool job and the tasks' reads of the
     *   other core's half cost more than half the split saves.
     * - each task's output lines prefetched for writing (prefetchw) before its tiles (qpw_ab.c,
     *   2 threads, chrt): 16 -> 96 at 112x112 1.046-1.052, 24 -> 144 at 56x56 1.027-1.030,
     *   32 -> 16 at 112x112 1.059-1.061, with or without the output last written by the other
     *   thread (QPW_SWAP). */
    tc_parallel_for_dynamic(pool, (ptrdiff_t)d->nblocks * d->ncchunks, 1, qdriver_task, d);
}

/* ------------------------------------------------------------------------ */
/* tc_qgemm                                                                  */
/* ------------------------------------------------------------------------ */

/* rows m0.. of a (lda bytes apart) -> kpad elements each, flipped and widened */
static void gemm_fill(const tc_qdriver *d, int m0, int mcount, void *dst)
{
    for (int r = 0; r < mcount; r++) {
        const uint8_t *src = (const uint8_t *)d->src + (ptrdiff_t)(m0 + r) * d->src_lda;
        tc_qpack_row(d->format, src, d->K, d->a_flip, d->kpad, (char *)dst +
                     (size_t)r * d->kpad * tc_qfmt_elem(d->format));
    }
}

size_t tc_qgemm_workspace_size(const tc_ctx *ctx, int format, int M, int N, int K)
{
    return tc_qdriver_workspace_size(ctx, format, M, N, K, 1);
}

void tc_qgemm(const tc_ctx *ctx, int format, int M, int N, int K, const void *a, ptrdiff_t lda,
              int a_signed, int a_zero_point, const void *packed, const tc_qoutput *out, void *y,
              ptrdiff_t ldy, void *workspace)
{
    if (M <= 0 || N <= 0)
        return;
    tc_qdriver d;
    memset(&d, 0, sizeof(d));
    d.format = format;
    d.M = M;
    d.N = N;
    d.K = K;
    d.kpad = tc_qfmt_kpad(format, K);
    d.packed = packed;
    d.out = out;
    d.y = y;
    d.ldy = ldy;
    d.a_flip = a_signed;
    d.a_zero_point = a_signed ? a_zero_point + 128 : a_zero_point;
    if (tc_qfmt_elem(format) == 1 && !a_signed && K % 4 == 0) {
        d.direct = a;
        d.direct_lda = lda;
    } else {
        d.src = a;
        d.src_lda = lda;
        d.fill = gemm_fill;
    }
    tc_qdriver_run(ctx, &d, workspace);
}

/* one row of K activations -> kpad packed elements (zero padding) */
void tc_qpack_row(int format, const uint8_t *src, int K, int flip, int kpad, void *dst)
{
    const uint8_t x = flip ? 0x80 : 0;
    if (tc_qfmt_elem(format) == 1) {
        uint8_t *d = dst;
        for (int k = 0; k < K; k++)
            d[k] = src[k] ^ x;
        for (int k = K; k < kpad; k++)
            d[k] = 0;
    } else {
        int16_t *d = dst;
        for (int k = 0; k < K; k++)
            d[k] = (int16_t)(src[k] ^ x);
        for (int k = K; k < kpad; k++)
            d[k] = 0;
    }
}
