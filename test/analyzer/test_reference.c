/* test_reference.c — every statistic the analyzer computes on the real checkpoints equals
 * the float64 PyTorch reference (test/data/<ckpt>/reference.json) to relative 1e-5: per
 * parameter and per module, the optimizer index -> name mapping, and the Adam-vs-Fisher
 * Spearman correlations per parameter and per module.
 * usage: test_reference <test/data> <nanogpt-small|hf-small>
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "analyze.h"
#include "test_util.h"

static void close_to(const char *what, const char *name, double got, double want)
{
    double tol = 1e-5 * fabs(want);
    CHECK(fabs(got - want) <= tol || (want == 0 && fabs(got) < 1e-300),
          "%s of %s: got %.17g want %.17g", what, name, got, want);
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v)) {
        fprintf(stderr, "FAIL reference lacks %s\n", k);
        failures++;
        return NAN;
    }
    return v->valuedouble;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s DATA_DIR nanogpt-small|hf-small\n", argv[0]);
        return 1;
    }
    char dir[4096], ref[4200], fim[4200], ck[4200];
    snprintf(dir, sizeof(dir), "%s/%s", argv[1], argv[2]);
    snprintf(ref, sizeof(ref), "%s/reference.json", dir);
    snprintf(fim, sizeof(fim), "%s/fim.safetensors", dir);
    bool nano = strcmp(argv[2], "nanogpt-small") == 0;
    snprintf(ck, sizeof(ck), nano ? "%s/ckpt.pt" : "%s", dir);
    char *txt = slurp(ref, NULL);
    cJSON *r = txt ? cJSON_Parse(txt) : NULL;
    if (!r) {
        fprintf(stderr, "FAIL cannot read %s\n", ref);
        return 1;
    }
    char err[512];
    hmt_ckpt *c;
    char *paths[] = {ck};
    if (hmt_ckpt_open(paths, 1, &c, err, sizeof(err)) < 0) {
        fprintf(stderr, "FAIL open: %s\n", err);
        return 1;
    }
    if (hmt_ckpt_load_fim(c, fim, err, sizeof(err)) < 0) {
        fprintf(stderr, "FAIL fim: %s\n", err);
        return 1;
    }
    CHECK(strcmp(c->naming, "shape-match") == 0, "naming %s", c->naming);

    const cJSON *params = cJSON_GetObjectItemCaseSensitive(r, "params");
    CHECK((size_t)cJSON_GetArraySize(params) == c->np, "param count %zu vs %d", c->np,
          cJSON_GetArraySize(params));
    const cJSON *p;
    cJSON_ArrayForEach(p, params) {
        const char *name = p->string;
        size_t i;
        for (i = 0; i < c->np; i++)
            if (strcmp(c->p[i].w->name, name) == 0)
                break;
        if (i == c->np) {
            CHECK(0, "parameter %s missing", name);
            continue;
        }
        const hmt_param *q = &c->p[i];
        CHECK(q->has_state && q->has_fim, "%s lacks state or fim", name);
        CHECK((double)q->w->numel == num(p, "numel"), "numel of %s", name);
        CHECK((double)q->w->nbytes == num(p, "bytes"), "bytes of %s", name);
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(p, "shape");
        CHECK(cJSON_GetArraySize(sh) == q->w->ndim, "ndim of %s", name);
        for (int d = 0; d < q->w->ndim && d < cJSON_GetArraySize(sh); d++)
            CHECK(cJSON_GetArrayItem(sh, d)->valuedouble == (double)q->w->shape[d], "shape of %s", name);
        CHECK((double)q->opt_index == num(p, "optimizer_index"), "optimizer index of %s: %ld", name,
              q->opt_index);
        close_to("step", name, q->s.step, num(p, "step"));
        close_to("mean_exp_avg_sq", name, q->s.mean_exp_avg_sq, num(p, "mean_exp_avg_sq"));
        close_to("mean_abs_exp_avg", name, q->s.mean_abs_exp_avg, num(p, "mean_abs_exp_avg"));
        close_to("mean_sqrt_exp_avg_sq", name, q->s.mean_sqrt_exp_avg_sq, num(p, "mean_sqrt_exp_avg_sq"));
        close_to("knlp_score", name, q->s.knlp_score, num(p, "knlp_score"));
        close_to("mean_abs_weight", name, q->s.mean_abs_weight, num(p, "mean_abs_weight"));
        close_to("bitter7_mean", name, q->s.bitter7_mean, num(p, "bitter7_mean"));
        close_to("fim_mean", name, q->s.fim_mean, num(p, "fim_mean"));
        close_to("fim_sum", name, q->s.fim_sum, num(p, "fim_sum"));
        /* the signals are these statistics */
        close_to("adam score", name, hmt_param_score(c, i, HMT_SIG_ADAM), num(p, "mean_exp_avg_sq"));
        close_to("knlp score", name, hmt_param_score(c, i, HMT_SIG_ADAM_KNLP), num(p, "knlp_score"));
        close_to("bitter7 score", name, hmt_param_score(c, i, HMT_SIG_BITTER7), num(p, "bitter7_mean"));
        close_to("magnitude score", name, hmt_param_score(c, i, HMT_SIG_MAGNITUDE), num(p, "mean_abs_weight"));
        close_to("fim score", name, hmt_param_score(c, i, HMT_SIG_FIM), num(p, "fim_mean"));
    }

    /* index -> name, for every index */
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(r, "optimizer_index_to_name"), *e;
    int mapped = 0;
    cJSON_ArrayForEach(e, map) {
        long k = strtol(e->string, NULL, 10);
        size_t i;
        for (i = 0; i < c->np; i++)
            if (c->p[i].opt_index == k)
                break;
        CHECK(i < c->np && strcmp(c->p[i].w->name, e->valuestring) == 0,
              "optimizer index %ld should name %s", k, e->valuestring);
        mapped++;
    }
    CHECK(mapped == 28, "mapping has %d entries", mapped);

    /* tied lm_head: one tensor, lm_head.weight an alias where the file names it */
    const cJSON *tied = cJSON_GetObjectItemCaseSensitive(r, "tied");
    CHECK(cJSON_GetArraySize(tied) == 2, "tied list");
    if (nano) {
        CHECK(c->weights->n == 29 && c->np == 28, "nanoGPT: 29 keys, 28 tensors (got %zu, %zu)",
              c->weights->n, c->np);
        CHECK(c->p[0].naliases == 1 && strcmp(c->p[0].aliases[0], "lm_head.weight") == 0,
              "lm_head.weight is an alias of transformer.wte.weight");
    } else {
        CHECK(c->weights->n == 28 && c->np == 28, "HF: lm_head left out of model.safetensors");
    }

    const cJSON *mods = cJSON_GetObjectItemCaseSensitive(r, "modules"), *m;
    CHECK((size_t)cJSON_GetArraySize(mods) == c->nm, "module count %zu", c->nm);
    double *a = calloc(c->np + c->nm, sizeof(double)), *b = calloc(c->np + c->nm, sizeof(double));
    cJSON_ArrayForEach(m, mods) {
        size_t j;
        for (j = 0; j < c->nm; j++)
            if (strcmp(c->m[j].name, m->string) == 0)
                break;
        if (j == c->nm) {
            CHECK(0, "module %s missing", m->string);
            continue;
        }
        const hmt_module *q = &c->m[j];
        CHECK((double)q->bytes == num(m, "bytes"), "bytes of module %s", m->string);
        close_to("module mean_exp_avg_sq", m->string, q->s.mean_exp_avg_sq, num(m, "mean_exp_avg_sq"));
        close_to("module knlp_score", m->string, hmt_module_score(c, j, HMT_SIG_ADAM_KNLP), num(m, "knlp_score"));
        close_to("module bitter7_mean", m->string, hmt_module_score(c, j, HMT_SIG_BITTER7), num(m, "bitter7_mean"));
        close_to("module mean_abs_weight", m->string, hmt_module_score(c, j, HMT_SIG_MAGNITUDE), num(m, "mean_abs_weight"));
        close_to("module fim_mean", m->string, hmt_module_score(c, j, HMT_SIG_FIM), num(m, "fim_mean"));
    }
    for (size_t i = 0; i < c->np; i++) {
        a[i] = hmt_param_score(c, i, HMT_SIG_ADAM);
        b[i] = hmt_param_score(c, i, HMT_SIG_FIM);
    }
    close_to("spearman", "parameters", hmt_spearman(a, b, c->np), num(r, "spearman_param_adam_vs_fim"));
    for (size_t j = 0; j < c->nm; j++) {
        a[j] = hmt_module_score(c, j, HMT_SIG_ADAM);
        b[j] = hmt_module_score(c, j, HMT_SIG_FIM);
    }
    close_to("spearman", "modules", hmt_spearman(a, b, c->nm), num(r, "spearman_module_adam_vs_fim"));
    free(a);
    free(b);
    hmt_ckpt_free(c);
    cJSON_Delete(r);
    free(txt);
    if (failures) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    printf("ok: %s matches reference.json\n", argv[2]);
    return 0;
}
