/* test_assign.c — the documented assignment rules (analyzer/README.md): by bytes, rank
 * order with ties kept in state-dict order, and an item bigger than a tier's remainder
 * closing that tier (monotone); by count (cumulative, the seed implementation) vs
 * count-share (the seed prose); budget parsing; Spearman with tied ranks.
 * usage: test_assign
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analyze.h"
#include "test_util.h"

static void tiers_are(const char *what, const hmt_tier *got, const char *want, size_t n)
{
    char s[64] = "";
    for (size_t i = 0; i < n; i++)
        s[i] = hmt_tier_name(got[i])[0];
    s[n] = 0;
    CHECK(strcmp(s, want) == 0, "%s: tiers %s, want %s", what, s, want);
}

int main(void)
{
    char err[256];
    hmt_tier t[16];

    /* bytes: HBM 30 B, CPU 40 B; the 50-byte item closes HBM (10 left) and CPU (40 left) */
    hmt_item a[] = {{5, 10, 0}, {4, 10, 1}, {3, 50, 2}, {2, 10, 3}, {1, 10, 4}};
    hmt_budget abs = {30, 40, false, false};
    CHECK(hmt_assign(a, 5, HMT_BY_BYTES, &abs, t, err, sizeof(err)) == 0, "%s", err);
    tiers_are("oversize closes tiers", t, "HHSSS", 5);
    /* with room in CPU it goes there, and later items follow it, never back to HBM */
    hmt_budget roomy = {30, 60, false, false};
    hmt_assign(a, 5, HMT_BY_BYTES, &roomy, t, err, sizeof(err));
    tiers_are("monotone", t, "HHCCS", 5);
    /* fractions of the total (90 B): 0.25 -> 22 B of HBM, 0.5 -> 45 B of CPU */
    hmt_budget frac = {0.25, 0.5, true, true};
    hmt_assign(a, 5, HMT_BY_BYTES, &frac, t, err, sizeof(err));
    tiers_are("fractions", t, "HHSSS", 5);
    /* scores need not come sorted; ties keep state-dict order */
    hmt_item tie[] = {{1, 10, 2}, {1, 10, 0}, {1, 10, 1}, {2, 10, 3}};
    hmt_budget two = {20, 10, false, false};
    hmt_assign(tie, 4, HMT_BY_BYTES, &two, t, err, sizeof(err));
    tiers_are("ties by order", t, "SHCH", 4);
    /* zero items */
    CHECK(hmt_assign(a, 0, HMT_BY_BYTES, &abs, t, err, sizeof(err)) == 0, "empty");

    /* count (cumulative) vs count-share, 10 items, defaults 0.3 / 0.5 */
    hmt_item ten[10];
    for (int i = 0; i < 10; i++)
        ten[i] = (hmt_item){10 - i, 1000, (size_t)i};
    hmt_budget def = {0.3, 0.5, true, true};
    hmt_assign(ten, 10, HMT_BY_COUNT, &def, t, err, sizeof(err));
    tiers_are("count 30/20/50", t, "HHHCCSSSSS", 10);
    hmt_assign(ten, 10, HMT_BY_COUNT_SHARE, &def, t, err, sizeof(err));
    tiers_are("count-share 30/50/20", t, "HHHCCCCCSS", 10);
    hmt_budget inv = {0.5, 0.3, true, true};
    CHECK(hmt_assign(ten, 10, HMT_BY_COUNT, &inv, t, err, sizeof(err)) < 0 && strstr(err, "cumulative"),
          "count with cpu < hbm refused");
    hmt_budget over = {0.6, 0.5, true, true};
    CHECK(hmt_assign(ten, 10, HMT_BY_COUNT_SHARE, &over, t, err, sizeof(err)) < 0, "share sum > 1 refused");
    CHECK(hmt_assign(ten, 10, HMT_BY_COUNT, &abs, t, err, sizeof(err)) < 0, "count with sizes refused");

    /* budgets */
    struct { const char *s; double v; bool frac; int ok; } am[] = {
        {"0.3", 0.3, true, 1}, {"30%", 0.3, true, 1}, {"1", 1, true, 1}, {"512M", 536870912, false, 1},
        {"2G", 2147483648.0, false, 1}, {"1.5K", 1536, false, 1}, {"4KiB", 4096, false, 1},
        {"8kB", 8192, false, 1}, {"2048B", 2048, false, 1}, {"0", 0, true, 1},
        {"100", 0, 0, 0}, {"2", 0, 0, 0}, {"1.5B", 0, 0, 0}, {"B", 0, 0, 0}, {"abc", 0, 0, 0}, {"-1", 0, 0, 0},
        {"150%", 0, 0, 0}, {"5X", 0, 0, 0}, {"1.5", 0, 0, 0}, {"", 0, 0, 0}, {"3Gx", 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(am) / sizeof(*am); i++) {
        double v = -1;
        bool f = false;
        int rc = hmt_parse_amount(am[i].s, &v, &f);
        if (am[i].ok)
            CHECK(rc == 0 && fabs(v - am[i].v) < 1e-12 && f == am[i].frac, "amount %s -> %g %d", am[i].s, v, f);
        else
            CHECK(rc < 0, "amount \"%s\" should be refused", am[i].s);
    }

    /* Spearman: tied ranks averaged (scipy.stats.spearmanr gives 0.9486832980505138) */
    double x[] = {1, 2, 2, 3}, y[] = {1, 2, 3, 4}, z[] = {4, 3, 2, 1}, c[] = {1, 1, 1, 1};
    CHECK(fabs(hmt_spearman(x, y, 4) - 0.9486832980505138) < 1e-15, "ties: %.17g", hmt_spearman(x, y, 4));
    CHECK(hmt_spearman(y, z, 4) == -1, "reversed");
    CHECK(isnan(hmt_spearman(y, c, 4)) && isnan(hmt_spearman(y, y, 1)), "undefined -> NaN");

    if (failures) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    printf("ok: assignment rules\n");
    return 0;
}
