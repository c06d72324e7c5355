/* hints_unit.c — interpose/hints.c on its own: loads hints files written here (synthetic
 * tensors, fingerprints computed per include/hmt/hints.h) and feeds it the allocations and
 * host->device copies a framework would make, at made-up device addresses. One scenario
 * per run: `hints_unit SCENARIO WORKDIR`; each ctest entry is one behaviour.
 *
 *   fingerprint  one allocation per tensor, F32 upload: every tensor named by fingerprint
 *   segment      tensors sub-allocated in a 20 MiB segment: named by fingerprint
 *   bf16         cast to bf16 on the host before upload: named by the BF16 fingerprint
 *   order        cast on the device after upload (F32 staging buffer, BF16 destination):
 *                named by allocation order and size, staging buffers not mistaken
 *   order_off    the same with HMT_HINTS_ORDER=0: nothing named
 *   lifetime     tags die with their memory; partial overwrites drop them; exact rewrites
 *                keep them; tier_of answers the hottest overlapping tier
 *   dup          duplicate names (first kept), inconsistent sizes (skipped), a tensor never
 *                loaded, equal contents in two tensors
 *   flat         the seed's flat map loads, names nothing, says so once
 *   invalid      unreadable and malformed files: one error line each, hints inactive
 *   strict       invalid file with HMT_STRICT=1: the process exits 1 with one error line
 *   rank         {rank} in HMT_HINTS expands to $RANK, else $LOCAL_RANK
 *   wrong_model  hints for another model (sizes match, contents never): named by order,
 *                uploads into them counted as tagged copies, one warning line, once
 *   few          one small tensor of eight uploaded: the exit check warns
 *   threads      writers tag and free their own regions while readers query all of them:
 *                readers only ever see whole, correctly placed tensors (run it under
 *                HMT_SANITIZE=thread to check the locking itself)
 */
#define _GNU_SOURCE
#include "hints.h"
#include "internal.h"

#include <hmt/hints.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

void hmt_test_options(void);

static int failures;
#define CHECK(c, ...) do { if (!(c)) { failures++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
        fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

/* ---- synthetic model ---- */
struct tensor { const char *name, *tier; size_t numel; int fill; float *f32; uint16_t *bf16; };
static struct tensor T[] = {
    { "transformer.wte.weight",          "HBM", 256 * 16, 1, 0, 0 },
    { "transformer.h.0.ln_1.weight",     "CPU", 64,       2, 0, 0 },   /* all ones */
    { "transformer.h.0.ln_1.bias",       "SSD", 64,       3, 0, 0 },   /* all zeros */
    { "transformer.h.0.mlp.c_fc.weight", "CPU", 128 * 128, 1, 0, 0 },  /* exactly 64 KiB */
    { "transformer.h.0.mlp.c_fc.bias",   "SSD", 128,      1, 0, 0 },
    { "transformer.h.0.mlp.c_proj.weight","SSD", 300 * 128, 1, 0, 0 }, /* > 64 KiB prefix */
    { "transformer.h.1.ln_1.weight",     "HBM", 64,       2, 0, 0 },   /* same bytes as h.0 */
    { "transformer.h.1.mlp.c_fc.weight", "HBM", 128 * 128, 1, 0, 0 },  /* size of h.0's */
};
#define NT (sizeof T / sizeof T[0])

static uint16_t to_bf16(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    u += 0x7fffu + ((u >> 16) & 1u);    /* round to nearest even */
    return (uint16_t)(u >> 16);
}

static void make_model(void)
{
    uint32_t s = 12345;
    for (size_t i = 0; i < NT; i++) {
        T[i].f32 = malloc(T[i].numel * 4);
        T[i].bf16 = malloc(T[i].numel * 2);
        for (size_t k = 0; k < T[i].numel; k++) {
            s = s * 1664525u + 1013904223u;
            float v = T[i].fill == 2 ? 1.0f : T[i].fill == 3 ? 0.0f : ((float)(s >> 8) / 16777216.0f - 0.5f);
            T[i].f32[k] = v;
            T[i].bf16[k] = to_bf16(v);
        }
    }
}

