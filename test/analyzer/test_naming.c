/* test_naming.c — optimizer state gets the right names, on torch.save archives built here
 * (pickle opcodes as torch.save emits them, zipped with libzip):
 *  - views: a transposed view and an offset view of shared storages read element-exactly;
 *    a second key for the same tensor (tied) becomes an alias, not a second tensor;
 *  - shape matching: one group in order; two interleaved groups (nanoGPT/HF style); a
 *    partial optimizer (frozen tensors skipped); ambiguous shapes and impossible shapes are
 *    errors that say so; param_names (PyTorch >= 2.5) win over shapes, in any order.
 * Each parameter's exp_avg_sq is filled with a value unique to it, so a wrong name shows.
 * usage: test_naming
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zip.h>

#include "analyze.h"
#include "test_util.h"

/* ---- a tiny pickle writer (protocol 2, the opcodes torch.save uses) ---- */
typedef struct buf {
    unsigned char *b;
    size_t n, cap;
} buf;

static void put(buf *p, const void *d, size_t n)
{
    if (p->n + n > p->cap) {
        p->cap = (p->n + n) * 2 + 64;
        p->b = realloc(p->b, p->cap);
    }
    memcpy(p->b + p->n, d, n);
    p->n += n;
}
static void op(buf *p, unsigned char c) { put(p, &c, 1); }
static void pstr(buf *p, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    op(p, 'X');
    put(p, &n, 4);
    put(p, s, n);
}
static void pint(buf *p, int32_t v)
{
    op(p, 'J');
    put(p, &v, 4);
}
static void pglobal(buf *p, const char *mod, const char *name)
{
    op(p, 'c');
    put(p, mod, strlen(mod));
    op(p, '\n');
    put(p, name, strlen(name));
    op(p, '\n');
}

/* torch._utils._rebuild_tensor_v2(storage('FloatStorage', key, numel), off, shape, stride) */
static void ptensor(buf *p, const char *key, int numel, int off, int nd, const int *shape,
                    const int *stride)
{
    pglobal(p, "torch._utils", "_rebuild_tensor_v2");
    op(p, '(');
    op(p, '(');
    pstr(p, "storage");
    pglobal(p, "torch", "FloatStorage");
    pstr(p, key);
    pstr(p, "cpu");
    pint(p, numel);
    op(p, 't');
    op(p, 'Q');
    pint(p, off);
    op(p, '(');
    for (int d = 0; d < nd; d++)
        pint(p, shape[d]);
    op(p, 't');
    op(p, '(');
    for (int d = 0; d < nd; d++)
        pint(p, stride[d]);
    op(p, 't');
    op(p, 0x89);
    pglobal(p, "collections", "OrderedDict");
    op(p, ')');
    op(p, 'R');
    op(p, 't');
    op(p, 'R');
}

typedef struct storage {
    char key[16];
    float *v;
    int n;
} storage;

static void write_archive(const char *path, buf *pkl, storage *st, int nst)
{
    int ze;
    unlink(path);
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_EXCL, &ze);
    zip_file_add(z, "archive/data.pkl", zip_source_buffer(z, pkl->b, pkl->n, 0), 0);
    zip_file_add(z, "archive/version", zip_source_buffer(z, "3\n", 2, 0), 0);
    char names[64][32];
    for (int i = 0; i < nst; i++) {
        snprintf(names[i], sizeof(names[i]), "archive/data/%s", st[i].key);
        zip_file_add(z, names[i], zip_source_buffer(z, st[i].v, (size_t)st[i].n * 4, 0), 0);
    }
    if (zip_close(z) < 0)
        CHECK(0, "zip_close %s", path);
}

/* ---- the model: a.weight [2,3]; a.bias [3]; b.weight = a.weight's storage seen [3,2]
 * transposed; c.weight [2] at offset 4 of storage 2; tied.weight = a.weight again ---- */
static float s0[6] = {1, -2, 3, -4, 5, -6}, s1[3] = {0.5f, 0.25f, -1}, s2[6] = {9, 9, 9, 9, 7, -8};

