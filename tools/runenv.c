/* runenv.c — the environment `hmt run` gives a program: HMT_* variables from the command
 * line, LD_PRELOAD=libhmt.so, and the simulated driver first on LD_LIBRARY_PATH when this
 * machine has no NVIDIA driver. Shared by run, bench and demo so that all three prepare a
 * child identically (a bench baseline differs only by having no hmt).
 */
#define _GNU_SOURCE
#include "hmt.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

const char hmt_run_opts_help[] =
"  --hints FILE        tier hints (hmt analyze output or the seed's flat map) -> HMT_HINTS\n"
"                      FILE may hold {rank}: libhmt replaces it with $RANK, else\n"
"                      $LOCAL_RANK, else 0; hmt checks the file this process gets\n"
"  --mode MODE         real | emulated | off -> HMT_MODE (default real)\n"
"  --hbm-limit X       GPU memory budget -> HMT_HBM_LIMIT: bytes, a number (1.5 too) with\n"
"                      an optional K/M/G/T (binary: 1K = 1024) and optional B, e.g. 512M;\n"
"                      or N% of device memory, 0 < N <= 100. 0 is a zero budget.\n"
"  --nvme-dir DIR      existing, writable folder for the NVMe spill file -> HMT_NVME_DIR\n"
"  --stats FILE        write hmt's counters as JSON at exit ('-' = stderr) -> HMT_STATS;\n"
"                      its folder must exist\n"
"  --tier-spec SPEC    emulated tier speeds, NAME=<setup>us:<bandwidth>GB/s comma list,\n"
"                      e.g. CPU=5us:64GB/s,CXL=2us:400GB/s (GB = 10^9 bytes; libhmt also\n"
"                      takes the units left out: CPU=5:64) -> HMT_TIER_SPEC\n"
"  --emulate MODEL     emulated-mode cost model: residency (default) | every-use\n"
"                      -> HMT_EMULATE\n"
"  --device D          auto | sim | gpu: which libcuda.so.1 (default auto: the sim when\n"
"                      there is no NVIDIA driver)\n"
"  --verbose           HMT_VERBOSE=1: libhmt prints its options table at start\n";

static const char *value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "hmt: %s needs a value\n", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int hmt_run_opt_parse(struct hmt_run_opts *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    const char **dst = NULL;
    if (!strcmp(a, "--hints")) dst = &o->hints;
    else if (!strcmp(a, "--mode")) dst = &o->mode;
    else if (!strcmp(a, "--hbm-limit")) dst = &o->hbm_limit;
    else if (!strcmp(a, "--nvme-dir")) dst = &o->nvme_dir;
    else if (!strcmp(a, "--stats")) dst = &o->stats;
    else if (!strcmp(a, "--tier-spec")) dst = &o->tier_spec;
    else if (!strcmp(a, "--emulate")) dst = &o->emulate;
    else if (!strcmp(a, "--device")) dst = &o->device;
    else if (!strcmp(a, "--verbose")) {
        o->verbose = 1;
        return 1;
    } else
        return 0;
    if (!(*dst = value(argc, argv, i)))
        return -1;
    if (dst == &o->mode && strcmp(*dst, "real") && strcmp(*dst, "emulated") &&
        strcmp(*dst, "off")) {
        fprintf(stderr, "hmt: --mode %s: expected real, emulated or off\n", *dst);
        return -1;
    }
    if (dst == &o->device && strcmp(*dst, "auto") && strcmp(*dst, "sim") &&
        strcmp(*dst, "gpu")) {
        fprintf(stderr, "hmt: --device %s: expected auto, sim or gpu\n", *dst);
        return -1;
    }
    const char *why = NULL;
    if (dst == &o->hints) {
        /* libhmt opens the path after replacing {rank} (one hints file per rank of a
         * distributed job), so check what it will open: in this environment, the file
         * this process's rank gets. */
        char *path = hmt_expand_rank(*dst);
        int ok = path && access(path, R_OK) == 0;
        if (!ok)
            fprintf(stderr, "hmt: --hints %s: cannot read %s%s\n", *dst,
                    path ? path : "it", path && strcmp(path, *dst) ? " ({rank} replaced)" : "");
        free(path);
        return ok ? 1 : -1;
    }
    if (dst == &o->hbm_limit && hmt_check_size(*dst, 1, NULL) < 0) {
        fprintf(stderr, "hmt: --hbm-limit %s: expected bytes with an optional K/M/G/T "
                        "(binary units), e.g. 512M or 1.5G, or N%% of the device with "
                        "0 < N <= 100\n", *dst);
        return -1;
    }
    if (dst == &o->tier_spec && hmt_check_tier_spec(*dst) != 0) {
        fprintf(stderr, "hmt: --tier-spec %s: expected NAME=<setup>us:<bandwidth>GB/s, "
                        "comma-separated, e.g. CPU=5us:64GB/s,CXL=2us:400GB/s\n", *dst);
        return -1;
    }
    if (dst == &o->nvme_dir && hmt_check_dir(*dst, &why) != 0) {
        fprintf(stderr, "hmt: --nvme-dir %s: %s (it must be an existing folder hmt can "
                        "write its spill file in)\n", *dst, why);
        return -1;
    }
    if (dst == &o->stats && strcmp(*dst, "-") && hmt_check_out_file(*dst, &why) != 0) {
        fprintf(stderr, "hmt: --stats %s: cannot write it: %s\n", *dst, why);
        return -1;
    }
    if (dst == &o->emulate && strcasecmp(*dst, "residency") && strcasecmp(*dst, "every-use")) {
        fprintf(stderr, "hmt: --emulate %s: expected residency or every-use\n", *dst);
        return -1;
    }
    return 1;
}