static char *fp_hex(const void *p, size_t n)
{
    static char b[4][17];
    static int r;
    size_t k = n < HMT_FP_PREFIX_BYTES ? n : HMT_FP_PREFIX_BYTES;
    char *o = b[r++ & 3];
    snprintf(o, 17, "%016llx", (unsigned long long)XXH64(p, k, n));
    return o;
}

/* Writes a hints file for T[0..n) (plus `extra` raw JSON tensor entries). */
static void write_hints(const char *path, size_t n, const char *extra)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", HMT_HINTS_FORMAT);
    cJSON_AddNumberToObject(root, "version", HMT_HINTS_VERSION);
    cJSON *tiers = cJSON_AddArrayToObject(root, "tiers");
    const char *tn[] = { "HBM", "CPU", "SSD" };
    for (int i = 0; i < 3; i++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "name", tn[i]);
        cJSON_AddItemToArray(tiers, t);
    }
    cJSON *arr = cJSON_AddArrayToObject(root, "tensors");
    for (size_t i = 0; i < n; i++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "name", T[i].name);
        char mod[128];
        snprintf(mod, sizeof mod, "%s", T[i].name);
        *strrchr(mod, '.') = 0;
        cJSON_AddStringToObject(t, "module", mod);
        cJSON_AddStringToObject(t, "tier", T[i].tier);
        cJSON_AddNumberToObject(t, "order", (double)i);
        cJSON_AddStringToObject(t, "dtype", "F32");
        cJSON_AddNumberToObject(t, "numel", (double)T[i].numel);
        cJSON_AddNumberToObject(t, "bytes", (double)(T[i].numel * 4));
        cJSON *fps = cJSON_AddObjectToObject(t, "fingerprints");
        cJSON_AddStringToObject(fps, "F32", fp_hex(T[i].f32, T[i].numel * 4));
        cJSON_AddStringToObject(fps, "BF16", fp_hex(T[i].bf16, T[i].numel * 2));
        cJSON_AddItemToArray(arr, t);
    }
    if (extra) {
        cJSON *more = cJSON_Parse(extra);
        for (cJSON *e = more ? more->child : NULL; e;) {
            cJSON *nx = e->next;
            cJSON_AddItemToArray(arr, cJSON_DetachItemViaPointer(more, e));
            e = nx;
        }
        cJSON_Delete(more);
    }
    char *s = cJSON_Print(root);
    FILE *f = fopen(path, "w");
    fputs(s, f);
    fclose(f);
    free(s);
    cJSON_Delete(root);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* Runs hints init with stderr captured; returns the number of lines it wrote. */
static int init_counting_lines(const char *dir, int *rc)
{
    char p[512];
    snprintf(p, sizeof p, "%s/stderr.txt", dir);
    fflush(stderr);
    int saved = dup(2);
    FILE *f = fopen(p, "w+");
    dup2(fileno(f), 2);
    *rc = hmt_hints_init();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(f);
    int lines = 0, c;
    while ((c = fgetc(f)) != EOF) {
        fputc(c, stderr);
        lines += c == '\n';
    }
    fclose(f);
    return lines;
}

/* Runs hmt_hints_check_named with stderr captured into buf; returns what it returned. */
static int check_named_capture(const char *dir, char *buf, size_t len)
{
    char p[512];
    snprintf(p, sizeof p, "%s/stderr-named.txt", dir);
    fflush(stderr);
    int saved = dup(2);
    FILE *f = fopen(p, "w+");
    dup2(fileno(f), 2);
    int r = hmt_hints_check_named();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(f);
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = 0;
    fclose(f);
    fputs(buf, stderr);
    return r;
}

/* htod_bytes = tagged_htod_bytes + untagged_bytes, always. */
static void check_htod_sum(void);

static cJSON *stats(void)
{
    cJSON *root = cJSON_CreateObject();
    hmt_hints_stats_json(root);
    return root;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static const cJSON *hints_obj(cJSON *root) { return cJSON_GetObjectItemCaseSensitive(root, "hints"); }

static int tier_code(const char *t) { return !strcmp(t, "HBM") ? 0 : !strcmp(t, "CPU") ? 1 : 2; }

/* Every tensor i in [0, n) should be named at addr[i], with bytes[i]. */
static void check_named(const CUdeviceptr *addr, const size_t *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *nm = hmt_hints_name_at(addr[i] + bytes[i] / 2);
        CUdeviceptr st = 0;
        size_t len = 0;
        int tier = -1;
        CHECK(nm && !strcmp(nm, T[i].name), "tensor %zu: named %s, want %s", i, nm ? nm : "(none)", T[i].name);
        CHECK(hmt_hints_tensor_at(addr[i], &st, &len, &tier) && st == addr[i] && len == bytes[i] &&
              tier == tier_code(T[i].tier), "tensor %zu: tensor_at %llx+%zu tier %d", i,
              (unsigned long long)st, len, tier);
    }
}

