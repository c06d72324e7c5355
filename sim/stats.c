/* sim/stats.c — per-function call counts, fault injection and the HMT_SIM_STATS JSON.
 *
 * Every exported cu* function starts with SIM_ENTER(), which registers a static counter
 * under the function's exported name on first call. hmt_sim_fail_nth() arms a rule
 * "the nth future call of NAME returns RESULT without running"; rules are checked only
 * while any is armed, so the common path is two atomic operations.
 */
#include "internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RULES 64
typedef struct fail_rule { char name[96]; unsigned n, seen; int result; } fail_rule;

static sim_fn *g_fns;
static fail_rule g_rules[MAX_RULES];
static atomic_int g_nrules;

__thread int sim_tl_no_api;

CUresult sim_enter(sim_fn *fn)
{
    atomic_fetch_add_explicit(&fn->calls, 1, memory_order_relaxed);
    if (sim_tl_no_api && strncmp(fn->name, "cuGetError", 10) != 0) {
        static atomic_bool said;
        if (!atomic_exchange(&said, true))
            sim_warn("%s called from a host function or kernel: not permitted "
                     "(CUDA_ERROR_NOT_PERMITTED)", fn->name);
        return CUDA_ERROR_NOT_PERMITTED;
    }
    if (!atomic_load_explicit(&fn->registered, memory_order_acquire)) {
        pthread_mutex_lock(&g_sim.stat_mu);
        if (!atomic_load(&fn->registered)) {
            fn->next = g_fns;
            g_fns = fn;
            atomic_store_explicit(&fn->registered, true, memory_order_release);
        }
        pthread_mutex_unlock(&g_sim.stat_mu);
    }
    if (atomic_load_explicit(&g_nrules, memory_order_acquire) == 0) return CUDA_SUCCESS;
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&g_sim.stat_mu);
    for (int i = 0; i < MAX_RULES; i++) {
        fail_rule *ru = &g_rules[i];
        if (!ru->n || strcmp(ru->name, fn->name) != 0) continue;
        if (++ru->seen == ru->n) {
            r = (CUresult)ru->result;
            ru->n = 0;
            atomic_fetch_sub(&g_nrules, 1);
        }
    }
    pthread_mutex_unlock(&g_sim.stat_mu);
    return r;
}

SIM_EXPORT int hmt_sim_fail_nth(const char *name, unsigned n, int result)
{
    if (!name || strlen(name) >= sizeof g_rules[0].name) return -EINVAL;
    int rc = 0;
    pthread_mutex_lock(&g_sim.stat_mu);
    /* Clear any rule for this name, then arm the new one. */
    for (int i = 0; i < MAX_RULES; i++)
        if (g_rules[i].n && strcmp(g_rules[i].name, name) == 0) {
            g_rules[i].n = 0;
            atomic_fetch_sub(&g_nrules, 1);
        }
    if (n) {
        rc = -ENOSPC;
        for (int i = 0; i < MAX_RULES; i++)
            if (!g_rules[i].n) {
                snprintf(g_rules[i].name, sizeof g_rules[i].name, "%s", name);
                g_rules[i].seen = 0;
                g_rules[i].result = result;
                g_rules[i].n = n;
                atomic_fetch_add(&g_nrules, 1);
                rc = 0;
                break;
            }
    }
    pthread_mutex_unlock(&g_sim.stat_mu);
    return rc;
}

SIM_EXPORT size_t hmt_sim_device_bytes(void)
{
    pthread_mutex_lock(&g_sim.mem_mu);
    size_t v = g_sim.device_bytes;
    pthread_mutex_unlock(&g_sim.mem_mu);
    return v;
}

SIM_EXPORT size_t hmt_sim_peak_device_bytes(void)
{
    pthread_mutex_lock(&g_sim.mem_mu);
    size_t v = g_sim.peak_device_bytes;
    pthread_mutex_unlock(&g_sim.mem_mu);
    return v;
}

SIM_EXPORT int hmt_sim_illegal_address(void)
{
    return atomic_load(&g_sim.illegal_address) ? 1 : 0;
}

SIM_EXPORT int hmt_sim_write_stats(const char *path)
{
    if (!path) return -EINVAL;
    cJSON *o = cJSON_CreateObject();
    if (!o) return -ENOMEM;
    pthread_mutex_lock(&g_sim.mem_mu);
    cJSON_AddNumberToObject(o, "device_bytes", (double)g_sim.device_bytes);
    cJSON_AddNumberToObject(o, "peak_device_bytes", (double)g_sim.peak_device_bytes);
    cJSON_AddNumberToObject(o, "host_vmm_bytes", (double)g_sim.host_vmm_bytes);
    cJSON_AddNumberToObject(o, "pinned_host_bytes", (double)g_sim.pinned_bytes);
    cJSON_AddNumberToObject(o, "memory_limit", (double)g_opt.memory);
    pthread_mutex_unlock(&g_sim.mem_mu);
    cJSON_AddBoolToObject(o, "illegal_address", atomic_load(&g_sim.illegal_address));
    cJSON_AddNumberToObject(o, "illegal_address_faults", (double)atomic_load(&g_sim.faults));
    uintptr_t ff = atomic_load(&g_sim.first_fault);
    if (ff) {
        char hex[32];
        snprintf(hex, sizeof hex, "0x%llx", (unsigned long long)ff);
        cJSON_AddStringToObject(o, "first_illegal_address", hex);
    }
    cJSON_AddNumberToObject(o, "kernels_run", (double)atomic_load(&g_sim.kernels_run));
    cJSON_AddNumberToObject(o, "graphs_run", (double)atomic_load(&g_sim.graphs_run));
    cJSON *cp = cJSON_AddObjectToObject(o, "copied_bytes");
    static const char *const dirs[] = {NULL, "HtoD", "DtoH", "DtoD", "HtoH"};
    for (int d = DIR_HD; d <= DIR_HH; d++)
        cJSON_AddNumberToObject(cp, dirs[d], (double)atomic_load(&g_sim.copied[d]));
    cJSON *calls = cJSON_AddObjectToObject(o, "calls");
    pthread_mutex_lock(&g_sim.stat_mu);
    for (sim_fn *f = g_fns; f; f = f->next)
        cJSON_AddNumberToObject(calls, f->name, (double)atomic_load(&f->calls));
    pthread_mutex_unlock(&g_sim.stat_mu);
    char *txt = cJSON_Print(o);
    cJSON_Delete(o);
    if (!txt) return -ENOMEM;
    int rc = 0;
    FILE *fp = strcmp(path, "-") == 0 ? stderr : fopen(path, "w");
    if (!fp) {
        rc = -errno;
    } else {
        if (fputs(txt, fp) < 0 || fputc('\n', fp) < 0) rc = -EIO;
        if (fp != stderr && fclose(fp) != 0 && !rc) rc = -errno;
    }
    free(txt);
    return rc;
}

static void write_at_exit(void)
{
    if (g_opt.stats && hmt_sim_write_stats(g_opt.stats) != 0)
        sim_warn("cannot write HMT_SIM_STATS=%s", g_opt.stats);
}

void sim_stats_setup(void)
{
    if (g_opt.stats) atexit(write_at_exit);
}
