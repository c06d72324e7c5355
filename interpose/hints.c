/* hints.c — names device memory after the tensors a hints file lists, so residency can place
 * each chunk by its hinted tier.
 *
 * The interposer sees allocation sizes and copy bytes, never tensor names. Two routes connect
 * them (DESIGN.md, "Naming memory"):
 *   fingerprint  on a host->device copy whose size equals a hinted tensor's size in one of its
 *                dtype variants, hash the source (include/hmt/hints.h) and, on a match, tag the
 *                destination bytes. Works wherever the bytes land, including sub-ranges of a
 *                caching allocator's segment. A copy of a size no tensor has costs one probe
 *                of a read-only hash table (plus one interval lookup once any tag exists).
 *   order        where fingerprints cannot match (the job casts on the device after upload, or
 *                loads other values of the same shapes), an allocation whose size equals a
 *                variant of the next unnamed tensors in the hints' state-dict order is tagged
 *                with that tensor. Only useful when each tensor has its own cuMemAlloc (the
 *                caching allocator's segments hide tensor sizes); a fingerprint tag replaces
 *                any order tag it overlaps, and stats say which tensor was named how.
 *                Candidates are the next 8 unnamed tensors; after the first match only sizes
 *                in that match's dtype count, so the fp32 staging buffer of a cast is not
 *                taken for the next tensor. Its weakness: an allocation that happens to
 *                have the next tensor's size but holds something else (a caching-allocator
 *                segment when a hinted tensor is exactly 2 or 20 MiB) is named wrongly until
 *                it is freed or overwritten by a host copy; the placement cost is a tier, never
 *                correctness. HMT_HINTS_ORDER=0 turns the route off.
 *   equal bytes  several tensors with the same fingerprint (tied weights untied by the
 *                program, untrained LayerNorms): each copy names the first such tensor in
 *                state-dict order that has no fingerprint tag yet, else the first one.
 * A tag dies with its memory (cuMemFree, a fresh allocation over it, or a host->device copy
 * that overwrites part of it with bytes that name nothing).
 *
 * The seed's flat {"module": "HBM|CPU|SSD"} map names modules, not tensors, and carries no
 * sizes or fingerprints: nothing in the process can tell which device bytes belong to a
 * module. It is accepted (not an error) and reported, but names no memory; hmt says so once
 * and runs with every chunk HBM-preferred. `hmt analyze` turns a checkpoint into a file
 * hmt can apply (its `modules` map carries the same information).
 *
 * Not named: a tensor uploaded in pieces (row-wise 2D copies of a strided tensor, or
 * a flat buffer holding many tensors, as FSDP does) matches no size; nor memory written only
 * by the device (activations, optimizer state). Those stay untagged: HBM-preferred.
 *
 * Strict mode: an injected library has no error path a program notices, and failing cuInit
 * would make frameworks fall back to the CPU silently; HMT_STRICT=1 therefore exits(1) at load
 * (constructor) after the one error line.
 *
 * Shapes: the hints (tensors, size index) are built once by hmt_hints_init and read-only
 * afterwards, so the copy path reads them without a lock. Tags are a sorted array of
 * disjoint intervals under a rwlock: launch-path queries take it shared (a binary search).
 * Inserting is a memmove of the tail, cheap when uploads come in address order as they
 * usually do.
 *
 * Lock: hints_lock is a leaf. Callers may hold residency's hmt_map_lock when they call in
 * (residency.h's order puts hints under it); nothing is called while holding hints_lock but
 * memory allocation. Per-tensor fault/evict counters are atomics, updated under the shared
 * lock.
 */
#define _GNU_SOURCE
#include "hints.h"
#include "internal.h"

#include <hmt/hints.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ---- loaded hints (immutable after init) ------------------------------------------------ */

enum { NAMED_NONE = 0, NAMED_FINGERPRINT = 1, NAMED_ORDER = 2 };
static const char *const named_str[] = { "none", "fingerprint", "order" };

#define MAX_VARIANTS 4

struct variant {
    uint64_t size;            /* numel * element size of this dtype */
    uint64_t fp;              /* fingerprint of that dtype's bytes */
    char dtype[6];            /* "F32", "BF16", ... */
    int has_fp;
};

struct hint {
    char *name, *module;
    int tier;
    long order;               /* state-dict index from the file */
    uint32_t order_pos;       /* its index in H.by_order */
    uint64_t numel;
    int nvar;
    struct variant var[MAX_VARIANTS];
    /* run time: under hints_lock (exclusive to write, shared to read) */
    int live_fp, live_order;  /* live tags by method */
    int last_named;           /* method of the latest tag (kept after the tags die) */
    int last_var;             /* variant of the latest tag */
    uint64_t tagged_bytes;    /* bytes of the latest tag */
    CUdeviceptr last_addr;
    /* run time: atomics (residency's fault/evict notes, under the shared lock) */
    _Atomic uint64_t faults, bytes_in, evictions, bytes_out;
};

/* One (size, fingerprint) a copy may match. Sorted by size; the hash maps a size to its run. */
struct size_ent { uint64_t size, fp; uint32_t hint; uint8_t var, has_fp; };
struct size_slot { uint64_t size; uint32_t first, count; };

static struct {
    int active;               /* structured hints with at least one tensor: tagging on */
    int loaded;               /* some file (either format) loaded */
    int failed;               /* HMT_HINTS set but unusable */
    char *path;
    const char *format;       /* "hmt-tier-hints" | "flat" */
    int ntiers;
    char tier_name[HMT_TIER_MAX][16];
    struct hint *h;
    size_t nh;
    uint32_t *by_order;       /* hint indices sorted by order */
    struct size_ent *ents;
    size_t nents;
    struct size_slot *slots;  /* open addressing, size 0 = empty */
    uint64_t slot_mask;
    uint64_t largest_cold;    /* largest variant size of a CPU/SSD-tier tensor */
    size_t flat_modules;      /* entries of a flat file */
    size_t duplicates, skipped;
} H;

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;
static int strict_exit;           /* HMT_STRICT=1 and the file was unusable */

