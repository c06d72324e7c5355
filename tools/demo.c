/* demo.c — `hmt demo`: the whole path on real input, in well under a minute.
 *
 * 1. hmt analyze the shipped checkpoint (a real nanoGPT training run) into tier hints;
 * 2. run the GPT-2 workload on it four ways: without hmt; emulated with the hints and a
 *    budget below the job's device footprint (same decisions as real mode, modeled time);
 *    real with the hints and that budget; real under the same budget without hints (least
 *    recently used);
 * 3. print the A/B table and say whether text and logits hash agree across the runs.
 * On a machine without a GPU every run is on the simulated device. (`./hmt demo` from a
 * checkout first installs what is missing and builds; see the top-level hmt script.)
 */
#define _GNU_SOURCE
#include "hmt.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "build_paths.h"

static void demo_usage(FILE *f)
{
    fprintf(f,
"usage: hmt demo [--tokens N] [--hbm-limit X] [--dir DIR] [--json FILE]\n"
"Analyzes the shipped real checkpoint into tier hints, then runs hmt-gpt2 on it four ways\n"
"(no hmt; emulated + hints under a budget; real + hints under the budget; real under the\n"
"budget without hints) and prints the A/B table. On a machine without a GPU it uses the simulated device.\n"
"\n"
"  --tokens N       tokens to generate per run (default 24)\n"
"  --hbm-limit X    the budget for runs 2-4 (default: 3/4 of the job's device footprint,\n"
"                   each allocation rounded up to 2 MiB, in whole 2 MiB chunks)\n"
"  --dir DIR        where hints, stats and the JSON go (default: a new temporary folder)\n"
"  --json FILE      also write the table as JSON\n");
}

