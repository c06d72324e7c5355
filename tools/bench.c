/* bench.c — timed runs: spawn a workload, read its per-token latency lines and its output
 * fingerprint, read hmt's counters, and summarise configurations against a baseline as the
 * seed's A/B table (mean, median, p95, p99, tokens/s, latency overhead %, throughput change
 * %), plus hmt's bytes moved and stall time.
 *
 * The line protocol a workload speaks (hmt-gpt2 does; any program may):
 *   @token ... wall_ms=<float> [gpu_ms=<float>]     one per measured token
 *   text: <anything>    /  tokens: <anything>        the output, compared across runs
 *   logits_xxh64: <hex>  (or logits_<hash>: <hex>)    a hash of the final numbers
 * HMT_BENCH_LINES=1 is set in the workload's environment to ask for the @token lines.
 * Percentiles are linear between closest ranks (numpy's default).
 */
#define _GNU_SOURCE
#include "hmt.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void push(struct hmt_run_result *r, double lat, double gpu, int iter)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 256;
        r->lat_ms = realloc(r->lat_ms, r->cap * sizeof(double));
        r->gpu_ms = realloc(r->gpu_ms, r->cap * sizeof(double));
        r->iter = realloc(r->iter, r->cap * sizeof(int));
        if (!r->lat_ms || !r->gpu_ms || !r->iter) {
            fprintf(stderr, "hmt: out of memory\n");
            exit(1);
        }
    }
    r->lat_ms[r->n] = lat;
    r->gpu_ms[r->n] = gpu;
    r->iter[r->n] = iter;
    r->n++;
}

static double field(const char *line, const char *key)
{
    const char *p = strstr(line, key);
    if (!p)
        return NAN;
    return strtod(p + strlen(key), NULL);
}

static void parse_line(struct hmt_run_result *r, char *line)
{
    line[strcspn(line, "\n")] = 0;
    if (!strncmp(line, "@token ", 7)) {
        double w = field(line, " wall_ms=");
        double it = field(line, " iter=");
        if (!isnan(w))
            push(r, w, field(line, " gpu_ms="), isnan(it) ? -1 : (int)it);
    } else if (!strncmp(line, "text: ", 6) || !strncmp(line, "tokens: ", 8)) {
        snprintf(r->text, sizeof(r->text), "%s", line);
    } else if (!strncmp(line, "device_alloc_chunked_bytes: ", 28)) {
        r->footprint = strtod(line + 28, NULL);
    } else if (!strncmp(line, "logits_xxh64: ", 14)) {
        snprintf(r->logits, sizeof(r->logits), "%s", line + 14);
    } else if (!strncmp(line, "logits_", 7) && strstr(line, ": ")) {
        /* another hash of the logits (e.g. logits_sha256 from a Python workload) */
        snprintf(r->logits, sizeof(r->logits), "%.16s:%.40s", line + 7, strstr(line, ": ") + 2);
    }
}

/* A number from the HMT_STATS object, searched at the top level and one level down (rooms
 * may group their counters); -1 when absent. */
static double stat_num(const cJSON *root, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);
    if (cJSON_IsNumber(v))
        return v->valuedouble;
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v);
    const cJSON *c;
    cJSON_ArrayForEach(c, root) {
        if (cJSON_IsObject(c)) {
            v = cJSON_GetObjectItemCaseSensitive(c, name);
            if (cJSON_IsNumber(v))
                return v->valuedouble;
        }
    }
    return -1;
}

