/* test_badinput.c — bad checkpoints give one line on stderr naming the file (and tensor),
 * exit status 1, and no crash. The bad files are made at run time from copies of the real
 * ones in a temporary directory: truncated and corrupted archives, a pickle with a refused
 * global, missing exp_avg_sq, NaN/Inf in state/weights/Fisher, an unknown dtype, shape
 * mismatches, garbage and empty files; plus usage errors (exit 2).
 * usage: test_badinput HMT_ANALYZE DATA_DIR
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zip.h>

#include "internal.h"
#include "test_util.h"

static const char *tool, *data;
static char tmp[256];

static void spit(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n)
        FAIL("cannot write %s", path);
    if (f)
        fclose(f);
}

static char *tpath(const char *name)
{
    static char bufs[8][512];
    static int k;
    char *p = bufs[k++ % 8];
    snprintf(p, 512, "%s/%s", tmp, name);
    return p;
}

static char *dpath(const char *name)
{
    static char bufs[8][4096];
    static int k;
    char *p = bufs[k++ % 8];
    snprintf(p, 4096, "%s/%s", data, name);
    return p;
}

/* Runs hmt-analyze with a NULL-terminated argument list; expects exit `want`, exactly one
 * line on stderr containing every string in `need` (NULL-terminated). */
static void expect(int want, const char *const *need, ...)
{
    char *av[32];
    int n = 0;
    av[n++] = (char *)tool;
    av[n++] = "-q";
    av[n++] = "-o";
    av[n++] = tpath("out.json");
    va_list ap;
    va_start(ap, need);
    for (char *a; (a = va_arg(ap, char *)) && n < 31;)
        av[n++] = a;
    va_end(ap);
    av[n] = NULL;
    char *errp = tpath("stderr.txt");
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644), nul = open("/dev/null", O_WRONLY);
        if (fd < 0 || dup2(fd, 2) < 0 || dup2(nul, 1) < 0)
            _exit(126);
        execv(tool, av);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    size_t len = 0;
    char *e = slurp(errp, &len);
    if (!e)
        e = strdup("");
    char cmd[2048] = "";
    for (int i = 4; i < n; i++)
        snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), " %s", av[i]);
    if (!WIFEXITED(st))
        FAIL("[%s] killed by signal %d", cmd, WTERMSIG(st));
    else if (WEXITSTATUS(st) != want)
        FAIL("[%s] exit %d, want %d; stderr: %s", cmd, WEXITSTATUS(st), want, e);
    size_t lines = 0;
    for (char *c = e; *c; c++)
        lines += *c == '\n';
    if (lines != 1 || len == 0 || e[len - 1] != '\n')
        FAIL("[%s] stderr is not one line: %s", cmd, e);
    for (int i = 0; need && need[i]; i++)
        if (!strstr(e, need[i]))
            FAIL("[%s] stderr lacks \"%s\": %s", cmd, need[i], e);
    free(e);
}

/* Copies zip `src` to `dst`, passing the entry whose name ends with `suffix` through `edit`. */
static void rezip(const char *src, const char *dst, const char *suffix,
                  void (*edit)(char **buf, size_t *len))
{
    int ze;
    zip_t *in = zip_open(src, ZIP_RDONLY, &ze);
    unlink(dst);
    zip_t *out = zip_open(dst, ZIP_CREATE | ZIP_EXCL, &ze);
    if (!in || !out) {
        FAIL("rezip %s", src);
        return;
    }
    zip_int64_t n = zip_get_num_entries(in, 0);
    bool hit = false;
    for (zip_int64_t i = 0; i < n; i++) {
        zip_stat_t s;
        zip_stat_index(in, (zip_uint64_t)i, 0, &s);
        char *buf = malloc(s.size + 1);
        zip_file_t *f = zip_fopen_index(in, (zip_uint64_t)i, 0);
        size_t len = (size_t)zip_fread(f, buf, s.size);
        zip_fclose(f);
        size_t sl = strlen(suffix), nl = strlen(s.name);
        if (nl >= sl && strcmp(s.name + nl - sl, suffix) == 0) {
            edit(&buf, &len);
            hit = true;
        }
        zip_source_t *zs = zip_source_buffer(out, buf, len, 1);
        zip_int64_t idx = zip_file_add(out, s.name, zs, ZIP_FL_OVERWRITE);
        zip_set_file_compression(out, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
    }
    if (!hit)
        FAIL("rezip: no entry ending in %s", suffix);
    if (zip_close(out) < 0)
        FAIL("rezip: close %s", dst);
    zip_discard(in);
}

static void replace_all(char **buf, size_t *len, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to);
    for (size_t i = 0; i + fl <= *len;) {
        if (memcmp(*buf + i, from, fl) == 0) {
            char *nb = malloc(*len - fl + tl + 1);
            memcpy(nb, *buf, i);
            memcpy(nb + i, to, tl);
            memcpy(nb + i + tl, *buf + i + fl, *len - i - fl);
            free(*buf);
            *buf = nb;
            *len = *len - fl + tl;
            i += tl;
        } else {
            i++;
        }
    }
}

