/* fuzz_safetensors.c — libFuzzer entry for the safetensors header parser: any bytes are a
 * "file"; parsing must never read outside them, and accepted entries must lie inside. */
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hmt_st_entry *e;
    size_t n, start;
    char *fmt;
    char err[256];
    if (hmt_st_parse(data, size, &e, &n, &start, &fmt, err, sizeof(err)) == 0) {
        for (size_t i = 0; i < n; i++)
            if (start + e[i].end > size)
                abort();
        hmt_st_entries_free(e, n);
        free(fmt);
    }
    return 0;
}
