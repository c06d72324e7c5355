/* optim.c — opening a checkpoint for analysis: weights, optimizer state named by
 * parameter, Fisher dumps, and the float64 statistics the signals are made of.
 *
 * PyTorch keys optimizer state by integer index in param-group order, not by name. Names
 * come from the groups' `param_names` (named optimizers, PyTorch >= 2.5) when present;
 * otherwise each group's sequence of state shapes is matched, in order, against the
 * model's parameters in state-dict order (tied duplicates merged, unmatched tensors such
 * as buffers skipped). Groups are subsequences of named_parameters order, so the model
 * order must be an interleaving of the groups: we count interleavings by dynamic
 * programming and accept exactly one. Zero or several is an error that says so; there is
 * never a silent guess.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analyze.h"
#include "internal.h"

#define ORIG_MOD "_orig_mod."
#define DP_MAX_STATES (64u << 20)

typedef struct ck_priv {
    hmt_torch_archive *opt;     /* optimizer archive (tensors point into it) */
    hmt_st_file *dump;          /* dump_optimizer.py file */
    hmt_st_file *fim;
    char *wpath, *opath, *fpath;
} ck_priv;

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static bool same_view(const hmt_tensor *a, const hmt_tensor *b)
{
    if (a->storage != b->storage || a->data != b->data || a->dtype != b->dtype ||
        a->ndim != b->ndim)
        return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d] || (a->shape[d] > 1 && a->stride[d] != b->stride[d]))
            return false;
    return true;
}

static bool same_shape(int nd, const int64_t *sh, const hmt_tensor *t)
{
    if (nd != t->ndim)
        return false;
    for (int d = 0; d < nd; d++)
        if (sh[d] != t->shape[d])
            return false;
    return true;
}

static const char *strip_orig(const char *s)
{
    return strncmp(s, ORIG_MOD, strlen(ORIG_MOD)) == 0 ? s + strlen(ORIG_MOD) : s;
}

static char *module_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot ? strndup(name, (size_t)(dot - name)) : strdup(name);
}

#define CHUNK 4096

/* Checks every element is finite; *sum receives the sum (float64, in element order). */
static int check_finite(const hmt_tensor *t, const char *path, const char *pname,
                        const char *what, double *sum, char *err, size_t errlen)
{
    double buf[CHUNK], s = 0;
    for (int64_t at = 0; at < t->numel; at += CHUNK) {
        int64_t n = t->numel - at < CHUNK ? t->numel - at : CHUNK;
        hmt_tensor_load_f64(t, at, n, buf);
        for (int64_t i = 0; i < n; i++) {
            if (!isfinite(buf[i]))
                return hmt_errf(err, errlen, -EINVAL, "%s: tensor %s: %s has %s at element %lld",
                                path, pname, what, isnan(buf[i]) ? "NaN" : "Inf", (long long)(at + i));
            s += buf[i];
        }
    }
    if (sum)
        *sum = s;
    return 0;
}

/* ---- shape matching ---- */

typedef struct dp {
    size_t G, M, S;
    size_t *len;                /* per group */
    const int64_t *const **shape;   /* [g][k] -> dims, NULL for unknown (no state) */
    const int **ndim;
    const hmt_param *mp;        /* model params */
    size_t *mult;               /* index strides into memo */
    uint8_t *memo;              /* 0xff unknown, else count capped at 2 */
    size_t *ptr;
} dp;

static bool dp_match(const dp *d, size_t g, size_t k, size_t i)
{
    const int64_t *sh = d->shape[g][k];
    if (!sh)
        return hmt_dtype_is_float(d->mp[i].w->dtype);   /* unknown: any float tensor */
    return same_shape(d->ndim[g][k], sh, d->mp[i].w);
}

static size_t dp_key(const dp *d, size_t skips)
{
    size_t key = skips * d->mult[d->G];
    for (size_t g = 0; g < d->G; g++)
        key += d->ptr[g] * d->mult[g];
    return key;
}