/* Runs argv (no hmt), its output to stdout; returns its exit status. */
static int run_plain(char **argv)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(1, 2);
        execv(argv[0], argv);
        fprintf(stderr, "hmt demo: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

int hmt_cmd_demo(int argc, char **argv)
{
    const char *tokens = "24", *limit = NULL, *dir = NULL, *json = NULL;
    for (int i = 1; i < argc; i++) {
        const char **dst = NULL;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            demo_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--tokens")) dst = &tokens;
        else if (!strcmp(argv[i], "--hbm-limit")) dst = &limit;
        else if (!strcmp(argv[i], "--dir")) dst = &dir;
        else if (!strcmp(argv[i], "--json")) dst = &json;
        else {
            fprintf(stderr, "hmt demo: unknown option %s (hmt demo --help)\n", argv[i]);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "hmt demo: %s needs a value\n", argv[i]);
            return 2;
        }
        *dst = argv[++i];
    }
    struct hmt_paths p;
    hmt_paths_find(&p);
    const char *missing = !p.gpt2[0] ? "hmt-gpt2" : !p.analyze[0] ? "hmt-analyze"
                        : !p.libhmt[0] ? "libhmt.so" : !p.ckpt[0] ? "the shipped checkpoint"
                        : NULL;
    if (missing) {
        fprintf(stderr, "hmt demo: %s not found; build everything first (./hmt demo from the "
                        "source tree does)\n", missing);
        return 1;
    }
    char dirbuf[PATH_MAX];
    if (!dir) {
        snprintf(dirbuf, sizeof(dirbuf), "%s/hmt-demo-XXXXXX",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(dirbuf)) {
            fprintf(stderr, "hmt demo: cannot create %s: %s\n", dirbuf, strerror(errno));
            return 1;
        }
        dir = dirbuf;
    } else if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "hmt demo: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    char hints[PATH_MAX + 32], stats[PATH_MAX + 32], nvme[PATH_MAX + 32];
    snprintf(hints, sizeof(hints), "%s/tier_hints.json", dir);
    snprintf(stats, sizeof(stats), "%s/stats.json", dir);
    snprintf(nvme, sizeof(nvme), "%s/nvme", dir);
    mkdir(nvme, 0700);

    printf("== hmt demo: GPT-2 on a real checkpoint (%s)\n", p.ckpt);
    printf("== work folder: %s\n\n== 1. hmt analyze: tier hints from the checkpoint's Adam "
           "state\n", dir);
    char *ana[] = {p.analyze, "-o", hints, p.ckpt, NULL};
    if (run_plain(ana) != 0) {
        fprintf(stderr, "hmt demo: hmt analyze failed on %s\n", p.ckpt);
        return 1;
    }

    /* --segments: weights sub-allocated from 20 MiB segments, as PyTorch's caching
     * allocator places them, so hmt must find tensors inside larger allocations. */
    char *work[] = {p.gpt2, p.ckpt, "--segments", "--prompt", "def ", "--tokens",
                    (char *)tokens, "--iterations", "2", "--warmup", "1", NULL};
    struct hmt_config_summary s[4];
    memset(s, 0, sizeof(s));
    s[0].name = "1 no hmt";
    s[1].name = "2 emulated + hints, budget";
    s[2].name = "3 real + hints, budget";
    s[3].name = "4 real, budget, LRU";
    double footprint = -1;
    struct hmt_run_opts o[4];
    memset(o, 0, sizeof(o));
    o[1].mode = "emulated";
    o[1].hints = hints;
    o[2].mode = "real";
    o[2].hints = hints;
    o[2].nvme_dir = nvme;
    o[3].mode = "real";
    char budget[64] = "";
    int failed = 0;

    printf("\n== 2. hmt-gpt2 four ways (%s tokens, 2 measured generations each; weights in "
           "20 MiB segments like PyTorch's caching allocator)\n", tokens);
    for (int c = 0; c < 4; c++) {
        if (c == 1) {
            /* The budget for runs 2-4: three quarters of the job's device footprint (run 1
             * reports it), in whole 2 MiB chunks: real mode must evict, yet one 20 MiB
             * segment plus a launch's other arguments fit, which hint-less LRU must bring
             * in whole. */
            if (limit) {
                snprintf(budget, sizeof(budget), "%s", limit);
            } else if (footprint > 0) {
                unsigned long long chunks = (unsigned long long)(footprint * 3 / 4 / (2 << 20));
                snprintf(budget, sizeof(budget), "%lluM", (chunks < 2 ? 2 : chunks) * 2);
            } else {
                snprintf(budget, sizeof(budget), "32M");
                printf("   (the workload reported no footprint; using a 32M budget)\n");
            }
            o[1].hbm_limit = o[2].hbm_limit = o[3].hbm_limit = budget;
        }
        printf("   %-24s %s%s%s%s%s\n", s[c].name, c == 0 ? "plain run" : "HMT_MODE=",
               c == 0 ? "" : o[c].mode, o[c].hints ? " HMT_HINTS=tier_hints.json" : "",
               o[c].hbm_limit ? " HMT_HBM_LIMIT=" : "", o[c].hbm_limit ? o[c].hbm_limit : "");
        fflush(stdout);
        struct hmt_run_result r;
        hmt_run_collect(work, &o[c], &p, c > 0, c > 0, c > 0 ? stats : NULL, 0, &r);
        if (r.status != 0) {
            fprintf(stderr, "hmt demo: run '%s' failed (exit status %d)\n", s[c].name,
                    r.status);
            failed = 1;
        }
        if (c == 0)
            footprint = r.footprint;
        hmt_summary_add(&s[c], &r);
        hmt_run_result_free(&r);
    }
    hmt_summary_finish(&s[0], NULL);
    for (int c = 1; c < 4; c++)
        hmt_summary_finish(&s[c], &s[0]);
    printf("\n== 3. results\ngenerated (no hmt): %s\nlogits xxh64 (no hmt): %s\n",
           s[0].text, s[0].logits);
    hmt_print_table(s, 4);
    int real_same = s[2].same_output && s[3].same_output;
    printf("\ntext and logits hash across the real runs (1, 3, 4): %s\n",
           real_same ? "IDENTICAL" : "DIFFERENT");
    printf("emulated run (2) against run 1: %s\n",
           s[1].same_output ? "identical" : "DIFFERENT");
    if (!real_same || !s[1].same_output)
        failed = 1;
    if (json && hmt_write_json(json, s, 4, (const char *const *)work) != 0)
        failed = 1;
    for (int c = 0; c < 4; c++)
        hmt_summary_free(&s[c]);
    return failed;
}
