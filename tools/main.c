/* main.c — the `hmt` command: dispatch and the run / analyze / bench subcommands (demo is
 * in demo.c). Every subcommand has --help; errors are one line and a non-zero exit. */
#define _GNU_SOURCE
#include "hmt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
"usage: hmt COMMAND [options]\n"
"hmt keeps a CUDA program's GPU memory across tiers (HBM, pinned host RAM, NVMe).\n"
"\n"
"  hmt run [options] -- CMD ARGS...     run CMD under libhmt.so\n"
"  hmt analyze [options] CHECKPOINT...  make tier hints from a training checkpoint\n"
"  hmt bench [options] -- CMD ARGS...   A/B latency: CMD without hmt, then with it\n"
"  hmt demo [options]                   the GPT-2 demonstration on the shipped checkpoint\n"
"\n"
"`hmt COMMAND --help` describes each.\n");
}

static void run_usage(FILE *f)
{
    struct hmt_paths p;
    hmt_paths_find(&p);
    int gpu = hmt_have_gpu();
    fprintf(f,
"usage: hmt run [options] -- CMD ARGS...\n"
"Runs CMD with libhmt.so preloaded and the HMT_* settings below. Settings already in the\n"
"environment (any HMT_* variable) are kept unless an option here sets them. Values are\n"
"checked first: a bad one is refused with one line (exit 2), never passed on.\n"
"\n"
"What it sets, exactly:\n"
"  LD_PRELOAD=%s (prepended)\n"
"  HMT_* for each option given (table below)\n"
"  LD_LIBRARY_PATH=%s (prepended) -- only where there is no NVIDIA driver\n"
"      (no /dev/nvidia0, or no libcuda.so.1 that is not the sim) or with --device sim;\n"
"      said in one line. It puts the simulated device's libcuda.so.1 in front.\n"
"Here: %s.\n"
"So by hand, without hmt run, the same is\n"
"  %s%s%sLD_PRELOAD=%s HMT_HINTS=FILE CMD ARGS...\n"
"(without the LD_LIBRARY_PATH part, a machine with no NVIDIA driver has no libcuda.so.1\n"
"for CMD to load and its CUDA calls fail).\n"
"\n%s",
            p.libhmt[0] ? p.libhmt : "<libhmt.so: not found>",
            p.sim_dir[0] ? p.sim_dir : "<the sim's folder: not found>",
            gpu ? "an NVIDIA driver was found, so the sim is not used unless --device sim"
                : "no NVIDIA driver was found, so the sim is used",
            gpu ? "" : "LD_LIBRARY_PATH=", gpu ? "" : (p.sim_dir[0] ? p.sim_dir : "SIMDIR"), gpu ? "" : " ",
            p.libhmt[0] ? p.libhmt : "libhmt.so", hmt_run_opts_help);
}

static void bench_usage(FILE *f)
{
    fprintf(f,
"usage: hmt bench [--iterations N] [--warmup N] [--json FILE] [run options] -- CMD ARGS...\n"
"Runs CMD without hmt (baseline) and with hmt (the run options), alternately, and prints\n"
"the A/B table: mean, median, p95, p99 per-token latency, tokens/s, latency overhead and\n"
"throughput change against the baseline, and hmt's bytes moved, evictions, faults, stall\n"
"and emulated time per run (from HMT_STATS). CMD must print one line per token,\n"
"  @token ... wall_ms=<ms> [gpu_ms=<ms>]\n"
"when HMT_BENCH_LINES=1 is set (hmt-gpt2 does), and may print `text: ...` and\n"
"`logits_xxh64: ...` lines, which are compared across configurations.\n"
"\n"
"  --iterations N   measured runs of CMD per configuration (default 3)\n"
"  --warmup N       unmeasured runs per configuration first (default 1)\n"
"  --json FILE      also write everything, raw per-token latencies included, as JSON\n"
"                   (checked writable before anything runs)\n"
"  --echo           show CMD's output (stdout, except @token lines, and stderr) on\n"
"                   stderr; without it, CMD's stderr is shown only when a run fails\n"
"\n"
"The first run that fails, or that prints no @token line, stops the bench (exit 1) with\n"
"one line and CMD's last stderr lines. A latency difference smaller than the run-to-run\n"
"spread of the generations' mean latencies is reported as \"within noise\".\n"
"%s", hmt_run_opts_help);
}

/* Index of the command after "--" (or the first non-option); -1 if none. */
static int parse_run_like(int argc, char **argv, struct hmt_run_opts *o, int bench,
                          long *iterations, long *warmup, const char **json, int *echo)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--"))
            return i + 1 < argc ? i + 1 : -1;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            if (bench)
                bench_usage(stdout);
            else
                run_usage(stdout);
            exit(0);
        }
        int r = hmt_run_opt_parse(o, argc, argv, &i);
        if (r < 0)
            exit(2);
        if (r > 0)
            continue;
        if (bench && (!strcmp(a, "--iterations") || !strcmp(a, "--warmup"))) {
            char *end;
            if (i + 1 >= argc) {
                fprintf(stderr, "hmt: %s needs a value\n", a);
                exit(2);
            }
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < (a[2] == 'i' ? 1 : 0)) {
                fprintf(stderr, "hmt: %s %s: expected a count\n", a, argv[i]);
                exit(2);
            }
            *(a[2] == 'i' ? iterations : warmup) = v;
            continue;
        }
        if (bench && !strcmp(a, "--json")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "hmt: --json needs a value\n");
                exit(2);
            }
            *json = argv[++i];
            continue;
        }
        if (bench && !strcmp(a, "--echo")) {
            *echo = 1;
            continue;
        }
        if (a[0] == '-') {
            fprintf(stderr, "hmt: unknown option %s (see hmt %s --help)\n", a,
                    bench ? "bench" : "run");
            exit(2);
        }
        return i;
    }
    return -1;
}