static unsigned dp_count(dp *d, size_t skips)
{
    size_t i = skips;
    for (size_t g = 0; g < d->G; g++)
        i += d->ptr[g];
    if (i == d->M) {
        for (size_t g = 0; g < d->G; g++)
            if (d->ptr[g] != d->len[g])
                return 0;
        return 1;
    }
    size_t key = dp_key(d, skips);
    if (d->memo[key] != 0xff)
        return d->memo[key];
    unsigned total = 0;
    for (size_t g = 0; g < d->G && total < 2; g++)
        if (d->ptr[g] < d->len[g] && dp_match(d, g, d->ptr[g], i)) {
            d->ptr[g]++;
            total += dp_count(d, skips);
            d->ptr[g]--;
        }
    if (total < 2 && skips < d->S)
        total += dp_count(d, skips + 1);
    if (total > 2)
        total = 2;
    d->memo[key] = (uint8_t)total;
    return total;
}

/* Fills owner[g][k] = model param index. Returns 0, or -EINVAL with the reason. */
static int shape_match(dp *d, size_t **owner, const char *path, char *err, size_t errlen)
{
    size_t total = 0, states = 1;
    for (size_t g = 0; g < d->G; g++)
        total += d->len[g];
    if (total > d->M)
        return hmt_errf(err, errlen, -EINVAL,
                        "%s: optimizer has %zu parameters but the model only %zu tensors: wrong weights file?",
                        path, total, d->M);
    d->S = d->M - total;
    d->mult = calloc(d->G + 1, sizeof(size_t));
    d->ptr = calloc(d->G + 1, sizeof(size_t));
    if (!d->mult || !d->ptr)
        return -ENOMEM;
    for (size_t g = 0; g < d->G; g++) {
        d->mult[g] = states;
        if (states > DP_MAX_STATES / (d->len[g] + 1))
            return hmt_errf(err, errlen, -E2BIG,
                            "%s: too many parameter groups to name optimizer state by shape; save with param_names or use hints/dump_optimizer.py",
                            path);
        states *= d->len[g] + 1;
    }
    d->mult[d->G] = states;
    if (states > DP_MAX_STATES / (d->S + 1))
        return hmt_errf(err, errlen, -E2BIG,
                        "%s: too many unmatched tensors to name optimizer state by shape; use hints/dump_optimizer.py",
                        path);
    d->memo = malloc(states * (d->S + 1));
    if (!d->memo)
        return -ENOMEM;
    memset(d->memo, 0xff, states * (d->S + 1));
    unsigned n = dp_count(d, 0);
    if (n == 0)
        return hmt_errf(err, errlen, -EINVAL,
                        "%s: optimizer state shapes do not match the model's parameters in order: wrong weights file, or groups not in parameter order",
                        path);
    if (n > 1)
        return hmt_errf(err, errlen, -EINVAL,
                        "%s: optimizer state matches the model's parameters in more than one way (ambiguous shapes); save with param_names or use hints/dump_optimizer.py",
                        path);
    /* Walk the unique solution. */
    size_t skips = 0;
    for (size_t i = 0; i < d->M; i++) {
        bool moved = false;
        for (size_t g = 0; g < d->G && !moved; g++)
            if (d->ptr[g] < d->len[g] && dp_match(d, g, d->ptr[g], i)) {
                d->ptr[g]++;
                if (dp_count(d, skips) == 1) {
                    owner[g][d->ptr[g] - 1] = i;
                    moved = true;
                } else {
                    d->ptr[g]--;
                }
            }
        if (!moved)
            skips++;
    }
    return 0;
}

/* ---- optimizer state ---- */

static int pv_shape(const pv *t, int *nd, const int64_t **sh)
{
    if (!t || t->kind != PV_TENSOR)
        return -EINVAL;
    *nd = t->ndim;
    *sh = t->shape;
    return 0;
}

static int read_step(hmt_torch_archive *a, const pv *v, const char *pname, double *out,
                     char *err, size_t errlen)
{
    *out = 0;
    if (!v)
        return 0;
    if (v->kind == PV_INT)
        *out = (double)v->i;
    else if (v->kind == PV_FLOAT)
        *out = v->f;
    else if (v->kind == PV_TENSOR) {
        hmt_tensor t;
        int rc = hmt_torch_tensor(a, v, pname, &t, err, errlen);
        if (rc < 0)
            return rc;
        if (t.numel != 1)
            return hmt_errf(err, errlen, -EINVAL, "%s: tensor %s: step is not a scalar",
                            hmt_torch_path(a), pname);
        *out = hmt_tensor_elem(&t, 0);
    }
    return 0;
}

