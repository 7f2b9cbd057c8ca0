/* Shared by the fuzz targets: the readers take paths, so inputs go through a file in /dev/shm. */
#ifndef DNN_FUZZ_UTIL_H
#define DNN_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *fuzz_file(const char *tag, const uint8_t *data, size_t size)
{
    static char path[128];
    snprintf(path, sizeof path, "/dev/shm/dnn-fuzz-%s-%ld", tag, (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    return path;
}

#endif
