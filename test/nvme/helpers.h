/* helpers.h — shared bits of the NVMe tier's test programs: exit codes, a checked-expression
 * macro, deterministic chunk contents and a private spill folder per test. */
#ifndef HMT_TEST_NVME_HELPERS_H
#define HMT_TEST_NVME_HELPERS_H

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { T_PASS = 0, T_FAIL = 1, T_SKIP = 77 };

#define CHECK(cond, ...) do { if (!(cond)) { \
        fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
        fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(T_FAIL); } } while (0)

/* Fills buf with bytes that depend on (seed, every 8-byte word's position): a chunk read back
 * from the wrong slot, or half-written, cannot pass pattern_check. */
static inline void pattern_fill(void *buf, size_t bytes, uint64_t seed)
{
    uint64_t *w = buf, x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < bytes / 8; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        w[i] = x + i;
    }
}

/* Index of the first 8-byte word that differs from pattern_fill(seed), or -1. */
static inline long pattern_check(const void *buf, size_t bytes, uint64_t seed)
{
    const uint64_t *w = buf;
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < bytes / 8; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        if (w[i] != x + i)
            return (long)i;
    }
    return -1;
}

/* Where test spill folders go: $TMPDIR, else /var/tmp (hmt's own default). */
static inline const char *spill_base(void)
{
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/var/tmp";
}

/* A fresh folder for one test's spill file. The options are read at start, so tests set
 * hmt_opt.nvme_dir to it directly. */
static inline char *spill_dir_make(void)
{
    static char dir[512];
    snprintf(dir, sizeof dir, "%s/hmt-nvme-test-XXXXXX", spill_base());
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(T_FAIL);
    }
    return dir;
}

/* Number of entries in dir other than . and .. */
static inline int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static inline void *chunk_alloc(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 2u << 20, bytes)) {
        fprintf(stderr, "out of memory\n");
        exit(T_FAIL);
    }
    memset(p, 0, bytes);
    return p;
}

#endif