/* ---- tags (under hints_lock) ------------------------------------------------------------- */

struct tag {
    CUdeviceptr start, end;   /* [start, end) */
    uint32_t hint;
    uint8_t method, var;
};

static pthread_rwlock_t hints_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct tag *tags;
static size_t ntags, captags;
static _Atomic size_t ntags_pub;      /* lock-free "any tag at all?" for the copy path */
static size_t order_cursor;           /* index into by_order: lowest unnamed hint */
static char order_dtype[6];           /* dtype the program's order matches use, once known */

/* htod_bytes = tagged_htod_bytes + untagged_bytes: every host->device copy counts once, as
 * landing in a named tensor (fingerprint match, or wholly inside a live tag such as an
 * order-named destination) or not. tagged_bytes (in the stats) is another quantity, the
 * named tensors' device bytes, so it is not part of that sum. */
static _Atomic uint64_t st_htod_bytes, st_tagged_htod_bytes, st_untagged_bytes, st_dropped;
static _Atomic uint64_t st_fp_matches;   /* copies whose contents matched a hinted tensor */

/* ---- helpers ------------------------------------------------------------------------------- */

static int tier_id(const char *s)
{
    for (int i = 0; i < H.ntiers; i++)
        if (!strcasecmp(s, H.tier_name[i]))
            return i;
    return -1;
}

static size_t dtype_bytes(const char *d)
{
    static const struct { const char *n; size_t b; } t[] = {
        {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4},
        {"I16", 2}, {"I8", 1}, {"U8", 1}, {"BOOL", 1},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(d, t[i].n))
            return t[i].b;
    return 0;
}

static uint64_t fingerprint(const void *src, size_t n)
{
    size_t k = n < HMT_FP_PREFIX_BYTES ? n : HMT_FP_PREFIX_BYTES;
    return (uint64_t)XXH64(src, k, (XXH64_hash_t)n);
}

static uint64_t size_hash(uint64_t s)
{
    s ^= s >> 33; s *= 0xff51afd7ed558ccdULL; s ^= s >> 33;
    return s;
}

static const struct size_slot *size_find(uint64_t size)
{
    if (!H.slots || !size)
        return NULL;
    for (uint64_t i = size_hash(size) & H.slot_mask;; i = (i + 1) & H.slot_mask) {
        if (H.slots[i].size == size)
            return &H.slots[i];
        if (!H.slots[i].size)
            return NULL;
    }
}

