/* assign.c — tier assignment and rank correlation.
 *
 * Items (tensors or modules) are ranked by score, highest first; equal scores keep
 * state-dict order, so results are deterministic. Three rules (analyzer/README.md):
 *  - bytes: HBM then CPU are filled in rank order up to their byte budgets. Assignment is
 *    monotone in rank: an item that does not fit in what is left of a tier closes that tier
 *    (and goes to the next one that fits), so no item ever sits in a faster tier than a
 *    higher-ranked one; the leftover of a closed tier stays unused.
 *  - count (the seed implementation): rank r of N -> HBM if r < N*hbm, CPU if r < N*cpu,
 *    else SSD: cumulative thresholds, defaults 0.3/0.5 give 30% / 20% / 50%.
 *  - count-share (the seed's prose "top 30%, next 50%, bottom 20%"): cpu is the CPU tier's
 *    own share: r < N*hbm -> HBM, r < N*(hbm+cpu) -> CPU, else SSD.
 */
#define _GNU_SOURCE     /* qsort_r: no global comparator state */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "internal.h"

static const char *const tier_names[HMT_TIER_COUNT] = {"HBM", "CPU", "SSD"};

const char *hmt_tier_name(hmt_tier t)
{
    return (unsigned)t < HMT_TIER_COUNT ? tier_names[t] : "?";
}

int hmt_tier_parse(const char *s, hmt_tier *out)
{
    for (int i = 0; i < HMT_TIER_COUNT; i++)
        if (strcmp(s, tier_names[i]) == 0) {
            *out = (hmt_tier)i;
            return 0;
        }
    return -EINVAL;
}

const char *hmt_by_name(hmt_by b)
{
    return b == HMT_BY_BYTES ? "bytes" : b == HMT_BY_COUNT ? "count" : "count-share";
}

int hmt_parse_amount(const char *s, double *val, bool *is_frac)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v) || v < 0)
        return -EINVAL;
    if (*end == '%' && !end[1]) {
        *val = v / 100;
        *is_frac = true;
        return *val <= 1 ? 0 : -EINVAL;
    }
    if (!*end) {
        /* A bare number is a fraction, so at most 1. A bare byte count was accepted once,
         * but "--hbm 2" meaning two bytes (next to "--hbm 1" meaning all) surprised users:
         * a byte count needs its B. */
        *val = v;
        *is_frac = true;
        return v <= 1 ? 0 : -EINVAL;
    }
    if (toupper((unsigned char)end[0]) == 'B' && !end[1]) {
        *val = v;
        *is_frac = false;
        return v == floor(v) ? 0 : -EINVAL;
    }
    static const char units[] = "KMGT";
    const char *u = strchr(units, toupper((unsigned char)end[0])), *rest = end + 1;
    if (!u || (*rest && strcmp(rest, "B") != 0 && strcmp(rest, "iB") != 0))
        return -EINVAL;
    *val = floor(v * pow(1024, (double)(u - units + 1)));
    *is_frac = false;
    return 0;
}

static int cmp_rank(const void *a, const void *b, void *ctx)
{
    const hmt_item *items = ctx;
    const hmt_item *x = &items[*(const size_t *)a], *y = &items[*(const size_t *)b];
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

int hmt_assign(const hmt_item *items, size_t n, hmt_by by, const hmt_budget *b, hmt_tier *tier,
               char *err, size_t errlen)
{
    if (b->hbm < 0 || b->cpu < 0 || (by != HMT_BY_BYTES && (!b->hbm_frac || !b->cpu_frac)))
        return hmt_errf(err, errlen, -EINVAL, "--by count takes fractions for --hbm and --cpu");
    if (by == HMT_BY_COUNT && b->cpu < b->hbm)
        return hmt_errf(err, errlen, -EINVAL,
                        "--by count: --cpu is a cumulative fraction and must be >= --hbm (use --by count-share for each tier's own share)");
    if (by == HMT_BY_COUNT_SHARE && b->hbm + b->cpu > 1 + 1e-12)
        return hmt_errf(err, errlen, -EINVAL, "--by count-share: --hbm + --cpu exceeds 1");
    size_t *idx = malloc((n ? n : 1) * sizeof(*idx));
    if (!idx)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    qsort_r(idx, n, sizeof(*idx), cmp_rank, (void *)items);
    if (by == HMT_BY_BYTES) {
        uint64_t total = 0;
        for (size_t i = 0; i < n; i++)
            total += items[i].bytes;
        double left[2] = {b->hbm_frac ? floor(b->hbm * (double)total) : b->hbm,
                          b->cpu_frac ? floor(b->cpu * (double)total) : b->cpu};
        int open = HMT_TIER_HBM;
        for (size_t r = 0; r < n; r++) {
            const hmt_item *it = &items[idx[r]];
            while (open < HMT_TIER_SSD && (double)it->bytes > left[open])
                open++;
            tier[idx[r]] = (hmt_tier)open;
            if (open < HMT_TIER_SSD)
                left[open] -= (double)it->bytes;
        }
    } else {
        double h = (double)n * b->hbm,
               c = (double)n * (by == HMT_BY_COUNT ? b->cpu : b->hbm + b->cpu);
        for (size_t r = 0; r < n; r++)
            tier[idx[r]] = (double)r < h ? HMT_TIER_HBM : (double)r < c ? HMT_TIER_CPU : HMT_TIER_SSD;
    }
    free(idx);
    return 0;
}

static int cmp_val(const void *a, const void *b, void *ctx)
{
    const double *v = ctx;
    double x = v[*(const size_t *)a], y = v[*(const size_t *)b];
    return x < y ? -1 : x > y;
}

/* Average ranks (1-based) so ties share the mean of their positions. */
static int ranks(const double *v, size_t n, double *r)
{
    size_t *idx = malloc(n * sizeof(*idx));
    if (!idx)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    qsort_r(idx, n, sizeof(*idx), cmp_val, (void *)v);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && v[idx[j + 1]] == v[idx[i]])
            j++;
        double avg = (double)(i + j) / 2 + 1;
        for (size_t k = i; k <= j; k++)
            r[idx[k]] = avg;
        i = j + 1;
    }
    free(idx);
    return 0;
}

double hmt_spearman(const double *x, const double *y, size_t n)
{
    if (n < 2)
        return NAN;
    double *rx = malloc(n * sizeof(double)), *ry = malloc(n * sizeof(double));
    double res = NAN;
    if (rx && ry && ranks(x, n, rx) == 0 && ranks(y, n, ry) == 0) {
        double mx = 0, my = 0;
        for (size_t i = 0; i < n; i++) {
            mx += rx[i];
            my += ry[i];
        }
        mx /= (double)n;
        my /= (double)n;
        double sxy = 0, sxx = 0, syy = 0;
        for (size_t i = 0; i < n; i++) {
            sxy += (rx[i] - mx) * (ry[i] - my);
            sxx += (rx[i] - mx) * (rx[i] - mx);
            syy += (ry[i] - my) * (ry[i] - my);
        }
        if (sxx > 0 && syy > 0)
            res = sxy / sqrt(sxx * syy);
    }
    free(rx);
    free(ry);
    return res;
}
