/* options.c — every HMT_* environment variable, parsed once from the options.def table.
 *
 * Shaped after mimalloc's options: one table (name, type, default, unit, help), defaults
 * written as strings and parsed like the environment, a bad value warned about once and
 * replaced by the default, and HMT_VERBOSE=1 printing the table with the values in force.
 * Parsing runs from our constructor or from the first door used, whichever is first (a
 * library constructor may reach a wrapper before ours runs); pthread_once makes it once.
 * Strings are copied: the program may change its environment later.
 */
#define _GNU_SOURCE
#include "internal.h"
#include "size_parse.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct hmt_options hmt_opt;
static pthread_once_t options_once = PTHREAD_ONCE_INIT;
static atomic_int options_ready;
static int passthrough, duplicate;

/* Marks the first copy of libhmt.so in the process: a second copy (loaded twice under two
 * paths) finds the first one's symbol under this name and stays a pure pass-through. */
__attribute__((visibility("hidden"))) char hmt_instance_local;
extern char hmt_instance __attribute__((alias("hmt_instance_local"), visibility("default")));

struct opt_desc {
    const char *env, *def, *unit, *help;
    hmt_opt_type type;
    size_t offset;
};
static const struct opt_desc opts[] = {
#define HMT_OPT(id, env, type, def, unit, help) \
    { env, def, unit, help, type, offsetof(struct hmt_options, id) },
#include "options.def"
#undef HMT_OPT
};
#define NOPTS (sizeof opts / sizeof opts[0])

int hmt_parse_size(const char *s, uint64_t *out)
{
    if (!s)
        return -EINVAL;
    while (isspace((unsigned char)*s))
        s++;
    if (!isdigit((unsigned char)*s) && *s != '.')
        return -EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !(v >= 0))
        return -EINVAL;
    double mul;
    const char *rest = hmt_size_unit(end, &mul);
    while (isspace((unsigned char)*rest))
        rest++;
    if (*rest)
        return -EINVAL;
    return hmt_size_bytes(v, mul, out);
}

uint64_t hmt_size_pct_resolve(const hmt_size_pct *v, uint64_t device_total)
{
    if (!v->is_pct)
        return v->bytes;
    return (uint64_t)((double)device_total * v->pct / 100.0);
}

static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = { "1", "true", "yes", "on" }, *const no[] = { "0", "false", "no", "off", "" };
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        if (!strcasecmp(s, yes[i]))
            return *out = 1, 0;
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        if (!strcasecmp(s, no[i]))
            return *out = 0, 0;
    return -EINVAL;
}

/* Values checked beyond their type: the rows this file owns. Others validate their own. */
static int check_choice(const char *env, const char *s)
{
    static const struct { const char *env, *choices[5]; } lists[] = {
        { "HMT_MODE", { "real", "emulated", "off", NULL } },
        { "HMT_LOG", { "error", "warn", "info", "debug", NULL } },
    };
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) {
        if (strcmp(env, lists[i].env))
            continue;
        for (const char *const *c = lists[i].choices; *c; c++)
            if (!strcasecmp(s, *c))
                return 0;
        return -EINVAL;
    }
    return 0;
}

static int parse_value(const struct opt_desc *o, const char *s, void *dst)
{
    switch (o->type) {
    case HMT_OPT_BOOL:
        return parse_bool(s, dst);
    case HMT_OPT_INT: {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 0);
        if (errno || end == s || *end)
            return -EINVAL;
        *(long *)dst = v;
        return 0;
    }
    case HMT_OPT_SIZE:
        return hmt_parse_size(s, dst);
    case HMT_OPT_SIZE_PCT: {
        hmt_size_pct v = { 0 };
        size_t n = strlen(s);
        if (n && s[n - 1] == '%') {
            char *end;
            errno = 0;
            v.pct = strtod(s, &end);
            if (errno || end == s || end != s + n - 1 || !(v.pct >= 0 && v.pct <= 100))
                return -EINVAL;
            v.is_pct = 1;
        } else if (hmt_parse_size(s, &v.bytes)) {
            return -EINVAL;
        }
        v.set = n > 0;
        *(hmt_size_pct *)dst = v;
        return 0;
    }
    case HMT_OPT_STR:
        if (check_choice(o->env, s))
            return -EINVAL;
        *(const char **)dst = strdup(s);
        return *(const char **)dst ? 0 : -ENOMEM;
    }
    return -EINVAL;
}

