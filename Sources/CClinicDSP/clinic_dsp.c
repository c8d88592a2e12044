#include "clinic_dsp.h"
#include <math.h>
#include <stdlib.h>

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

/* One section: in v, out returned; its dependency chain out -> z0 -> out is two FMAs. */
#define BIQUAD(v, out, b0, b1, b2, a1, a2, z0, z1) \
    out = __builtin_fma(b0, v, z0); \
    z0 = __builtin_fma(-(a1), out, __builtin_fma(b1, v, z1)); \
    z1 = __builtin_fma(-(a2), out, (b2) * (v));

__attribute__((target("avx2,fma")))
void clinic_biquad4_fma(double *y, size_t n, long first, long step, const double c[20], double z[8]) {
    const double b00 = c[0], b01 = c[1], b02 = c[2], a01 = c[3], a02 = c[4];
    const double b10 = c[5], b11 = c[6], b12 = c[7], a11 = c[8], a12 = c[9];
    const double b20 = c[10], b21 = c[11], b22 = c[12], a21 = c[13], a22 = c[14];
    const double b30 = c[15], b31 = c[16], b32 = c[17], a31 = c[18], a32 = c[19];
    double z00 = z[0], z01 = z[1], z10 = z[2], z11 = z[3], z20 = z[4], z21 = z[5], z30 = z[6], z31 = z[7];
    double *p = y + first;
    for (size_t i = 0; i < n; i++, p += step) {
        double v1, v2, v3, v4;
        BIQUAD(*p, v1, b00, b01, b02, a01, a02, z00, z01)
        BIQUAD(v1, v2, b10, b11, b12, a11, a12, z10, z11)
        BIQUAD(v2, v3, b20, b21, b22, a21, a22, z20, z21)
        BIQUAD(v3, v4, b30, b31, b32, a31, a32, z30, z31)
        *p = v4;
    }
    z[0] = z00; z[1] = z01; z[2] = z10; z[3] = z11; z[4] = z20; z[5] = z21; z[6] = z30; z[7] = z31;
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

#else
/* Elsewhere (no x86-64 glibc libmvec): never chosen, since the check says no. */
int clinic_dsp_has_avx2_fma(void) { return 0; }
void clinic_log_avx2(double *v, size_t n) { for (size_t i = 0; i < n; i++) v[i] = log(v[i]); }
void clinic_exp_avx2(double *v, size_t n) { for (size_t i = 0; i < n; i++) v[i] = exp(v[i]); }
void clinic_biquad4_fma(double *y, size_t n, long first, long step, const double c[20], double z[8]) {
    (void)y; (void)n; (void)first; (void)step; (void)c; (void)z; abort();
}
void clinic_lfilter1_fma(double *y, size_t n, long first, long step, double b0, double b1, double a1, double *z) {
    (void)y; (void)n; (void)first; (void)step; (void)b0; (void)b1; (void)a1; (void)z; abort();
}
#endif