static void check_htod_sum(void)
{
    cJSON *st = stats();
    const cJSON *h = hints_obj(st);
    CHECK(num(h, "htod_bytes") == num(h, "tagged_htod_bytes") + num(h, "untagged_bytes"),
          "htod_bytes %g != tagged_htod_bytes %g + untagged_bytes %g", num(h, "htod_bytes"),
          num(h, "tagged_htod_bytes"), num(h, "untagged_bytes"));
    cJSON_Delete(st);
}

static void expect_counts(double tagged, double by_fp, double by_order)
{
    check_htod_sum();
    cJSON *st = stats();
    const cJSON *h = hints_obj(st);
    CHECK(h, "no hints object in stats");
    CHECK(num(h, "tagged_tensors") == tagged, "tagged_tensors %g want %g", num(h, "tagged_tensors"), tagged);
    CHECK(num(h, "tagged_by_fingerprint") == by_fp, "by fingerprint %g want %g", num(h, "tagged_by_fingerprint"), by_fp);
    CHECK(num(h, "tagged_by_order") == by_order, "by order %g want %g", num(h, "tagged_by_order"), by_order);
    char *s = cJSON_PrintUnformatted(st);
    if (failures)
        fprintf(stderr, "%s\n", s);
    free(s);
    cJSON_Delete(st);
}

#define BASE 0x7f1000000000ull

static int sc_fingerprint(int bf16)
{
    CUdeviceptr addr[NT];
    size_t bytes[NT];
    CUdeviceptr next = BASE;
    for (size_t i = 0; i < NT; i++) {
        bytes[i] = T[i].numel * (bf16 ? 2 : 4);
        addr[i] = next;
        next += (bytes[i] + 511) / 512 * 512 + 512;
        hmt_hints_note_alloc(addr[i], bytes[i]);
        hmt_hints_note_htod(addr[i], bf16 ? (void *)T[i].bf16 : (void *)T[i].f32, bytes[i]);
    }
    check_named(addr, bytes, NT);
    expect_counts(NT, NT, 0);
    CHECK(hmt_hints_check_named() == 0, "warned although every tensor was named by fingerprint");
    return 0;
}

static int sc_segment(void)
{
    const size_t seg = 20u << 20;
    CUdeviceptr addr[NT];
    size_t bytes[NT];
    hmt_hints_note_alloc(BASE, seg);
    CUdeviceptr off = 0;
    for (size_t i = 0; i < NT; i++) {
        bytes[i] = T[i].numel * 4;
        addr[i] = BASE + off;
        off += (bytes[i] + 511) / 512 * 512;     /* caching allocator: 512-byte blocks */
        hmt_hints_note_htod(addr[i], T[i].f32, bytes[i]);
    }
    /* an unrelated upload (a batch of tokens) into the same segment names nothing */
    static int32_t batch[1000];
    hmt_hints_note_htod(BASE + off, batch, sizeof batch);
    CHECK(hmt_hints_tier_of(BASE + off, sizeof batch) == -1, "batch got a tier");
    check_named(addr, bytes, NT);
    expect_counts(NT, NT, 0);
    cJSON *st = stats();
    CHECK(num(hints_obj(st), "untagged_bytes") == sizeof batch, "untagged_bytes %g", num(hints_obj(st), "untagged_bytes"));
    cJSON_Delete(st);
    /* the segment goes: every tag with it */
    hmt_hints_note_free(BASE, seg);
    CHECK(hmt_hints_tier_of(BASE, seg) == -1, "tags outlived their segment");
    return 0;
}

/* PyTorch's .to(device, dtype, non_blocking=True): destination in the target dtype, then a
 * staging buffer in the source dtype, upload, cast kernel, staging buffer freed. */