/* {rank} -> $RANK, else $LOCAL_RANK, else 0 (a single-process job is rank 0). */
static char *expand_rank(const char *path)
{
    const char *rank = getenv("RANK");
    if (!rank || !*rank)
        rank = getenv("LOCAL_RANK");
    if (!rank || !*rank)
        rank = "0";
    size_t cap = strlen(path) + 1, n = 0;
    for (const char *p = path; (p = strstr(p, "{rank}")); p += 6)
        cap += strlen(rank);
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (const char *p = path; *p;) {
        if (!strncmp(p, "{rank}", 6)) {
            memcpy(out + n, rank, strlen(rank));
            n += strlen(rank);
            p += 6;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = 0;
    return out;
}

static int read_file(const char *path, char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (!b) {
            fclose(f);
            return -ENOMEM;
        }
        n += fread(b + n, 1, cap - n, f);
        if (n < cap)
            break;
        cap *= 2;
        char *nb = realloc(b, cap);
        if (!nb)
            free(b);
        b = nb;
    }
    int err = ferror(f) ? -EIO : 0;
    fclose(f);
    if (err) {
        free(b);
        return err;
    }
    *buf = b;
    *len = n;
    return 0;
}

/* ---- loading ------------------------------------------------------------------------------- */

static int is_flat(const cJSON *root)
{
    if (!cJSON_IsObject(root) || cJSON_GetObjectItemCaseSensitive(root, "format"))
        return 0;
    for (const cJSON *it = root->child; it; it = it->next)
        if (!cJSON_IsString(it) || tier_id(it->valuestring) < 0)
            return 0;
    return 1;
}

static int cmp_ent(const void *a, const void *b)
{
    const struct size_ent *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? -1 : 1;
    return x->hint < y->hint ? -1 : x->hint > y->hint;
}

static int cmp_order(const void *a, const void *b)
{
    const struct hint *x = &H.h[*(const uint32_t *)a], *y = &H.h[*(const uint32_t *)b];
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

/* Parses one entry of "tensors" into *h. 0, or -EINVAL with a reason in why; 1 = skip. */
static int parse_tensor(const cJSON *t, long index, struct hint *h, char *why, size_t whylen)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
    const cJSON *tier = cJSON_GetObjectItemCaseSensitive(t, "tier");
    const cJSON *module = cJSON_GetObjectItemCaseSensitive(t, "module");
    const cJSON *order = cJSON_GetObjectItemCaseSensitive(t, "order");
    const cJSON *numel = cJSON_GetObjectItemCaseSensitive(t, "numel");
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(t, "dtype");
    const cJSON *bytes = cJSON_GetObjectItemCaseSensitive(t, "bytes");
    const cJSON *fps = cJSON_GetObjectItemCaseSensitive(t, "fingerprints");

    if (!cJSON_IsObject(t) || !cJSON_IsString(name) || !cJSON_IsString(tier)) {
        snprintf(why, whylen, "tensors[%ld] needs string \"name\" and \"tier\"", index);
        return -EINVAL;
    }
    if ((h->tier = tier_id(tier->valuestring)) < 0) {
        snprintf(why, whylen, "tensor %s: unknown tier \"%s\"", name->valuestring, tier->valuestring);
        return -EINVAL;
    }
    if (fps && !cJSON_IsObject(fps)) {
        snprintf(why, whylen, "tensor %s: \"fingerprints\" is not an object", name->valuestring);
        return -EINVAL;
    }
    h->order = cJSON_IsNumber(order) ? (long)order->valuedouble : index;
    size_t stored_el = cJSON_IsString(dtype) ? dtype_bytes(dtype->valuestring) : 0;
    if (cJSON_IsNumber(numel) && numel->valuedouble >= 0)
        h->numel = (uint64_t)numel->valuedouble;
    else if (cJSON_IsNumber(bytes) && stored_el)
        h->numel = (uint64_t)bytes->valuedouble / stored_el;
    else {
        snprintf(why, whylen, "tensor %s: needs \"numel\" (or \"bytes\" and \"dtype\")", name->valuestring);
        return -EINVAL;
    }
    /* A stated size that contradicts numel x dtype cannot name anything reliably. */
    if (stored_el && cJSON_IsNumber(bytes) && (uint64_t)bytes->valuedouble != h->numel * stored_el) {
        snprintf(why, whylen, "tensor %s: bytes %.0f != numel %llu x %s", name->valuestring,
                 bytes->valuedouble, (unsigned long long)h->numel, dtype->valuestring);
        return 1;
    }
    h->nvar = 0;
    for (const cJSON *f = fps ? fps->child : NULL; f; f = f->next) {
        size_t el = dtype_bytes(f->string);
        char *end = NULL;
        if (!el || !cJSON_IsString(f) || strlen(f->valuestring) != 16) {
            snprintf(why, whylen, "tensor %s: bad fingerprint entry \"%s\"", name->valuestring, f->string);
            return -EINVAL;
        }
        unsigned long long v = strtoull(f->valuestring, &end, 16);
        if (*end) {
            snprintf(why, whylen, "tensor %s: fingerprint %s is not 16 hex digits", name->valuestring, f->string);
            return -EINVAL;
        }
        if (h->nvar == MAX_VARIANTS)
            continue;
        struct variant *vr = &h->var[h->nvar++];
        vr->size = h->numel * el;
        vr->fp = v;
        vr->has_fp = 1;
        snprintf(vr->dtype, sizeof vr->dtype, "%s", f->string);
    }
    if (!h->nvar && stored_el) {   /* no fingerprints: order naming by the stored size only */
        struct variant *vr = &h->var[h->nvar++];
        vr->size = h->numel * stored_el;
        snprintf(vr->dtype, sizeof vr->dtype, "%s", dtype->valuestring);
    }
    if (!h->nvar || !h->numel)
        return 1;
    h->name = strdup(name->valuestring);
    if (cJSON_IsString(module)) {
        h->module = strdup(module->valuestring);
    } else {
        const char *dot = strrchr(h->name, '.');
        h->module = strndup(h->name, dot ? (size_t)(dot - h->name) : 0);
    }
    return h->name && h->module ? 0 : -ENOMEM;
}

static int build_index(void)
{
    size_t n = 0;
    for (size_t i = 0; i < H.nh; i++)
        n += (size_t)H.h[i].nvar;
    H.ents = calloc(n ? n : 1, sizeof *H.ents);
    H.by_order = calloc(H.nh ? H.nh : 1, sizeof *H.by_order);
    if (!H.ents || !H.by_order)
        return -ENOMEM;
    for (size_t i = 0; i < H.nh; i++) {
        H.by_order[i] = (uint32_t)i;
        for (int v = 0; v < H.h[i].nvar; v++) {
            const struct variant *vr = &H.h[i].var[v];
            H.ents[H.nents++] = (struct size_ent){ vr->size, vr->fp, (uint32_t)i, (uint8_t)v, (uint8_t)vr->has_fp };
            if (H.h[i].tier != HMT_TIER_HBM && vr->size > H.largest_cold)
                H.largest_cold = vr->size;
        }
    }
    qsort(H.ents, H.nents, sizeof *H.ents, cmp_ent);
    qsort(H.by_order, H.nh, sizeof *H.by_order, cmp_order);
    for (size_t i = 0; i < H.nh; i++)
        H.h[H.by_order[i]].order_pos = (uint32_t)i;
    uint64_t cap = 16;
    while (cap < 2 * H.nents)
        cap *= 2;
    H.slots = calloc(cap, sizeof *H.slots);
    if (!H.slots)
        return -ENOMEM;
    H.slot_mask = cap - 1;
    for (size_t i = 0; i < H.nents;) {
        size_t j = i;
        while (j < H.nents && H.ents[j].size == H.ents[i].size)
            j++;
        uint64_t k = size_hash(H.ents[i].size) & H.slot_mask;
        while (H.slots[k].size)
            k = (k + 1) & H.slot_mask;
        H.slots[k] = (struct size_slot){ H.ents[i].size, (uint32_t)i, (uint32_t)(j - i) };
        i = j;
    }
    return 0;
}

static int load_structured(const cJSON *root, char *why, size_t whylen)
{
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    const cJSON *tiers = cJSON_GetObjectItemCaseSensitive(root, "tiers");
    const cJSON *tensors = cJSON_GetObjectItemCaseSensitive(root, "tensors");

    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, HMT_HINTS_FORMAT)) {
        snprintf(why, whylen, "not a hints file (\"format\" is not \"%s\", and not a flat "
                 "{\"module\": \"HBM|CPU|SSD\"} map)", HMT_HINTS_FORMAT);
        return -EINVAL;
    }
    if (!cJSON_IsNumber(ver) || ver->valuedouble != HMT_HINTS_VERSION) {
        snprintf(why, whylen, "version %g not supported (this hmt reads %d)",
                 cJSON_IsNumber(ver) ? ver->valuedouble : 0.0, HMT_HINTS_VERSION);
        return -EINVAL;
    }
    if (tiers && !cJSON_IsArray(tiers)) {
        snprintf(why, whylen, "\"tiers\" is not an array");
        return -EINVAL;
    }
    for (const cJSON *t = tiers ? tiers->child : NULL; t; t = t->next) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(t, "name");
        if (!cJSON_IsString(nm)) {
            snprintf(why, whylen, "a tier without a \"name\"");
            return -EINVAL;
        }
        if (tier_id(nm->valuestring) >= 0)
            continue;
        if (H.ntiers == HMT_TIER_MAX || strlen(nm->valuestring) >= sizeof H.tier_name[0]) {
            snprintf(why, whylen, "tier \"%s\": too many tiers or name too long", nm->valuestring);
            return -EINVAL;
        }
        snprintf(H.tier_name[H.ntiers++], sizeof H.tier_name[0], "%s", nm->valuestring);
    }
    if (!cJSON_IsArray(tensors)) {
        snprintf(why, whylen, "\"tensors\" is missing or not an array");
        return -EINVAL;
    }
    size_t n = (size_t)cJSON_GetArraySize(tensors);
    H.h = calloc(n ? n : 1, sizeof *H.h);
    if (!H.h)
        return -ENOMEM;
    /* names seen so far: open addressing over xxh64(name), slots hold index + 1 */
    size_t ncap = 16;
    while (ncap < 2 * n)
        ncap *= 2;
    uint32_t *seen = calloc(ncap, sizeof *seen);
    if (!seen)
        return -ENOMEM;
    long index = 0;
    char skip_why[256] = "", dup_name[256] = "";
    for (const cJSON *t = tensors->child; t; t = t->next, index++) {
        struct hint *h = &H.h[H.nh];
        char w[256];
        int rc = parse_tensor(t, index, h, w, sizeof w);
        if (rc < 0) {
            snprintf(why, whylen, "%s", w);
            free(h->name);
            free(h->module);
            free(seen);
            return rc;
        }
        if (rc > 0) {
            H.skipped++;
            if (!*skip_why)
                snprintf(skip_why, sizeof skip_why, "%s", w);
            continue;
        }
        int dup = 0;
        size_t k = (size_t)XXH64(h->name, strlen(h->name), 0) & (ncap - 1);
        for (; seen[k]; k = (k + 1) & (ncap - 1))
            if (!strcmp(H.h[seen[k] - 1].name, h->name)) {
                dup = 1;
                break;
            }
        if (!dup)
            seen[k] = (uint32_t)H.nh + 1;
        if (dup) {    /* the first entry of a name wins */
            if (!H.duplicates++)
                snprintf(dup_name, sizeof dup_name, "%s", h->name);
            free(h->name);
            free(h->module);
            memset(h, 0, sizeof *h);
            continue;
        }
        H.nh++;
    }
    free(seen);
    if (H.skipped)
        HMT_WARN("hints: %s: %zu tensor entr%s skipped, first: %s", H.path, H.skipped,
                 H.skipped == 1 ? "y" : "ies", skip_why);
    if (H.duplicates)
        HMT_WARN("hints: %s: %zu duplicate tensor name%s (first entry kept), first: %s", H.path,
                 H.duplicates, H.duplicates == 1 ? "" : "s", dup_name);
    return build_index();
}