int hmt_cmd_run(int argc, char **argv)
{
    struct hmt_run_opts o = {0};
    int cmd = parse_run_like(argc, argv, &o, 0, NULL, NULL, NULL, NULL);
    if (cmd < 0) {
        fprintf(stderr, "hmt run: no command given (hmt run [options] -- CMD ARGS...)\n");
        return 2;
    }
    struct hmt_paths p;
    hmt_paths_find(&p);
    if (hmt_prepare_env(&o, &p, 1, 0) != 0)
        return 1;
    execvp(argv[cmd], argv + cmd);
    fprintf(stderr, "hmt run: cannot run %s: %s\n", argv[cmd], strerror(errno));
    return 127;
}

int hmt_cmd_analyze(int argc, char **argv)
{
    struct hmt_paths p;
    hmt_paths_find(&p);
    if (!p.analyze[0]) {
        fprintf(stderr, "hmt analyze: hmt-analyze not found (build the analyzer)\n");
        return 1;
    }
    argv[0] = p.analyze;
    (void)argc;
    execv(p.analyze, argv);
    fprintf(stderr, "hmt analyze: cannot run %s: %s\n", p.analyze, strerror(errno));
    return 127;
}

int hmt_cmd_bench(int argc, char **argv)
{
    struct hmt_run_opts o = {0};
    long iterations = 3, warmup = 1;
    const char *json = NULL;
    int echo = 0;
    int cmd = parse_run_like(argc, argv, &o, 1, &iterations, &warmup, &json, &echo);
    if (cmd < 0) {
        fprintf(stderr, "hmt bench: no command given (hmt bench [options] -- CMD ARGS...)\n");
        return 2;
    }
    const char *why;
    if (json && hmt_check_out_file(json, &why) != 0) {
        fprintf(stderr, "hmt bench: --json %s: cannot write it: %s\n", json, why);
        return 2;
    }
    struct hmt_paths p;
    hmt_paths_find(&p);
    char stats[] = "/tmp/hmt-bench-stats-XXXXXX";
    int fd = mkstemp(stats);
    if (fd < 0) {
        fprintf(stderr, "hmt bench: cannot create a stats file in /tmp: %s\n", strerror(errno));
        return 1;
    }
    close(fd);
    hmt_catch_interrupts();     /* so that ^C still removes the stats file */
    const char *stats_path = o.stats && strcmp(o.stats, "-") ? o.stats : stats;

    struct hmt_config_summary s[2];
    memset(s, 0, sizeof(s));
    s[0].name = "without hmt";
    char hname[128];
    snprintf(hname, sizeof(hname), "hmt %s%s%s%s", o.mode ? o.mode : "real",
             o.hints ? " +hints" : "", o.hbm_limit ? " budget " : "",
             o.hbm_limit ? o.hbm_limit : "");
    s[1].name = hname;
    int quiet = 0, failed = 0;
    long total = warmup + iterations;
    for (long it = 0; it < total; it++) {
        /* Alternate A and B so that drift (thermal, other load) hits both alike. */
        for (int c = 0; c < 2; c++) {
            fprintf(stderr, "hmt bench: %s run %ld/%ld: %s\n", it < warmup ? "warmup" : "measured",
                    it < warmup ? it + 1 : it - warmup + 1, it < warmup ? warmup : iterations,
                    s[c].name);
            struct hmt_run_result r;
            hmt_run_collect(argv + cmd, &o, &p, c == 1, quiet, c == 1 ? stats_path : NULL,
                            echo, &r);
            quiet = 1;
            /* A failed run (or one with nothing to time) stops the bench: the runs after
             * it would fail alike, and a table of them says nothing. */
            if (hmt_say_failure("bench", argv[cmd], s[c].name, &r, 1)) {
                hmt_run_result_free(&r);
                failed = 1;
                goto out;
            }
            if (it >= warmup)
                hmt_summary_add(&s[c], &r);
            hmt_run_result_free(&r);
        }
    }
out:
    unlink(stats);
    if (failed) {
        hmt_summary_free(&s[0]);
        hmt_summary_free(&s[1]);
        return 1;
    }
    hmt_summary_finish(&s[0], NULL);
    hmt_summary_finish(&s[1], &s[0]);
    hmt_print_table(s, 2);
    if (s[0].logits[0] || s[0].text[0])
        printf("output (text and logits hash) with hmt: %s\n",
               s[1].same_output ? "identical to the baseline" : "DIFFERENT from the baseline");
    if (json && hmt_write_json(json, s, 2, (const char *const *)(argv + cmd)) != 0)
        failed = 1;
    hmt_summary_free(&s[0]);
    hmt_summary_free(&s[1]);
    return failed;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *c = argv[1];
    if (!strcmp(c, "-h") || !strcmp(c, "--help") || !strcmp(c, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(c, "run"))
        return hmt_cmd_run(argc - 1, argv + 1);
    if (!strcmp(c, "analyze"))
        return hmt_cmd_analyze(argc - 1, argv + 1);
    if (!strcmp(c, "bench"))
        return hmt_cmd_bench(argc - 1, argv + 1);
    if (!strcmp(c, "demo"))
        return hmt_cmd_demo(argc - 1, argv + 1);
    fprintf(stderr, "hmt: unknown command '%s' (hmt --help)\n", c);
    return 2;
}