static int sc_order(int on)
{
    CUdeviceptr addr[NT];
    size_t bytes[NT];
    CUdeviceptr next = BASE;
    for (size_t i = 0; i < NT; i++) {
        bytes[i] = T[i].numel * 2;
        addr[i] = next;
        next += (bytes[i] + 511) / 512 * 512;
        hmt_hints_note_alloc(addr[i], bytes[i]);
        CUdeviceptr tmp = next;
        size_t tb = T[i].numel * 4;
        next += (tb + 511) / 512 * 512;
        hmt_hints_note_alloc(tmp, tb);
        /* even tensors: the checkpoint's values (the staging buffer is named by fingerprint
         * until it is freed); odd ones: other values (a later step), named by nothing */
        float *jittered = malloc(tb);
        for (size_t k = 0; k < T[i].numel; k++)
            jittered[k] = T[i].f32[k] + (i % 2 ? 1.0f : 0.0f);
        hmt_hints_note_htod(tmp, jittered, tb);
        free(jittered);
        CHECK(!on || hmt_hints_name_at(addr[i]), "tensor %zu not named at its allocation", i);
        hmt_hints_note_free(tmp, tb);
    }
    if (!on) {
        for (size_t i = 0; i < NT; i++)
            CHECK(!hmt_hints_name_at(addr[i]), "HMT_HINTS_ORDER=0 named tensor %zu", i);
        /* the even tensors' staging buffers were named by fingerprint while they lived
         * (tensor 6's bytes equal tensor 1's, so they name 1, the first without a tag) */
        expect_counts(NT / 2, NT / 2, 0);
        return 0;
    }
    check_named(addr, bytes, NT);
    expect_counts(NT, 0, NT);
    /* all by order is normal here: the staging uploads matched, so no warning */
    CHECK(hmt_hints_check_named() == 0, "warned on a device-side cast (staging uploads matched)");
    /* stats report each tensor where it lives, not where its staging buffer was */
    cJSON *st = stats();
    size_t i = 0;
    for (const cJSON *x = cJSON_GetObjectItemCaseSensitive(hints_obj(st), "tensors")->child; x; x = x->next, i++) {
        char want[24];
        snprintf(want, sizeof want, "0x%llx", (unsigned long long)addr[i]);
        CHECK(!strcmp(cJSON_GetObjectItemCaseSensitive(x, "addr")->valuestring, want) &&
              num(x, "bytes") == (double)bytes[i], "tensor %zu reported at %s", i,
              cJSON_GetObjectItemCaseSensitive(x, "addr")->valuestring);
    }
    cJSON_Delete(st);
    return 0;
}

/* A hints file for another model: the program allocates tensors of the hinted sizes (so
 * they are named by order) but uploads other contents straight into them. Uploads into an
 * order-named tensor count as tagged copies (they once counted as untagged too, so
 * tagged_bytes + untagged_bytes exceeded htod_bytes), and the exit check warns once. */
static int sc_wrong_model(const char *dir)
{
    CUdeviceptr next = BASE;
    double dev = 0;
    for (size_t i = 0; i < NT; i++) {
        size_t b = T[i].numel * 4;
        hmt_hints_note_alloc(next, b);
        float *other = malloc(b);
        for (size_t k = 0; k < T[i].numel; k++)
            other[k] = T[i].f32[k] * 3.0f + 7.0f;
        hmt_hints_note_htod(next, other, b);
        free(other);
        dev += (double)b;
        next += (b + 511) / 512 * 512;
    }
    /* a batch of tokens in memory no tensor owns */
    static int32_t batch[1000];
    hmt_hints_note_alloc(next, sizeof batch);
    hmt_hints_note_htod(next, batch, sizeof batch);
    expect_counts(NT, 0, NT);
    cJSON *st = stats();
    const cJSON *h = hints_obj(st);
    CHECK(num(h, "tagged_htod_bytes") == dev && num(h, "untagged_bytes") == sizeof batch,
          "tagged_htod_bytes %g (want %g), untagged_bytes %g (want %zu)", num(h, "tagged_htod_bytes"),
          dev, num(h, "untagged_bytes"), sizeof batch);
    CHECK(num(h, "tagged_bytes") + num(h, "untagged_bytes") == num(h, "htod_bytes"),
          "tagged_bytes %g + untagged_bytes %g != htod_bytes %g", num(h, "tagged_bytes"),
          num(h, "untagged_bytes"), num(h, "htod_bytes"));
    cJSON_Delete(st);
    char buf[1024], want[700];
    CHECK(check_named_capture(dir, buf, sizeof buf) == 1, "no warning for 0 by fingerprint, all by order");
    snprintf(want, sizeof want, "hints: named %zu of %zu hinted tensors (0 by fingerprint, %zu by order): "
             "is %s for this model?\n", NT, NT, NT, getenv("HMT_HINTS"));
    CHECK(strstr(buf, want) && strchr(buf, '\n') == buf + strlen(buf) - 1, "warning: %s", buf);
    /* once: a second check says nothing */
    check_named_capture(dir, buf, sizeof buf);
    CHECK(!*buf, "warned twice: %s", buf);
    return 0;
}

