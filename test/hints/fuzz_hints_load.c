/* fuzz_hints_load.c — the interposer's hints reader (interpose/hints.c) on hostile input: a
 * hints file is parsed inside the user's process, so no input may crash it. Each input is
 * loaded as a hints file, then an allocation, a host->device copy of the input's own bytes
 * (so fingerprint and order paths run when sizes match), queries, a free and the stats JSON.
 *
 * With -DHMT_FUZZ=ON and clang this is a libFuzzer target; otherwise main() replays the seed
 * corpus (corpus/) plus deterministic mutations of it — truncations, byte flips, spliced
 * JSON tokens — so every test run feeds the parser broken files.
 *   fuzz_hints_load CORPUS_DIR [MUTATIONS]
 */
#define _GNU_SOURCE
#include "hints.h"
#include "internal.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hmt_test_options(void);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once) {
        once = 1;
        setenv("HMT_STATS_TENSORS", "1", 1);
        setenv("HMT_LOG", "error", 1);
        hmt_test_options();
        hmt_log_level = -1;     /* the reader's one-line complaints would drown the output */
    }
    const CUdeviceptr base = 0x7f3000000000ull;
    hmt_hints_load_buffer((const char *)data, size);
    for (size_t n = size < 64 ? size : 64; n > 0; n /= 2) {
        hmt_hints_note_alloc(base, n);
        hmt_hints_note_htod(base, data, n);
    }
    hmt_hints_note_alloc(base + 4096, size);
    hmt_hints_note_htod(base + 4096, data, size);
    (void)hmt_hints_tier_of(base, 8192 + size);
    CUdeviceptr st;
    size_t len;
    int tier;
    (void)hmt_hints_tensor_at(base + 4096, &st, &len, &tier);
    (void)hmt_hints_name_at(base);
    hmt_hints_note_fault(base, 8192);
    hmt_hints_note_evict(base, 8192);
    cJSON *root = cJSON_CreateObject();
    hmt_hints_stats_json(root);
    char *s = cJSON_PrintUnformatted(root);
    free(s);
    cJSON_Delete(root);
    hmt_hints_note_free(base, 8192 + size);
    return 0;
}

#ifndef HMT_LIBFUZZER
static const char *const tokens[] = {
    "{", "}", "[", "]", ",", ":", "\"", "null", "true", "-1", "1e308", "0.5", "\"HBM\"",
    "\"CPU\"", "\"SSD\"", "\"F32\"", "\"BF16\"", "\"ffffffffffffffff\"", "\"name\"", "\"tier\"",
    "\"numel\"", "\"fingerprints\"", "\"tensors\"", "\"format\"", "\"version\"", "18446744073709551615",
};

static void mutate(const char *in, size_t n, char **out, size_t *on, uint64_t *rng)
{
    *rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t r = *rng >> 17;
    char *b = malloc(n + 64);
    memcpy(b, in, n);
    size_t len = n;
    size_t at = n ? (size_t)(r % n) : 0;
    switch (r % 4) {
    case 0:                                   /* truncate */
        len = at;
        break;
    case 1:                                   /* flip a byte */
        if (n) b[at] ^= (char)(1u << (r >> 8) % 8);
        break;
    case 2: {                                 /* splice a token in */
        const char *t = tokens[(r >> 8) % (sizeof tokens / sizeof tokens[0])];
        size_t tl = strlen(t);
        memmove(b + at + tl, b + at, n - at);
        memcpy(b + at, t, tl);
        len = n + tl;
        break;
    }
    default: {                                /* delete a run */
        size_t k = (r >> 8) % 16;
        if (at + k > n) k = n - at;
        memmove(b + at, b + at + k, n - at - k);
        len = n - k;
    }
    }
    *out = b;
    *on = len;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: fuzz_hints_load CORPUS_DIR [MUTATIONS]\n");
        return 1;
    }
    long mutations = argc > 2 ? atol(argv[2]) : 2000;
    DIR *d = opendir(argv[1]);
    if (!d) {
        fprintf(stderr, "fuzz_hints_load: cannot open %s\n", argv[1]);
        return 1;
    }
    char *seeds[64];
    size_t seedlen[64], nseeds = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nseeds < 64) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", argv[1], e->d_name);
        FILE *f = fopen(p, "rb");
        if (!f)
            continue;
        fseek(f, 0, SEEK_END);
        long l = ftell(f);
        rewind(f);
        seeds[nseeds] = malloc((size_t)l + 1);
        seedlen[nseeds] = fread(seeds[nseeds], 1, (size_t)l, f);
        fclose(f);
        LLVMFuzzerTestOneInput((const uint8_t *)seeds[nseeds], seedlen[nseeds]);
        nseeds++;
    }
    closedir(d);
    if (!nseeds) {
        fprintf(stderr, "fuzz_hints_load: empty corpus %s\n", argv[1]);
        return 1;
    }
    uint64_t rng = 42;
    for (long i = 0; i < mutations; i++) {
        char *cur = NULL;
        size_t cl = 0;
        const char *src = seeds[i % (long)nseeds];
        size_t sl = seedlen[i % (long)nseeds];
        /* a few stacked mutations per input */
        char *tmp = NULL;
        mutate(src, sl, &cur, &cl, &rng);
        for (int k = 0; k < 3; k++) {
            mutate(cur, cl, &tmp, &cl, &rng);
            free(cur);
            cur = tmp;
        }
        LLVMFuzzerTestOneInput((const uint8_t *)cur, cl);
        free(cur);
    }
    for (size_t i = 0; i < nseeds; i++)
        free(seeds[i]);
    printf("fuzz_hints_load: %zu seeds, %ld mutated inputs, no crash\n", nseeds, mutations);
    return 0;
}
#endif
