/* shim.c — the few libhmt services nvme.c uses (options, log, stats), so the NVMe tier's tests
 * and benchmark link interpose/nvme.c alone, without the rest of libhmt or a CUDA driver.
 * Options come from the same options.def table as in libhmt, parsed from the environment
 * (defaults in the table), so a test sets HMT_* variables exactly as a user would. */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct hmt_options hmt_opt;
int hmt_log_level = HMT_LOG_WARN;
_Atomic uint64_t hmt_stats[HMT_STAT__COUNT];

int hmt_parse_size(const char *s, uint64_t *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return -EINVAL;
    double mul = 1;
    switch (*end) {
    case 'k': case 'K': mul = 1024.0; end++; break;
    case 'm': case 'M': mul = 1024.0 * 1024; end++; break;
    case 'g': case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
    case 't': case 'T': mul = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end)
        return -EINVAL;
    *out = (uint64_t)(v * mul);
    return 0;
}

static void set_opt(void *field, hmt_opt_type type, const char *s)
{
    switch (type) {
    case HMT_OPT_BOOL: *(int *)field = atoi(s) != 0; break;
    case HMT_OPT_INT:  *(long *)field = strtol(s, NULL, 0); break;
    case HMT_OPT_SIZE: hmt_parse_size(s, (uint64_t *)field); break;
    case HMT_OPT_SIZE_PCT: break;
    case HMT_OPT_STR:  *(const char **)field = s; break;
    }
}

void hmt_options_init(void)
{
#define HMT_OPT(id, env, type, def, unit, help)                                   \
    do {                                                                           \
        const char *v_ = getenv(env);                                              \
        set_opt(&hmt_opt.id, type, v_ ? v_ : def);                                 \
    } while (0);
#include "options.def"
#undef HMT_OPT
    const char *l = getenv("HMT_LOG");
    if (l && !strcmp(l, "info"))  hmt_log_level = HMT_LOG_INFO;
    if (l && !strcmp(l, "debug")) hmt_log_level = HMT_LOG_DEBUG;
    if (l && !strcmp(l, "error")) hmt_log_level = HMT_LOG_ERROR;
}

__attribute__((constructor)) static void shim_init(void) { hmt_options_init(); }

void hmt_log(int level, const char *fmt, ...)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static const char *names[] = { "error", "warn", "info", "debug" };
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&lock);
    fprintf(stderr, "hmt: %s: ", names[level & 3]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&lock);
    va_end(ap);
}

void hmt_gauge_max(enum hmt_stat_id id, uint64_t v)
{
    uint64_t cur = atomic_load(&hmt_stats[id]);
    while (cur < v && !atomic_compare_exchange_weak(&hmt_stats[id], &cur, v))
        ;
}