/* Attaches state entry `st` (dict) of optimizer index k to param p. */
static int attach_state(hmt_torch_archive *a, const pv *st, long k, hmt_param *p, char *err,
                        size_t errlen)
{
    const char *path = hmt_torch_path(a), *name = p->w->name;
    const pv *m = hmt_pv_get(st, "exp_avg"), *v = hmt_pv_get(st, "exp_avg_sq");
    if (!v)
        return hmt_errf(err, errlen, -EINVAL,
                        "%s: tensor %s (optimizer index %ld): state has no exp_avg_sq (not an Adam optimizer?)",
                        path, name, k);
    int rc = hmt_torch_tensor(a, v, name, &p->exp_avg_sq, err, errlen);
    if (rc == 0 && m)
        rc = hmt_torch_tensor(a, m, name, &p->exp_avg, err, errlen);
    if (rc < 0)
        return rc;
    if (!m)
        return hmt_errf(err, errlen, -EINVAL, "%s: tensor %s: state has no exp_avg", path, name);
    if (!same_shape(p->exp_avg_sq.ndim, p->exp_avg_sq.shape, p->w) ||
        !same_shape(p->exp_avg.ndim, p->exp_avg.shape, p->w))
        return hmt_errf(err, errlen, -EINVAL, "%s: tensor %s: optimizer state shape differs from the weight's",
                        path, name);
    if ((rc = read_step(a, hmt_pv_get(st, "step"), name, &p->s.step, err, errlen)) < 0)
        return rc;
    p->has_state = true;
    p->opt_index = k;
    return 0;
}

static long find_param(const hmt_ckpt *c, const char *name)
{
    name = strip_orig(name);
    for (size_t i = 0; i < c->np; i++) {
        if (strcmp(c->p[i].w->name, name) == 0)
            return (long)i;
        for (size_t j = 0; j < c->p[i].naliases; j++)
            if (strcmp(c->p[i].aliases[j], name) == 0)
                return (long)i;
    }
    return -1;
}

