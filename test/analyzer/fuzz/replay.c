/* replay.c — a libFuzzer-compatible driver for builds without libFuzzer (gcc, CI): feeds
 * every file of the seed corpus to LLVMFuzzerTestOneInput, then `runs` deterministic
 * mutations of them (bit flips, byte overwrites, truncations, insertions, splices), so the
 * parsers meet hostile input in every test run. Crashes and sanitizer reports fail the test.
 * usage: <target>_replay CORPUS_DIR [runs]
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR [runs]\n", argv[0]);
        return 1;
    }
    long runs = argc > 2 ? strtol(argv[2], NULL, 10) : 2000;
    DIR *d = opendir(argv[1]);
    if (!d) {
        perror(argv[1]);
        return 1;
    }
    uint8_t *seeds[64];
    size_t lens[64], n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", argv[1], e->d_name);
        FILE *f = fopen(p, "rb");
        if (!f)
            continue;
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fseek(f, 0, SEEK_SET);
        seeds[n] = malloc((size_t)len + 1);
        lens[n] = fread(seeds[n], 1, (size_t)len, f);
        fclose(f);
        LLVMFuzzerTestOneInput(seeds[n], lens[n]);
        n++;
    }
    closedir(d);
    if (!n) {
        fprintf(stderr, "%s: empty corpus\n", argv[1]);
        return 1;
    }
    for (long r = 0; r < runs; r++) {
        size_t k = rnd() % n, len = lens[k];
        uint8_t *b = malloc(len + 64);
        memcpy(b, seeds[k], len);
        int muts = 1 + (int)(rnd() % 4);
        for (int m = 0; m < muts; m++) {
            switch (rnd() % 5) {
            case 0: if (len) b[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8)); break;
            case 1: if (len) b[rnd() % len] = (uint8_t)rnd(); break;
            case 2: if (len) len = rnd() % len; break;
            case 3: if (len < lens[k] + 48) { size_t at = len ? rnd() % len : 0;
                        memmove(b + at + 1, b + at, len - at); b[at] = (uint8_t)rnd(); len++; } break;
            case 4: { size_t o = rnd() % n, from = lens[o] ? rnd() % lens[o] : 0,
                      cnt = lens[o] - from < 32 ? lens[o] - from : 32, at = len ? rnd() % len : 0;
                      if (at + cnt <= len) memcpy(b + at, seeds[o] + from, cnt); } break;
            }
        }
        /* exact-size copy so sanitizers see reads past the end */
        uint8_t *x = malloc(len ? len : 1);
        memcpy(x, b, len);
        LLVMFuzzerTestOneInput(x, len);
        free(x);
        free(b);
    }
    for (size_t i = 0; i < n; i++)
        free(seeds[i]);
    printf("ok: %zu seeds and %ld mutations\n", n, runs);
    return 0;
}