int hmt_have_gpu(void)
{
    if (access("/dev/nvidia0", F_OK) != 0)
        return 0;
    /* A libcuda.so.1 the loader resolves on its own (not ours: LD_LIBRARY_PATH may already
     * hold the sim) and that is not the sim. */
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return 0;
    int sim = dlsym(h, "hmt_sim_device_bytes") != NULL;
    dlclose(h);
    return !sim;
}

/* Prepends dir to the colon-separated variable var (if not already first). */
static void prepend(const char *var, const char *item, char sep)
{
    const char *old = getenv(var);
    if (!old || !*old) {
        setenv(var, item, 1);
        return;
    }
    size_t n = strlen(item);
    if (strncmp(old, item, n) == 0 && (old[n] == 0 || old[n] == sep))
        return;
    char *v = malloc(n + strlen(old) + 2);
    if (!v)
        return;
    sprintf(v, "%s%c%s", item, sep, old);
    setenv(var, v, 1);
    free(v);
}

/* Removes every item containing `needle` from a colon/space separated list variable. */
static void remove_items(const char *var, const char *needle)
{
    const char *old = getenv(var);
    if (!old)
        return;
    char *copy = strdup(old), *out = calloc(1, strlen(old) + 1), *save = NULL;
    if (!copy || !out) {
        free(copy);
        free(out);
        return;
    }
    for (char *t = strtok_r(copy, ": ", &save); t; t = strtok_r(NULL, ": ", &save)) {
        if (strstr(t, needle))
            continue;
        if (*out)
            strcat(out, ":");
        strcat(out, t);
    }
    if (*out)
        setenv(var, out, 1);
    else
        unsetenv(var);
    free(copy);
    free(out);
}

int hmt_uses_sim(const struct hmt_run_opts *o)
{
    const char *dev = o->device ? o->device : "auto";
    return !strcmp(dev, "sim") || (!strcmp(dev, "auto") && !hmt_have_gpu());
}

void hmt_say_device(const struct hmt_run_opts *o, const struct hmt_paths *p)
{
    if (hmt_uses_sim(o) && p->sim_dir[0])
        fprintf(stderr, "hmt: no NVIDIA driver found; using the simulated device "
                        "(%s/libcuda.so.1)\n", p->sim_dir);
}

int hmt_prepare_env(const struct hmt_run_opts *o, const struct hmt_paths *p, int with_hmt,
                    int quiet)
{
    if (hmt_uses_sim(o)) {
        if (!p->sim_dir[0]) {
            fprintf(stderr, "hmt: no NVIDIA driver here and the simulated driver was not "
                            "found (build target cuda_sim)\n");
            return -1;
        }
        prepend("LD_LIBRARY_PATH", p->sim_dir, ':');
        if (!quiet)
            hmt_say_device(o, p);
    }
    if (!with_hmt) {
        /* A baseline is a run without hmt: nothing of ours preloaded, no HMT_* settings
         * (the sim's own HMT_SIM_* variables stay). */
        remove_items("LD_PRELOAD", "libhmt");
        extern char **environ;
        for (int again = 1; again;) {
            again = 0;
            for (char **e = environ; *e; e++)
                if (!strncmp(*e, "HMT_", 4) && strncmp(*e, "HMT_SIM_", 8) &&
                    strncmp(*e, "HMT_GPT2_", 9) && strncmp(*e, "HMT_BENCH_", 10)) {
                    char name[256];
                    size_t n = strcspn(*e, "=");
                    snprintf(name, sizeof(name), "%.*s", (int)n, *e);
                    unsetenv(name);
                    again = 1;
                    break;
                }
        }
        return 0;
    }
    if (!p->libhmt[0]) {
        fprintf(stderr, "hmt: libhmt.so not found (build target hmt, or install)\n");
        return -1;
    }
    prepend("LD_PRELOAD", p->libhmt, ':');
    if (o->hints) {
        /* Absolute, so that CMD may change folder; a {rank} path keeps its {rank} for
         * libhmt to replace in each rank's process. */
        char real[4096], cwd[2048];
        if (!strstr(o->hints, "{rank}") && realpath(o->hints, real))
            setenv("HMT_HINTS", real, 1);
        else if (o->hints[0] != '/' && getcwd(cwd, sizeof(cwd)) &&
                 snprintf(real, sizeof(real), "%s/%s", cwd, o->hints) < (int)sizeof(real))
            setenv("HMT_HINTS", real, 1);
        else
            setenv("HMT_HINTS", o->hints, 1);
    }
    if (o->mode) setenv("HMT_MODE", o->mode, 1);
    if (o->hbm_limit) setenv("HMT_HBM_LIMIT", o->hbm_limit, 1);
    if (o->nvme_dir) setenv("HMT_NVME_DIR", o->nvme_dir, 1);
    if (o->stats) setenv("HMT_STATS", o->stats, 1);
    if (o->tier_spec) setenv("HMT_TIER_SPEC", o->tier_spec, 1);
    if (o->emulate) setenv("HMT_EMULATE", o->emulate, 1);
    if (o->verbose) setenv("HMT_VERBOSE", "1", 1);
    return 0;
}
