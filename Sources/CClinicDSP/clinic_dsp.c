#include "clinic_dsp.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* No contraction of a*b + c into an FMA anywhere in this file unless written as one
   (__builtin_fma): the band-pass must round exactly as scipy does. */
#pragma STDC FP_CONTRACT OFF
#ifdef __clang__
#pragma clang fp contract(off)
#endif

/* Four cascaded biquads over `count` samples at y[first], y[first + step], ..., in place,
   from state z (two values a section), updated: scipy's sosfilt, operation for operation.
   Indexes from y, so no pointer outside the signal is ever formed. */
static void sos4_scalar(double *y, long first, long step, size_t count, const double *c, double *z) {
    double z00 = z[0], z01 = z[1], z10 = z[2], z11 = z[3], z20 = z[4], z21 = z[5], z30 = z[6], z31 = z[7];
    for (size_t i = 0; i < count; i++) {
        double *p = y + (first + step * (long)i);
        double v0 = *p;
        double v1 = c[0] * v0 + z00;
        z00 = c[1] * v0 - c[3] * v1 + z01;
        z01 = c[2] * v0 - c[4] * v1;
        double v2 = c[5] * v1 + z10;
        z10 = c[6] * v1 - c[8] * v2 + z11;
        z11 = c[7] * v1 - c[9] * v2;
        double v3 = c[10] * v2 + z20;
        z20 = c[11] * v2 - c[13] * v3 + z21;
        z21 = c[12] * v2 - c[14] * v3;
        double v4 = c[15] * v3 + z30;
        z30 = c[16] * v3 - c[18] * v4 + z31;
        z31 = c[17] * v3 - c[19] * v4;
        *p = v4;
    }
    z[0] = z00; z[1] = z01; z[2] = z10; z[3] = z11; z[4] = z20; z[5] = z21; z[6] = z30; z[7] = z31;
}

void clinic_sos4(double *y, size_t n, long first, long step, const double *c, double *z) {
    sos4_scalar(y, first, step, n, c, z);
}

#if defined(__x86_64__) && defined(__linux__)
#include <cpuid.h>
#include <immintrin.h>

int clinic_dsp_has_avx2_fma(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & bit_FMA) || !(c & bit_AVX) || !(c & bit_OSXSAVE)) return 0;
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6) != 6) return 0; /* the OS saves the XMM and YMM registers */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b & bit_AVX2) != 0;
}

/* glibc's libmvec (x86_64 vector ABI: 'd' = AVX2, 4 lanes). */
__attribute__((target("avx2"))) __m256d _ZGVdN4v_log(__m256d);
__attribute__((target("avx2"))) __m256d _ZGVdN4v_exp(__m256d);

__attribute__((target("avx2,fma"))) void clinic_log_avx2(double *v, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) _mm256_storeu_pd(v + i, _ZGVdN4v_log(_mm256_loadu_pd(v + i)));
    for (; i < n; i++) v[i] = log(v[i]);
}

__attribute__((target("avx2,fma"))) void clinic_exp_avx2(double *v, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) _mm256_storeu_pd(v + i, _ZGVdN4v_exp(_mm256_loadu_pd(v + i)));
    for (; i < n; i++) v[i] = exp(v[i]);
}

__attribute__((target("avx2,fma")))
void clinic_lfilter1_fma(double *y, size_t n, long first, long step, double b0, double b1, double a1, double *z) {
    if (n == 0) return;
    double *p = y + first;
    /* The first output from the given state; after it, each output is one FMA on the last. */
    double x = *p, out = __builtin_fma(b0, x, *z);
    *p = out;
    for (size_t i = 1; i < n; i++) {
        p += step;
        double next = *p;
        out = __builtin_fma(-a1, out, __builtin_fma(b0, next, b1 * x));
        *p = out;
        x = next;
    }
    *z = __builtin_fma(-a1, out, b1 * x);
}

/* See clinic_dsp.h. Lane k (0..3) runs the logical samples [k·C, k·C + W + C) from state
   zero (lane 0: [0, W + C) from the true state); lane k >= 1 has warmed up by its own part
   [k·C + W, (k + 1)·C + W). Each lane's state is kept every `period` samples of its part,
   so a lane that has not yet reached the true trajectory at its start is recomputed one
   sample at a time only until it meets a kept state bit for bit. */
