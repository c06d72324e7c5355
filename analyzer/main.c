/* main.c — hmt-analyze (run as `hmt analyze`): training checkpoint -> tier_hints.json.
 *
 * Reads weights and Adam state (analyze.h), scores each tensor or module with the chosen
 * signal, assigns tiers, writes the hints, prints a per-tier table; with --compare, also
 * the Spearman rank correlation of the signal against a Fisher dump and the tier
 * assignments the two would make differently. Errors: one line on stderr, exit 1; usage
 * errors exit 2.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "internal.h"

static const char usage[] =
    "usage: hmt analyze [options] CHECKPOINT...\n"
    "Rank a checkpoint's tensors by importance and write tier hints for libhmt.\n"
    "\n"
    "CHECKPOINT: a nanoGPT ckpt.pt; a Hugging Face Trainer directory (model.safetensors +\n"
    "optimizer.pt); an optimizer.state_dict() file plus its weights file; or a\n"
    "hints/dump_optimizer.py safetensors.\n"
    "\n"
    "  --signal S   adam (default: mean exp_avg_sq), adam-knlp (mean|exp_avg| +\n"
    "               mean sqrt(exp_avg_sq), the seed's score), fim (mean of --fim),\n"
    "               bitter7 (mean |w|*(exp_avg_sq+1e-8)^0.25), magnitude (mean |w|)\n"
    "  --fim FILE   empirical Fisher diagonal (safetensors of g^2 under parameter names)\n"
    "  --by B       bytes (default): fill HBM, then CPU, up to --hbm / --cpu bytes;\n"
    "               count: the seed's rule, rank < N*hbm -> HBM, rank < N*cpu -> CPU\n"
    "               (cumulative: 0.3/0.5 gives 30%/20%/50%);\n"
    "               count-share: the seed's prose, cpu is CPU's own share (30%/50%/20%)\n"
    "  --hbm X      HBM budget: a fraction 0..1 (0.3, 30%) or a size with its unit\n"
    "               (512M, 2G; K/M/G/T = 2^10..2^40; bytes: 2048B); default 0.3\n"
    "  --cpu X      CPU budget, the same way; default 0.5\n"
    "  --per P      tensor (default) or module (name minus its last component)\n"
    "  --compare F  Spearman of the signal against Fisher dump F per tensor and per module,\n"
    "               and the tier assignments that differ; F may also be a tier_hints.json\n"
    "  -o FILE      output (default tier_hints.json; - for stdout, the table then goes\n"
    "               to stderr)\n"
    "  --flat       write only the seed's flat {\"module\": \"HBM|CPU|SSD\"} map\n"
    "  -q           no table\n"
    "  -h, --help   this text\n";

/* Where the table and comparisons go: stdout, or stderr when the hints themselves go to
 * stdout (-o -), so the JSON stays parseable. */
static FILE *rep;