static void write_model(const char *path)
{
    buf p = {0};
    op(&p, 0x80);
    op(&p, 2);
    pglobal(&p, "collections", "OrderedDict");
    op(&p, ')');
    op(&p, 'R');
    op(&p, '(');
    pstr(&p, "a.weight");
    ptensor(&p, "0", 6, 0, 2, (int[]){2, 3}, (int[]){3, 1});
    pstr(&p, "a.bias");
    ptensor(&p, "1", 3, 0, 1, (int[]){3}, (int[]){1});
    pstr(&p, "b.weight");
    ptensor(&p, "0", 6, 0, 2, (int[]){3, 2}, (int[]){1, 3});
    pstr(&p, "c.weight");
    ptensor(&p, "2", 6, 4, 1, (int[]){2}, (int[]){1});
    pstr(&p, "tied.weight");
    ptensor(&p, "0", 6, 0, 2, (int[]){2, 3}, (int[]){3, 1});
    op(&p, 'u');
    op(&p, '.');
    storage st[] = {{"0", s0, 6}, {"1", s1, 3}, {"2", s2, 6}};
    write_archive(path, &p, st, 3);
    free(p.b);
}

/* An optimizer state_dict. groups[g] lists (state index, shape) pairs; the state of index
 * k has exp_avg_sq filled with value[k]; names[g] (optional) gives param_names. */
typedef struct ostate {
    int index;
    int nd;
    int shape[2];
    float value;
} ostate;

static void write_optimizer(const char *path, ostate *const *groups, const int *glen, int ng,
                            const char *const *const *names)
{
    buf p = {0};
    storage st[64];
    float *vals[64];
    int nst = 0;
    op(&p, 0x80);
    op(&p, 2);
    op(&p, '}');
    op(&p, '(');
    pstr(&p, "state");
    op(&p, '}');
    op(&p, '(');
    for (int g = 0; g < ng; g++)
        for (int k = 0; k < glen[g]; k++) {
            ostate *s = &groups[g][k];
            int numel = 1;
            for (int d = 0; d < s->nd; d++)
                numel *= s->shape[d];
            int stride[2] = {s->nd == 2 ? s->shape[1] : 1, 1};
            pint(&p, s->index);
            op(&p, '}');
            op(&p, '(');
            pstr(&p, "step");
            op(&p, 'G');
            unsigned char be[8];
            double stepv = 7;
            uint64_t u;
            memcpy(&u, &stepv, 8);
            for (int i = 0; i < 8; i++)
                be[i] = (unsigned char)(u >> (56 - 8 * i));
            put(&p, be, 8);
            for (int which = 0; which < 2; which++) {
                float *v = malloc((size_t)numel * 4);
                for (int i = 0; i < numel; i++)
                    v[i] = which ? s->value : -s->value / 2;
                vals[nst] = v;
                snprintf(st[nst].key, sizeof(st[nst].key), "%d", nst);
                st[nst].v = v;
                st[nst].n = numel;
                pstr(&p, which ? "exp_avg_sq" : "exp_avg");
                ptensor(&p, st[nst].key, numel, 0, s->nd, s->shape, stride);
                nst++;
            }
            op(&p, 'u');
        }
    op(&p, 'u');
    pstr(&p, "param_groups");
    op(&p, ']');
    op(&p, '(');
    for (int g = 0; g < ng; g++) {
        op(&p, '}');
        op(&p, '(');
        pstr(&p, "lr");
        pint(&p, 1);
        pstr(&p, "params");
        op(&p, ']');
        op(&p, '(');
        for (int k = 0; k < glen[g]; k++)
            pint(&p, groups[g][k].index);
        op(&p, 'e');
        if (names && names[g]) {
            pstr(&p, "param_names");
            op(&p, ']');
            op(&p, '(');
            for (int k = 0; k < glen[g]; k++)
                pstr(&p, names[g][k]);
            op(&p, 'e');
        }
        op(&p, 'u');
    }
    op(&p, 'e');
    op(&p, 'u');
    op(&p, '.');
    write_archive(path, &p, st, nst);
    for (int i = 0; i < nst; i++)
        free(vals[i]);
    free(p.b);
}