/* Only one small tensor of the hinted model is uploaded: fewer than half of the hinted
 * bytes named, so the exit check warns although what was named was by fingerprint. */
static int sc_few(const char *dir)
{
    size_t b = T[1].numel * 4;
    hmt_hints_note_alloc(BASE, b);
    hmt_hints_note_htod(BASE, T[1].f32, b);
    expect_counts(1, 1, 0);
    char buf[1024], want[64];
    CHECK(check_named_capture(dir, buf, sizeof buf) == 1, "no warning for 1 of %zu tensors named", NT);
    snprintf(want, sizeof want, "named 1 of %zu hinted tensors (1 by fingerprint, 0 by order)", NT);
    CHECK(strstr(buf, want), "warning: %s", buf);
    return 0;
}

static int sc_lifetime(void)
{
    CUdeviceptr addr[NT];
    size_t bytes[NT];
    hmt_hints_note_alloc(BASE, 4u << 20);
    CUdeviceptr off = 0;
    for (size_t i = 0; i < NT; i++) {
        bytes[i] = T[i].numel * 4;
        addr[i] = BASE + off;
        off += bytes[i];                        /* packed back to back */
        hmt_hints_note_htod(addr[i], T[i].f32, bytes[i]);
    }
    check_named(addr, bytes, NT);
    /* a 2 MiB chunk covering all: hottest tier wins */
    CHECK(hmt_hints_tier_of(BASE, 2u << 20) == HMT_TIER_HBM, "tier_of all != HBM");
    CHECK(hmt_hints_tier_of(addr[1], bytes[1] + bytes[2]) == HMT_TIER_CPU, "CPU+SSD != CPU");
    CHECK(hmt_hints_tier_of(addr[2], bytes[2]) == HMT_TIER_SSD, "SSD tensor");
    CHECK(hmt_hints_tier_of(addr[2] + bytes[2] - 1, 1) == HMT_TIER_SSD, "last byte");
    CHECK(hmt_hints_tier_of(addr[NT - 1] + bytes[NT - 1], 4096) == -1, "past the end");
    /* rewriting a tensor in place with other values keeps its name (load_state_dict) */
    float *other = calloc(T[4].numel, 4);
    other[0] = 42;
    hmt_hints_note_htod(addr[4], other, bytes[4]);
    CHECK(hmt_hints_name_at(addr[4]) && !strcmp(hmt_hints_name_at(addr[4]), T[4].name), "rewrite dropped the name");
    /* a copy over part of two tensors means the memory holds something else now */
    hmt_hints_note_htod(addr[4] + 4, other, bytes[4]);
    CHECK(!hmt_hints_name_at(addr[4]) && !hmt_hints_name_at(addr[5]), "overwritten tensors still named");
    CHECK(hmt_hints_name_at(addr[3]) && hmt_hints_name_at(addr[6]), "neighbours lost their names");
    free(other);
    /* freeing a sub-range (another allocator's block) kills exactly what overlaps it */
    hmt_hints_note_free(addr[0], bytes[0]);
    CHECK(!hmt_hints_name_at(addr[0]) && hmt_hints_name_at(addr[1]), "free of tensor 0");
    /* fresh allocation over stale tags */
    hmt_hints_note_alloc(addr[1], bytes[1] + bytes[2] + 4);   /* a size no tensor has */
    CHECK(!hmt_hints_name_at(addr[1]) && !hmt_hints_name_at(addr[2]), "alloc over stale tags");
    hmt_hints_note_free(BASE, 4u << 20);
    CHECK(hmt_hints_tier_of(BASE, 4u << 20) == -1, "tags left after free");
    /* stats keep what was named even after the memory went */
    cJSON *st = stats();
    CHECK(num(hints_obj(st), "tagged_tensors") == NT, "tagged_tensors %g", num(hints_obj(st), "tagged_tensors"));
    CHECK(num(hints_obj(st), "live_tags") == 0, "live_tags %g", num(hints_obj(st), "live_tags"));
    cJSON_Delete(st);
    return 0;
}

