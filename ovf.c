#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include "clinic_dsp.h"
int main(int argc, char **argv) {
    double c[20] = {1,0,0,0,0, 1,0,0,0,0, 1,0,0,0,0, 1,0,0,0,0}, z[8] = {0};
    size_t n = 1000; double *y = calloc(n, sizeof *y);
    int which = atoi(argv[1]);
    size_t rc;
    if (which == 0) rc = clinic_sos4_speculative_avx2(y, n, 0, 1, c, z, SIZE_MAX - 100, 64);   /* W + 4P wraps */
    else if (which == 1) rc = clinic_sos4_speculative_avx2(y, n, 0, 1, c, z, 0, (size_t)1 << 62);  /* 4P == 0: division by zero */
    else rc = clinic_sos4_speculative_avx2(y, n, 0, 1, c, z, (size_t)-1, 1);  /* Swift warmup: -1 */
    printf("rc=%zu\n", rc);
}