/* Frees the loaded hints and every tag: back to "no hints" (failed loads, tests, fuzzing). */
static void hints_clear(void)
{
    for (size_t i = 0; i < H.nh; i++) {
        free(H.h[i].name);
        free(H.h[i].module);
    }
    free(H.h);
    free(H.by_order);
    free(H.ents);
    free(H.slots);
    char *path = H.path;
    memset(&H, 0, sizeof H);
    H.path = path;
    H.ntiers = 3;
    strcpy(H.tier_name[HMT_TIER_HBM], "HBM");
    strcpy(H.tier_name[HMT_TIER_CPU], "CPU");
    strcpy(H.tier_name[HMT_TIER_SSD], "SSD");
    free(tags);
    tags = NULL;
    ntags = captags = 0;
    atomic_store(&ntags_pub, 0);
    order_cursor = 0;
    order_dtype[0] = 0;
}

/* Parses a hints file's bytes into H (either format). 0, or -EINVAL with the reason in why
 * (H then holds nothing). `name` is for messages. */
static int parse_buffer(const char *buf, size_t len, const char *name, char *why, size_t whylen)
{
    hints_clear();
    int rc = 0;
    cJSON *root = cJSON_ParseWithLength(buf, len);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long off = at && at >= buf && at <= buf + len ? (long)(at - buf) : -1L;
        snprintf(why, whylen, "invalid JSON near byte %ld", off);
        rc = -EINVAL;
    } else if (is_flat(root)) {
        H.format = "flat";
        H.flat_modules = (size_t)cJSON_GetArraySize(root);
        H.loaded = 1;
        HMT_WARN("hints: %s is the seed's flat module->tier map (%zu modules): it has no sizes "
                 "or fingerprints, so hmt cannot tell which device memory is which module and "
                 "keeps all memory HBM-preferred; run `hmt analyze CHECKPOINT` for a file hmt "
                 "can apply", name, H.flat_modules);
    } else {
        rc = load_structured(root, why, whylen);
        if (!rc) {
            H.format = HMT_HINTS_FORMAT;
            H.loaded = 1;
            H.active = H.nh > 0;
            HMT_INFO("hints: %s: %zu tensors, %zu sizes indexed", name, H.nh, H.nents);
        }
    }
    cJSON_Delete(root);
    if (rc < 0)
        hints_clear();
    return rc;
}

int hmt_hints_load_buffer(const char *buf, size_t len)
{
    char why[512] = "";
    pthread_rwlock_wrlock(&hints_lock);
    int rc = parse_buffer(buf, len, "(buffer)", why, sizeof why);
    pthread_rwlock_unlock(&hints_lock);
    return rc;
}

static int load(void)
{
    const char *opt = hmt_opt.hints;
    if (!opt || !*opt)
        return 0;
    hints_clear();
    H.path = expand_rank(opt);
    if (!H.path)
        return -ENOMEM;

    char *buf = NULL, why[512] = "";
    size_t len = 0;
    int rc = read_file(H.path, &buf, &len);
    if (rc < 0) {
        snprintf(why, sizeof why, "cannot read it: %s", strerror(-rc));
    } else {
        rc = parse_buffer(buf, len, H.path, why, sizeof why);
        free(buf);
    }
    if (rc < 0) {
        H.failed = 1;
        if (hmt_opt.strict) {
            HMT_ERR("hints: HMT_HINTS=%s: %s; HMT_STRICT=1, so exiting", H.path, why);
            strict_exit = 1;     /* exits once pthread_once has returned (see hmt_hints_init) */
            return rc;
        }
        HMT_ERR("hints: HMT_HINTS=%s: %s; running without hints (set HMT_STRICT=1 to stop instead)",
                H.path, why);
    }
    return rc;
}