static int sc_dup(const char *dir)
{
    (void)dir;
    CUdeviceptr addr[NT];
    size_t bytes[NT];
    CUdeviceptr next = BASE;
    /* upload h.1.ln_1.weight's bytes first: equal to h.0's, so h.0 gets the first copy
     * (state-dict order), h.1 the second */
    for (size_t i = 0; i < NT; i++) {
        bytes[i] = T[i].numel * 4;
        addr[i] = next;
        next += bytes[i] + 512;
        hmt_hints_note_htod(addr[i], T[i].f32, bytes[i]);
    }
    check_named(addr, bytes, NT);
    /* re-uploading h.0's weight to the same place keeps it h.0 (not the twin) */
    hmt_hints_note_htod(addr[1], T[6].f32, bytes[1]);
    CHECK(!strcmp(hmt_hints_name_at(addr[1]), T[1].name), "re-upload renamed the twin");
    cJSON *st = stats();
    const cJSON *h = hints_obj(st);
    CHECK(num(h, "duplicates") == 1, "duplicates %g", num(h, "duplicates"));
    CHECK(num(h, "skipped") == 1, "skipped %g", num(h, "skipped"));
    CHECK(num(h, "hinted_tensors") == NT + 1, "hinted %g", num(h, "hinted_tensors"));
    CHECK(num(h, "never_loaded") == 1, "never_loaded %g", num(h, "never_loaded"));
    CHECK(num(h, "tagged_tensors") == NT, "tagged %g", num(h, "tagged_tensors"));
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(h, "tensors");
    int seen_never = 0;
    for (const cJSON *x = arr ? arr->child : NULL; x; x = x->next) {
        const char *nm = cJSON_GetObjectItemCaseSensitive(x, "name")->valuestring;
        const char *how = cJSON_GetObjectItemCaseSensitive(x, "named")->valuestring;
        if (!strcmp(nm, "lm_head.weight"))
            seen_never = !strcmp(how, "none");
        else
            CHECK(!strcmp(how, "fingerprint"), "%s named %s", nm, how);
        CHECK(strcmp(nm, "bogus.weight"), "skipped entry listed");
    }
    CHECK(seen_never, "lm_head.weight not listed as never loaded");
    cJSON_Delete(st);
    return 0;
}

static int sc_flat(const char *dir)
{
    int rc;
    int lines = init_counting_lines(dir, &rc);
    CHECK(rc == 0, "flat file: rc %d", rc);
    CHECK(lines == 1, "flat file: %d lines on stderr, want 1", lines);
    CHECK(!hmt_hints_active(), "flat file made tagging active");
    hmt_hints_note_alloc(BASE, T[0].numel * 4);
    hmt_hints_note_htod(BASE, T[0].f32, T[0].numel * 4);
    CHECK(hmt_hints_tier_of(BASE, 1) == -1, "flat file named memory");
    cJSON *st = stats();
    const cJSON *h = hints_obj(st);
    CHECK(h && !strcmp(cJSON_GetObjectItemCaseSensitive(h, "format")->valuestring, "flat"), "format");
    CHECK(num(h, "flat_modules") == 3, "flat_modules %g", num(h, "flat_modules"));
    cJSON_Delete(st);
    return 0;
}

static int sc_invalid(const char *dir)
{
    int rc;
    int lines = init_counting_lines(dir, &rc);
    CHECK(rc < 0, "invalid file accepted");
    CHECK(lines == 1, "invalid file: %d lines on stderr, want 1", lines);
    CHECK(!hmt_hints_active(), "invalid file active");
    hmt_hints_note_alloc(BASE, T[0].numel * 4);
    hmt_hints_note_htod(BASE, T[0].f32, T[0].numel * 4);
    CHECK(hmt_hints_tier_of(BASE, 1) == -1, "invalid file named memory");
    cJSON *st = stats();
    const cJSON *h = hints_obj(st);
    CHECK(h && !strcmp(cJSON_GetObjectItemCaseSensitive(h, "format")->valuestring, "invalid"), "format");
    cJSON_Delete(st);
    return 0;
}