static int load_torch_optimizer(hmt_ckpt *c, hmt_torch_archive *a, const pv *od, char *err,
                                size_t errlen)
{
    const char *path = hmt_torch_path(a);
    const pv *state = hmt_pv_get(od, "state"), *groups = hmt_pv_get(od, "param_groups");
    if (!state || state->kind != PV_DICT || !groups || groups->kind != PV_LIST)
        return hmt_errf(err, errlen, -EINVAL, "%s: optimizer state_dict lacks 'state' / 'param_groups'", path);
    size_t G = groups->n;
    int rc = 0;
    bool named = G > 0;
    for (size_t g = 0; g < G; g++) {
        const pv *gr = groups->items[g], *ps = hmt_pv_get(gr, "params"),
                 *pn = hmt_pv_get(gr, "param_names");
        if (!ps || ps->kind != PV_LIST)
            return hmt_errf(err, errlen, -EINVAL, "%s: param group %zu has no 'params' list", path, g);
        for (size_t k = 0; k < ps->n; k++)
            if (ps->items[k]->kind != PV_INT)
                return hmt_errf(err, errlen, -EINVAL, "%s: param group %zu: non-integer parameter id", path, g);
        if (!pn || pn->kind != PV_LIST || pn->n != ps->n)
            named = false;
        else
            for (size_t k = 0; k < pn->n; k++)
                if (pn->items[k]->kind != PV_STR)
                    named = false;
    }
    /* owner[g][k]: model param for the k-th id of group g */
    size_t **owner = calloc(G ? G : 1, sizeof(*owner));
    dp d = {.G = G, .M = c->np, .mp = c->p};
    d.len = calloc(G ? G : 1, sizeof(size_t));
    d.shape = calloc(G ? G : 1, sizeof(*d.shape));
    d.ndim = calloc(G ? G : 1, sizeof(*d.ndim));
    if (!owner || !d.len || !d.shape || !d.ndim) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t g = 0; g < G; g++) {
        const pv *ps = hmt_pv_get(groups->items[g], "params");
        d.len[g] = ps->n;
        owner[g] = calloc(ps->n ? ps->n : 1, sizeof(size_t));
        const int64_t **sh = calloc(ps->n ? ps->n : 1, sizeof(*sh));
        int *nd = calloc(ps->n ? ps->n : 1, sizeof(int));
        d.shape[g] = sh;
        d.ndim[g] = nd;
        if (!owner[g] || !sh || !nd) {
            rc = -ENOMEM;
            goto out;
        }
        for (size_t k = 0; k < ps->n; k++) {
            const pv *st = hmt_pv_geti(state, ps->items[k]->i);
            const pv *t = st ? hmt_pv_get(st, "exp_avg_sq") : NULL;
            if (!t && st)
                t = hmt_pv_get(st, "exp_avg");
            if (!t && st) /* other optimizers: the first tensor of the state */
                for (size_t j = 1; j < st->n && !t; j += 2)
                    if (st->items[j]->kind == PV_TENSOR && st->items[j]->ndim > 0)
                        t = st->items[j];
            if (t && pv_shape(t, &nd[k], &sh[k]) < 0)
                sh[k] = NULL;
        }
    }
    if (named) {
        c->naming = "param_names";
        for (size_t g = 0; g < G; g++) {
            const pv *pn = hmt_pv_get(groups->items[g], "param_names");
            for (size_t k = 0; k < pn->n; k++) {
                long i = find_param(c, pn->items[k]->s);
                if (i < 0) {
                    rc = hmt_errf(err, errlen, -EINVAL,
                                  "%s: optimizer names parameter %s, which the weights do not have",
                                  path, pn->items[k]->s);
                    goto out;
                }
                owner[g][k] = (size_t)i;
            }
        }
    } else {
        c->naming = "shape-match";
        const hmt_wset *ws = (const hmt_wset *)c->weights;
        if (ws->order_unknown) {
            /* Matching needs the model's parameter order; a name-sorted or sharded file
             * lost it, and same-shaped tensors (a LayerNorm's weight and bias) would swap
             * silently. */
            rc = hmt_errf(err, errlen, -EINVAL,
                          "%s: optimizer state has no param_names and %s stores tensors sorted by name or in shards (as the safetensors library writes them), so the parameter order that names the state is unknown: use the torch.save'd state dict, a named optimizer (PyTorch >= 2.5), or hints/dump_optimizer.py",
                          path, c->weights_path);
            goto out;
        }
        if ((rc = shape_match(&d, owner, path, err, errlen)) < 0)
            goto out;
    }
    for (size_t g = 0; g < G && rc == 0; g++) {
        const pv *ps = hmt_pv_get(groups->items[g], "params");
        for (size_t k = 0; k < ps->n && rc == 0; k++) {
            hmt_param *p = &c->p[owner[g][k]];
            if (p->has_state) {
                rc = hmt_errf(err, errlen, -EINVAL, "%s: tensor %s named twice in the optimizer",
                              path, p->w->name);
                break;
            }
            const pv *st = hmt_pv_geti(state, ps->items[k]->i);
            if (st)
                rc = attach_state(a, st, (long)ps->items[k]->i, p, err, errlen);
            else
                p->opt_index = (long)ps->items[k]->i;
        }
    }
out:
    for (size_t g = 0; g < G; g++) {
        if (owner)
            free(owner[g]);
        if (d.shape)
            free((void *)d.shape[g]);
        if (d.ndim)
            free((void *)d.ndim[g]);
    }
    free(owner);
    free(d.len);
    free(d.shape);
    free(d.ndim);
    free(d.mult);
    free(d.ptr);
    free(d.memo);
    return rc;
}

