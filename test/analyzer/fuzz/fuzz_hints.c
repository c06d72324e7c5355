/* fuzz_hints.c — libFuzzer entry for the tier-hints reader (both formats). */
#include <stdint.h>

#include "analyze.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hmt_hints *h;
    char err[256];
    if (hmt_hints_parse((const char *)data, size, &h, err, sizeof(err)) == 0)
        hmt_hints_free(h);
    return 0;
}