static const hmt_param *param(const hmt_ckpt *c, const char *name)
{
    for (size_t i = 0; i < c->np; i++)
        if (strcmp(c->p[i].w->name, name) == 0)
            return &c->p[i];
    return NULL;
}

/* Opens model + optimizer; expects success with exp_avg_sq means per name, or an error
 * containing `want_err`. */
static void run(const char *what, const char *model, const char *opt, const char *const *pn,
                const float *want, int nwant, const char *want_err, const char *naming)
{
    char *paths[] = {(char *)model, (char *)opt};
    hmt_ckpt *c;
    char err[512];
    int rc = hmt_ckpt_open(paths, 2, &c, err, sizeof(err));
    if (want_err) {
        CHECK(rc < 0 && strstr(err, want_err) && strstr(err, opt), "%s: want error \"%s\", got rc %d: %s",
              what, want_err, rc, rc < 0 ? err : "");
        if (rc == 0)
            hmt_ckpt_free(c);
        return;
    }
    if (rc < 0) {
        CHECK(0, "%s: %s", what, err);
        return;
    }
    CHECK(strcmp(c->naming, naming) == 0, "%s: naming %s, want %s", what, c->naming, naming);
    for (int i = 0; i < nwant; i++) {
        const hmt_param *p = param(c, pn[i]);
        if (!p) {
            CHECK(0, "%s: no %s", what, pn[i]);
            continue;
        }
        if (isnan(want[i]))
            CHECK(!p->has_state, "%s: %s should have no state", what, pn[i]);
        else
            CHECK(p->has_state && fabs(p->s.mean_exp_avg_sq - want[i]) < 1e-7 &&
                      fabs(p->s.mean_abs_exp_avg - want[i] / 2) < 1e-7 && p->s.step == 7,
                  "%s: %s got exp_avg_sq %g, want %g", what, pn[i], p->s.mean_exp_avg_sq, want[i]);
    }
    hmt_ckpt_free(c);
}

