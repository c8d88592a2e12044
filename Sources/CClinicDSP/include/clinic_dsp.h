#ifndef CLINIC_DSP_H
#define CLINIC_DSP_H
#include <stddef.h>

/* The inner loops of ClinicAudio's DSP that Swift cannot make fast on its own: they need
   FMA or AVX2, which Swift cannot enable for one function, or glibc's vector log and exp
   (libmvec), which take and return AVX registers. Every `_avx2` function runs only where
   `clinic_dsp_has_avx2_fma()` is true; ClinicAudio keeps plain Swift loops for the rest. */

/* 1 when the CPU and the OS support AVX2 and FMA (cpuid and xgetbv), else 0. */
int clinic_dsp_has_avx2_fma(void);

/* v[i] = log(v[i]) and v[i] = exp(v[i]) for i < n, four at a time (libmvec, at most 4 ulp). */
void clinic_log_avx2(double *v, size_t n);
void clinic_exp_avx2(double *v, size_t n);

/* First-order y[i] = (b0·x[i] + b1·x[i−1]) − a1·y[i−1] over y[first], y[first + step], ...
   (n samples) in place, with FMA; *z is lfilter's state (b1·x[i−1] − a1·y[i−1]), updated. */
void clinic_lfilter1_fma(double *y, size_t n, long first, long step, double b0, double b1, double a1, double *z);

#endif