static void fmt_bytes(char *buf, size_t n, double b)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (b >= 1024 && i < 4) {
        b /= 1024;
        i++;
    }
    snprintf(buf, n, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

typedef struct opts {
    hmt_signal signal;
    const char *fim, *compare, *out;
    hmt_by by;
    hmt_budget budget;
    bool per_module, flat, quiet;
} opts;

/* Scores and tiers per tensor (per module: the module's score and tier). */
static int score_and_assign(const hmt_ckpt *c, const opts *o, hmt_signal sig, double *score,
                            hmt_tier *tier, char *err, size_t errlen)
{
    size_t n = o->per_module ? c->nm : c->np;
    hmt_item *it = calloc(n ? n : 1, sizeof(*it));
    hmt_tier *t = calloc(n ? n : 1, sizeof(*t));
    if (!it || !t) {
        free(it);
        free(t);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (o->per_module) {
            it[i].score = hmt_module_score(c, i, sig);
            it[i].bytes = c->m[i].bytes;
            it[i].order = c->p[c->m[i].params[0]].order;
        } else {
            it[i].score = hmt_param_score(c, i, sig);
            it[i].bytes = c->p[i].w->nbytes;
            it[i].order = c->p[i].order;
        }
    }
    int rc = hmt_assign(it, n, o->by, &o->budget, t, err, errlen);
    if (rc == 0) {
        if (o->per_module) {
            for (size_t j = 0; j < c->nm; j++)
                for (size_t k = 0; k < c->m[j].nparams; k++) {
                    tier[c->m[j].params[k]] = t[j];
                    score[c->m[j].params[k]] = it[j].score;
                }
        } else {
            for (size_t i = 0; i < n; i++) {
                tier[i] = t[i];
                score[i] = it[i].score;
            }
        }
    }
    free(it);
    free(t);
    return rc;
}

static void print_table(const hmt_ckpt *c, const opts *o, const double *score, const hmt_tier *tier)
{
    uint64_t total = 0;
    for (size_t i = 0; i < c->np; i++)
        total += c->p[i].w->nbytes;
    char tb[32], hb[48], cb[48];
    fmt_bytes(tb, sizeof(tb), (double)total);
    if (o->budget.hbm_frac)
        snprintf(hb, sizeof(hb), "%g%%", o->budget.hbm * 100);
    else
        fmt_bytes(hb, sizeof(hb), o->budget.hbm);
    if (o->budget.cpu_frac)
        snprintf(cb, sizeof(cb), "%g%%", o->budget.cpu * 100);
    else
        fmt_bytes(cb, sizeof(cb), o->budget.cpu);
    const char *of = o->by == HMT_BY_COUNT ? " of ranks, cumulative"
                     : o->by == HMT_BY_COUNT_SHARE ? " of ranks"
                     : o->budget.hbm_frac || o->budget.cpu_frac ? " of bytes" : "";
    fprintf(rep, "%zu tensors (%zu keys), %zu modules, %s; signal %s, by %s (hbm %s, cpu %s%s), per %s\n",
           c->np, c->weights->n, c->nm, tb, hmt_signal_name(o->signal), hmt_by_name(o->by), hb, cb,
           of, o->per_module ? "module" : "tensor");
    fprintf(rep, "%-4s %8s %12s %7s  %s\n", "tier", "tensors", "bytes", "share", "score range");
    for (int t = 0; t < HMT_TIER_COUNT; t++) {
        size_t n = 0;
        uint64_t b = 0;
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < c->np; i++)
            if (tier[i] == (hmt_tier)t) {
                n++;
                b += c->p[i].w->nbytes;
                lo = fmin(lo, score[i]);
                hi = fmax(hi, score[i]);
            }
        char bb[32];
        fmt_bytes(bb, sizeof(bb), (double)b);
        if (n)
            fprintf(rep, "%-4s %8zu %12s %6.1f%%  %.3e .. %.3e\n", hmt_tier_name((hmt_tier)t), n, bb,
                   total ? 100.0 * (double)b / (double)total : 0, hi, lo);
        else
            fprintf(rep, "%-4s %8zu %12s %6.1f%%  -\n", hmt_tier_name((hmt_tier)t), n, bb, 0.0);
    }
}

static int compare_fim(const hmt_ckpt *c, const opts *o, const hmt_tier *tier, char *err,
                       size_t errlen)
{
    size_t n = c->np > c->nm ? c->np : c->nm;
    double *a = calloc(n, sizeof(double)), *b = calloc(n, sizeof(double));
    double *fs = calloc(c->np, sizeof(double));
    hmt_tier *ft = calloc(c->np, sizeof(hmt_tier));
    int rc = -ENOMEM;
    if (!a || !b || !fs || !ft)
        goto out;
    size_t k = 0;
    for (size_t i = 0; i < c->np; i++)
        if (c->p[i].has_fim) {
            a[k] = hmt_param_score(c, i, o->signal);
            b[k++] = hmt_param_score(c, i, HMT_SIG_FIM);
        }
    double sp = hmt_spearman(a, b, k);
    for (size_t j = 0; j < c->nm; j++) {
        a[j] = hmt_module_score(c, j, o->signal);
        b[j] = hmt_module_score(c, j, HMT_SIG_FIM);
    }
    double sm = hmt_spearman(a, b, c->nm);
    fprintf(rep, "Spearman %s vs Fisher (%s): per tensor %.4f (%zu tensors), per module %.4f (%zu modules)\n",
           hmt_signal_name(o->signal), c->fim_path, sp, k, sm, c->nm);
    if ((rc = score_and_assign(c, o, HMT_SIG_FIM, fs, ft, err, errlen)) < 0)
        goto out;
    size_t diff = 0;
    for (size_t i = 0; i < c->np; i++)
        if (ft[i] != tier[i]) {
            if (!diff++)
                fprintf(rep, "tier assignments that differ (%s -> fim):\n", hmt_signal_name(o->signal));
            fprintf(rep, "  %-40s %s -> %s\n", c->p[i].w->name, hmt_tier_name(tier[i]), hmt_tier_name(ft[i]));
        }
    if (!diff)
        fprintf(rep, "tier assignments: identical under fim\n");
    else
        fprintf(rep, "%zu of %zu tensors assigned differently\n", diff, c->np);
    rc = 0;
out:
    free(a);
    free(b);
    free(fs);
    free(ft);
    return rc;
}

