/* test_util.h — what the analyzer's test programs share: the failure counter with its
 * FAIL/CHECK reporting (a failed check prints FAIL file:line: message and the test goes
 * on, so one run shows every failure), and slurp() to read a whole file.
 *
 * Header-only (static, static inline) so each test stays one standalone program and
 * CMakeLists.txt needs no extra source. A test that reports differently defines its own
 * CHECK before including this (test_golden: no location, the golden name says which).
 */
#ifndef HMT_TEST_ANALYZER_UTIL_H
#define HMT_TEST_ANALYZER_UTIL_H

#include <stdio.h>
#include <stdlib.h>

static int failures;

#define FAIL(...)                                                                          \
    do {                                                                                   \
        fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                               \
        fprintf(stderr, __VA_ARGS__);                                                      \
        fputc('\n', stderr);                                                               \
        failures++;                                                                        \
    } while (0)

#ifndef CHECK
#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond))                                                                       \
            FAIL(__VA_ARGS__);                                                             \
    } while (0)
#endif

/* The whole regular file at path, NUL-terminated, malloc'd (caller frees); its length in
 * *len unless len is NULL. NULL when it cannot be opened or read. Sizes it with ftell, so
 * not for FIFOs or devices. */
static inline char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b)
        b[n] = 0;
    fclose(f);
    if (len)
        *len = (size_t)n;
    return b;
}

#endif
