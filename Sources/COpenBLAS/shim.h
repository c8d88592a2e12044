#ifndef CLINIC_COPENBLAS_SHIM_H
#define CLINIC_COPENBLAS_SHIM_H
/* Debian's libopenblas-dev: cblas.h through the alternatives link in /usr/include/<multiarch>/.
   Declarations only: the module links nothing. ClinicAssessment opens libopenblas.so.0 when a
   cnn model is loaded (OpenBLAS starts its worker threads when it loads, and they spin: a
   clinic process that runs no network should not pay for them). */
#include <cblas.h>

/* cblas_sgemm's type, for the pointer dlsym returns. */
typedef void (*clinic_cblas_sgemm_fn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE,
                                      blasint, blasint, blasint, float, const float *, blasint,
                                      const float *, blasint, float, float *, blasint);
#endif
