#ifndef CLINIC_DSP_H
#define CLINIC_DSP_H
#include <stddef.h>

/* The inner loops of ClinicAudio's DSP that Swift cannot make fast on its own: they need
   FMA or AVX2, which Swift cannot enable for one function, or glibc's vector log and exp
   (libmvec), which take and return AVX registers. Every `_avx2` function runs only where
   `clinic_dsp_has_avx2_fma()` is true; ClinicAudio keeps plain loops for the rest (in Swift,
   and for the band-pass `clinic_sos4`, which the four-lane kernel falls back on). */

/* 1 when the CPU and the OS support AVX2 and FMA (cpuid and xgetbv), else 0. */
int clinic_dsp_has_avx2_fma(void);

/* v[i] = log(v[i]) and v[i] = exp(v[i]) for i < n, four at a time (libmvec, at most 4 ulp). */
void clinic_log_avx2(double *v, size_t n);
void clinic_exp_avx2(double *v, size_t n);

/* First-order y[i] = (b0·x[i] + b1·x[i−1]) − a1·y[i−1] over y[first], y[first + step], ...
   (n samples) in place, with FMA; *z is lfilter's state (b1·x[i−1] − a1·y[i−1]), updated. */
void clinic_lfilter1_fma(double *y, size_t n, long first, long step, double b0, double b1, double a1, double *z);

/* Four cascaded biquads, scipy's sosfilt operation for operation (no FMA), over n samples
   at y[first], y[first + step], ... in place, one sample after another (any CPU); z is the
   state (8 values: each section's two), updated; c holds each section's b0, b1, b2, a1, a2. */
void clinic_sos4(double *y, size_t n, long first, long step, const double *c, double *z);

/* The same as clinic_sos4, bit for bit, but computed in four AVX2 lanes (compiled for AVX2
   without FMA, and with contraction off in the file): each lane takes a quarter of the signal,
   starting `warmup` samples early from a zero state, and is checked against the true state
   where its quarter begins (a stable filter's rounding trajectories meet exactly once the
   start is forgotten); where it has not met it yet, the lane is recomputed one sample at a
   time, `period` samples at a time, until it does. Inputs or a state holding a NaN, and
   signals too short for four lanes, go one sample at a time throughout. Returns how many
   samples were computed one at a time. */
size_t clinic_sos4_speculative_avx2(double *y, size_t n, long first, long step, const double *c, double *z,
                                    size_t warmup, size_t period);

#endif
