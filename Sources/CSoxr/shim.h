#ifndef CLINIC_CSOXR_SHIM_H
#define CLINIC_CSOXR_SHIM_H
#include <soxr.h>

/* The quality recipe and flags are macros: give Swift typed constants. */
static inline unsigned long clinic_soxr_hq(void) { return SOXR_HQ; }
static inline unsigned long clinic_soxr_vhq(void) { return SOXR_VHQ; }
static inline unsigned long clinic_soxr_linear_phase(void) { return SOXR_LINEAR_PHASE; }
#endif
