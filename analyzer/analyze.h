/* analyze.h — the analyzer proper, shared by hmt-analyze (main.c) and the tests:
 * opening a checkpoint with its optimizer state named by parameter, float64 statistics per
 * tensor and module, the importance signals, tier assignment, fingerprints, Spearman rank
 * correlation, and writing/reading tier_hints.json (hints/HINTS.md is the format's spec).
 *
 * Thread-safety: no global state; an hmt_ckpt is not to be shared between threads while
 * being opened or freed. Errors are one line naming file and tensor.
 */
#ifndef HMT_ANALYZER_ANALYZE_H
#define HMT_ANALYZER_ANALYZE_H

#include <stdbool.h>
#include <stdint.h>

#include "ckpt.h"

typedef enum hmt_tier { HMT_TIER_HBM, HMT_TIER_CPU, HMT_TIER_SSD, HMT_TIER_COUNT } hmt_tier;
const char *hmt_tier_name(hmt_tier t);
int hmt_tier_parse(const char *s, hmt_tier *out);   /* "HBM"/"CPU"/"SSD"; -EINVAL */

typedef enum hmt_signal {
    HMT_SIG_ADAM, HMT_SIG_ADAM_KNLP, HMT_SIG_FIM, HMT_SIG_BITTER7, HMT_SIG_MAGNITUDE,
    HMT_SIG_COUNT
} hmt_signal;
const char *hmt_signal_name(hmt_signal s);
int hmt_signal_parse(const char *s, hmt_signal *out);
bool hmt_signal_needs_optimizer(hmt_signal s);

/* Float64 statistics of one parameter (definitions as in test/data/ * /reference.json). */
typedef struct hmt_stats {
    double mean_exp_avg_sq;         /* mean(v) */
    double mean_abs_exp_avg;        /* mean(|m|) */
    double mean_sqrt_exp_avg_sq;    /* mean(sqrt(v)) */
    double knlp_score;              /* mean|m| + mean sqrt(v) (the seed implementation) */
    double mean_abs_weight;         /* mean(|w|) */
    double bitter7_mean;            /* mean(|w| * (|v| + 1e-8)^0.25) */
    double fim_mean, fim_sum;       /* of the Fisher dump (g^2 averaged over batches) */
    double step;
} hmt_stats;

typedef struct hmt_param {
    const hmt_tensor *w;            /* the weight, inside the checkpoint's weight set */
    size_t order;                   /* index of w in state-dict order */
    char *module;                   /* name minus its last component */
    const char **aliases;           /* other state-dict keys naming the same tensor (tied) */
    size_t naliases;
    bool has_state;                 /* optimizer state found for this parameter */
    long opt_index;                 /* its index in the optimizer state, -1 if none/named */
    hmt_tensor exp_avg, exp_avg_sq;
    bool has_fim;
    hmt_tensor fim;
    hmt_stats s;
} hmt_param;

typedef struct hmt_module {
    char *name;
    size_t *params;                 /* indices into hmt_ckpt.p */
    size_t nparams;
    uint64_t bytes;                 /* sum of stored bytes */
    hmt_stats s;                    /* unweighted mean over params (knlp semantics) */
} hmt_module;

typedef struct hmt_ckpt hmt_ckpt;
struct hmt_ckpt {
    hmt_tensor_set *weights;
    hmt_param *p;                   /* unique tensors in state-dict order (tied keys merged) */
    size_t np;
    hmt_module *m;                  /* modules in order of first appearance */
    size_t nm;
    const char *weights_path, *optimizer_path, *fim_path;
    bool has_optimizer, has_fim;
    const char *naming;             /* "param_names", "shape-match" or "dump" */
    void *priv;
};

/* Opens one checkpoint given as 1+ paths: a nanoGPT ckpt.pt; a HF directory (weights
 * plus optimizer.pt if present); a bare optimizer.pt plus a weights file; a
 * dump_optimizer.py safetensors. Names optimizer state (param_names, else shape matching;
 * ambiguity is an error). Computes statistics; non-finite values are errors. */
int hmt_ckpt_open(char *const *paths, int npaths, hmt_ckpt **out, char *err, size_t errlen);
/* Loads a Fisher dump (safetensors, names as the weights) and computes fim stats. */
int hmt_ckpt_load_fim(hmt_ckpt *c, const char *path, char *err, size_t errlen);
void hmt_ckpt_free(hmt_ckpt *c);