static int sc_strict(const char *dir)
{
    pid_t pid = fork();
    if (pid == 0) {
        int rc;
        init_counting_lines(dir, &rc);
        _exit(0);     /* strict must not get here */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1, "strict: status %#x, want exit 1", status);
    char p[512];
    snprintf(p, sizeof p, "%s/stderr.txt", dir);
    FILE *f = fopen(p, "r");
    int lines = 0, c;
    while (f && (c = fgetc(f)) != EOF)
        lines += c == '\n';
    if (f)
        fclose(f);
    CHECK(lines == 1, "strict: %d lines, want 1", lines);
    return 0;
}

#define REGION (16ull << 20)
#define NWRITERS 3
static atomic_int stop, reader_errors;
static size_t layout_off[NT], layout_bytes[NT];

static void *writer(void *arg)
{
    CUdeviceptr base = BASE + (uintptr_t)arg * REGION;
    for (int it = 0; it < 300; it++) {
        hmt_hints_note_alloc(base, REGION);
        for (size_t i = 0; i < NT; i++)
            hmt_hints_note_htod(base + layout_off[i], T[i].f32, layout_bytes[i]);
        for (size_t i = 0; i < NT; i++)
            if (!hmt_hints_name_at(base + layout_off[i]))
                atomic_fetch_add(&reader_errors, 1);
        hmt_hints_note_free(base, REGION);
    }
    return NULL;
}

static void *reader(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop))
        for (int w = 0; w < NWRITERS; w++)
            for (size_t i = 0; i < NT; i++) {
                /* h.0/h.1 ln_1.weight hold equal bytes: with several copies of the model
                 * alive either name is right, so only their extent is checked */
                int twin = T[i].fill == 2;
                CUdeviceptr a = BASE + (CUdeviceptr)w * REGION + layout_off[i] + layout_bytes[i] / 2, st;
                size_t len;
                int tier;
                if (hmt_hints_tensor_at(a, &st, &len, &tier) &&
                    (st != a - layout_bytes[i] / 2 || len != layout_bytes[i] || (!twin && tier != tier_code(T[i].tier))))
                    atomic_fetch_add(&reader_errors, 1);
                int t = hmt_hints_tier_of(a, 1);
                if (t != -1 && !twin && t != tier_code(T[i].tier))
                    atomic_fetch_add(&reader_errors, 1);
            }
    return NULL;
}