static void format_value(const struct opt_desc *o, char *buf, size_t n)
{
    const char *p = (const char *)&hmt_opt + o->offset;
    switch (o->type) {
    case HMT_OPT_BOOL: snprintf(buf, n, "%d", *(const int *)p); break;
    case HMT_OPT_INT: snprintf(buf, n, "%ld", *(const long *)p); break;
    case HMT_OPT_SIZE: snprintf(buf, n, "%llu", (unsigned long long)*(const uint64_t *)p); break;
    case HMT_OPT_SIZE_PCT: {
        const hmt_size_pct *v = (const void *)p;
        if (v->is_pct)
            snprintf(buf, n, "%g%%", v->pct);
        else
            snprintf(buf, n, "%llu", (unsigned long long)v->bytes);
        break;
    }
    case HMT_OPT_STR: snprintf(buf, n, "%s", *(const char *const *)p); break;
    }
}

void hmt_log_init(void);

static void options_parse(void)
{
    const char *bad[NOPTS];
    const char *bad_value[NOPTS];
    size_t nbad = 0;
    for (size_t i = 0; i < NOPTS; i++) {
        void *dst = (char *)&hmt_opt + opts[i].offset;
        const char *env = getenv(opts[i].env);
        if (env && parse_value(&opts[i], env, dst) == 0)
            continue;
        if (env) {
            bad[nbad] = opts[i].env;
            bad_value[nbad++] = env;
        }
        /* Defaults are valid: test interpose_options parses every one. */
        (void)parse_value(&opts[i], opts[i].def, dst);
    }
    hmt_log_level = !strcasecmp(hmt_opt.log, "error") ? HMT_LOG_ERROR
                  : !strcasecmp(hmt_opt.log, "info")  ? HMT_LOG_INFO
                  : !strcasecmp(hmt_opt.log, "debug") ? HMT_LOG_DEBUG : HMT_LOG_WARN;
    hmt_log_init();
    for (size_t i = 0; i < nbad; i++)
        HMT_WARN("%s=\"%s\" is not a valid value; using the default", bad[i], bad_value[i]);

    void *first = hmt_libc_dlsym(RTLD_DEFAULT, "hmt_instance");
    duplicate = first && first != (void *)&hmt_instance_local;
    passthrough = duplicate || !strcasecmp(hmt_opt.mode, "off");
    if (duplicate)
        HMT_INFO("another copy of libhmt.so is already active; this one only forwards");

    if (hmt_opt.verbose) {
        hmt_log(HMT_LOG_INFO, "options (HMT_VERBOSE=1):");
        for (size_t i = 0; i < NOPTS; i++) {
            char val[64];
            format_value(&opts[i], val, sizeof val);
            hmt_log(HMT_LOG_INFO, "  %-22s = %-10s %s (default \"%s\"%s%s) %s", opts[i].env, val,
                    getenv(opts[i].env) ? "set" : "   ", opts[i].def, *opts[i].unit ? ", " : "",
                    opts[i].unit, opts[i].help);
        }
    }
    atomic_store_explicit(&options_ready, 1, memory_order_release);
}

void hmt_options_init(void)
{
    if (!atomic_load_explicit(&options_ready, memory_order_acquire))
        pthread_once(&options_once, options_parse);
}

int hmt_passthrough(void)
{
    hmt_options_init();
    return passthrough;
}

int hmt_is_duplicate(void)
{
    hmt_options_init();
    return duplicate;
}

__attribute__((constructor(102))) static void options_ctor(void)
{
    hmt_options_init();
}
