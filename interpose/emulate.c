/* emulate.c — emulated mode: modeled transfer time instead of moved bytes (see emulate.h).
 *
 * The delay is a host function enqueued on a stream with cuLaunchHostFunc: it runs after the
 * work before it and holds back the work after it, so the cost lands in stream order, where
 * the real copy would have been. It makes no CUDA call (the driver forbids it there): it
 * sleeps for most of the delay and spins for the last stretch, so short transfers (a few µs)
 * are modeled as accurately as long ones. cuLaunchHostFunc is looked up in the real driver
 * here rather than added to the shared tables: only this file uses it.
 */
#define _GNU_SOURCE
#include "emulate.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hints.h"
#include "internal.h"
#include "residency.h"

struct tier_spec {
    char name[16];
    double setup_us, gbps;
};

static struct {
    pthread_once_t once;
    int emulating, every_use;
    struct tier_spec spec[HMT_TIER_MAX + 8];
    int nspec;
    CUresult (*launch_host_func)(CUstream, CUhostFn, void *);
} E = {.once = PTHREAD_ONCE_INIT};

static void set_spec(const char *name, double setup_us, double gbps)
{
    for (int i = 0; i < E.nspec; i++)
        if (!strcasecmp(E.spec[i].name, name)) {
            E.spec[i].setup_us = setup_us;
            E.spec[i].gbps = gbps;
            return;
        }
    if (E.nspec == (int)(sizeof(E.spec) / sizeof(E.spec[0])) || strlen(name) >= 16)
        return;
    snprintf(E.spec[E.nspec].name, sizeof(E.spec[0].name), "%s", name);
    E.spec[E.nspec].setup_us = setup_us;
    E.spec[E.nspec].gbps = gbps;
    E.nspec++;
}

