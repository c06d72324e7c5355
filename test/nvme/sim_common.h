/* sim_common.h — what the NVMe tier's tests on the sim (ssd.c, oneslot.c) share beyond
 * test/residency/res_common.h: whether the spill folder is empty, and one hints-file entry
 * naming an uploaded buffer by its fingerprint (include/hmt/hints.h: XXH64 of the first
 * min(n, 64 KiB) bytes, seed n). */
#ifndef HMT_TEST_NVME_SIM_COMMON_H
#define HMT_TEST_NVME_SIM_COMMON_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>
#include "hmt/hints.h"

/* 1 when dir exists and holds nothing but . and .. */
static inline int dir_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n == 0;
}

/* Writes one tensors[] entry for `numel` floats at `data` (ends with "," unless last). */
static inline void hints_entry(FILE *f, const char *name, const char *module, const char *tier,
                               int order, const float *data, unsigned numel, int last)
{
    size_t bytes = (size_t)numel * sizeof(float);
    size_t prefix = bytes < HMT_FP_PREFIX_BYTES ? bytes : HMT_FP_PREFIX_BYTES;
    unsigned long long fp = (unsigned long long)XXH64(data, prefix, bytes);
    fprintf(f, "  {\"name\": \"%s\", \"module\": \"%s\", \"tier\": \"%s\", \"order\": %d, "
               "\"dtype\": \"F32\", \"shape\": [%u], \"numel\": %u, \"bytes\": %zu, "
               "\"fingerprints\": {\"F32\": \"%016llx\"}}%s\n",
            name, module, tier, order, numel, numel, bytes, fp, last ? "" : ",");
}

#endif