static int compare_hints(const hmt_ckpt *c, const char *path, const hmt_tier *tier, char *err,
                         size_t errlen)
{
    hmt_hints *h;
    int rc = hmt_hints_read(path, &h, err, errlen);
    if (rc < 0)
        return rc;
    size_t diff = 0, seen = 0;
    for (size_t i = 0; i < c->np; i++) {
        const hmt_param *p = &c->p[i];
        int other = -1;
        if (h->flat) {
            for (size_t j = 0; j < h->nm; j++)
                if (strcmp(h->m[j].name, p->module) == 0)
                    other = (int)h->m[j].tier;
        } else {
            for (size_t j = 0; j < h->nt; j++)
                if (strcmp(h->t[j].name, p->w->name) == 0)
                    other = (int)h->t[j].tier;
        }
        if (other < 0)
            continue;
        seen++;
        if (other != (int)tier[i]) {
            if (!diff++)
                fprintf(rep, "tier assignments that differ (this run -> %s):\n", path);
            fprintf(rep, "  %-40s %s -> %s\n", p->w->name, hmt_tier_name(tier[i]), hmt_tier_name((hmt_tier)other));
        }
    }
    fprintf(rep, "%zu of %zu tensors found in %s assigned differently\n", diff, seen, path);
    hmt_hints_free(h);
    return 0;
}

static bool is_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    int ch = ' ';
    if (!f)
        return false;
    while (ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r')
        ch = fgetc(f);
    fclose(f);
    return ch == '{';
}

/* One line for a getopt failure; exit status 2. The option is named as the user typed it
 * (argv[0] is the internal hmt-analyze binary, so the program is called "hmt analyze"). */
static int usage_error(bool missing, char **argv)
{
    /* optopt: the short option, or a long option's val (0 for an unknown one); --output
     * and --help share their val with -o and -h, so the word in argv decides */
    const char *word = argv[optind - 1];
    bool longform = strncmp(word, "--", 2) == 0 &&
                    (optopt <= 0 || optopt >= 256 || optopt == 'o' || optopt == 'h');
    char opt[128];
    if (longform)
        snprintf(opt, sizeof(opt), "%.*s", (int)strcspn(word, "="), word);
    else
        snprintf(opt, sizeof(opt), "-%c", optopt);
    if (missing)
        fprintf(stderr, "hmt analyze: option '%s' requires a value (see hmt analyze --help)\n", opt);
    else
        fprintf(stderr, "hmt analyze: unrecognized option '%s' (see hmt analyze --help)\n", opt);
    return 2;
}

