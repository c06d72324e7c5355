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
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "build_paths.h"

/* The shipped model (test/data/nanogpt-small) and the demo's prompt: hmt-gpt2 refuses
 * prompt + tokens - 1 > block size, after the analysis has run; saying it first is kinder. */
#define BLOCK_SIZE 128
#define PROMPT "def "
#define MAX_TOKENS (BLOCK_SIZE - (int)(sizeof(PROMPT) - 1) + 1)
/* Generations per configuration: enough that run-to-run noise shows as noise (two measured
 * ones made the sim's ±30% jitter look like a result), few enough for ~30 s in all. */
#define WARMUP 2
#define RUNS 5
/* Run 4 (no hints) must bring a whole 20 MiB weight segment in for a launch, with the
 * launch's other arguments: below this the demo's real runs cannot run at all. */
#define MIN_BUDGET_MIB 24

static void demo_usage(FILE *f)
{
    fprintf(f,
"usage: hmt demo [--tokens N] [--runs N] [--hbm-limit X] [--dir DIR] [--json FILE]\n"
"Analyzes the shipped real checkpoint into tier hints, then runs hmt-gpt2 on it four ways\n"
"(no hmt; emulated + hints under a budget; real + hints under the budget; real under the\n"
"budget without hints) and prints the A/B table. On a machine without a GPU it uses the simulated device.\n"
"\n"
"  --tokens N       tokens to generate per run, 1-%d (default 24; the prompt \"def \" is\n"
"                   4 tokens and the shipped model's block size is %d)\n"
"  --runs N         measured generations per configuration, after %d warm-up ones\n"
"                   (default %d); differences within their spread are called noise\n"
"  --hbm-limit X    the budget for runs 2-4: bytes with K/M/G/T, at least %dM (one 20 MiB\n"
"                   weight segment plus a launch's other arguments), or N%% of the device\n"
"                   (default: 3/4 of the job's device footprint, each allocation rounded\n"
"                   up to 2 MiB, in whole 2 MiB chunks)\n"
"  --dir DIR        keep hints and stats in DIR (default: a temporary folder, removed at\n"
"                   the end)\n"
"  --json FILE      also write the table as JSON\n", MAX_TOKENS, BLOCK_SIZE, WARMUP, RUNS,
            MIN_BUDGET_MIB);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
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
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

int hmt_cmd_demo(int argc, char **argv)
{
    const char *tokens = "24", *runs = NULL, *limit = NULL, *dir = NULL, *json = NULL;
    for (int i = 1; i < argc; i++) {
        const char **dst = NULL;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            demo_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--tokens")) dst = &tokens;
        else if (!strcmp(argv[i], "--runs")) dst = &runs;
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
    /* Every value is checked before anything runs: one line, exit 2. */
    char *end;
    long ntok = strtol(tokens, &end, 10);
    if (*end || end == tokens || ntok < 1 || ntok > MAX_TOKENS) {
        fprintf(stderr, "hmt demo: --tokens %s: expected 1 to %d (prompt \"%s\" + tokens - 1 "
                        "must fit the shipped model's block size, %d)\n", tokens, MAX_TOKENS,
                PROMPT, BLOCK_SIZE);
        return 2;
    }
    long nruns = runs ? strtol(runs, &end, 10) : RUNS;
    if (runs && (*end || end == runs || nruns < 1 || nruns > 100)) {
        fprintf(stderr, "hmt demo: --runs %s: expected 1 to 100\n", runs);
        return 2;
    }
    unsigned long long lim_bytes = 0;
    int lim_kind = limit ? hmt_check_size(limit, 1, &lim_bytes) : 1;
    if (lim_kind < 0 || (lim_kind == 0 && lim_bytes < (unsigned long long)MIN_BUDGET_MIB << 20)) {
        fprintf(stderr, "hmt demo: --hbm-limit %s: expected at least %dM (bytes with K/M/G/T) "
                        "or N%% of the device; the demo's real runs need one 20 MiB weight "
                        "segment and a launch's other arguments resident\n", limit,
                MIN_BUDGET_MIB);
        return 2;
    }
    const char *why;
    struct stat dst_st;
    if (dir && stat(dir, &dst_st) == 0 && hmt_check_dir(dir, &why) != 0) {
        fprintf(stderr, "hmt demo: --dir %s: %s\n", dir, why);
        return 2;
    }
    if (json && hmt_check_out_file(json, &why) != 0) {
        fprintf(stderr, "hmt demo: --json %s: cannot write it: %s\n", json, why);
        return 2;
    }
    char nruns_s[24], warm_s[24];
    snprintf(nruns_s, sizeof(nruns_s), "%ld", nruns);
    snprintf(warm_s, sizeof(warm_s), "%d", WARMUP);
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
    int keep = dir != NULL;     /* a temporary work folder is removed at the end */
    hmt_catch_interrupts();     /* ^C too */
    if (!dir) {
        snprintf(dirbuf, sizeof(dirbuf), "%s/hmt-demo-XXXXXX",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(dirbuf)) {
            fprintf(stderr, "hmt demo: cannot create %s: %s\n", dirbuf, strerror(errno));
            return 1;
        }
        dir = dirbuf;
    } else if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "hmt demo: --dir %s: cannot create it: %s\n", dir, strerror(errno));
        return 2;
    }
    char hints[PATH_MAX + 32], stats[PATH_MAX + 32], nvme[PATH_MAX + 32];
    snprintf(hints, sizeof(hints), "%s/tier_hints.json", dir);
    snprintf(stats, sizeof(stats), "%s/stats.json", dir);
    snprintf(nvme, sizeof(nvme), "%s/nvme", dir);
    mkdir(nvme, 0700);
    int failed = 0;
    struct hmt_config_summary s[4];
    memset(s, 0, sizeof(s));

    printf("== hmt demo: GPT-2 on a real checkpoint (%s)\n", p.ckpt);
    printf("== work folder: %s%s\n\n== 1. hmt analyze: tier hints from the checkpoint's "
           "Adam state\n", dir, keep ? "" : " (removed at the end)");
    char *ana[] = {p.analyze, "-o", hints, p.ckpt, NULL};
    if (run_plain(ana) != 0 || hmt_interrupted) {
        fprintf(stderr, "hmt demo: hmt analyze %s on %s\n",
                hmt_interrupted ? "interrupted" : "failed", p.ckpt);
        failed = 1;
        goto out;
    }

    /* --segments: weights sub-allocated from 20 MiB segments, as PyTorch's caching
     * allocator places them, so hmt must find tensors inside larger allocations. */
    char *work[] = {p.gpt2, p.ckpt, "--segments", "--prompt", PROMPT, "--tokens",
                    (char *)tokens, "--iterations", nruns_s, "--warmup", warm_s, NULL};
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

    printf("\n== 2. hmt-gpt2 four ways (%s tokens, %d warm-up + %ld measured generations "
           "each; weights in 20 MiB segments like PyTorch's caching allocator)\n", tokens,
           WARMUP, nruns);
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
                if (chunks * 2 < MIN_BUDGET_MIB)
                    chunks = MIN_BUDGET_MIB / 2;
                snprintf(budget, sizeof(budget), "%lluM", chunks * 2);
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
        if (hmt_say_failure("demo", "hmt-gpt2", s[c].name, &r, 1)) {
            hmt_run_result_free(&r);
            failed = 1;
            goto out;
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
out:
    for (int c = 0; c < 4; c++)
        hmt_summary_free(&s[c]);
    if (keep) {
        printf("\nhints kept in %s\n", hints);
    } else if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        fprintf(stderr, "hmt demo: could not remove the work folder %s: %s\n", dir,
                strerror(errno));
    } else if (failed) {
        fprintf(stderr, "hmt demo: work folder removed; hmt demo --dir DIR keeps it\n");
    }
    return failed;
}