/* The hints file's "tiers": [{"name", "setup_us", "bandwidth_gbps"}] (hints/HINTS.md). */
static void specs_from_hints(void)
{
    const char *path = hmt_opt.hints;
    if (!path || !*path || strstr(path, "{rank}"))
        return;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    char tmp[65536];
    size_t n;
    while (mem && (n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        fwrite(tmp, 1, n, mem);
    fclose(f);
    if (!mem)
        return;
    fclose(mem);
    cJSON *root = cJSON_Parse(buf);
    free(buf);
    const cJSON *tiers = root ? cJSON_GetObjectItemCaseSensitive(root, "tiers") : NULL;
    const cJSON *t;
    cJSON_ArrayForEach(t, tiers) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(t, "name");
        const cJSON *su = cJSON_GetObjectItemCaseSensitive(t, "setup_us");
        const cJSON *bw = cJSON_GetObjectItemCaseSensitive(t, "bandwidth_gbps");
        if (cJSON_IsString(nm) && cJSON_IsNumber(su) && cJSON_IsNumber(bw) &&
            su->valuedouble >= 0 && bw->valuedouble > 0)
            set_spec(nm->valuestring, su->valuedouble, bw->valuedouble);
    }
    cJSON_Delete(root);
}

/* HMT_TIER_SPEC: NAME=<setup>us:<bandwidth>GB/s[,...]; "us" and "GB/s" may be left out. A
 * bad entry is said once and skipped. */
static void specs_from_env(const char *s)
{
    char *copy = strdup(s ? s : ""), *save = NULL;
    for (char *e = strtok_r(copy, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
        char name[16];
        double setup, gbps;
        char *eq = strchr(e, '=');
        char *end = NULL;
        if (!eq || eq == e || (size_t)(eq - e) >= sizeof(name))
            goto bad;
        snprintf(name, sizeof(name), "%.*s", (int)(eq - e), e);
        setup = strtod(eq + 1, &end);
        if (end == eq + 1 || setup < 0)
            goto bad;
        if (!strncasecmp(end, "us", 2))
            end += 2;
        if (*end != ':')
            goto bad;
        gbps = strtod(end + 1, &end);
        if (gbps <= 0 || (*end && strcasecmp(end, "GB/s") && strcasecmp(end, "GBps")))
            goto bad;
        set_spec(name, setup, gbps);
        continue;
    bad:
        HMT_WARN("HMT_TIER_SPEC entry \"%s\" is not NAME=<setup>us:<bandwidth>GB/s; ignored", e);
    }
    free(copy);
}

static void init_once(void)
{
    hmt_options_init();
    E.emulating = hmt_opt.mode && !strcasecmp(hmt_opt.mode, "emulated");
    if (!E.emulating)
        return;
    const char *model = hmt_opt.emulate ? hmt_opt.emulate : "residency";
    E.every_use = !strcasecmp(model, "every-use");
    if (!E.every_use && strcasecmp(model, "residency"))
        HMT_WARN("HMT_EMULATE=\"%s\" is not residency or every-use; using residency", model);
    /* the seed's tier specifications (seed/hierarchical-memory-tiering.md) */
    set_spec("HBM", 1, 800);
    set_spec("CPU", 5, 150);
    set_spec("SSD", 30, 10);
    specs_from_hints();
    specs_from_env(hmt_opt.tier_spec);
    if (hmt_driver_handle)
        E.launch_host_func = (CUresult(*)(CUstream, CUhostFn, void *))hmt_libc_dlsym(
            hmt_driver_handle, "cuLaunchHostFunc");
    if (!E.launch_host_func)
        HMT_WARN("the driver has no cuLaunchHostFunc; emulated delays are waited on the host");
    for (int i = 0; i < E.nspec; i++)
        HMT_INFO("emulated tier %s: %g us + bytes / %g GB/s", E.spec[i].name,
                 E.spec[i].setup_us, E.spec[i].gbps);
}

int hmt_emulating(void)
{
    pthread_once(&E.once, init_once);
    return E.emulating;
}

int hmt_emulate_every_use(void)
{
    return hmt_emulating() && E.every_use;
}

static const struct tier_spec *spec_of(int tier)
{
    const char *name = hmt_hints_tier_name(tier);
    if (!name)
        name = tier == HMT_TIER_SSD ? "SSD" : tier == HMT_TIER_HBM ? "HBM" : "CPU";
    for (int i = 0; i < E.nspec; i++)
        if (!strcasecmp(E.spec[i].name, name))
            return &E.spec[i];
    for (int i = 0; i < E.nspec; i++)          /* an unspecified extra tier: as host RAM */
        if (!strcasecmp(E.spec[i].name, "CPU"))
            return &E.spec[i];
    return NULL;
}

uint64_t hmt_emulate_cost_ns(int tier, uint64_t bytes)
{
    hmt_emulating();
    const struct tier_spec *s = spec_of(tier);
    if (!s)
        return 0;
    /* GB/s with GB = 1e9 bytes is bytes per ns */
    return (uint64_t)(s->setup_us * 1e3 + (double)bytes / s->gbps + 0.5);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Time a delay ran past its deadline (a late wake-up on a busy host), per thread that runs
 * host functions; paid back from that thread's next delays, so a run's injected time stays
 * its modeled total instead of growing with the host's scheduling noise. */
static __thread uint64_t overshoot_ns;

/* The host function: wait `ns` (the argument's value) less any overshoot owed, making no
 * CUDA call. It sleeps to just before the deadline (an absolute sleep does not accumulate
 * error) and spins the last 50 µs: a sleeping thread is woken promptly even on a busy host,
 * while a thread spinning for long is preempted and overshoots, so the spin is kept short. */
static void CUDA_CB delay_fn(void *arg)
{
    uint64_t ns = (uint64_t)(uintptr_t)arg;
    uint64_t pay = overshoot_ns < ns ? overshoot_ns : ns;
    overshoot_ns -= pay;
    ns -= pay;
    uint64_t end = now_ns() + ns;
    const uint64_t spin = 50000;
    if (ns > spin) {
        uint64_t wake = end - spin;
        struct timespec ts = {(time_t)(wake / 1000000000ull), (long)(wake % 1000000000ull)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
    }
    uint64_t t;
    while ((t = now_ns()) < end)
        ;
    overshoot_ns += t - end;
}

/* Enqueues a modeled transfer of `bytes` at tier `tier` on `stream`, and counts it. */
static CUresult inject(CUstream stream, int tier, uint64_t bytes)
{
    uint64_t ns = hmt_emulate_cost_ns(tier, bytes);
    HMT_STAT_ADD(emulated_transfers, 1);
    HMT_STAT_ADD(emulated_bytes, bytes);
    HMT_STAT_ADD(emulated_delay_ns, ns);
    if (E.launch_host_func)
        return E.launch_host_func(stream, delay_fn, (void *)(uintptr_t)ns);
    delay_fn((void *)(uintptr_t)ns);
    return CUDA_SUCCESS;
}

/* The tier real mode would keep an evicted chunk in: its hinted tier when below HBM (the
 * slower end of an HBM<->tier copy), else host RAM. */
static int backing_tier(const struct hmt_chunk *c)
{
    CUdeviceptr va = c->alloc->base + (CUdeviceptr)c->index * hmt_res.chunk;
    int t = hmt_hints_tier_of(va, hmt_res.chunk);
    return t > HMT_TIER_HBM ? t : HMT_TIER_CPU;
}

int hmt_emulate_reserve(struct hmt_chunk *c)
{
    c->backing.tier = backing_tier(c);
    c->backing.host = NULL;
    return 0;
}

CUresult hmt_emulate_move(struct hmt_chunk *c, CUstream stream)
{
    return inject(stream, c->backing.tier, hmt_res.chunk);
}

void hmt_emulate_release(struct hmt_chunk *c)
{
    c->backing.tier = -1;
    c->backing.host = NULL;
}

CUresult hmt_emulate_every_use_op(const struct hmt_op *op)
{
    for (int i = 0; i < op->nranges; i++) {
        const struct hmt_range *r = &op->ranges[i];
        if (hmt_hints_tier_of(r->lo, (size_t)(r->hi - r->lo)) <= HMT_TIER_HBM)
            continue;   /* nothing below HBM in it (or nothing tagged) */
        CUdeviceptr pos = r->lo;
        /* each hinted tensor in the range once, at its own tier and size */
        while (pos < r->hi) {
            CUdeviceptr start;
            size_t len;
            int tier;
            if (!hmt_hints_tensor_at(pos, &start, &len, &tier) || len == 0) {
                pos += 256;     /* untagged bytes: tensors start at 256-byte alignment */
                continue;
            }
            if (tier > HMT_TIER_HBM) {
                CUresult e = inject(op->stream, tier, len);
                if (e != CUDA_SUCCESS)
                    return e;
            }
            pos = start + len;
        }
    }
    return CUDA_SUCCESS;
}