int main(int argc, char **argv)
{
    opts o = {.signal = HMT_SIG_ADAM, .out = "tier_hints.json", .by = HMT_BY_BYTES,
              .budget = {.hbm = 0.3, .cpu = 0.5, .hbm_frac = true, .cpu_frac = true}};
    enum { O_SIGNAL = 256, O_FIM, O_BY, O_HBM, O_CPU, O_PER, O_COMPARE, O_FLAT };
    static const struct option lo[] = {
        {"signal", required_argument, 0, O_SIGNAL}, {"fim", required_argument, 0, O_FIM},
        {"by", required_argument, 0, O_BY},         {"hbm", required_argument, 0, O_HBM},
        {"cpu", required_argument, 0, O_CPU},       {"per", required_argument, 0, O_PER},
        {"compare", required_argument, 0, O_COMPARE}, {"flat", no_argument, 0, O_FLAT},
        {"output", required_argument, 0, 'o'},      {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int ch;
    rep = stdout;
    opterr = 0;   /* getopt's own messages name the internal binary and are two lines */
    while ((ch = getopt_long(argc, argv, ":o:qh", lo, NULL)) != -1) {
        switch (ch) {
        case O_SIGNAL:
            if (hmt_signal_parse(optarg, &o.signal) < 0) {
                fprintf(stderr, "hmt analyze: unknown --signal %s (adam, adam-knlp, fim, bitter7, magnitude)\n", optarg);
                return 2;
            }
            break;
        case O_FIM: o.fim = optarg; break;
        case O_BY:
            if (strcmp(optarg, "bytes") == 0)
                o.by = HMT_BY_BYTES;
            else if (strcmp(optarg, "count") == 0)
                o.by = HMT_BY_COUNT;
            else if (strcmp(optarg, "count-share") == 0)
                o.by = HMT_BY_COUNT_SHARE;
            else {
                fprintf(stderr, "hmt analyze: unknown --by %s (bytes, count, count-share)\n", optarg);
                return 2;
            }
            break;
        case O_HBM: case O_CPU: {
            double *v = ch == O_HBM ? &o.budget.hbm : &o.budget.cpu;
            bool *f = ch == O_HBM ? &o.budget.hbm_frac : &o.budget.cpu_frac;
            if (hmt_parse_amount(optarg, v, f) < 0) {
                fprintf(stderr, "hmt analyze: bad --%s %s (a fraction 0..1 like 0.3 or 30%%, or a size with "
                        "a unit like 512M, 2G or 2048B)\n",
                        ch == O_HBM ? "hbm" : "cpu", optarg);
                return 2;
            }
            break;
        }
        case O_PER:
            if (strcmp(optarg, "tensor") && strcmp(optarg, "module")) {
                fprintf(stderr, "hmt analyze: unknown --per %s (tensor, module)\n", optarg);
                return 2;
            }
            o.per_module = strcmp(optarg, "module") == 0;
            break;
        case O_COMPARE: o.compare = optarg; break;
        case O_FLAT: o.flat = true; break;
        case 'o':
            o.out = optarg;
            rep = strcmp(optarg, "-") == 0 ? stderr : stdout;
            break;
        case 'q': o.quiet = true; break;
        case 'h': fputs(usage, stdout); return 0;
        case ':': return usage_error(true, argv);
        default: return usage_error(false, argv);
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "hmt analyze: no CHECKPOINT given (see hmt analyze --help)\n");
        return 2;
    }
    char err[1024];
    hmt_ckpt *c = NULL;
    int rc = hmt_ckpt_open(argv + optind, argc - optind, &c, err, sizeof(err));
    bool cmp_json = o.compare && is_json(o.compare);
    const char *fim = o.fim ? o.fim : (o.compare && !cmp_json ? o.compare : NULL);
    if (rc == 0 && o.fim && o.compare && !cmp_json && strcmp(o.fim, o.compare) != 0)
        rc = hmt_errf(err, sizeof(err), -EINVAL, "give one Fisher dump: --fim %s and --compare %s differ", o.fim, o.compare);
    if (rc == 0 && fim)
        rc = hmt_ckpt_load_fim(c, fim, err, sizeof(err));
    if (rc == 0 && o.signal == HMT_SIG_FIM && !c->has_fim)
        rc = hmt_errf(err, sizeof(err), -EINVAL, "--signal fim needs --fim FILE (a Fisher dump)");
    if (rc == 0 && hmt_signal_needs_optimizer(o.signal) && !c->has_optimizer)
        rc = hmt_errf(err, sizeof(err), -EINVAL,
                      "%s: no optimizer state found; --signal %s needs it (or use --signal magnitude / fim)",
                      c->weights_path, hmt_signal_name(o.signal));
    if (rc < 0) {
        fprintf(stderr, "hmt analyze: %s\n", err);
        hmt_ckpt_free(c);
        return 1;
    }
    size_t missing = 0;
    for (size_t i = 0; i < c->np; i++)
        missing += hmt_signal_needs_optimizer(o.signal) ? !c->p[i].has_state
                   : o.signal == HMT_SIG_FIM ? !c->p[i].has_fim : 0;
    if (missing)
        fprintf(stderr, "hmt analyze: warning: %zu tensors have no %s data (buffers or frozen); scored 0\n",
                missing, o.signal == HMT_SIG_FIM ? "Fisher" : "optimizer");
    double *score = calloc(c->np ? c->np : 1, sizeof(double));
    hmt_tier *tier = calloc(c->np ? c->np : 1, sizeof(hmt_tier));
    if (!score || !tier)
        rc = hmt_errf(err, sizeof(err), -ENOMEM, "out of memory");
    if (rc == 0)
        rc = score_and_assign(c, &o, o.signal, score, tier, err, sizeof(err));
    hmt_run run = {.checkpoints = argv + optind, .ncheckpoints = argc - optind, .signal = o.signal,
                   .by = o.by, .per_module = o.per_module, .budget = o.budget,
                   .param_tier = tier, .param_score = score};
    if (rc == 0)
        rc = hmt_hints_write(c, &run, o.out, o.flat, err, sizeof(err));
    if (rc == 0 && !o.quiet) {
        print_table(c, &o, score, tier);
        fprintf(rep, "wrote %s (%s)\n", strcmp(o.out, "-") ? o.out : "stdout",
                o.flat ? "flat module map" : "hmt-tier-hints v1");
    }
    if (rc == 0 && o.compare)
        rc = cmp_json ? compare_hints(c, o.compare, tier, err, sizeof(err))
                      : compare_fim(c, &o, tier, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "hmt analyze: %s\n", err);
    free(score);
    free(tier);
    hmt_ckpt_free(c);
    return rc < 0 ? 1 : 0;
}