__attribute__((target("avx2")))
size_t clinic_sos4_speculative_avx2(double *y, size_t n, long first, long step, const double *c, double *z,
                                    size_t warmup, size_t period) {
    /* Too short for four lanes (or nonsense sizes, compared without overflow): one loop. */
    if (period == 0 || period > n || warmup > n || n - warmup < 4 * period) {
        sos4_scalar(y, first, step, n, c, z);
        return n;
    }
    const size_t W = warmup, P = period, C = (n - W) / (4 * P) * P, T = W + C, J = C / P;
    double *xs = aligned_alloc(32, sizeof(double) * 4 * T);
    double *ck = aligned_alloc(32, sizeof(double) * 32 * (J + 1));
    if (!xs || !ck) { free(xs); free(ck); sos4_scalar(y, first, step, n, c, z); return n; }
#define AT(i) (y + (first + step * (long)(i)))
    /* A NaN in the input or the state: one loop. Where two different NaNs meet in an
       addition, x86 keeps the first operand's, and the compiler may order a vector addition's
       operands differently from the scalar one's, so only finite values (and infinities,
       whose NaNs all have the same bits) are guaranteed the same bits in lanes. */
    int nan = 0;
    for (size_t t = 0; t < T; t++)
        for (size_t k = 0; k < 4; k++) {
            double v = *AT(k * C + t);
            xs[4 * t + k] = v;
            nan |= v != v;
        }
    for (int i = 0; i < 8; i++) nan |= z[i] != z[i];
    if (nan) { free(xs); free(ck); sos4_scalar(y, first, step, n, c, z); return n; }

    __m256d B[20];
    for (int i = 0; i < 20; i++) B[i] = _mm256_set1_pd(c[i]);
    __m256d Z[8];
    for (int i = 0; i < 8; i++) Z[i] = _mm256_set_pd(0, 0, 0, z[i]);
#define STEP(t) do { \
        __m256d v0 = _mm256_load_pd(xs + 4 * (t)), v1, v2, v3, v4; \
        v1 = _mm256_add_pd(_mm256_mul_pd(B[0], v0), Z[0]); \
        Z[0] = _mm256_add_pd(_mm256_sub_pd(_mm256_mul_pd(B[1], v0), _mm256_mul_pd(B[3], v1)), Z[1]); \
        Z[1] = _mm256_sub_pd(_mm256_mul_pd(B[2], v0), _mm256_mul_pd(B[4], v1)); \
        v2 = _mm256_add_pd(_mm256_mul_pd(B[5], v1), Z[2]); \
        Z[2] = _mm256_add_pd(_mm256_sub_pd(_mm256_mul_pd(B[6], v1), _mm256_mul_pd(B[8], v2)), Z[3]); \
        Z[3] = _mm256_sub_pd(_mm256_mul_pd(B[7], v1), _mm256_mul_pd(B[9], v2)); \
        v3 = _mm256_add_pd(_mm256_mul_pd(B[10], v2), Z[4]); \
        Z[4] = _mm256_add_pd(_mm256_sub_pd(_mm256_mul_pd(B[11], v2), _mm256_mul_pd(B[13], v3)), Z[5]); \
        Z[5] = _mm256_sub_pd(_mm256_mul_pd(B[12], v2), _mm256_mul_pd(B[14], v3)); \
        v4 = _mm256_add_pd(_mm256_mul_pd(B[15], v3), Z[6]); \
        Z[6] = _mm256_add_pd(_mm256_sub_pd(_mm256_mul_pd(B[16], v3), _mm256_mul_pd(B[18], v4)), Z[7]); \
        Z[7] = _mm256_sub_pd(_mm256_mul_pd(B[17], v3), _mm256_mul_pd(B[19], v4)); \
        _mm256_store_pd(xs + 4 * (t), v4); \
    } while (0)
    size_t t = 0;
    for (; t < W; t++) STEP(t);
    for (size_t j = 0; j <= J; j++) {
        for (int i = 0; i < 8; i++) _mm256_store_pd(ck + 4 * (8 * j + i), Z[i]);
        if (j == J) break;
        for (size_t end = t + P; t < end; t++) STEP(t);
    }
#undef STEP

    /* Lane 0 is exact throughout. Its state at the end is the true state at lane 1's start. */
    double truth[8];
    for (size_t t0 = 0; t0 < T; t0++) *AT(t0) = xs[4 * t0];
    for (int i = 0; i < 8; i++) truth[i] = ck[4 * (8 * J + i)];
    size_t recomputed = 0;
    for (size_t k = 1; k < 4; k++) {
        const size_t start = k * C + W;
        for (size_t j = 0; ; j++) {
            int same = 1;
            for (int i = 0; i < 8 && same; i++) same = memcmp(&truth[i], ck + 4 * (8 * j + i) + k, sizeof(double)) == 0;
            if (same) {
                for (size_t u = W + j * P; u < T; u++) *AT(k * C + u) = xs[4 * u + k];
                for (int i = 0; i < 8; i++) truth[i] = ck[4 * (8 * J + i) + k];
                break;
            }
            if (j == J) break; /* recomputed to the end: truth is the state there */
            sos4_scalar(y, first + step * (long)(start + j * P), step, P, c, truth);
            recomputed += P;
        }
    }
#undef AT
    free(xs); free(ck);
    size_t done = 4 * C + W;
    sos4_scalar(y, first + step * (long)done, step, n - done, c, truth);
    memcpy(z, truth, sizeof truth);
    return recomputed + (n - done);
}

#else
/* Elsewhere (no x86-64 glibc libmvec): never chosen, since the check says no. */
int clinic_dsp_has_avx2_fma(void) { return 0; }
void clinic_log_avx2(double *v, size_t n) { for (size_t i = 0; i < n; i++) v[i] = log(v[i]); }
void clinic_exp_avx2(double *v, size_t n) { for (size_t i = 0; i < n; i++) v[i] = exp(v[i]); }
void clinic_lfilter1_fma(double *y, size_t n, long first, long step, double b0, double b1, double a1, double *z) {
    (void)y; (void)n; (void)first; (void)step; (void)b0; (void)b1; (void)a1; (void)z; abort();
}
size_t clinic_sos4_speculative_avx2(double *y, size_t n, long first, long step, const double *c, double *z,
                                    size_t warmup, size_t period) {
    (void)warmup; (void)period;
    sos4_scalar(y, first, step, n, c, z);
    return n;
}
#endif