static void init_once_fn(void) { init_rc = load(); }

int hmt_hints_init(void)
{
    pthread_once(&init_once, init_once_fn);
    /* Not inside pthread_once: exit's handlers (the stats writer) call back in here. */
    static atomic_int exiting;
    if (HMT_UNLIKELY(strict_exit) && !atomic_exchange(&exiting, 1))
        exit(1);
    return init_rc;
}

/* Loads the hints at start (after options.c's constructor, 102, and residency's, 103), so an
 * invalid file is reported — or, with HMT_STRICT=1, stops the process — before the program
 * runs, not at its first allocation. The lazy path in every entry point stays for code that
 * reaches a door before constructors have run. */
__attribute__((constructor(104))) static void hints_ctor(void)
{
    hmt_options_init();
    if (!hmt_passthrough() && hmt_opt.hints && *hmt_opt.hints)
        hmt_hints_init();
}

int hmt_hints_active(void)
{
    hmt_hints_init();
    return H.active;
}

/* ---- tag map ------------------------------------------------------------------------------- */

/* First tag with end > addr (tags are disjoint and sorted, so ends are sorted too). */
static size_t tag_lower(CUdeviceptr addr)
{
    size_t lo = 0, hi = ntags;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (tags[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void hint_lost_tag(const struct tag *t)
{
    struct hint *h = &H.h[t->hint];
    if (t->method == NAMED_FINGERPRINT)
        h->live_fp--;
    else
        h->live_order--;
    if (!h->live_fp && !h->live_order) {
        /* unnamed again: the order cursor may have to come back to it */
        if (h->order_pos < order_cursor)
            order_cursor = h->order_pos;
    } else {
        /* the surviving tags decide how it is named */
        h->last_named = h->live_fp ? NAMED_FINGERPRINT : NAMED_ORDER;
    }
}

/* A hint that lost a tag but keeps others is reported at a surviving one (the cast-on-device
 * case: the staging buffer's fingerprint tag dies, the destination's order tag stays). */
static void hint_relink(uint32_t hint)
{
    struct hint *h = &H.h[hint];
    for (size_t i = ntags; i-- > 0;)
        if (tags[i].hint == hint && (tags[i].method == NAMED_FINGERPRINT || !h->live_fp)) {
            h->last_addr = tags[i].start;
            h->tagged_bytes = tags[i].end - tags[i].start;
            h->last_var = tags[i].var;
            return;
        }
}

/* Removes tags overlapping [lo, hi), except one exactly equal to it when keep_exact. Write lock. */
static void tags_remove(CUdeviceptr lo, CUdeviceptr hi, int keep_exact)
{
    uint32_t relink[16];
    int nrelink = 0;
    size_t j = tag_lower(lo), w = j;
    for (; j < ntags && tags[j].start < hi; j++) {
        if (keep_exact && tags[j].start == lo && tags[j].end == hi) {
            tags[w++] = tags[j];
            continue;
        }
        hint_lost_tag(&tags[j]);
        const struct hint *h = &H.h[tags[j].hint];
        if ((h->live_fp || h->live_order) && nrelink < 16)
            relink[nrelink++] = tags[j].hint;
    }
    if (w != j) {
        memmove(&tags[w], &tags[j], (ntags - j) * sizeof *tags);
        ntags -= j - w;
        atomic_store_explicit(&ntags_pub, ntags, memory_order_release);
    }
    for (int k = 0; k < nrelink; k++)
        hint_relink(relink[k]);
}

static int any_overlap(CUdeviceptr lo, CUdeviceptr hi, int except_exact)
{
    for (size_t i = tag_lower(lo); i < ntags && tags[i].start < hi; i++)
        if (!(except_exact && tags[i].start == lo && tags[i].end == hi))
            return 1;
    return 0;
}

static void order_advance(void)
{
    while (order_cursor < H.nh) {
        const struct hint *h = &H.h[H.by_order[order_cursor]];
        if (!h->live_fp && !h->live_order)
            break;
        order_cursor++;
    }
}

/* Tags [lo, hi) with hint hi_idx (write lock held; the range holds no tag). 0 or -ENOMEM. */
static int tag_insert(CUdeviceptr lo, CUdeviceptr hi, uint32_t hint, int var, int method)
{
    if (ntags == captags) {
        size_t nc = captags ? 2 * captags : 256;
        struct tag *nt = realloc(tags, nc * sizeof *nt);
        if (!nt)
            return -ENOMEM;
        tags = nt;
        captags = nc;
    }
    size_t i = tag_lower(lo);
    memmove(&tags[i + 1], &tags[i], (ntags - i) * sizeof *tags);
    tags[i] = (struct tag){ lo, hi, hint, (uint8_t)method, (uint8_t)var };
    ntags++;
    atomic_store_explicit(&ntags_pub, ntags, memory_order_release);
    struct hint *h = &H.h[hint];
    if (method == NAMED_FINGERPRINT)
        h->live_fp++;
    else
        h->live_order++;
    h->last_named = h->live_fp ? NAMED_FINGERPRINT : NAMED_ORDER;
    h->last_var = var;
    h->tagged_bytes = hi - lo;
    h->last_addr = lo;
    order_advance();
    return 0;
}

/* Drops tags that bytes written to [lo, hi) invalidate (a rewrite of exactly a tag keeps it:
 * the tensor is being reloaded in place). */
static void drop_overwritten(CUdeviceptr lo, CUdeviceptr hi)
{
    if (!atomic_load_explicit(&ntags_pub, memory_order_acquire))
        return;
    pthread_rwlock_rdlock(&hints_lock);
    int hit = any_overlap(lo, hi, 1);
    pthread_rwlock_unlock(&hints_lock);
    if (!hit)
        return;
    pthread_rwlock_wrlock(&hints_lock);
    size_t before = ntags;
    tags_remove(lo, hi, 1);
    atomic_fetch_add_explicit(&st_dropped, before - ntags, memory_order_relaxed);
    pthread_rwlock_unlock(&hints_lock);
}

/* ---- events from the copy and allocation paths --------------------------------------------- */

void hmt_hints_note_htod(CUdeviceptr dst, const void *src, size_t bytes)
{
    if (HMT_UNLIKELY(!hmt_hints_active()) || !bytes)
        return;
    HMT_STAT_ADD(hints_htod_copies, 1);
    atomic_fetch_add_explicit(&st_htod_bytes, bytes, memory_order_relaxed);
    const struct size_slot *s = size_find(bytes);
    int best = -1, best_var = 0;
    uint64_t fp = 0;
    if (s && src) {
        HMT_STAT_ADD(hints_fingerprints, 1);
        fp = fingerprint(src, bytes);
        for (uint32_t k = s->first; k < s->first + s->count && best < 0; k++)
            if (H.ents[k].has_fp && H.ents[k].fp == fp)
                best = (int)H.ents[k].hint;
    }
    if (best < 0) {
        drop_overwritten(dst, dst + bytes);
        /* an upload into an order-named tensor (it survives drop_overwritten) is named */
        CUdeviceptr ts = 0;
        size_t tl = 0;
        int inside = hmt_hints_tensor_at(dst, &ts, &tl, NULL) && dst + bytes <= ts + tl;
        atomic_fetch_add_explicit(inside ? &st_tagged_htod_bytes : &st_untagged_bytes, bytes,
                                  memory_order_relaxed);
        return;
    }
    atomic_fetch_add_explicit(&st_tagged_htod_bytes, bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&st_fp_matches, 1, memory_order_relaxed);
    pthread_rwlock_wrlock(&hints_lock);
    /* Whatever was tagged there is overwritten (a re-upload of the same tensor frees its
     * own tag first, so it is chosen again below). */
    tags_remove(dst, dst + bytes, 0);
    /* Equal bytes in several tensors (ties, untrained LayerNorms): the first one in
     * state-dict order without a fingerprint tag yet, else the first. */
    best = -1;
    int first = -1, first_var = 0;
    for (uint32_t k = s->first; k < s->first + s->count; k++) {
        const struct size_ent *e = &H.ents[k];
        if (!e->has_fp || e->fp != fp)
            continue;
        const struct hint *h = &H.h[e->hint];
        if (first < 0 || h->order < H.h[first].order) {
            first = (int)e->hint;
            first_var = e->var;
        }
        if (!h->live_fp && (best < 0 || h->order < H.h[best].order)) {
            best = (int)e->hint;
            best_var = e->var;
        }
    }
    if (best < 0) {
        best = first;
        best_var = first_var;
    }
    if (tag_insert(dst, dst + bytes, (uint32_t)best, best_var, NAMED_FINGERPRINT) < 0)
        HMT_WARN_ONCE("hints: out of memory for the tag map; some tensors stay unnamed");
    pthread_rwlock_unlock(&hints_lock);
    HMT_DEBUG("hints: %s (%s, %s) at 0x%llx+%zu by fingerprint", H.h[best].name,
              H.h[best].var[best_var].dtype, H.tier_name[H.h[best].tier],
              (unsigned long long)dst, bytes);
}

/* Order fallback: the next few unnamed hints (state-dict order) are candidates; once one
 * matched, the program's dtype is known and only that variant's size counts, so an
 * upload staging buffer in the source dtype is not taken for the next tensor. */
#define ORDER_WINDOW 8

void hmt_hints_note_alloc(CUdeviceptr base, size_t bytes)
{
    if (HMT_UNLIKELY(!hmt_hints_active()) || !bytes)
        return;
    if (atomic_load_explicit(&ntags_pub, memory_order_acquire)) {
        /* fresh memory holds no tensor: anything still tagged there missed its free */
        pthread_rwlock_wrlock(&hints_lock);
        tags_remove(base, base + bytes, 0);
        pthread_rwlock_unlock(&hints_lock);
    }
    if (!hmt_opt.hints_order || !size_find(bytes))
        return;
    pthread_rwlock_wrlock(&hints_lock);
    int seen = 0;
    for (size_t i = order_cursor; i < H.nh && seen < ORDER_WINDOW; i++) {
        uint32_t hi = H.by_order[i];
        const struct hint *h = &H.h[hi];
        if (h->live_fp || h->live_order)
            continue;
        seen++;
        for (int v = 0; v < h->nvar; v++) {
            if (h->var[v].size != bytes)
                continue;
            if (*order_dtype && strcmp(h->var[v].dtype, order_dtype))
                continue;
            if (!*order_dtype)
                memcpy(order_dtype, h->var[v].dtype, sizeof order_dtype);
            if (tag_insert(base, base + bytes, hi, v, NAMED_ORDER) == 0)
                HMT_DEBUG("hints: %s (%s) at 0x%llx+%zu by order", h->name, h->var[v].dtype,
                          (unsigned long long)base, bytes);
            pthread_rwlock_unlock(&hints_lock);
            return;
        }
    }
    pthread_rwlock_unlock(&hints_lock);
}

void hmt_hints_note_free(CUdeviceptr base, size_t bytes)
{
    if (!H.active || !atomic_load_explicit(&ntags_pub, memory_order_acquire))
        return;
    pthread_rwlock_wrlock(&hints_lock);
    tags_remove(base, base + bytes, 0);
    pthread_rwlock_unlock(&hints_lock);
}

void hmt_hints_note_device_write(CUdeviceptr dst, size_t bytes)
{
    if (!bytes || !H.active || !atomic_load_explicit(&ntags_pub, memory_order_acquire))
        return;
    CUdeviceptr lo = dst, hi = dst + bytes;
    /* Most writes (zeroing gradients, activations) kill nothing: decide under the read lock,
     * so memsets do not serialise against launches' tag lookups. A write wholly inside one
     * tensor is that tensor being written: its tag stays. */
    pthread_rwlock_rdlock(&hints_lock);
    size_t i = tag_lower(lo);
    int inside = i < ntags && tags[i].start <= lo && hi <= tags[i].end;
    int kill = !inside && any_overlap(lo, hi, 0);
    pthread_rwlock_unlock(&hints_lock);
    if (!kill)
        return;
    pthread_rwlock_wrlock(&hints_lock);   /* tags may have changed in between: ask again */
    i = tag_lower(lo);
    inside = i < ntags && tags[i].start <= lo && hi <= tags[i].end;
    if (!inside && any_overlap(lo, hi, 0))
        tags_remove(lo, hi, 0);
    pthread_rwlock_unlock(&hints_lock);
}

/* ---- queries ---------------------------------------------------------------------------------- */

int hmt_hints_tier_of(CUdeviceptr addr, size_t len)
{
    if (!H.active || !atomic_load_explicit(&ntags_pub, memory_order_acquire))
        return -1;
    int tier = -1;
    pthread_rwlock_rdlock(&hints_lock);
    for (size_t i = tag_lower(addr); i < ntags && tags[i].start < addr + len; i++) {
        int t = H.h[tags[i].hint].tier;
        if (tier < 0 || t < tier)
            tier = t;
    }
    pthread_rwlock_unlock(&hints_lock);
    return tier;
}

int hmt_hints_tensor_at(CUdeviceptr addr, CUdeviceptr *start, size_t *len, int *tier)
{
    if (!H.active || !atomic_load_explicit(&ntags_pub, memory_order_acquire))
        return 0;
    int found = 0;
    pthread_rwlock_rdlock(&hints_lock);
    size_t i = tag_lower(addr);
    if (i < ntags && tags[i].start <= addr) {
        if (start) *start = tags[i].start;
        if (len) *len = (size_t)(tags[i].end - tags[i].start);
        if (tier) *tier = H.h[tags[i].hint].tier;
        found = 1;
    }
    pthread_rwlock_unlock(&hints_lock);
    return found;
}

const char *hmt_hints_name_at(CUdeviceptr addr)
{
    if (!H.active || !atomic_load_explicit(&ntags_pub, memory_order_acquire))
        return NULL;
    const char *name = NULL;
    pthread_rwlock_rdlock(&hints_lock);
    size_t i = tag_lower(addr);
    if (i < ntags && tags[i].start <= addr)
        name = H.h[tags[i].hint].name;   /* hints are never freed: the pointer stays valid */
    pthread_rwlock_unlock(&hints_lock);
    return name;
}

uint64_t hmt_hints_largest_cold(void)
{
    return H.active ? H.largest_cold : 0;
}

uint64_t hmt_hints_staging_bytes(size_t chunk)
{
    if (!chunk)
        return 0;
    uint64_t w = hmt_opt.staging;
    if (!w)   /* twice the largest cold tensor, counting the chunk it may straddle into */
        w = 2 * ((H.largest_cold + chunk - 1) / chunk + 1) * chunk;
    w = (w + chunk - 1) / chunk * chunk;
    return w < 2 * chunk ? 2 * chunk : w;
}

const char *hmt_hints_tier_name(int tier)
{
    if (tier >= 0 && tier < H.ntiers)
        return H.tier_name[tier];
    static const char *const dflt[] = { "HBM", "CPU", "SSD" };
    return tier >= 0 && tier < 3 ? dflt[tier] : "?";
}

/* ---- residency's movement notes (stats) --------------------------------------------------- */

static void note_move(CUdeviceptr addr, size_t bytes, int in)
{
    if (!H.active || !atomic_load_explicit(&ntags_pub, memory_order_acquire))
        return;
    CUdeviceptr hi = addr + bytes;
    pthread_rwlock_rdlock(&hints_lock);
    for (size_t i = tag_lower(addr); i < ntags && tags[i].start < hi; i++) {
        struct hint *h = &H.h[tags[i].hint];
        CUdeviceptr lo = tags[i].start > addr ? tags[i].start : addr;
        CUdeviceptr up = tags[i].end < hi ? tags[i].end : hi;
        atomic_fetch_add_explicit(in ? &h->faults : &h->evictions, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(in ? &h->bytes_in : &h->bytes_out, up - lo, memory_order_relaxed);
    }
    pthread_rwlock_unlock(&hints_lock);
}

void hmt_hints_note_fault(CUdeviceptr addr, size_t bytes) { note_move(addr, bytes, 1); }
void hmt_hints_note_evict(CUdeviceptr addr, size_t bytes) { note_move(addr, bytes, 0); }

/* ---- stats --------------------------------------------------------------------------------- */

void hmt_hints_stats_json(void *root_)
{
    cJSON *root = root_;
    /* no hmt_hints_init() here: this runs from exit handlers, possibly the strict exit's */
    if (!root || (!H.loaded && !H.failed))
        return;
    cJSON *o = cJSON_AddObjectToObject(root, "hints");
    if (!o)
        return;
    cJSON_AddStringToObject(o, "path", H.path ? H.path : "");
    cJSON_AddStringToObject(o, "format", H.failed ? "invalid" : H.format);
    cJSON_AddBoolToObject(o, "active", H.active);
    if (H.flat_modules)
        cJSON_AddNumberToObject(o, "flat_modules", (double)H.flat_modules);
    cJSON_AddNumberToObject(o, "hinted_tensors", (double)H.nh);
    cJSON_AddNumberToObject(o, "duplicates", (double)H.duplicates);
    cJSON_AddNumberToObject(o, "skipped", (double)H.skipped);

    struct { uint64_t hinted, hinted_bytes, tagged, tagged_bytes, resident, evicted, faults; } per[HMT_TIER_MAX] = {{0}};
    uint64_t tagged = 0, tagged_bytes = 0, by_fp = 0, by_order = 0, never = 0;
    pthread_rwlock_rdlock(&hints_lock);
    for (size_t i = 0; i < H.nh; i++) {
        const struct hint *h = &H.h[i];
        int t = h->tier;
        per[t].hinted++;
        per[t].hinted_bytes += h->var[0].size;
        if (h->last_named == NAMED_NONE) {
            never++;
            continue;
        }
        uint64_t in = atomic_load(&h->bytes_in), out = atomic_load(&h->bytes_out);
        uint64_t off = out > in ? out - in : 0;
        tagged++;
        tagged_bytes += h->tagged_bytes;
        by_fp += h->last_named == NAMED_FINGERPRINT;
        by_order += h->last_named == NAMED_ORDER;
        per[t].tagged++;
        per[t].tagged_bytes += h->tagged_bytes;
        per[t].resident += h->tagged_bytes > off ? h->tagged_bytes - off : 0;
        per[t].evicted += out;
        per[t].faults += atomic_load(&h->faults);
    }
    cJSON_AddNumberToObject(o, "tagged_tensors", (double)tagged);
    cJSON_AddNumberToObject(o, "tagged_bytes", (double)tagged_bytes);
    cJSON_AddNumberToObject(o, "tagged_by_fingerprint", (double)by_fp);
    cJSON_AddNumberToObject(o, "tagged_by_order", (double)by_order);
    cJSON_AddNumberToObject(o, "never_loaded", (double)never);
    cJSON_AddNumberToObject(o, "htod_bytes", (double)atomic_load(&st_htod_bytes));
    cJSON_AddNumberToObject(o, "tagged_htod_bytes", (double)atomic_load(&st_tagged_htod_bytes));
    cJSON_AddNumberToObject(o, "untagged_bytes", (double)atomic_load(&st_untagged_bytes));
    cJSON_AddNumberToObject(o, "tags_dropped_by_overwrite", (double)atomic_load(&st_dropped));
    cJSON_AddNumberToObject(o, "live_tags", (double)ntags);
    cJSON *tiers = cJSON_AddObjectToObject(o, "tiers");
    for (int t = 0; tiers && t < H.ntiers; t++) {
        cJSON *x = cJSON_AddObjectToObject(tiers, H.tier_name[t]);
        if (!x)
            break;
        cJSON_AddNumberToObject(x, "hinted_tensors", (double)per[t].hinted);
        cJSON_AddNumberToObject(x, "hinted_bytes", (double)per[t].hinted_bytes);
        cJSON_AddNumberToObject(x, "tagged_tensors", (double)per[t].tagged);
        cJSON_AddNumberToObject(x, "tagged_bytes", (double)per[t].tagged_bytes);
        cJSON_AddNumberToObject(x, "resident_bytes", (double)per[t].resident);
        cJSON_AddNumberToObject(x, "evicted_bytes", (double)per[t].evicted);
        cJSON_AddNumberToObject(x, "faults", (double)per[t].faults);
    }
    if (hmt_opt.stats_tensors) {
        cJSON *arr = cJSON_AddArrayToObject(o, "tensors");
        for (size_t k = 0; arr && k < H.nh; k++) {
            const struct hint *h = &H.h[H.by_order[k]];
            cJSON *x = cJSON_CreateObject();
            if (!x)
                break;
            cJSON_AddStringToObject(x, "name", h->name);
            cJSON_AddStringToObject(x, "module", h->module);
            cJSON_AddStringToObject(x, "tier", H.tier_name[h->tier]);
            cJSON_AddStringToObject(x, "named", named_str[h->last_named]);
            if (h->last_named != NAMED_NONE) {
                cJSON_AddStringToObject(x, "dtype", h->var[h->last_var].dtype);
                cJSON_AddNumberToObject(x, "bytes", (double)h->tagged_bytes);
                char addr[24];
                snprintf(addr, sizeof addr, "0x%llx", (unsigned long long)h->last_addr);
                cJSON_AddStringToObject(x, "addr", addr);
                cJSON_AddBoolToObject(x, "live", h->live_fp + h->live_order > 0);
            }
            cJSON_AddNumberToObject(x, "faults", (double)atomic_load(&h->faults));
            cJSON_AddNumberToObject(x, "bytes_in", (double)atomic_load(&h->bytes_in));
            cJSON_AddNumberToObject(x, "evictions", (double)atomic_load(&h->evictions));
            cJSON_AddNumberToObject(x, "bytes_out", (double)atomic_load(&h->bytes_out));
            cJSON_AddItemToArray(arr, x);
        }
    }
    pthread_rwlock_unlock(&hints_lock);
}

/* ---- did the hints fit the program? ------------------------------------------------------- */

int hmt_hints_check_named(void)
{
    if (!H.active || !atomic_load(&st_htod_bytes))
        return 0;   /* no hints, or a process that never uploaded anything (a launcher) */
    size_t named = 0, by_fp = 0, by_order = 0;
    uint64_t hinted_bytes = 0, named_bytes = 0;
    pthread_rwlock_rdlock(&hints_lock);
    for (size_t i = 0; i < H.nh; i++) {
        const struct hint *h = &H.h[i];
        hinted_bytes += h->var[0].size;
        if (h->last_named == NAMED_NONE)
            continue;
        named++;
        named_bytes += h->var[0].size;
        by_fp += h->last_named == NAMED_FINGERPRINT;
        by_order += h->last_named == NAMED_ORDER;
    }
    pthread_rwlock_unlock(&hints_lock);
    /* All named by order is normal when the program casts on the device (.to(dev, dtype)):
     * its staging uploads still match fingerprints. With no content match at all, the order
     * names rest on sizes alone. */
    bool order_only = by_fp == 0 && by_order > 0 && !atomic_load(&st_fp_matches);
    if (named_bytes * 2 >= hinted_bytes && !order_only)
        return 0;
    HMT_WARN_ONCE("hints: named %zu of %zu hinted tensors (%zu by fingerprint, %zu by order): "
                  "is %s for this model?", named, H.nh, by_fp, by_order, H.path);
    return 1;
}

/* At exit, once everything the program uploaded has been seen: a hints file for another
 * model is otherwise applied silently (a few tensors named by size, the rest never). */
__attribute__((destructor)) static void hints_at_exit(void)
{
    hmt_hints_check_named();
}