/* Score of parameter i / module j under a signal (module = unweighted mean of its params). */
double hmt_param_score(const hmt_ckpt *c, size_t i, hmt_signal s);
double hmt_module_score(const hmt_ckpt *c, size_t j, hmt_signal s);

/* ---- assignment (assign.c) ---- */
typedef enum hmt_by {
    HMT_BY_BYTES,           /* budgets in bytes, --hbm / --cpu each a tier's own size */
    HMT_BY_COUNT,           /* seed implementation: cumulative fractions (0.3/0.5 -> 30/20/50) */
    HMT_BY_COUNT_SHARE,     /* seed prose: each tier's own share (0.3/0.5 -> 30/50/20) */
} hmt_by;
const char *hmt_by_name(hmt_by b);

typedef struct hmt_budget {
    double hbm, cpu;        /* fraction (<= 1 and is_frac) or bytes */
    bool hbm_frac, cpu_frac;
} hmt_budget;

/* Parses a fraction ("0.3", "1", "30%": a bare number must be <= 1) or a size ("512M",
 * "2G", "4KiB", "2048B": K/M/G/T = 2^10..2^40; a byte count needs its B). -EINVAL else. */
int hmt_parse_amount(const char *s, double *val, bool *is_frac);

typedef struct hmt_item {
    double score;
    uint64_t bytes;
    size_t order;
} hmt_item;

/* Assigns tiers to n items (writes tier[i]); see analyzer/README.md for the rules. */
int hmt_assign(const hmt_item *items, size_t n, hmt_by by, const hmt_budget *b, hmt_tier *tier,
               char *err, size_t errlen);

/* Spearman rank correlation with average ranks for ties (NaN if n < 2 or constant). */
double hmt_spearman(const double *x, const double *y, size_t n);

/* ---- fingerprints (fingerprint.c), per include/hmt/hints.h ---- */
uint64_t hmt_fingerprint(const void *bytes, uint64_t n);
/* Fingerprint of t's contiguous bytes in dtype `to` (to == t->dtype: stored bytes). */
int hmt_tensor_fingerprint(const hmt_tensor *t, hmt_dtype to, uint64_t *fp);

/* ---- tier_hints.json (hints_write.c / hints_read.c) ---- */
typedef struct hmt_run {
    char *const *checkpoints;
    int ncheckpoints;
    hmt_signal signal;
    hmt_by by;
    bool per_module;
    hmt_budget budget;
    hmt_tier *param_tier;           /* per hmt_ckpt.p */
    double *param_score;
} hmt_run;

/* Writes the versioned format (flat == false) or the seed's flat {module: tier} map to
 * `path`: "-" is stdout; an existing device or FIFO is written into; a symlink is written
 * through (the link stays); a regular or new file is replaced atomically (temp + rename).
 * Errors (-errno) name `path`. */
int hmt_hints_write(const hmt_ckpt *c, const hmt_run *r, const char *path, bool flat,
                    char *err, size_t errlen);

typedef struct hmt_hint_tensor {
    char *name, *module;
    hmt_tier tier;
    int64_t order;
    hmt_dtype dtype;
    int ndim;
    int64_t shape[HMT_MAX_DIMS];
    int64_t numel;
    uint64_t bytes;
    double score;
    uint64_t fp[HMT_DT_COUNT];      /* valid where fp_mask bit (1 << dtype) is set */
    unsigned fp_mask;
    char **aliases;
    size_t naliases;
} hmt_hint_tensor;

typedef struct hmt_hint_module {
    char *name;
    hmt_tier tier;
} hmt_hint_module;

typedef struct hmt_hints {
    bool flat;                      /* the seed's {module: tier} file */
    int version;
    char *signal, *by, *per;
    hmt_hint_tensor *t;
    size_t nt;
    hmt_hint_module *m;
    size_t nm;
} hmt_hints;

/* Parses either format from memory / a file; validates field types and values. */
int hmt_hints_parse(const char *buf, size_t len, hmt_hints **out, char *err, size_t errlen);
int hmt_hints_read(const char *path, hmt_hints **out, char *err, size_t errlen);
void hmt_hints_free(hmt_hints *h);

#endif
