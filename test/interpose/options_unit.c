/* options_unit.c — interpose_options: the options table parser (interpose/options.c and
 * log.c, compiled into this test).
 *
 * Sizes (K/M/G/T, fractions, bad input), and hmt_options_init() over the whole options.def
 * table with the environment set from the table itself: every row's default must parse as an
 * environment value (no warning), SIZE rows take "3M", SIZE_PCT rows "12.5%", BOOL rows "yes";
 * one bad value (HMT_MODE=bogus) warns exactly once and leaves the default in force; with
 * HMT_VERBOSE=1 the log lists every variable.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The rest of libhmt is not linked: no second copy, no dlsym. */
void *hmt_libc_dlsym(void *handle, const char *name) { (void)handle; (void)name; return NULL; }

static int failures;
#define CHECK(c, ...) do { if (!(c)) { fprintf(stderr, "FAIL %d: ", __LINE__); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); failures++; } } while (0)

static void size_is(const char *s, int rc, uint64_t want)
{
    uint64_t v = 12345;
    int r = hmt_parse_size(s, &v);
    CHECK(r == rc && (rc || v == want), "hmt_parse_size(\"%s\") = %d, %llu; want %d, %llu", s, r,
          (unsigned long long)v, rc, (unsigned long long)want);
}

struct row { const char *env, *def; hmt_opt_type type; size_t off; };
static const struct row rows[] = {
#define HMT_OPT(id, env, type, def, unit, help) { env, def, type, offsetof(struct hmt_options, id) },
#include "options.def"
#undef HMT_OPT
};
#define NROWS (sizeof rows / sizeof rows[0])

int main(int argc, char **argv)
{
    size_is("123", 0, 123);
    size_is("4K", 0, 4096);
    size_is("4k", 0, 4096);
    size_is("1KiB", 0, 1024);
    size_is("3MB", 0, 3u << 20);
    size_is("2.5G", 0, 5ull << 29);
    size_is("1T", 0, 1ull << 40);
    size_is("0", 0, 0);
    size_is("", -EINVAL, 0);
    size_is("abc", -EINVAL, 0);
    size_is("-1", -EINVAL, 0);
    size_is("5X", -EINVAL, 0);
    size_is("5 G", -EINVAL, 0);
    size_is("99999999999T", -ERANGE, 0);
    hmt_size_pct half = { .pct = 50, .is_pct = 1, .set = 1 }, abs = { .bytes = 7, .set = 1 };
    CHECK(hmt_size_pct_resolve(&half, 1000) == 500, "50%% of 1000");
    CHECK(hmt_size_pct_resolve(&abs, 1000) == 7, "absolute size");

    /* options.c parses from its constructor: set the environment, then run again. */
    char logpath[] = "/tmp/hmt-opt-log-XXXXXX";
    if (argc < 2) {
        close(mkstemp(logpath));
        setenv("HMT_TEST_OPT_LOG", logpath, 1);
    } else {
        snprintf(logpath, sizeof logpath, "%s", getenv("HMT_TEST_OPT_LOG"));
    }
    for (size_t i = 0; argc < 2 && i < NROWS; i++) {
        const char *v = rows[i].def;
        if (rows[i].type == HMT_OPT_SIZE)
            v = "3M";
        else if (rows[i].type == HMT_OPT_SIZE_PCT)
            v = "12.5%";
        else if (rows[i].type == HMT_OPT_BOOL)
            v = "yes";
        setenv(rows[i].env, v, 1);
    }
    if (argc < 2) {
        setenv("HMT_MODE", "bogus", 1);
        setenv("HMT_LOG", "info", 1);
        setenv("HMT_LOG_FILE", logpath, 1);
        setenv("HMT_STATS", "", 1);
        execl("/proc/self/exe", argv[0], "parse", (char *)NULL);
        fprintf(stderr, "FAIL: cannot re-run myself\n");
        return 1;
    }
    hmt_options_init();
    hmt_options_init();   /* idempotent */
    CHECK(!strcmp(hmt_opt.mode, "real"), "bad HMT_MODE: mode is \"%s\", want the default", hmt_opt.mode);
    CHECK(hmt_log_level == HMT_LOG_INFO, "HMT_LOG=info: level %d", hmt_log_level);
    CHECK(hmt_opt.verbose == 1, "HMT_VERBOSE=yes");
    CHECK(!hmt_passthrough(), "passthrough with HMT_MODE defaulted to real");
    for (size_t i = 0; i < NROWS; i++) {
        const char *p = (const char *)&hmt_opt + rows[i].off;
        if (rows[i].type == HMT_OPT_SIZE)
            CHECK(*(const uint64_t *)p == 3u << 20, "%s=3M", rows[i].env);
        if (rows[i].type == HMT_OPT_SIZE_PCT)
            CHECK(((const hmt_size_pct *)p)->is_pct && ((const hmt_size_pct *)p)->pct == 12.5,
                  "%s=12.5%%", rows[i].env);
    }
    FILE *f = fopen(logpath, "r");
    char line[2048];
    int warnings = 0, listed = 0;
    while (f && fgets(line, sizeof line, f)) {
        CHECK(!strncmp(line, "hmt: [", 6), "log line without the hmt: prefix: %s", line);
        if (strstr(line, "is not a valid value")) {
            warnings++;
            CHECK(strstr(line, "HMT_MODE=\"bogus\"") != NULL, "unexpected warning: %s", line);
        }
        for (size_t i = 0; i < NROWS; i++) {
            char key[80];
            snprintf(key, sizeof key, "  %s ", rows[i].env);
            if (strstr(line, key))
                listed++;
        }
    }
    if (f)
        fclose(f);
    unlink(logpath);
    CHECK(warnings == 1, "%d warnings, want exactly one (HMT_MODE)", warnings);
    CHECK(listed == (int)NROWS, "HMT_VERBOSE listed %d of %zu options", listed, NROWS);
    if (failures)
        fprintf(stderr, "%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
