/* hmt.h — what the files of the `hmt` command share.
 *
 * `hmt` is the user's entry point: it runs programs under libhmt.so (run), runs the
 * analyzer (analyze), times a program with and without hmt (bench) and runs the shipped
 * demonstration (demo). It never links libhmt or a libcuda itself; it only prepares an
 * environment and execs or spawns, so it works the same on a GPU machine and without one.
 */
#ifndef HMT_TOOLS_HMT_H
#define HMT_TOOLS_HMT_H

#include <signal.h>
#include <stddef.h>

/* ---- where the other pieces are (paths.c) -------------------------------------------- */
/* Absolute paths, "" when not found. Looked up beside this executable: first as in the
 * build tree it was built in, then as installed (bin/ + lib/ + share/hmt/). */
struct hmt_paths {
    char libhmt[4096];      /* libhmt.so */
    char sim_dir[4096];     /* folder holding the simulated libcuda.so.1 */
    char analyze[4096];     /* hmt-analyze */
    char gpt2[4096];        /* hmt-gpt2 */
    char ckpt[4096];        /* the shipped real checkpoint (nanogpt-small/ckpt.pt) */
};
void hmt_paths_find(struct hmt_paths *p);

/* ---- hmt run options, shared by run, bench and demo (runenv.c) ----------------------- */
struct hmt_run_opts {
    const char *hints, *mode, *hbm_limit, *nvme_dir, *stats, *tier_spec, *emulate;
    const char *device;     /* auto | sim | gpu */
    int verbose;
};
/* Parses one run option at argv[*i] (advancing *i past its value). 1 if it was one, 0 if
 * not, -1 on a bad value (message printed). */
int hmt_run_opt_parse(struct hmt_run_opts *o, int argc, char **argv, int *i);
/* Help lines for the run options. */
extern const char hmt_run_opts_help[];

/* 1 when a real NVIDIA driver is usable here: /dev/nvidia0 exists and libcuda.so.1 loads
 * and is not the sim. */
int hmt_have_gpu(void);

/* Sets this process's environment for a child: with `with_hmt`, the HMT_* variables from o
 * and LD_PRELOAD=libhmt.so (prepended); always, when no GPU (or --device sim), the sim's
 * folder first on LD_LIBRARY_PATH, said in one line on stderr unless `quiet`. With
 * !with_hmt, HMT_* variables and libhmt are removed so that a baseline is really without
 * hmt. 0, or -1 with a message. */
/* 1 when a child gets the simulated driver (--device sim, or auto without a GPU). */
int hmt_uses_sim(const struct hmt_run_opts *o);
/* Says in one line on stderr that the simulated device is used, when it is. */
void hmt_say_device(const struct hmt_run_opts *o, const struct hmt_paths *p);
int hmt_prepare_env(const struct hmt_run_opts *o, const struct hmt_paths *p, int with_hmt,
                    int quiet);

/* ---- checking values before they reach libhmt (check.c) ------------------------------- */
/* libhmt's size grammar (interpose/options.c): a decimal number with an optional K/M/G/T
 * (binary; "Ki" too) and optional B; with allow_pct also N% with 0 < N <= 100. 0 = bytes
 * (in *bytes when not NULL), 1 = a percentage, -1 = not a size. */
int hmt_check_size(const char *s, int allow_pct, unsigned long long *bytes);
/* libhmt's HMT_TIER_SPEC grammar (interpose/emulate.c): NAME=<setup>[us]:<bandwidth>[GB/s]
 * comma list, setup >= 0, bandwidth > 0. 0 or -1. */
int hmt_check_tier_spec(const char *s);
/* 0 when path is a writable directory, else -1 and *why (static text). */
int hmt_check_dir(const char *path, const char **why);
/* 0 when a file can be written at path (an existing writable file, or a new one in an
 * existing writable folder), else -1 and *why. */
int hmt_check_out_file(const char *path, const char **why);
/* path with every "{rank}" replaced as libhmt does (interpose/hints.c): $RANK, else
 * $LOCAL_RANK, else 0. malloc'd; NULL when out of memory. */