/* dump_optimizer.py: "<name>::exp_avg", "<name>::exp_avg_sq", "<name>::step". */
static int load_dump_optimizer(hmt_ckpt *c, hmt_st_file *f, const char *path, char *err,
                               size_t errlen)
{
    c->naming = "dump";
    for (size_t i = 0; i < hmt_st_count(f); i++) {
        hmt_tensor t;
        hmt_st_tensor(f, i, &t);
        const char *sep = strstr(t.name, "::");
        if (!sep)
            continue;
        char pname[1024];
        snprintf(pname, sizeof(pname), "%.*s", (int)(sep - t.name), t.name);
        long pi = find_param(c, pname);
        if (pi < 0)
            return hmt_errf(err, errlen, -EINVAL, "%s: state %s names a tensor the weights lack", path, t.name);
        hmt_param *p = &c->p[pi];
        const char *what = sep + 2;
        if (strcmp(what, "exp_avg") == 0 || strcmp(what, "exp_avg_sq") == 0) {
            if (!same_shape(t.ndim, t.shape, p->w))
                return hmt_errf(err, errlen, -EINVAL, "%s: tensor %s: %s shape differs from the weight's",
                                path, pname, what);
            t.name = p->w->name;
            if (strcmp(what, "exp_avg") == 0)
                p->exp_avg = t;
            else {
                p->exp_avg_sq = t;
                p->has_state = true;
            }
        } else if (strcmp(what, "step") == 0 && t.numel == 1) {
            p->s.step = hmt_tensor_elem(&t, 0);
        }
    }
    for (size_t i = 0; i < c->np; i++) {
        hmt_param *p = &c->p[i];
        if (p->exp_avg.data && !p->exp_avg_sq.data)
            return hmt_errf(err, errlen, -EINVAL, "%s: tensor %s: has exp_avg but no exp_avg_sq", path, p->w->name);
        if (p->has_state && !p->exp_avg.data)
            return hmt_errf(err, errlen, -EINVAL, "%s: tensor %s: has exp_avg_sq but no exp_avg", path, p->w->name);
    }
    return 0;
}

/* ---- statistics ---- */

/* One pass over weight, exp_avg and exp_avg_sq in chunks: finiteness checks and sums. */
static int compute_stats(hmt_ckpt *c, hmt_param *p, char *err, size_t errlen)
{
    const char *wp = c->weights_path, *op = c->optimizer_path, *name = p->w->name;
    int64_t n = p->w->numel;
    double bw[CHUNK], bm[CHUNK], bv[CHUNK];
    double sw = 0, sv = 0, sm = 0, ss = 0, sb = 0;
    bool st = p->has_state;
    for (int64_t at = 0; at < n; at += CHUNK) {
        int64_t k = n - at < CHUNK ? n - at : CHUNK;
        hmt_tensor_load_f64(p->w, at, k, bw);
        if (st) {
            hmt_tensor_load_f64(&p->exp_avg, at, k, bm);
            hmt_tensor_load_f64(&p->exp_avg_sq, at, k, bv);
        }
        for (int64_t i = 0; i < k; i++) {
            double w = bw[i];
            if (!isfinite(w))
                return hmt_errf(err, errlen, -EINVAL, "%s: tensor %s: weight has %s at element %lld",
                                wp, name, isnan(w) ? "NaN" : "Inf", (long long)(at + i));
            sw += fabs(w);
            if (!st)
                continue;
            double m = bm[i], v = bv[i];
            if (!isfinite(m) || !isfinite(v))
                return hmt_errf(err, errlen, -EINVAL, "%s: tensor %s: %s has %s at element %lld",
                                op, name, isfinite(m) ? "exp_avg_sq" : "exp_avg",
                                isnan(isfinite(m) ? v : m) ? "NaN" : "Inf", (long long)(at + i));
            if (v < 0)
                return hmt_errf(err, errlen, -EINVAL,
                                "%s: tensor %s: exp_avg_sq is negative at element %lld (corrupt?)",
                                op, name, (long long)(at + i));
            sv += v;
            sm += fabs(m);
            ss += sqrt(v);
            sb += fabs(w) * sqrt(sqrt(v + 1e-8));   /* (|v| + 1e-8)^0.25, v >= 0 */
        }
    }
    double dn = n ? (double)n : 1;
    p->s.mean_abs_weight = sw / dn;
    if (!st)
        return 0;
    p->s.mean_exp_avg_sq = sv / dn;
    p->s.mean_abs_exp_avg = sm / dn;
    p->s.mean_sqrt_exp_avg_sq = ss / dn;
    p->s.knlp_score = p->s.mean_abs_exp_avg + p->s.mean_sqrt_exp_avg_sq;
    p->s.bitter7_mean = sb / dn;
    return 0;
}

