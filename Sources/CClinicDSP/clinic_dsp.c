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
void clinic_lfilter1_fma(double *y, size_t n, long first, long step, double b0, double b1, double a1, double *z) {
    (void)y; (void)n; (void)first; (void)step; (void)b0; (void)b1; (void)a1; (void)z; abort();
}
#endif
