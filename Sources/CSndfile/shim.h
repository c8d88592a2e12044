#ifndef CLINIC_CSNDFILE_SHIM_H
#define CLINIC_CSNDFILE_SHIM_H
#include <sndfile.h>

/* Typed wrappers for sf_command's void* payloads. */
static inline int clinic_sf_set_compression_level(SNDFILE *f, double level) {
    return sf_command(f, SFC_SET_COMPRESSION_LEVEL, &level, sizeof(level));
}
static inline int clinic_sf_get_log(SNDFILE *f, char *buffer, int size) {
    return sf_command(f, SFC_GET_LOG_INFO, buffer, size);
}
#endif