static int sc_threads(void)
{
    size_t off = 0;
    for (size_t i = 0; i < NT; i++) {
        layout_off[i] = off;
        layout_bytes[i] = T[i].numel * 4;
        off += (layout_bytes[i] + 511) / 512 * 512;
    }
    pthread_t w[NWRITERS], r[2];
    for (uintptr_t k = 0; k < NWRITERS; k++)
        pthread_create(&w[k], NULL, writer, (void *)k);
    for (int k = 0; k < 2; k++)
        pthread_create(&r[k], NULL, reader, NULL);
    for (int k = 0; k < NWRITERS; k++)
        pthread_join(w[k], NULL);
    atomic_store(&stop, 1);
    for (int k = 0; k < 2; k++)
        pthread_join(r[k], NULL);
    CHECK(atomic_load(&reader_errors) == 0, "%d inconsistent answers", atomic_load(&reader_errors));
    CHECK(hmt_hints_tier_of(BASE, NWRITERS * REGION) == -1, "tags left after every free");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: hints_unit SCENARIO WORKDIR\n");
        return 1;
    }
    const char *sc = argv[1], *dir = argv[2];
    char path[512], cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    if (system(cmd) != 0)
        return 1;
    make_model();
    snprintf(path, sizeof path, "%s/hints.json", dir);
    setenv("HMT_HINTS", path, 1);
    setenv("HMT_STATS_TENSORS", "1", 1);

    if (!strcmp(sc, "dup")) {
        /* T plus: a duplicate of tensor 0 with another tier, an entry whose bytes contradict
         * numel x dtype, a tensor the program never loads */
        write_hints(path, NT,
            "[{\"name\":\"transformer.wte.weight\",\"tier\":\"SSD\",\"numel\":4096,\"dtype\":\"F32\"},"
            " {\"name\":\"bogus.weight\",\"tier\":\"CPU\",\"numel\":10,\"dtype\":\"F32\",\"bytes\":44,"
            "  \"fingerprints\":{\"F32\":\"0123456789abcdef\"}},"
            " {\"name\":\"lm_head.weight\",\"tier\":\"CPU\",\"numel\":1000,\"dtype\":\"F32\",\"bytes\":4000,"
            "  \"fingerprints\":{\"F32\":\"0123456789abcdef\"}}]");
    } else if (!strcmp(sc, "flat")) {
        write_text(path, "{\"transformer.h.0.attn\": \"HBM\", \"transformer.h.0.mlp\": \"CPU\","
                         " \"transformer.h.1.mlp\": \"SSD\"}");
    } else if (!strcmp(sc, "invalid") || !strcmp(sc, "strict")) {
        write_text(path, "{\"format\": \"hmt-tier-hints\", \"version\": 1, \"tensors\": [ {\"name\": ");
        if (!strcmp(sc, "strict"))
            setenv("HMT_STRICT", "1", 1);
    } else if (!strcmp(sc, "invalid_missing")) {
        snprintf(path, sizeof path, "%s/does-not-exist.json", dir);
        setenv("HMT_HINTS", path, 1);
        sc = "invalid";
    } else if (!strcmp(sc, "invalid_tier")) {
        write_text(path, "{\"format\": \"hmt-tier-hints\", \"version\": 1, \"tensors\": "
                         "[{\"name\": \"a.w\", \"tier\": \"TAPE\", \"numel\": 4, \"dtype\": \"F32\"}]}");
        sc = "invalid";
    } else if (!strcmp(sc, "rank")) {
        /* {rank} from RANK; a file for another rank must not be read */
        snprintf(path, sizeof path, "%s/hints.3.json", dir);
        write_hints(path, NT, NULL);
        snprintf(path, sizeof path, "%s/hints.{rank}.json", dir);
        setenv("HMT_HINTS", path, 1);
        setenv("RANK", "3", 1);
        setenv("LOCAL_RANK", "1", 1);
        sc = "fingerprint";
    } else if (!strcmp(sc, "rank_local")) {
        snprintf(path, sizeof path, "%s/hints.1.json", dir);
        write_hints(path, NT, NULL);
        snprintf(path, sizeof path, "%s/hints.{rank}.json", dir);
        setenv("HMT_HINTS", path, 1);
        unsetenv("RANK");
        setenv("LOCAL_RANK", "1", 1);
        sc = "fingerprint";
    } else {
        write_hints(path, NT, NULL);
        if (!strcmp(sc, "order_off"))
            setenv("HMT_HINTS_ORDER", "0", 1);
    }
    hmt_test_options();

    if (!strcmp(sc, "flat")) sc_flat(dir);
    else if (!strcmp(sc, "invalid")) sc_invalid(dir);
    else if (!strcmp(sc, "strict")) sc_strict(dir);
    else {
        CHECK(hmt_hints_init() == 0 && hmt_hints_active(), "hints did not load");
        if (!strcmp(sc, "fingerprint")) sc_fingerprint(0);
        else if (!strcmp(sc, "bf16")) sc_fingerprint(1);
        else if (!strcmp(sc, "segment")) sc_segment();
        else if (!strcmp(sc, "order")) sc_order(1);
        else if (!strcmp(sc, "order_off")) sc_order(0);
        else if (!strcmp(sc, "lifetime")) sc_lifetime();
        else if (!strcmp(sc, "dup")) sc_dup(dir);
        else if (!strcmp(sc, "threads")) sc_threads();
        else if (!strcmp(sc, "wrong_model")) sc_wrong_model(dir);
        else if (!strcmp(sc, "few")) sc_few(dir);
        else {
            fprintf(stderr, "unknown scenario %s\n", sc);
            return 1;
        }
    }
    if (failures)
        fprintf(stderr, "%s: %d check(s) failed\n", argv[1], failures);
    return failures ? 1 : 0;
}