static void module_means(hmt_ckpt *c)
{
    for (size_t j = 0; j < c->nm; j++) {
        hmt_module *m = &c->m[j];
        hmt_stats s = {0};
        for (size_t k = 0; k < m->nparams; k++) {
            const hmt_stats *x = &c->p[m->params[k]].s;
            s.mean_exp_avg_sq += x->mean_exp_avg_sq;
            s.mean_abs_exp_avg += x->mean_abs_exp_avg;
            s.mean_sqrt_exp_avg_sq += x->mean_sqrt_exp_avg_sq;
            s.knlp_score += x->knlp_score;
            s.mean_abs_weight += x->mean_abs_weight;
            s.bitter7_mean += x->bitter7_mean;
            s.fim_mean += x->fim_mean;
            s.fim_sum += x->fim_sum;
            s.step += x->step;
        }
        double k = m->nparams ? (double)m->nparams : 1;
        s.mean_exp_avg_sq /= k;
        s.mean_abs_exp_avg /= k;
        s.mean_sqrt_exp_avg_sq /= k;
        s.knlp_score /= k;
        s.mean_abs_weight /= k;
        s.bitter7_mean /= k;
        s.fim_mean /= k;
        s.fim_sum /= k;
        s.step /= k;
        m->s = s;
    }
}

static int build_params(hmt_ckpt *c)
{
    const hmt_tensor_set *ws = c->weights;
    c->p = calloc(ws->n ? ws->n : 1, sizeof(*c->p));
    c->m = calloc(ws->n ? ws->n : 1, sizeof(*c->m));
    if (!c->p || !c->m)
        return -ENOMEM;
    for (size_t i = 0; i < ws->n; i++) {
        const hmt_tensor *t = &ws->t[i];
        size_t j;
        for (j = 0; j < c->np; j++)
            if (same_view(c->p[j].w, t))
                break;
        if (j < c->np) {        /* tied: another key for the same tensor */
            hmt_param *p = &c->p[j];
            const char **na = realloc(p->aliases, (p->naliases + 1) * sizeof(*na));
            if (!na)
                return -ENOMEM;
            p->aliases = na;
            p->aliases[p->naliases++] = t->name;
            continue;
        }
        hmt_param *p = &c->p[c->np];
        p->w = t;
        p->order = i;
        p->opt_index = -1;
        p->module = module_of(t->name);
        if (!p->module)
            return -ENOMEM;
        size_t k;
        for (k = 0; k < c->nm; k++)
            if (strcmp(c->m[k].name, p->module) == 0)
                break;
        if (k == c->nm) {
            c->m[k].name = strdup(p->module);
            if (!c->m[k].name)
                return -ENOMEM;
            c->nm++;
        }
        hmt_module *m = &c->m[k];
        size_t *np = realloc(m->params, (m->nparams + 1) * sizeof(*np));
        if (!np)
            return -ENOMEM;
        m->params = np;
        m->params[m->nparams++] = c->np;
        m->bytes += t->nbytes;
        c->np++;
    }
    return 0;
}

