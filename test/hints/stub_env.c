/* stub_env.c — the few libhmt internals hints.c uses (options, log, stats), so unit tests can
 * link interpose/hints.c alone and drive it with synthetic copies and allocations, without
 * the doors, the residency engine or a driver. Options come from the same HMT_* variables. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hmt_options hmt_opt;
int hmt_log_level = HMT_LOG_INFO;
_Atomic uint64_t hmt_stats[HMT_STAT__COUNT];

void hmt_log(int level, const char *fmt, ...)
{
    static const char *const lv[] = { "error", "warn", "info", "debug" };
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hmt: %s: ", lv[level]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void hmt_gauge_max(enum hmt_stat_id id, uint64_t v)
{
    uint64_t cur = atomic_load(&hmt_stats[id]);
    while (v > cur && !atomic_compare_exchange_weak(&hmt_stats[id], &cur, v)) {}
}

static int env_bool(const char *name, int dflt)
{
    const char *v = getenv(name);
    return v && *v ? strcmp(v, "0") != 0 : dflt;
}

/* Called by the test before anything else (the real options.c fills hmt_opt at load). */
void hmt_test_options(void)
{
    hmt_opt.hints = getenv("HMT_HINTS");
    hmt_opt.strict = env_bool("HMT_STRICT", 0);
    hmt_opt.hints_order = env_bool("HMT_HINTS_ORDER", 1);
    hmt_opt.stats_tensors = env_bool("HMT_STATS_TENSORS", 0);
    const char *lg = getenv("HMT_LOG");
    if (lg && !strcmp(lg, "debug"))
        hmt_log_level = HMT_LOG_DEBUG;
    else
        hmt_log_level = HMT_LOG_WARN;
}

/* hints.c's constructor calls these; the tests fill the options themselves, later. */
void hmt_options_init(void) {}
int hmt_passthrough(void) { return 0; }
