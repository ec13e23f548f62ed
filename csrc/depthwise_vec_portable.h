/* The 8-lane vector primitives of depthwise_body.h in plain C (conv.c): the
 * same operations as depthwise_vec_avx2.h, lane by lane. */
#ifndef TC_DEPTHWISE_VEC_H
#define TC_DEPTHWISE_VEC_H

#include <stddef.h>
#include <stdint.h>
#include "epilogue.h"

#define TC_VL 8
typedef struct { float f[TC_VL]; } tc_v;
typedef unsigned tc_m; /* lane i is on where bit i is */

/* the lanes i with lo <= i < hi */
static inline tc_m tc_m_range(int lo, int hi)
{
    lo = lo < 0 ? 0 : lo > TC_VL ? TC_VL : lo;
    hi = hi < 0 ? 0 : hi > TC_VL ? TC_VL : hi;
    return ((1u << hi) - 1u) & ~((1u << lo) - 1u);
}
/* lane i on where bit i of bits is */
static inline tc_m tc_m_bits(uint64_t bits) { return (tc_m)(bits & ((1u << TC_VL) - 1u)); }
static inline int tc_m_has(tc_m m, int i) { return (m >> i) & 1u; }

static inline tc_v tc_v_set1(float a)
{
    tc_v v;
    for (int i = 0; i < TC_VL; i++)
        v.f[i] = a;
    return v;
}

static inline tc_v tc_v_load(const float *p)
{
    tc_v v;
    for (int i = 0; i < TC_VL; i++)
        v.f[i] = p[i];
    return v;
}

/* p[0], p[2], ..., p[14] */
static inline tc_v tc_v_load_even(const float *p)
{
    tc_v v;
    for (int i = 0; i < TC_VL; i++)
        v.f[i] = p[2 * i];
    return v;
}

/* lane i: p[i] where m has i, else 0 (p[i] is read only there) */
static inline tc_v tc_v_load_masked(const float *p, tc_m m)
{
    tc_v v;
    for (int i = 0; i < TC_VL; i++)
        v.f[i] = tc_m_has(m, i) ? p[i] : 0.0f;
    return v;
}

/* lane i: p[2i], read where lo (2i < 8) or hi (2i - 8 >= 0) has it, else 0 */
static inline tc_v tc_v_load_even_masked(const float *p, tc_m lo, tc_m hi)
{
    tc_v v;
    for (int i = 0; i < TC_VL; i++) {
        int j = 2 * i;
        int in = j < TC_VL ? tc_m_has(lo, j) : tc_m_has(hi, j - TC_VL);
        v.f[i] = in ? p[j] : 0.0f;
    }
    return v;
}

/* *e = p[0], p[2], ..., p[14] and *o = p[1], p[3], ..., p[15], in order here
 * (the AVX2 twin leaves them in an order that tc_v_unscramble restores) */
static inline void tc_v_load_even_odd(const float *p, tc_v *e, tc_v *o)
{
    *e = tc_v_load_even(p);
    *o = tc_v_load_even(p + 1);
}
/* as tc_v_load_even_masked, lo and hi the masks of p[0..7] and p[8..15] */
static inline void tc_v_load_even_odd_masked(const float *p, tc_m lo, tc_m hi, tc_v *e, tc_v *o)
{
    for (int i = 0; i < TC_VL; i++) {
        int j = 2 * i, k = 2 * i + 1;
        e->f[i] = (j < TC_VL ? tc_m_has(lo, j) : tc_m_has(hi, j - TC_VL)) ? p[j] : 0.0f;
        o->f[i] = (k < TC_VL ? tc_m_has(lo, k) : tc_m_has(hi, k - TC_VL)) ? p[k] : 0.0f;
    }
}
static inline tc_v tc_v_unscramble(tc_v v) { return v; }

/* [0, v0, ..., v6] and [v1, ..., v7, 0] (the AVX2 twin's; depthwise_body.h's EDGE) */
static inline tc_v tc_v_shift_in_zero_lo(tc_v v)
{
    tc_v r;
    r.f[0] = 0.0f;
    for (int i = 1; i < TC_VL; i++)
        r.f[i] = v.f[i - 1];
    return r;
}
static inline tc_v tc_v_shift_in_zero_hi(tc_v v)
{
    tc_v r;
    for (int i = 0; i < TC_VL - 1; i++)
        r.f[i] = v.f[i + 1];
    r.f[TC_VL - 1] = 0.0f;
    return r;
}
/* e[0..7] = p[0], p[2], ..., p[14] and o[0..7] = p[1], p[3], ..., p[15] */
static inline void tc_v_split_store(const float *p, float *e, float *o)
{
    for (int i = 0; i < TC_VL; i++) {
        e[i] = p[2 * i];
        o[i] = p[2 * i + 1];
    }
}
/* lane i: row[c0 + i*s] when that column is inside [0, W), else 0 */
static inline tc_v tc_v_gather(const float *row, int c0, int s, int W)
{
    tc_v v;
    for (int i = 0; i < TC_VL; i++) {
        ptrdiff_t c = (ptrdiff_t)c0 + (ptrdiff_t)i * s;
        v.f[i] = c >= 0 && c < W ? row[c] : 0.0f;
    }
    return v;
}

static inline tc_v tc_v_zero(void) { return tc_v_set1(0.0f); }

/* r[i].f[j] <-> r[j].f[i] */
static inline void tc_v_transpose(tc_v r[TC_VL])
{
    for (int i = 0; i < TC_VL; i++)
        for (int j = i + 1; j < TC_VL; j++) {
            float t = r[i].f[j];
            r[i].f[j] = r[j].f[i];
            r[j].f[i] = t;
        }
}

static inline tc_v tc_v_fma(tc_v a, tc_v b, tc_v c)
{
    for (int i = 0; i < TC_VL; i++)
        c.f[i] += a.f[i] * b.f[i];
    return c;
}

static inline tc_v tc_v_add(tc_v a, tc_v b)
{
    for (int i = 0; i < TC_VL; i++)
        a.f[i] += b.f[i];
    return a;
}

static inline tc_v tc_v_act(tc_act_k act, tc_v v)
{
    for (int i = 0; i < TC_VL; i++)
        v.f[i] = tc_act_f32(act, v.f[i]);
    return v;
}

/* the deferred kinds' pass over rows just stored (epilogue.h, tc_act_deferred) */
static inline void tc_v_act_rows(int kind, float *y, ptrdiff_t n) { tc_act_rows_f32(kind, y, n, 1, n); }

static inline void tc_v_store(float *p, tc_v v)
{
    for (int i = 0; i < TC_VL; i++)
        p[i] = v.f[i];
}

static inline void tc_v_store_masked(float *p, tc_m m, tc_v v)
{
    for (int i = 0; i < TC_VL; i++)
        if (tc_m_has(m, i))
            p[i] = v.f[i];
}

#endif