int hmt_ckpt_open(char *const *paths, int npaths, hmt_ckpt **out, char *err, size_t errlen)
{
    *out = NULL;
    hmt_ckpt *c = calloc(1, sizeof(*c));
    ck_priv *pr = calloc(1, sizeof(*pr));
    if (!c || !pr) {
        free(c);
        free(pr);
        return -ENOMEM;
    }
    c->priv = pr;
    int rc = 0;
    const pv *od = NULL;
    for (int i = 0; i < npaths && rc == 0; i++) {
        const char *p = paths[i];
        char *w = NULL, *o = NULL;
        if (!exists(p)) {
            rc = hmt_errf(err, errlen, -ENOENT, "%s: no such file or directory", p);
            break;
        }
        if (is_dir(p)) {
            w = strdup(p);
            char op[4096];
            snprintf(op, sizeof(op), "%s/optimizer.pt", p);
            if (exists(op))
                o = strdup(op);
        } else if (strlen(p) > 11 && strcmp(p + strlen(p) - 11, ".index.json") == 0) {
            w = strdup(p);      /* sharded safetensors weights */
        } else if (hmt_is_zip(p)) {
            hmt_torch_archive *a;
            if ((rc = hmt_torch_open(p, &a, err, errlen)) < 0)
                break;
            const pv *root = hmt_torch_root(a), *opt = hmt_pv_get(root, "optimizer");
            if (!opt && hmt_pv_get(root, "state") && hmt_pv_get(root, "param_groups"))
                opt = root;
            bool weights = hmt_pv_get(root, "model") || hmt_pv_get(root, "state_dict") ||
                           (root->kind == PV_DICT && root->n && root->items[1]->kind == PV_TENSOR);
            if (weights)
                w = strdup(p);
            if (opt && opt->kind == PV_DICT) {
                if (pr->opt || pr->dump) {
                    hmt_torch_unref(a);
                    rc = hmt_errf(err, errlen, -EINVAL, "%s: a second optimizer state (first: %s)", p, pr->opath);
                    break;
                }
                pr->opt = a;
                od = opt;
                o = strdup(p);
            } else {
                hmt_torch_unref(a);
            }
            if (!w && !o) {
                rc = hmt_errf(err, errlen, -EINVAL, "%s: holds neither model weights nor optimizer state", p);
                break;
            }
        } else {
            hmt_st_file *f;
            if ((rc = hmt_st_open(p, &f, err, errlen)) < 0)
                break;
            w = strdup(p);
            if (hmt_st_meta_format(f) && strcmp(hmt_st_meta_format(f), "hmt-optimizer-dump") == 0) {
                o = strdup(p);
                pr->dump = f;
            } else {
                hmt_st_unref(f);
            }
        }
        if (w) {
            if (pr->wpath) {
                rc = hmt_errf(err, errlen, -EINVAL, "%s: a second weights source (first: %s)", p, pr->wpath);
                free(w);
                free(o);
                break;
            }
            pr->wpath = w;
        }
        if (o) {
            if (pr->opath) {
                rc = hmt_errf(err, errlen, -EINVAL, "%s: a second optimizer state (first: %s)", p, pr->opath);
                free(o);
                break;
            }
            pr->opath = o;
        }
    }
    if (rc == 0 && !pr->wpath)
        rc = hmt_errf(err, errlen, -EINVAL, "%s: no model weights given (add the weights file)",
                      npaths ? paths[0] : "(no checkpoint)");
    if (rc == 0)
        rc = hmt_weights_load(pr->wpath, &c->weights, err, errlen);
    c->weights_path = pr->wpath;
    c->optimizer_path = pr->opath;
    if (rc == 0)
        rc = build_params(c);
    if (rc == 0 && pr->opath && !pr->opt && !pr->dump) { /* HF directory's optimizer.pt */
        if ((rc = hmt_torch_open(pr->opath, &pr->opt, err, errlen)) == 0) {
            od = hmt_torch_root(pr->opt);
            if (!hmt_pv_get(od, "state"))
                rc = hmt_errf(err, errlen, -EINVAL, "%s: not an optimizer state_dict", pr->opath);
        }
    }
    if (rc == 0 && pr->opt)
        rc = load_torch_optimizer(c, pr->opt, od, err, errlen);
    else if (rc == 0 && pr->dump)
        rc = load_dump_optimizer(c, pr->dump, pr->opath, err, errlen);
    c->has_optimizer = rc == 0 && (pr->opt || pr->dump);
    for (size_t i = 0; i < c->np && rc == 0; i++)
        rc = compute_stats(c, &c->p[i], err, errlen);
    if (rc == 0 && c->has_optimizer) {
        size_t with = 0;
        for (size_t i = 0; i < c->np; i++)
            with += c->p[i].has_state;
        if (!with)
            rc = hmt_errf(err, errlen, -EINVAL, "%s: optimizer holds no state (never stepped?)", pr->opath);
    }
    if (rc < 0) {
        hmt_ckpt_free(c);
        if (rc == -ENOMEM)
            hmt_errf(err, errlen, rc, "out of memory");
        return rc;
    }
    module_means(c);
    *out = c;
    return 0;
}