static void read_stats(struct hmt_run_result *r, const char *path)
{
    r->bytes_evicted = r->bytes_faulted = r->evictions = r->faults = r->stall_ms = -1;
    r->emulated_ms = r->emulated_bytes = r->peak_resident_bytes = r->managed_bytes = -1;
    if (!path)
        return;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char *buf = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap);
            if (!nb)
                break;
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        if (got == 0)
            break;
        len += got;
    }
    fclose(f);
    if (!buf)
        return;
    buf[len] = 0;
    cJSON *root = cJSON_Parse(buf);
    free(buf);
    if (!root)
        return;
    r->bytes_evicted = stat_num(root, "bytes_evicted");
    r->bytes_faulted = stat_num(root, "bytes_faulted");
    r->evictions = stat_num(root, "evictions");
    r->faults = stat_num(root, "faults");
    r->peak_resident_bytes = stat_num(root, "peak_resident_bytes");
    r->managed_bytes = stat_num(root, "managed_bytes");
    /* Stall: time launches waited for data hmt moved (residency's counter, in ns). */
    double stall = stat_num(root, "stall_ns");
    if (stall < 0)
        stall = stat_num(root, "fault_wait_ns");
    r->stall_ms = stall < 0 ? -1 : stall / 1e6;
    double em = stat_num(root, "emulated_delay_ns");
    r->emulated_ms = em < 0 ? -1 : em / 1e6;
    r->emulated_bytes = stat_num(root, "emulated_bytes");
    cJSON_Delete(root);
}

