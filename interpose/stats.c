/* stats.c — the HMT_STATS report: one JSON object written at exit (or on request).
 *
 * Fields, in order:
 *   "pid", then every stats.def row under its json_name (counters and gauges, flat),
 *   "doors": { "exported_calls": calls that entered any wrapper (door 1, and the pointers
 *              doors 2 and 3 handed out, which are the same functions),
 *              "dlsym_redirects", "getproc_redirects": lookups answered with a wrapper },
 *   "calls": { "<exported name>": count } for every hooks.def function called at least once,
 *   then whatever the hints room adds (hmt_hints_stats_json).
 * A forked child writes only when the path contains "%p" (replaced by its pid), so it does
 * not overwrite its parent's report. A process that never reached the driver through any
 * door (no wrapper entered, no lookup redirected: `timeout`, a shell, a launcher that only
 * inherited LD_PRELOAD) writes nothing at exit, so it cannot clobber the report of the CUDA
 * process it started with all-zero counters. cJSON allocates; this runs only at exit or on
 * request (an explicit hmt_stats_write always writes).
 */
#define _GNU_SOURCE
#include "internal.h"
#include "hints.h"
#include "nvme.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Atomic uint64_t hmt_stats[HMT_STAT__COUNT];
static pid_t loader_pid;

static const char *const stat_json_names[HMT_STAT__COUNT] = {
#define HMT_STAT(id, json, help) json,
#define HMT_GAUGE(id, json, help) json,
#include "stats.def"
#undef HMT_STAT
#undef HMT_GAUGE
};

void hmt_gauge_max(enum hmt_stat_id id, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(&hmt_stats[id], memory_order_relaxed);
    while (cur < v && !atomic_compare_exchange_weak_explicit(&hmt_stats[id], &cur, v,
                                                             memory_order_relaxed,
                                                             memory_order_relaxed))
        ;
}

static cJSON *stats_json(void)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    cJSON_AddNumberToObject(root, "pid", (double)getpid());
    for (int i = 0; i < HMT_STAT__COUNT; i++)
        cJSON_AddNumberToObject(root, stat_json_names[i],
                                (double)atomic_load_explicit(&hmt_stats[i], memory_order_relaxed));
    cJSON *doors = cJSON_AddObjectToObject(root, "doors");
    cJSON *calls = cJSON_CreateObject();
    uint64_t total = 0;
    for (int i = 0; i < HMT_HOOK__COUNT; i++) {
        uint64_t n = hmt_calls_total((enum hmt_hook_id)i);
        total += n;
        if (n)
            cJSON_AddNumberToObject(calls, hmt_hook_names[i], (double)n);
    }
    cJSON_AddNumberToObject(doors, "exported_calls", (double)total);
    cJSON_AddNumberToObject(doors, "dlsym_redirects",
                            (double)atomic_load(&hmt_stats[HMT_STAT_door_dlsym_redirects]));
    cJSON_AddNumberToObject(doors, "getproc_redirects",
                            (double)atomic_load(&hmt_stats[HMT_STAT_door_getproc_redirects]));
    cJSON_AddItemToObject(root, "calls", calls);
    hmt_hints_stats_json(root);
    hmt_nvme_stats_json(root);
    return root;
}

int hmt_stats_write(const char *path)
{
    if (!path || !*path)
        return -EINVAL;
    char file[4096];
    const char *pp = strstr(path, "%p");
    if (pp)
        snprintf(file, sizeof file, "%.*s%ld%s", (int)(pp - path), path, (long)getpid(), pp + 2);
    else
        snprintf(file, sizeof file, "%s", path);
    cJSON *root = stats_json();
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return -ENOMEM;
    int rc = 0;
    FILE *f = strcmp(file, "-") ? fopen(file, "we") : stderr;
    if (!f) {
        rc = -errno;
    } else {
        fprintf(f, "%s\n", text);
        if (f != stderr && fclose(f))
            rc = -errno;
        else if (f == stderr)
            fflush(f);
    }
    if (rc)
        HMT_ERR("cannot write HMT_STATS=%s (%s)", file, strerror(-rc));
    free(text);
    return rc;
}

__attribute__((constructor(103))) static void stats_ctor(void)
{
    loader_pid = getpid();
}

/* 1 when this process used the driver through any door (a wrapper entered, a lookup
 * answered with a wrapper). */
static int used_driver(void)
{
    for (int i = 0; i < HMT_HOOK__COUNT; i++)
        if (hmt_calls_total((enum hmt_hook_id)i))
            return 1;
    return atomic_load(&hmt_stats[HMT_STAT_door_dlsym_redirects]) ||
           atomic_load(&hmt_stats[HMT_STAT_door_getproc_redirects]);
}

__attribute__((destructor)) static void stats_at_exit(void)
{
    if (!hmt_opt.stats || !*hmt_opt.stats || hmt_is_duplicate())
        return;
    if (getpid() != loader_pid && !strstr(hmt_opt.stats, "%p"))
        return;   /* a forked child: the parent's report is not ours to overwrite */
    if (!used_driver())
        return;   /* never used CUDA (a launcher): the report is its child's to write */
    hmt_stats_write(hmt_opt.stats);
}