char *hmt_expand_rank(const char *path);

/* ---- timed runs (bench.c) ---------------------------------------------------------------- */
/* What one run of a workload printed. */
struct hmt_run_result {
    double *lat_ms;         /* per-token wall latency, from "@token ... wall_ms=X" lines */
    double *gpu_ms;         /* per-token GPU time (gpu_ms=), NaN where absent */
    size_t n, cap;
    char text[8192];        /* "text:" or "tokens:" line, without the key */
    char logits[64];        /* "logits_xxh64:" value */
    int *iter;              /* per token: the "iter=" of its @token line (-1 absent) */
    int status;             /* exit status (0 ok), or -1 when it did not start */
    char err_tail[2048];    /* the last lines CMD wrote to stderr */
    /* from HMT_STATS, when hmt ran (-1 = absent) */
    double bytes_evicted, bytes_faulted, evictions, faults, stall_ms, emulated_ms;
    double emulated_bytes, peak_resident_bytes, managed_bytes;
    double footprint;       /* "device_alloc_chunked_bytes:" from the workload, -1 = absent */
};

/* Spawns argv in the environment hmt_prepare_env(o, p, with_hmt, 1) makes (plus
 * HMT_BENCH_LINES=1; unless quiet, hmt_say_device first, from this process), collects its stdout (echoed to stderr when echo, @token lines
 * excepted) and parses it. Its stderr is collected too: shown in full when echo, else only
 * its last lines kept in r->err_tail (hmt_say_failure prints them). stats_path: with hmt,
 * the HMT_STATS file to use and read. */
int hmt_run_collect(char **argv, const struct hmt_run_opts *o, const struct hmt_paths *p,
                    int with_hmt, int quiet, const char *stats_path, int echo,
                    struct hmt_run_result *r);
void hmt_run_result_free(struct hmt_run_result *r);
/* When run r failed (exit status not 0) or printed no @token line (and need_tokens): one
 * line "hmt WHO: CMD ... (config)" and CMD's last stderr lines, indented; returns 1. Else 0. */
int hmt_say_failure(const char *who, const char *cmd, const char *config,
                    const struct hmt_run_result *r, int need_tokens);

/* After this, SIGINT/SIGTERM/SIGHUP only set hmt_interrupted (the signal number): the
 * running workload still gets ^C (a handler does not survive exec) and hmt_say_failure then
 * reports "interrupted", so bench and demo stop through their clean-up path. */
extern volatile sig_atomic_t hmt_interrupted;
void hmt_catch_interrupts(void);

/* One configuration's pooled measurements and summary. */
struct hmt_config_summary {
    const char *name;
    double *lat_ms;
    size_t n;
    double mean, median, p95, p99, tokens_per_s, gpu_mean;
    double overhead_pct, throughput_pct;   /* against the first configuration */
    double bytes_moved, evictions, faults, stall_ms, emulated_ms;   /* per run, -1 = n/a */
    char text[8192], logits[64];
    int same_output;        /* text and hash equal to the first configuration's */
    int runs, failed;
    double *gen_means;      /* mean latency of each generation (an iter= group of a run) */
    size_t ngen;
    double spread_pct;      /* run-to-run spread: (max - min) / median of gen_means, % */
};
void hmt_summary_add(struct hmt_config_summary *s, const struct hmt_run_result *r);
void hmt_summary_finish(struct hmt_config_summary *s, const struct hmt_config_summary *base);
void hmt_summary_free(struct hmt_config_summary *s);
/* Prints the A/B table of n configurations, the first being the baseline. */
void hmt_print_table(const struct hmt_config_summary *s, size_t n);
/* Writes the configurations as JSON to path; 0 or -1 with a message. */
int hmt_write_json(const char *path, const struct hmt_config_summary *s, size_t n,
                   const char *const *cmd);

int hmt_cmd_run(int argc, char **argv);
int hmt_cmd_bench(int argc, char **argv);
int hmt_cmd_demo(int argc, char **argv);
int hmt_cmd_analyze(int argc, char **argv);

#endif
