/* test_golden.c — pins hmt-analyze's output on the real checkpoints: runs it (in the data
 * directory, so paths in the output are relative) and compares the hints file field by
 * field with golden/<name>.json (scores to relative 1e-9, everything else exactly) and its
 * stdout (the tier table, Spearman lines) byte for byte with golden/<name>.txt.
 * HMT_UPDATE_GOLDEN=1 rewrites the goldens instead (review the diff before committing).
 * usage: test_golden HMT_ANALYZE DATA_DIR GOLDEN_DIR NAME OUT_DIR [hmt-analyze args...]
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analyze.h"

/* Its own CHECK, without file:line (the golden name says which run failed). */
#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "FAIL: ");                                                     \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

#include "test_util.h"

static int copy_file(const char *from, const char *to)
{
    size_t n;
    char *b = slurp(from, &n);
    FILE *f = b ? fopen(to, "wb") : NULL;
    int rc = f && fwrite(b, 1, n, f) == n ? 0 : -1;
    if (f && fclose(f) != 0)
        rc = -1;
    free(b);
    return rc;
}

static void compare_hints(const hmt_hints *g, const hmt_hints *o)
{
    CHECK(g->flat == o->flat, "flat differs");
    CHECK(g->nt == o->nt, "tensor count %zu vs golden %zu", o->nt, g->nt);
    CHECK(g->nm == o->nm, "module count %zu vs golden %zu", o->nm, g->nm);
    if (!g->flat) {
        CHECK(strcmp(g->signal, o->signal) == 0 && strcmp(g->by, o->by) == 0 &&
              strcmp(g->per, o->per) == 0, "source differs");
    }
    for (size_t i = 0; i < g->nt && i < o->nt; i++) {
        const hmt_hint_tensor *a = &g->t[i], *b = &o->t[i];
        CHECK(strcmp(a->name, b->name) == 0, "tensor %zu: %s vs golden %s", i, b->name, a->name);
        CHECK(strcmp(a->module, b->module) == 0, "%s: module", a->name);
        CHECK(a->tier == b->tier, "%s: tier %s vs golden %s", a->name, hmt_tier_name(b->tier),
              hmt_tier_name(a->tier));
        CHECK(a->order == b->order && a->dtype == b->dtype && a->ndim == b->ndim &&
              a->numel == b->numel && a->bytes == b->bytes, "%s: order/dtype/shape/bytes", a->name);
        for (int d = 0; d < a->ndim; d++)
            CHECK(a->shape[d] == b->shape[d], "%s: shape", a->name);
        CHECK(fabs(a->score - b->score) <= 1e-9 * fabs(a->score), "%s: score %.17g vs golden %.17g",
              a->name, b->score, a->score);
        CHECK(a->fp_mask == b->fp_mask, "%s: fingerprint dtypes", a->name);
        for (int d = 0; d < HMT_DT_COUNT; d++)
            if (a->fp_mask & (1u << d))
                CHECK(a->fp[d] == b->fp[d], "%s: %s fingerprint %016llx vs golden %016llx", a->name,
                      hmt_dtype_name((hmt_dtype)d), (unsigned long long)b->fp[d],
                      (unsigned long long)a->fp[d]);
        CHECK(a->naliases == b->naliases, "%s: aliases", a->name);
        for (size_t k = 0; k < a->naliases && k < b->naliases; k++)
            CHECK(strcmp(a->aliases[k], b->aliases[k]) == 0, "%s: alias %zu", a->name, k);
    }
    for (size_t i = 0; i < g->nm && i < o->nm; i++)
        CHECK(strcmp(g->m[i].name, o->m[i].name) == 0 && g->m[i].tier == o->m[i].tier,
              "module %s: %s vs golden %s %s", o->m[i].name, hmt_tier_name(o->m[i].tier),
              g->m[i].name, hmt_tier_name(g->m[i].tier));
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: %s HMT_ANALYZE DATA_DIR GOLDEN_DIR NAME OUT_DIR [args...]\n", argv[0]);
        return 1;
    }
    const char *tool = argv[1], *data = argv[2], *gdir = argv[3], *name = argv[4], *odir = argv[5];
    char out[4096], txt[4096], gjson[4096], gtxt[4096];
    snprintf(out, sizeof(out), "%s/%s.json", odir, name);
    snprintf(txt, sizeof(txt), "%s/%s.txt", odir, name);
    snprintf(gjson, sizeof(gjson), "%s/%s.json", gdir, name);
    snprintf(gtxt, sizeof(gtxt), "%s/%s.txt", gdir, name);
    char **av = calloc((size_t)argc + 4, sizeof(char *));
    int n = 0;
    av[n++] = (char *)tool;
    av[n++] = "-o";
    av[n++] = out;
    for (int i = 6; i < argc; i++)
        av[n++] = argv[i];
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(txt, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, 1) < 0 || chdir(data) < 0)
            _exit(126);
        execv(tool, av);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    free(av);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "FAIL: hmt-analyze exited with status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return 1;
    }
    if (getenv("HMT_UPDATE_GOLDEN")) {
        /* goldens keep OUT for the build-directory path, as the comparison below does */
        char *b = slurp(txt, NULL), *at;
        while (b && (at = strstr(b, out))) {
            memcpy(at, "OUT", 3);
            memmove(at + 3, at + strlen(out), strlen(at + strlen(out)) + 1);
        }
        FILE *f = b ? fopen(txt, "w") : NULL;
        if (f) {
            fputs(b, f);
            fclose(f);
        }
        free(b);
        if (copy_file(out, gjson) < 0 || copy_file(txt, gtxt) < 0) {
            fprintf(stderr, "FAIL: cannot update %s\n", gjson);
            return 1;
        }
        printf("updated %s and %s\n", gjson, gtxt);
        return 0;
    }
    char err[512];
    hmt_hints *g, *o;
    if (hmt_hints_read(gjson, &g, err, sizeof(err)) < 0 || hmt_hints_read(out, &o, err, sizeof(err)) < 0) {
        fprintf(stderr, "FAIL: %s\n", err);
        return 1;
    }
    compare_hints(g, o);
    hmt_hints_free(g);
    hmt_hints_free(o);
    char *a = slurp(gtxt, NULL), *b = slurp(txt, NULL);
    /* the output path is the build directory's: print it as OUT */
    char *at;
    while (b && (at = strstr(b, out))) {
        memcpy(at, "OUT", 3);
        memmove(at + 3, at + strlen(out), strlen(at + strlen(out)) + 1);
    }
    CHECK(a && b && strcmp(a, b) == 0, "stdout differs from %s:\n--- golden\n%s--- got\n%s", gtxt,
          a ? a : "(missing)\n", b ? b : "(missing)\n");
    free(a);
    free(b);
    if (failures) {
        fprintf(stderr, "%d failures (HMT_UPDATE_GOLDEN=1 rewrites goldens after a deliberate change)\n", failures);
        return 1;
    }
    printf("ok: %s matches its golden\n", name);
    return 0;
}