static void evil_global(char **b, size_t *n) { replace_all(b, n, "collections\nOrderedDict\n", "posix\nsystem\n"); }
static void no_sq(char **b, size_t *n) { replace_all(b, n, "exp_avg_sq", "exp_avg_sX"); }
static void bad_opcode(char **b, size_t *n) { replace_all(b, n, "q\x02)R", "q\x02)i"); }
static void nan_at_5(char **b, size_t *n)
{
    float v = NAN;
    if (*n >= 24)
        memcpy(*b + 20, &v, 4);
}

/* Safetensors copy with the header edited (same length) or a value poked into the data. */
static void st_edit(const char *src, const char *dst, const char *from, const char *to,
                    long data_off, float val)
{
    size_t len;
    char *b = slurp(src, &len);
    if (!b) {
        FAIL("read %s", src);
        return;
    }
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = hl << 8 | (uint8_t)b[i];
    if (from) {
        char *at = memmem(b + 8, hl, from, strlen(from));
        if (!at || strlen(from) != strlen(to))
            FAIL("header edit %s", from);
        else
            memcpy(at, to, strlen(to));
    }
    if (data_off >= 0)
        memcpy(b + 8 + hl + (size_t)data_off, &val, 4);
    spit(dst, b, len);
    free(b);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const hmt_st_entry *)a)->name, ((const hmt_st_entry *)b)->name);
}

