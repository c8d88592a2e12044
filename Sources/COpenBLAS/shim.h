#ifndef CLINIC_COPENBLAS_SHIM_H
#define CLINIC_COPENBLAS_SHIM_H
/* Debian's libopenblas-dev: cblas.h (with openblas_set_num_threads) through the alternatives
   link in /usr/include/<multiarch>/. */
#include <cblas.h>
#endif