int hmt_ckpt_load_fim(hmt_ckpt *c, const char *path, char *err, size_t errlen)
{
    ck_priv *pr = c->priv;
    if (pr->fim)
        return hmt_errf(err, errlen, -EINVAL, "%s: a Fisher dump is already loaded", path);
    int rc = hmt_st_open(path, &pr->fim, err, errlen);
    if (rc < 0)
        return rc;
    pr->fpath = strdup(path);
    c->fim_path = pr->fpath;
    hmt_st_file *f = pr->fim;
    for (size_t i = 0; i < hmt_st_count(f); i++) {
        hmt_tensor t;
        hmt_st_tensor(f, i, &t);
        long pi = find_param(c, t.name);
        if (pi < 0)
            continue;           /* e.g. a buffer the weights do not list */
        hmt_param *p = &c->p[pi];
        if (!same_shape(t.ndim, t.shape, p->w))
            return hmt_errf(err, errlen, -EINVAL, "%s: tensor %s: Fisher shape differs from the weight's",
                            path, t.name);
        double s = 0;
        if ((rc = check_finite(&t, path, t.name, "Fisher value", &s, err, errlen)) < 0)
            return rc;
        p->fim = t;
        p->has_fim = true;
        p->s.fim_sum = s;
        p->s.fim_mean = t.numel ? s / (double)t.numel : 0;
    }
    size_t with = 0;
    for (size_t i = 0; i < c->np; i++)
        with += c->p[i].has_fim;
    if (!with)
        return hmt_errf(err, errlen, -EINVAL, "%s: no tensor of the Fisher dump names a model tensor", path);
    c->has_fim = true;
    module_means(c);
    return 0;
}

void hmt_ckpt_free(hmt_ckpt *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->np; i++) {
        free(c->p[i].module);
        free(c->p[i].aliases);
    }
    for (size_t j = 0; j < c->nm; j++) {
        free(c->m[j].name);
        free(c->m[j].params);
    }
    free(c->p);
    free(c->m);
    hmt_weights_free(c->weights);
    ck_priv *pr = c->priv;
    if (pr) {
        if (pr->opt)
            hmt_torch_unref(pr->opt);
        if (pr->dump)
            hmt_st_unref(pr->dump);
        if (pr->fim)
            hmt_st_unref(pr->fim);
        free(pr->wpath);
        free(pr->opath);
        free(pr->fpath);
        free(pr);
    }
    free(c);
}

/* ---- signals ---- */

static const char *const signal_names[HMT_SIG_COUNT] = {
    [HMT_SIG_ADAM] = "adam", [HMT_SIG_ADAM_KNLP] = "adam-knlp", [HMT_SIG_FIM] = "fim",
    [HMT_SIG_BITTER7] = "bitter7", [HMT_SIG_MAGNITUDE] = "magnitude",
};

const char *hmt_signal_name(hmt_signal s)
{
    return (unsigned)s < HMT_SIG_COUNT ? signal_names[s] : "?";
}

int hmt_signal_parse(const char *s, hmt_signal *out)
{
    for (int i = 0; i < HMT_SIG_COUNT; i++)
        if (strcmp(s, signal_names[i]) == 0) {
            *out = (hmt_signal)i;
            return 0;
        }
    return -EINVAL;
}

bool hmt_signal_needs_optimizer(hmt_signal s)
{
    return s == HMT_SIG_ADAM || s == HMT_SIG_ADAM_KNLP || s == HMT_SIG_BITTER7;
}

static double stat_of(const hmt_stats *x, hmt_signal s)
{
    switch (s) {
    case HMT_SIG_ADAM: return x->mean_exp_avg_sq;
    case HMT_SIG_ADAM_KNLP: return x->knlp_score;
    case HMT_SIG_FIM: return x->fim_mean;
    case HMT_SIG_BITTER7: return x->bitter7_mean;
    case HMT_SIG_MAGNITUDE: return x->mean_abs_weight;
    default: return 0;
    }
}

double hmt_param_score(const hmt_ckpt *c, size_t i, hmt_signal s)
{
    return stat_of(&c->p[i].s, s);
}

double hmt_module_score(const hmt_ckpt *c, size_t j, hmt_signal s)
{
    return stat_of(&c->m[j].s, s);
}