int main(void)
{
    char dir[] = "/tmp/hmt-naming-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char model[64], opt[64];
    snprintf(model, sizeof(model), "%s/model.pt", dir);
    snprintf(opt, sizeof(opt), "%s/opt.pt", dir);
    write_model(model);

    /* views and tied keys */
    hmt_tensor_set *ws;
    char err[512];
    if (hmt_weights_load(model, &ws, err, sizeof(err)) < 0) {
        fprintf(stderr, "FAIL load: %s\n", err);
        return 1;
    }
    CHECK(ws->n == 5, "5 keys");
    const hmt_tensor *a = hmt_tensor_set_find(ws, "a.weight"), *b = hmt_tensor_set_find(ws, "b.weight"),
                     *cw = hmt_tensor_set_find(ws, "c.weight"), *t = hmt_tensor_set_find(ws, "tied.weight");
    CHECK(a && b && cw && t, "keys found");
    if (a && b && cw && t) {
        CHECK(a->contiguous && !b->contiguous && cw->contiguous, "contiguity");
        CHECK(a->storage == b->storage && a->storage == t->storage && a->data == t->data, "shared storage");
        float bt[6];
        hmt_tensor_convert(b, HMT_DT_F32, bt);
        CHECK(bt[0] == 1 && bt[1] == -4 && bt[2] == -2 && bt[5] == -6, "transposed view elements");
        float cv[2];
        hmt_tensor_convert(cw, HMT_DT_F32, cv);
        CHECK(cv[0] == 7 && cv[1] == -8 && cw->nbytes == 8, "offset view elements");
    }
    hmt_weights_free(ws);
    const char *names[] = {"a.weight", "a.bias", "b.weight", "c.weight"};

    /* one group, model order */
    ostate g1[] = {{0, 2, {2, 3}, 0.1f}, {1, 1, {3}, 0.2f}, {2, 2, {3, 2}, 0.3f}, {3, 1, {2}, 0.4f}};
    write_optimizer(opt, (ostate *[]){g1}, (int[]){4}, 1, NULL);
    run("one group", model, opt, names, (float[]){0.1f, 0.2f, 0.3f, 0.4f}, 4, NULL, "shape-match");
    {
        char *paths[] = {model, opt};
        hmt_ckpt *c;
        if (hmt_ckpt_open(paths, 2, &c, err, sizeof(err)) == 0) {
            CHECK(c->np == 4 && c->weights->n == 5, "tied.weight merged");
            const hmt_param *p = param(c, "a.weight");
            CHECK(p && p->naliases == 1 && strcmp(p->aliases[0], "tied.weight") == 0, "alias listed");
            hmt_ckpt_free(c);
        }
    }
    /* two interleaved groups: 2-D weights, then 1-D (nanoGPT's rule) */
    ostate w2[] = {{0, 2, {2, 3}, 0.5f}, {1, 2, {3, 2}, 0.6f}}, b2[] = {{2, 1, {3}, 0.7f}, {3, 1, {2}, 0.8f}};
    write_optimizer(opt, (ostate *[]){w2, b2}, (int[]){2, 2}, 2, NULL);
    run("two groups", model, opt, names, (float[]){0.5f, 0.7f, 0.6f, 0.8f}, 4, NULL, "shape-match");
    /* partial: only a.weight and c.weight are trained */
    ostate part[] = {{0, 2, {2, 3}, 0.9f}, {1, 1, {2}, 1.1f}};
    write_optimizer(opt, (ostate *[]){part}, (int[]){2}, 1, NULL);
    run("partial", model, opt, names, (float[]){0.9f, NAN, NAN, 1.1f}, 4, NULL, "shape-match");
    /* impossible shapes */
    ostate bad[] = {{0, 1, {5}, 1}};
    write_optimizer(opt, (ostate *[]){bad}, (int[]){1}, 1, NULL);
    run("impossible", model, opt, NULL, NULL, 0, "do not match", NULL);
    /* two groups, each with the only tensor of its shape: unique despite skips */
    ostate amb_a[] = {{0, 1, {3}, 1}}, amb_b[] = {{1, 2, {2, 3}, 2}};
    write_optimizer(opt, (ostate *[]){amb_a, amb_b}, (int[]){1, 1}, 2, NULL);
    run("unique with skips", model, opt, names, (float[]){2, 1, NAN, NAN}, 4, NULL, "shape-match");
    ostate one_3[] = {{0, 1, {3}, 1}};
    write_optimizer(opt, (ostate *[]){one_3}, (int[]){1}, 1, NULL);
    run("single [3]", model, opt, names, (float[]){NAN, 1, NAN, NAN}, 4, NULL, "shape-match");
    /* two [2,3] states, but the model has one [2,3] tensor (tied.weight is the same one) */
    ostate dup[] = {{0, 2, {2, 3}, 1}, {1, 2, {2, 3}, 2}};
    write_optimizer(opt, (ostate *[]){dup}, (int[]){2}, 1, NULL);
    run("too many of a shape", model, opt, NULL, NULL, 0, "do not match", NULL);
    /* ambiguity needs two tensors of one shape: a model of x.weight [4] and y.weight [4] */
    {
        char m2[64];
        snprintf(m2, sizeof(m2), "%s/model2.pt", dir);
        buf p = {0};
        op(&p, 0x80);
        op(&p, 2);
        op(&p, '}');
        op(&p, '(');
        pstr(&p, "x.weight");
        ptensor(&p, "0", 4, 0, 1, (int[]){4}, (int[]){1});
        pstr(&p, "y.weight");
        ptensor(&p, "1", 4, 0, 1, (int[]){4}, (int[]){1});
        op(&p, 'u');
        op(&p, '.');
        float x[4] = {1, 2, 3, 4}, y[4] = {5, 6, 7, 8};
        storage st[] = {{"0", x, 4}, {"1", y, 4}};
        write_archive(m2, &p, st, 2);
        free(p.b);
        ostate ga[] = {{0, 1, {4}, 1}}, gb[] = {{1, 1, {4}, 2}};
        write_optimizer(opt, (ostate *[]){ga, gb}, (int[]){1, 1}, 2, NULL);
        run("ambiguous", m2, opt, NULL, NULL, 0, "more than one way", NULL);
        /* one group of one [4] with two candidates: also ambiguous */
        write_optimizer(opt, (ostate *[]){ga}, (int[]){1}, 1, NULL);
        run("ambiguous skip", m2, opt, NULL, NULL, 0, "more than one way", NULL);
        /* param_names resolve it */
        const char *na[] = {"y.weight"}, *nb[] = {"x.weight"};
        write_optimizer(opt, (ostate *[]){ga, gb}, (int[]){1, 1}, 2, (const char *const *[]){na, nb});
        run("param_names", m2, opt, (const char *[]){"x.weight", "y.weight"}, (float[]){2, 1}, 2, NULL,
            "param_names");
        /* a name the weights lack */
        const char *nx[] = {"z.weight"};
        write_optimizer(opt, (ostate *[]){ga}, (int[]){1}, 1, (const char *const *[]){nx});
        run("unknown name", m2, opt, NULL, NULL, 0, "z.weight", NULL);
        /* a name whose shape differs from the weight's */
        ostate wrong[] = {{0, 1, {3}, 1}};
        write_optimizer(opt, (ostate *[]){wrong}, (int[]){1}, 1, (const char *const *[]){na});
        run("named shape mismatch", m2, opt, NULL, NULL, 0, "shape differs", NULL);
        unlink(m2);
    }
    /* hints/dump_optimizer.py's layout: weights and "<name>::exp_avg(_sq)/::step" by name */
    {
        char dump[64];
        snprintf(dump, sizeof(dump), "%s/dump.safetensors", dir);
        const char *hdr = "{\"__metadata__\":{\"format\":\"hmt-optimizer-dump\",\"tied\":\"{}\"},"
                          "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                          "\"w::exp_avg\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                          "\"w::exp_avg_sq\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]},"
                          "\"w::step\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[24,28]},"
                          "\"frozen\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[28,32]}}";
        float vals[8] = {1, -3, 0.5f, -0.5f, 0.25f, 0.75f, 12, 4};
        for (int bad = 0; bad < 2; bad++) {
            if (bad)
                vals[5] = INFINITY;
            uint64_t hl = strlen(hdr);
            FILE *f = fopen(dump, "wb");
            fwrite(&hl, 8, 1, f);
            fwrite(hdr, 1, hl, f);
            fwrite(vals, 4, 8, f);
            fclose(f);
            char *paths[] = {dump};
            hmt_ckpt *c;
            int rc = hmt_ckpt_open(paths, 1, &c, err, sizeof(err));
            if (bad) {
                CHECK(rc < 0 && strstr(err, "tensor w: exp_avg_sq has Inf"), "dump with Inf: %s", rc < 0 ? err : "accepted");
                if (rc == 0)
                    hmt_ckpt_free(c);
                continue;
            }
            if (rc < 0) {
                CHECK(0, "dump: %s", err);
                continue;
            }
            CHECK(strcmp(c->naming, "dump") == 0 && c->np == 2 && c->weights->n == 2, "dump: 2 weights");
            const hmt_param *w = param(c, "w"), *fz = param(c, "frozen");
            CHECK(w && w->has_state && fabs(w->s.mean_exp_avg_sq - 0.5) < 1e-12 &&
                      fabs(w->s.mean_abs_exp_avg - 0.5) < 1e-12 && w->s.step == 12 &&
                      fabs(w->s.mean_abs_weight - 2) < 1e-12, "dump: w's statistics");
            CHECK(fz && !fz->has_state, "dump: frozen has no state");
            hmt_ckpt_free(c);
        }
        unlink(dump);
    }
    unlink(model);
    unlink(opt);
    rmdir(dir);
    if (failures) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    printf("ok: optimizer state named correctly or refused\n");
    return 0;
}
