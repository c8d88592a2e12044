#ifndef CLINIC_CFFTW_SHIM_H
#define CLINIC_CFFTW_SHIM_H
#include <fftw3.h>

/* fftw_version is a char array, which Swift imports awkwardly: return a pointer. */
static inline const char *clinic_fftw_version(void) { return fftw_version; }
#endif