int hmt_run_collect(char **argv, const struct hmt_run_opts *o, const struct hmt_paths *p,
                    int with_hmt, int quiet, const char *stats_path, int echo,
                    struct hmt_run_result *r)
{
    memset(r, 0, sizeof(*r));
    r->status = -1;
    r->footprint = -1;
    if (stats_path)
        unlink(stats_path);
    /* CMD's stderr goes to an unnamed file: shown after the run (all of it with echo, the
     * last lines when it failed), so a failure is explained under its one-line verdict. */
    FILE *err = tmpfile();
    if (!quiet)
        hmt_say_device(o, p);
    int fds[2];
    if (pipe(fds) != 0) {
        fprintf(stderr, "hmt: pipe: %s\n", strerror(errno));
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "hmt: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], 1);
        if (err)
            dup2(fileno(err), 2);
        close(fds[0]);
        close(fds[1]);
        setenv("HMT_BENCH_LINES", "1", 1);
        if (hmt_prepare_env(o, p, with_hmt, 1) != 0)
            _exit(127);
        if (with_hmt && stats_path)
            setenv("HMT_STATS", stats_path, 1);
        execvp(argv[0], argv);
        fprintf(stderr, "hmt: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    FILE *in = fdopen(fds[0], "r");
    char *line = NULL;
    size_t cap = 0;
    while (in && getline(&line, &cap, in) > 0) {
        if (echo && strncmp(line, "@token ", 7) != 0)
            fputs(line, stderr);
        parse_line(r, line);
    }
    free(line);
    if (in)
        fclose(in);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    read_stats(r, stats_path);
    if (err) {
        /* keep the last bytes that hold whole lines; with echo, pass everything on */
        rewind(err);
        char buf[4096];
        size_t got, keep = sizeof(r->err_tail) - 1, len = 0;
        while ((got = fread(buf, 1, sizeof(buf), err)) > 0) {
            if (echo)
                fwrite(buf, 1, got, stderr);
            if (got >= keep) {
                memcpy(r->err_tail, buf + got - keep, keep);
                len = keep;
            } else {
                size_t drop = len + got > keep ? len + got - keep : 0;
                memmove(r->err_tail, r->err_tail + drop, len - drop);
                len -= drop;
                memcpy(r->err_tail + len, buf, got);
                len += got;
            }
        }
        r->err_tail[len] = 0;
        fclose(err);
    }
    return 0;
}

volatile sig_atomic_t hmt_interrupted;

static void on_interrupt(int sig)
{
    hmt_interrupted = sig;
}

void hmt_catch_interrupts(void)
{
    /* A handler, not SIG_IGN: exec resets it, so the workload still dies of ^C (and hmt
     * sees a run killed by SIGINT and stops); hmt itself lives to clean up. SA_RESTART: the
     * read of the workload's output goes on until it is gone. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_interrupt;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

int hmt_say_failure(const char *who, const char *cmd, const char *config,
                    const struct hmt_run_result *r, int need_tokens)
{
    if (hmt_interrupted) {
        fprintf(stderr, "hmt %s: interrupted (signal %d); stopping\n", who, (int)hmt_interrupted);
        return 1;
    }
    if (r->status == 0 && (r->n > 0 || !need_tokens))
        return 0;
    if (r->status == 127 && strstr(r->err_tail, "cannot run"))
        fprintf(stderr, "hmt %s: %s could not be started (%s); stopping\n", who, cmd, config);
    else if (r->status > 128)
        fprintf(stderr, "hmt %s: %s was killed by signal %d (%s); stopping\n", who, cmd,
                r->status - 128, config);
    else if (r->status != 0)
        fprintf(stderr, "hmt %s: %s exited with status %d (%s); stopping\n", who, cmd,
                r->status, config);
    else
        fprintf(stderr, "hmt %s: %s printed no '@token ... wall_ms=' lines (%s), so there is "
                        "nothing to time; stopping (see hmt bench --help)\n", who, cmd, config);
    /* its last 5 lines on stderr */
    const char *t = r->err_tail + strlen(r->err_tail);
    while (t > r->err_tail && t[-1] == '\n')
        t--;
    const char *end = t;
    for (int lines = 0; t > r->err_tail; t--)
        if (t[-1] == '\n' && ++lines == 5)
            break;
    if (end > t) {
        fprintf(stderr, "  its last lines on stderr:\n");
        for (const char *l = t; l < end;) {
            const char *nl = memchr(l, '\n', (size_t)(end - l));
            size_t n = nl ? (size_t)(nl - l) : (size_t)(end - l);
            fprintf(stderr, "  | %.*s\n", (int)n, l);
            l += n + 1;
        }
    }
    return 1;
}

void hmt_run_result_free(struct hmt_run_result *r)
{
    free(r->lat_ms);
    free(r->gpu_ms);
    free(r->iter);
    memset(r, 0, sizeof(*r));
}

/* Adds a counter (negative = not reported) to a running total (negative = none yet). */
static void accum(double *dst, double v)
{
    if (v < 0)
        return;
    *dst = *dst < 0 ? v : *dst + v;
}

void hmt_summary_add(struct hmt_config_summary *s, const struct hmt_run_result *r)
{
    if (s->runs == 0)
        s->bytes_moved = s->evictions = s->faults = s->stall_ms = s->emulated_ms = -1;
    s->runs++;
    if (r->status != 0) {
        s->failed++;
        return;
    }
    s->lat_ms = realloc(s->lat_ms, (s->n + r->n + 1) * sizeof(double));
    if (!s->lat_ms) {
        fprintf(stderr, "hmt: out of memory\n");
        exit(1);
    }
    memcpy(s->lat_ms + s->n, r->lat_ms, r->n * sizeof(double));
    /* One mean per generation (consecutive tokens with the same iter=; a run without
     * iter= is one generation): the units the run-to-run spread is measured in. */
    for (size_t i = 0; i < r->n;) {
        size_t j = i;
        double sum = 0;
        while (j < r->n && r->iter[j] == r->iter[i])
            sum += r->lat_ms[j++];
        s->gen_means = realloc(s->gen_means, (s->ngen + 1) * sizeof(double));
        if (!s->gen_means) {
            fprintf(stderr, "hmt: out of memory\n");
            exit(1);
        }
        s->gen_means[s->ngen++] = sum / (double)(j - i);
        i = j;
    }
    double g = 0;
    size_t gn = 0;
    for (size_t i = 0; i < r->n; i++)
        if (!isnan(r->gpu_ms[i])) {
            g += r->gpu_ms[i];
            gn++;
        }
    s->gpu_mean = gn ? (s->gpu_mean * (double)s->n + g) / (double)(s->n + gn) : s->gpu_mean;
    s->n += r->n;
    double moved = -1;
    if (r->bytes_evicted >= 0 || r->bytes_faulted >= 0)
        moved = (r->bytes_evicted > 0 ? r->bytes_evicted : 0) +
                (r->bytes_faulted > 0 ? r->bytes_faulted : 0);
    accum(&s->bytes_moved, moved);
    accum(&s->evictions, r->evictions);
    accum(&s->faults, r->faults);
    accum(&s->stall_ms, r->stall_ms);
    accum(&s->emulated_ms, r->emulated_ms);
    if (!s->text[0] && !s->logits[0]) {
        snprintf(s->text, sizeof(s->text), "%s", r->text);
        snprintf(s->logits, sizeof(s->logits), "%s", r->logits);
    } else if (strcmp(s->text, r->text) || strcmp(s->logits, r->logits)) {
        /* Runs of one configuration disagreeing is itself worth knowing. */
        snprintf(s->logits, sizeof(s->logits), "(differs between runs)");
    }
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *v, size_t n, double q)
{
    if (!n)
        return NAN;
    double r = q * (double)(n - 1);
    size_t i = (size_t)r;
    if (i + 1 >= n)
        return v[n - 1];
    return v[i] + (r - (double)i) * (v[i + 1] - v[i]);
}

void hmt_summary_finish(struct hmt_config_summary *s, const struct hmt_config_summary *base)
{
    int ok = s->runs - s->failed;
    /* Counters are reported per run. */
    double *per[] = {&s->bytes_moved, &s->evictions, &s->faults, &s->stall_ms, &s->emulated_ms};
    for (size_t i = 0; i < sizeof(per) / sizeof(per[0]); i++)
        if (*per[i] >= 0 && ok > 0)
            *per[i] /= ok;
    if (!s->n) {
        s->mean = s->median = s->p95 = s->p99 = s->tokens_per_s = NAN;
        s->overhead_pct = s->throughput_pct = NAN;
        s->same_output = 0;
        return;
    }
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += s->lat_ms[i];
    double *sorted = malloc(s->n * sizeof(double));
    if (!sorted)
        exit(1);
    memcpy(sorted, s->lat_ms, s->n * sizeof(double));
    qsort(sorted, s->n, sizeof(double), cmpd);
    s->mean = sum / (double)s->n;
    s->median = pct(sorted, s->n, 0.5);
    s->p95 = pct(sorted, s->n, 0.95);
    s->p99 = pct(sorted, s->n, 0.99);
    free(sorted);
    s->tokens_per_s = (double)s->n / (sum / 1e3);
    s->spread_pct = NAN;
    if (s->ngen >= 2) {
        double *g = malloc(s->ngen * sizeof(double));
        if (!g)
            exit(1);
        memcpy(g, s->gen_means, s->ngen * sizeof(double));
        qsort(g, s->ngen, sizeof(double), cmpd);
        s->spread_pct = (g[s->ngen - 1] - g[0]) / pct(g, s->ngen, 0.5) * 100.0;
        free(g);
    }
    if (base && base->n) {
        s->overhead_pct = (s->mean / base->mean - 1.0) * 100.0;
        s->throughput_pct = (s->tokens_per_s / base->tokens_per_s - 1.0) * 100.0;
        s->same_output = !strcmp(s->text, base->text) && !strcmp(s->logits, base->logits) &&
                         s->logits[0] && s->logits[0] != '(';
    } else {
        s->overhead_pct = s->throughput_pct = 0;
        s->same_output = 1;
    }
}

void hmt_summary_free(struct hmt_config_summary *s)
{
    free(s->lat_ms);
    s->lat_ms = NULL;
    free(s->gen_means);
    s->gen_means = NULL;
}

static void human_bytes(char *out, size_t n, double b)
{
    if (b < 0)
        snprintf(out, n, "n/a");
    else if (b >= 1 << 30)
        snprintf(out, n, "%.2f GiB", b / (1 << 30));
    else if (b >= 1 << 20)
        snprintf(out, n, "%.2f MiB", b / (1 << 20));
    else if (b >= 1 << 10)
        snprintf(out, n, "%.1f KiB", b / (1 << 10));
    else
        snprintf(out, n, "%.0f B", b);
}

void hmt_print_table(const struct hmt_config_summary *s, size_t n)
{
    printf("\n%-26s %9s %9s %9s %9s %10s %9s %11s\n", "configuration", "mean ms", "median",
           "p95", "p99", "tokens/s", "latency", "throughput");
    for (size_t i = 0; i < n; i++) {
        char lat[32], thr[32];
        if (i == 0) {
            snprintf(lat, sizeof(lat), "baseline");
            snprintf(thr, sizeof(thr), "baseline");
        } else {
            snprintf(lat, sizeof(lat), "%+.1f%%", s[i].overhead_pct);
            snprintf(thr, sizeof(thr), "%+.1f%%", s[i].throughput_pct);
        }
        printf("%-26.26s %9.3f %9.3f %9.3f %9.3f %10.1f %9s %11s\n", s[i].name, s[i].mean,
               s[i].median, s[i].p95, s[i].p99, s[i].tokens_per_s, lat, thr);
    }
    printf("\n%-26s %12s %10s %10s %12s %14s %s\n", "configuration", "moved/run", "evictions",
           "faults", "stall ms", "emulated ms", "output");
    for (size_t i = 0; i < n; i++) {
        char moved[32], ev[32], fa[32], st[32], em[32];
        human_bytes(moved, sizeof(moved), s[i].bytes_moved);
        snprintf(ev, sizeof(ev), s[i].evictions < 0 ? "n/a" : "%.0f", s[i].evictions);
        snprintf(fa, sizeof(fa), s[i].faults < 0 ? "n/a" : "%.0f", s[i].faults);
        snprintf(st, sizeof(st), s[i].stall_ms < 0 ? "n/a" : "%.3f", s[i].stall_ms);
        snprintf(em, sizeof(em), s[i].emulated_ms < 0 ? "n/a" : "%.3f", s[i].emulated_ms);
        if (i == 0) {
            snprintf(moved, sizeof(moved), "-");
            snprintf(ev, sizeof(ev), "-");
            snprintf(fa, sizeof(fa), "-");
            snprintf(st, sizeof(st), "-");
            snprintf(em, sizeof(em), "-");
        }
        printf("%-26.26s %12s %10s %10s %12s %14s %s\n", s[i].name, moved, ev, fa, st, em,
               s[i].failed ? "FAILED RUN" : i == 0 ? "reference"
               : s[i].same_output ? "identical" : "DIFFERENT");
    }
    /* The verdicts. A difference smaller than the run-to-run spread (max - min of the
     * per-generation mean latencies, over their median, of the baseline or of this
     * configuration, whichever is larger) cannot be told from noise, and is called so. */
    if (n > 1 && s[0].n)
        printf("\n");
    for (size_t i = 1; i < n; i++) {
        if (!s[i].n || !s[0].n)
            continue;
        double noise = s[0].spread_pct;
        if (!isnan(s[i].spread_pct) && (isnan(noise) || s[i].spread_pct > noise))
            noise = s[i].spread_pct;
        if (!isnan(noise) && fabs(s[i].overhead_pct) <= noise) {
            printf("%s: latency %+.1f%%, throughput %+.1f%% against %s: within noise "
                   "(generations vary by %.1f%% from run to run)\n", s[i].name,
                   s[i].overhead_pct, s[i].throughput_pct, s[0].name, noise);
            continue;
        }
        printf("%s: latency %s by %.1f%%, throughput %s by %.1f%% against %s", s[i].name,
               s[i].overhead_pct >= 0 ? "higher" : "lower", fabs(s[i].overhead_pct),
               s[i].throughput_pct >= 0 ? "higher" : "lower", fabs(s[i].throughput_pct),
               s[0].name);
        if (isnan(noise))
            printf(" (one generation each: run-to-run spread unknown)\n");
        else
            printf(" (beyond the %.1f%% run-to-run spread)\n", noise);
    }
}

/* A measurement (may be negative), null when there is none. */
static cJSON *num_or_null(double v)
{
    return isnan(v) ? cJSON_CreateNull() : cJSON_CreateNumber(v);
}

/* A counter: negative means hmt did not report it. */
static cJSON *counter_or_null(double v)
{
    return v < 0 || isnan(v) ? cJSON_CreateNull() : cJSON_CreateNumber(v);
}

int hmt_write_json(const char *path, const struct hmt_config_summary *s, size_t n,
                   const char *const *cmd)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *c = cJSON_AddArrayToObject(root, "command");
    for (; cmd && *cmd; cmd++)
        cJSON_AddItemToArray(c, cJSON_CreateString(*cmd));
    cJSON_AddStringToObject(root, "percentiles", "linear between closest ranks");
    cJSON *arr = cJSON_AddArrayToObject(root, "configurations");
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", s[i].name);
        cJSON_AddBoolToObject(o, "baseline", i == 0);
        cJSON_AddNumberToObject(o, "runs", s[i].runs);
        cJSON_AddNumberToObject(o, "failed_runs", s[i].failed);
        cJSON_AddNumberToObject(o, "tokens", (double)s[i].n);
        cJSON_AddItemToObject(o, "mean_ms", num_or_null(s[i].mean));
        cJSON_AddItemToObject(o, "median_ms", num_or_null(s[i].median));
        cJSON_AddItemToObject(o, "p95_ms", num_or_null(s[i].p95));
        cJSON_AddItemToObject(o, "p99_ms", num_or_null(s[i].p99));
        cJSON_AddItemToObject(o, "tokens_per_s", num_or_null(s[i].tokens_per_s));
        cJSON_AddItemToObject(o, "gpu_mean_ms", num_or_null(s[i].gpu_mean));
        cJSON_AddItemToObject(o, "latency_overhead_pct", num_or_null(s[i].overhead_pct));
        cJSON_AddItemToObject(o, "throughput_change_pct", num_or_null(s[i].throughput_pct));
        cJSON_AddItemToObject(o, "spread_pct", num_or_null(s[i].spread_pct));
        cJSON_AddItemToObject(o, "bytes_moved_per_run", counter_or_null(s[i].bytes_moved));
        cJSON_AddItemToObject(o, "evictions_per_run", counter_or_null(s[i].evictions));
        cJSON_AddItemToObject(o, "faults_per_run", counter_or_null(s[i].faults));
        cJSON_AddItemToObject(o, "stall_ms_per_run", counter_or_null(s[i].stall_ms));
        cJSON_AddItemToObject(o, "emulated_ms_per_run", counter_or_null(s[i].emulated_ms));
        cJSON_AddStringToObject(o, "text", s[i].text);
        cJSON_AddStringToObject(o, "logits_xxh64", s[i].logits);
        cJSON_AddBoolToObject(o, "same_output_as_baseline", s[i].same_output);
        cJSON *lat = cJSON_AddArrayToObject(o, "latencies_ms");
        for (size_t k = 0; k < s[i].n; k++)
            cJSON_AddItemToArray(lat, cJSON_CreateNumber(s[i].lat_ms[k]));
        cJSON_AddItemToArray(arr, o);
    }
    char *txt = cJSON_Print(root);
    cJSON_Delete(root);
    FILE *f = txt ? fopen(path, "w") : NULL;
    if (!f || fputs(txt, f) < 0 || fputc('\n', f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "hmt: cannot write %s: %s\n", path, strerror(errno));
        free(txt);
        return -1;
    }
    free(txt);
    return 0;
}