/* Rewrites a safetensors file the way the safetensors library does: sorted by name. */
static void st_sort_by_name(const char *src, const char *dst)
{
    size_t len, n, start;
    char *b = slurp(src, &len), err[256];
    hmt_st_entry *e;
    if (!b || hmt_st_parse((const uint8_t *)b, len, &e, &n, &start, NULL, err, sizeof(err)) < 0) {
        FAIL("parse %s", src);
        free(b);
        return;
    }
    qsort(e, n, sizeof(*e), cmp_name);
    size_t cap = 65536, hl = 0, off = 0;
    char *h = malloc(cap);
    hl += (size_t)snprintf(h + hl, cap - hl, "{");
    for (size_t i = 0; i < n; i++) {
        hl += (size_t)snprintf(h + hl, cap - hl, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[", i ? "," : "", e[i].name);
        for (int d = 0; d < e[i].ndim; d++)
            hl += (size_t)snprintf(h + hl, cap - hl, "%s%lld", d ? "," : "", (long long)e[i].shape[d]);
        size_t sz = e[i].end - e[i].begin;
        hl += (size_t)snprintf(h + hl, cap - hl, "],\"data_offsets\":[%zu,%zu]}", off, off + sz);
        off += sz;
    }
    hl += (size_t)snprintf(h + hl, cap - hl, "}");
    FILE *f = fopen(dst, "wb");
    uint64_t h64 = hl;
    fwrite(&h64, 8, 1, f);
    fwrite(h, 1, hl, f);
    for (size_t i = 0; i < n; i++)
        fwrite(b + start + e[i].begin, 1, e[i].end - e[i].begin, f);
    fclose(f);
    free(h);
    hmt_st_entries_free(e, n);
    free(b);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s HMT_ANALYZE DATA_DIR\n", argv[0]);
        return 1;
    }
    tool = argv[1];
    data = argv[2];
    snprintf(tmp, sizeof(tmp), "%s/hmt-badinput-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    const char *nano = dpath("nanogpt-small/ckpt.pt"), *hfopt = dpath("hf-small/optimizer.pt");
    const char *hfw = dpath("hf-small/model.safetensors"), *hffim = dpath("hf-small/fim.safetensors");
    size_t len;
    char *ck = slurp(nano, &len);
    if (!ck) {
        FAIL("cannot read %s", nano);
        return 1;
    }

    /* truncated archive: the central directory is gone */
    spit(tpath("trunc.pt"), ck, len / 2);
    expect(1, (const char *[]){tpath("trunc.pt"), "zip", NULL}, tpath("trunc.pt"), NULL);
    /* corrupt storage bytes: CRC mismatch, named by tensor. The zip local header of
     * ckpt/data/0 (transformer.wte.weight's storage) is "PK\3\4", 26 bytes, name, extra. */
    {
        char *c = malloc(len);
        memcpy(c, ck, len);
        size_t off = 0;
        for (size_t i = 0; i + 30 + 11 < len && !off; i++) {
            if (memcmp(c + i, "PK\3\4", 4) != 0)
                continue;
            unsigned nlen = (uint8_t)c[i + 26] | (uint8_t)c[i + 27] << 8;
            unsigned xlen = (uint8_t)c[i + 28] | (uint8_t)c[i + 29] << 8;
            if (nlen == 11 && memcmp(c + i + 30, "ckpt/data/0", 11) == 0)
                off = i + 30 + nlen + xlen + 100;
        }
        if (off && off < len) {
            c[off] ^= 0x55;
            spit(tpath("crc.pt"), c, len);
            expect(1, (const char *[]){tpath("crc.pt"), "transformer.wte.weight", NULL}, tpath("crc.pt"), NULL);
        } else {
            FAIL("no storage found to corrupt");
        }
        free(c);
    }
    /* refused global, refused opcode */
    rezip(nano, tpath("evil.pt"), "data.pkl", evil_global);
    expect(1, (const char *[]){tpath("evil.pt"), "refused GLOBAL 'posix.system'", NULL}, tpath("evil.pt"), NULL);
    rezip(nano, tpath("opcode.pt"), "data.pkl", bad_opcode);
    expect(1, (const char *[]){tpath("opcode.pt"), "refused opcode 0x69", NULL}, tpath("opcode.pt"), NULL);
    /* missing exp_avg_sq (bare optimizer + weights layout) */
    rezip(hfopt, tpath("nosq.pt"), "data.pkl", no_sq);
    expect(1, (const char *[]){tpath("nosq.pt"), "transformer.wte.weight", "no exp_avg_sq", NULL},
           tpath("nosq.pt"), hfw, NULL);
    /* NaN in exp_avg_sq of optimizer index 0 (storage 2: step 0, exp_avg 1, exp_avg_sq 2) */
    rezip(hfopt, tpath("nan.pt"), "optimizer/data/2", nan_at_5);
    expect(1, (const char *[]){tpath("nan.pt"), "transformer.wte.weight", "exp_avg_sq has NaN at element 5", NULL},
           tpath("nan.pt"), hfw, NULL);
    /* Inf in a weight (transformer.h.0.ln_1.weight starts at data offset 196608) */
    st_edit(hfw, tpath("inf.safetensors"), NULL, NULL, 196608 + 8, INFINITY);
    expect(1, (const char *[]){tpath("inf.safetensors"), "transformer.h.0.ln_1.weight", "weight has Inf at element 2", NULL},
           hfopt, tpath("inf.safetensors"), NULL);
    /* unknown dtype */
    st_edit(hfw, tpath("dtype.safetensors"), "\"F32\"", "\"U16\"", -1, 0);
    expect(1, (const char *[]){tpath("dtype.safetensors"), "transformer.wte.weight", "unsupported dtype U16", NULL},
           tpath("dtype.safetensors"), NULL);
    /* weights whose shapes no longer match the optimizer state */
    st_edit(hfw, tpath("shape.safetensors"), "[384,128]", "[128,384]", -1, 0);
    expect(1, (const char *[]){hfopt, "do not match", NULL}, hfopt, tpath("shape.safetensors"), NULL);
    /* weights sorted by name (as the safetensors library writes them): order unknown */
    st_sort_by_name(hfw, tpath("sorted.safetensors"));
    expect(1, (const char *[]){hfopt, tpath("sorted.safetensors"), "sorted by name", NULL},
           hfopt, tpath("sorted.safetensors"), NULL);
    /* ... which is fine for a signal that needs no optimizer state */
    {
        char *av[] = {(char *)tool, "-q", "-o", tpath("sorted.json"), "--signal", "magnitude",
                      tpath("sorted.safetensors"), NULL};
        pid_t pid = fork();
        if (pid == 0) {
            execv(tool, av);
            _exit(127);
        }
        int st;
        waitpid(pid, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            FAIL("magnitude on a name-sorted file should work");
    }
    /* Fisher dump with a wrong shape, and with NaN */
    st_edit(hffim, tpath("fimshape.safetensors"), "[384,128]", "[128,384]", -1, 0);
    expect(1, (const char *[]){tpath("fimshape.safetensors"), "transformer.h.0.attn.c_attn.weight", "Fisher shape", NULL},
           "--compare", tpath("fimshape.safetensors"), dpath("hf-small"), NULL);
    st_edit(hffim, tpath("fimnan.safetensors"), NULL, NULL, 4, NAN);
    expect(1, (const char *[]){tpath("fimnan.safetensors"), "transformer.wte.weight", "NaN at element 1", NULL},
           "--signal", "fim", "--fim", tpath("fimnan.safetensors"), dpath("hf-small"), NULL);
    /* truncated safetensors, garbage, empty, missing */
    {
        size_t wl;
        char *w = slurp(hfw, &wl);
        spit(tpath("trunc.safetensors"), w, w ? wl - 1000 : 0);
        expect(1, (const char *[]){tpath("trunc.safetensors"), "tensor transformer.ln_f.", "truncated", NULL},
               tpath("trunc.safetensors"), NULL);
        spit(tpath("hdr.safetensors"), w, w ? 2000 : 0);
        expect(1, (const char *[]){tpath("hdr.safetensors"), "exceeds the file", NULL}, tpath("hdr.safetensors"), NULL);
        free(w);
    }
    char junk[100];
    for (int i = 0; i < 100; i++)
        junk[i] = (char)(i * 37 + 11);
    spit(tpath("junk.bin"), junk, sizeof(junk));
    expect(1, (const char *[]){tpath("junk.bin"), NULL}, tpath("junk.bin"), NULL);
    /* JSON or text given as the checkpoint (a tier_hints.json, a script): said so */
    spit(tpath("hints.json"), "  \n{\"a\": 1}\n", 12);
    expect(1, (const char *[]){tpath("hints.json"), "not a checkpoint (looks like JSON; expected .safetensors", NULL},
           tpath("hints.json"), NULL);
    spit(tpath("train.py"), "import torch\nprint(1)\n", 22);
    expect(1, (const char *[]){tpath("train.py"), "not a checkpoint (looks like text", NULL}, tpath("train.py"), NULL);
    spit(tpath("empty.pt"), "", 0);
    expect(1, (const char *[]){tpath("empty.pt"), NULL}, tpath("empty.pt"), NULL);
    expect(1, (const char *[]){tpath("missing.pt"), NULL}, tpath("missing.pt"), NULL);
    /* no optimizer for a signal that needs one; an optimizer alone */
    expect(1, (const char *[]){hfw, "no optimizer state", NULL}, hfw, NULL);
    expect(1, (const char *[]){"no model weights", NULL}, hfopt, NULL);
    expect(1, (const char *[]){"--fim", NULL}, "--signal", "fim", nano, NULL);
    /* an output that cannot be written */
    expect(1, (const char *[]){"/nonexistent-dir/h.json", NULL}, "-o", "/nonexistent-dir/h.json", nano, NULL);
    /* usage errors */
    expect(2, (const char *[]){"--signal", NULL}, "--signal", "loud", nano, NULL);
    expect(2, (const char *[]){"--hbm", NULL}, "--hbm", "lots", nano, NULL);
    expect(2, (const char *[]){"no CHECKPOINT", NULL}, NULL);
    /* getopt failures: one line, named as typed, program "hmt analyze" (not the binary) */
    expect(2, (const char *[]){"hmt analyze: unrecognized option '--bogus' (see hmt analyze --help)", NULL},
           "--bogus", nano, NULL);
    expect(2, (const char *[]){"hmt analyze: unrecognized option '-x'", NULL}, "-x", nano, NULL);
    expect(2, (const char *[]){"hmt analyze: option '--hbm' requires a value", NULL}, nano, "--hbm", NULL);
    expect(2, (const char *[]){"hmt analyze: option '--output' requires a value", NULL}, nano, "--output", NULL);
    /* a bare number above 1 is neither a fraction nor (without B) a byte count */
    expect(2, (const char *[]){"bad --hbm 2", "0.3", "512M", "2048B", NULL}, "--hbm", "2", nano, NULL);
    expect(2, (const char *[]){"bad --cpu 100", NULL}, "--cpu", "100", nano, NULL);
    expect(1, (const char *[]){"cumulative", NULL}, "--by", "count", "--hbm", "0.5", "--cpu", "0.3", nano, NULL);

    free(ck);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", tmp);
    if (failures) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    printf("ok: every bad input gave one line and a non-zero exit\n");
    return 0;
}
