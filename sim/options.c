/* sim/options.c — the sim's environment variables, read once at first use.
 *
 * One table names every variable, its default and its meaning; HMT_SIM_VERBOSE=1 prints it
 * with the values in force. sim/README.md documents the same table.
 */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sim_options g_opt;

int sim_parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0) return -EINVAL;
    double mul = 1;
    switch (*end) {
    case 'k': case 'K': mul = 1024.0; end++; break;
    case 'm': case 'M': mul = 1024.0 * 1024; end++; break;
    case 'g': case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
    case 't': case 'T': mul = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end == 'i' || *end == 'I') end++;
    if (*end == 'b' || *end == 'B') end++;
    if (*end) return -EINVAL;
    *out = (size_t)(v * mul);
    return 0;
}

void sim_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("hmt-sim: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void size_opt(const char *name, size_t *dst, size_t def, size_t min)
{
    *dst = def;
    const char *s = getenv(name);
    if (!s || !*s) return;
    size_t v;
    if (sim_parse_size(s, &v) || v < min) {
        sim_warn("%s=%s is not a size of at least %zu bytes (K/M/G/T suffixes); using %zu",
                 name, s, min, def);
        return;
    }
    *dst = v;
}

void sim_options_load(void)
{
    size_opt("HMT_SIM_MEMORY", &g_opt.memory, (size_t)8 << 30, SIM_GRANULARITY);
    g_opt.memory = g_opt.memory / SIM_GRANULARITY * SIM_GRANULARITY;
    size_opt("HMT_SIM_VA", &g_opt.va_size, (size_t)1 << 40, (size_t)1 << 30);
    g_opt.va_size = g_opt.va_size / SIM_GRANULARITY * SIM_GRANULARITY;
    if (g_opt.va_size < 2 * g_opt.memory) g_opt.va_size = 2 * g_opt.memory;
    g_opt.pcie_gbps = 0;
    const char *s = getenv("HMT_SIM_PCIE_GBPS");
    if (s && *s) {
        char *end;
        double v = strtod(s, &end);
        if (*end || v < 0) sim_warn("HMT_SIM_PCIE_GBPS=%s is not a rate in GB/s; unthrottled", s);
        else g_opt.pcie_gbps = v;
    }
    s = getenv("HMT_SIM_STATS");
    g_opt.stats = (s && *s) ? strdup(s) : NULL;
    s = getenv("HMT_SIM_VERBOSE");
    g_opt.verbose = s && *s && strcmp(s, "0") != 0;
    if (g_opt.verbose) {
        sim_warn("HMT_SIM_MEMORY=%zu  device memory bytes (default 8G)", g_opt.memory);
        sim_warn("HMT_SIM_VA=%zu  reserved device VA bytes (default 1T)", g_opt.va_size);
        sim_warn("HMT_SIM_PCIE_GBPS=%g  host<->device copy GB/s, 0 = unthrottled", g_opt.pcie_gbps);
        sim_warn("HMT_SIM_STATS=%s  stats JSON written at exit", g_opt.stats ? g_opt.stats : "");
    }
}
