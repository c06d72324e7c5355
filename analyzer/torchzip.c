/* torchzip.c — PyTorch archives written by torch.save (zip, the default since 1.6):
 * <name>/data.pkl (the object graph, read by the restricted unpickler), <name>/data/<key>
 * (one entry per storage, raw little-endian elements), <name>/version, <name>/byteorder.
 *
 * libzip reads the container (it verifies each entry's CRC as we read it to the end, so a
 * corrupt storage is an error). Storages are read lazily, once per key, into 64-byte
 * aligned buffers: tensors sharing a key (tied weights, views) share the buffer, which is
 * what the `storage` field of hmt_tensor reports.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zip.h>

#include "internal.h"

#define TZ_MAX_PKL (1ull << 30)

typedef struct tz_storage {
    char *key;
    void *data;
    size_t size;
} tz_storage;

struct hmt_torch_archive {
    int refs;
    char *path;
    char *prefix;               /* "ckpt" for ckpt/data.pkl */
    zip_t *zip;
    hmt_pickle pk;
    tz_storage *st;
    size_t nst, capst;
};

bool hmt_is_zip(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    unsigned char sig[4] = {0};
    size_t n = fread(sig, 1, 4, f);
    fclose(f);
    return n == 4 && sig[0] == 'P' && sig[1] == 'K' && sig[2] == 3 && sig[3] == 4;
}

/* Reads a whole entry; CRC is checked by libzip when the entry is read to its end. */
static int read_entry(hmt_torch_archive *a, zip_int64_t idx, size_t expect, void *dst,
                      char *err, size_t errlen, const char *what)
{
    zip_file_t *zf = zip_fopen_index(a->zip, (zip_uint64_t)idx, 0);
    if (!zf)
        return hmt_errf(err, errlen, -EIO, "%s: cannot open %s: %s", a->path, what,
                        zip_strerror(a->zip));
    zip_int64_t got = zip_fread(zf, dst, expect);
    char probe;
    zip_int64_t more = got == (zip_int64_t)expect ? zip_fread(zf, &probe, 1) : 0;
    const char *zerr = zip_file_strerror(zf);
    int bad = got != (zip_int64_t)expect || more != 0;
    char msg[256];
    snprintf(msg, sizeof(msg), "%s", zerr ? zerr : "");
    zip_fclose(zf);
    if (bad)
        return hmt_errf(err, errlen, -EIO, "%s: %s is corrupt or truncated (%s)", a->path, what, msg);
    return 0;
}

int hmt_torch_open(const char *path, hmt_torch_archive **out, char *err, size_t errlen)
{
    *out = NULL;
    int zerr = 0;
    zip_t *z = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
    if (!z) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        int rc = hmt_errf(err, errlen, -EINVAL, "%s: not a readable torch.save zip archive (%s)",
                          path, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return rc;
    }
    hmt_torch_archive *a = calloc(1, sizeof(*a));
    if (!a) {
        zip_discard(z);
        return -ENOMEM;
    }
    a->refs = 1;
    a->zip = z;
    a->path = strdup(path);
    zip_int64_t n = zip_get_num_entries(z, 0), pkl = -1;
    for (zip_int64_t i = 0; i < n; i++) {
        const char *nm = zip_get_name(z, (zip_uint64_t)i, 0);
        const char *slash = nm ? strchr(nm, '/') : NULL;
        if (slash && strcmp(slash, "/data.pkl") == 0) {
            pkl = i;
            a->prefix = strndup(nm, (size_t)(slash - nm));
            break;
        }
    }
    int rc;
    if (pkl < 0) {
        rc = hmt_errf(err, errlen, -EINVAL, "%s: zip archive without <name>/data.pkl: not torch.save output", path);
        goto fail;
    }
    zip_stat_t zs;
    if (zip_stat_index(z, (zip_uint64_t)pkl, 0, &zs) < 0 || !(zs.valid & ZIP_STAT_SIZE) ||
        zs.size > TZ_MAX_PKL) {
        rc = hmt_errf(err, errlen, -EINVAL, "%s: data.pkl has no usable size", path);
        goto fail;
    }
    uint8_t *buf = malloc(zs.size ? zs.size : 1);
    if (!buf) {
        rc = -ENOMEM;
        goto fail;
    }
    if ((rc = read_entry(a, pkl, (size_t)zs.size, buf, err, errlen, "data.pkl")) < 0) {
        free(buf);
        goto fail;
    }
    char msg[384];
    rc = hmt_unpickle(buf, (size_t)zs.size, &a->pk, msg, sizeof(msg));
    free(buf);
    if (rc < 0) {
        hmt_errf(err, errlen, rc, "%s: data.pkl: %s", path, msg);
        goto fail;
    }
    *out = a;
    return 0;
fail:
    hmt_torch_unref(a);
    return rc;
}

void hmt_torch_ref(hmt_torch_archive *a)
{
    a->refs++;
}

void hmt_torch_unref(hmt_torch_archive *a)
{
    if (!a || --a->refs > 0)
        return;
    for (size_t i = 0; i < a->nst; i++) {
        free(a->st[i].key);
        free(a->st[i].data);
    }
    free(a->st);
    hmt_pickle_free(&a->pk);
    if (a->zip)
        zip_discard(a->zip);
    free(a->prefix);
    free(a->path);
    free(a);
}

const pv *hmt_torch_root(const hmt_torch_archive *a)
{
    return a->pk.root;
}

const char *hmt_torch_path(const hmt_torch_archive *a)
{
    return a->path;
}

static int get_storage(hmt_torch_archive *a, const pv *s, const char *tname, tz_storage **out,
                       char *err, size_t errlen)
{
    for (size_t i = 0; i < a->nst; i++)
        if (strcmp(a->st[i].key, s->s) == 0) {
            *out = &a->st[i];
            return 0;
        }
    char ename[512];
    snprintf(ename, sizeof(ename), "%s/data/%s", a->prefix, s->s);
    zip_int64_t idx = zip_name_locate(a->zip, ename, 0);
    zip_stat_t zs;
    if (idx < 0 || zip_stat_index(a->zip, (zip_uint64_t)idx, 0, &zs) < 0 ||
        !(zs.valid & ZIP_STAT_SIZE))
        return hmt_errf(err, errlen, -EINVAL, "%s: tensor %s: storage entry %s is missing",
                        a->path, tname, ename);
    size_t es = hmt_dtype_size(s->dtype);
    /* torch.save writes exactly numel * element size bytes per storage */
    if ((uint64_t)s->numel > zs.size / es || zs.size % es || zs.size / es != (uint64_t)s->numel)
        return hmt_errf(err, errlen, -EINVAL,
                        "%s: tensor %s: storage %s holds %llu bytes, pickle says %lld %s elements",
                        a->path, tname, ename, (unsigned long long)zs.size, (long long)s->numel,
                        hmt_dtype_name(s->dtype));
    if (a->nst == a->capst) {
        size_t nc = a->capst ? a->capst * 2 : 64;
        tz_storage *ns = realloc(a->st, nc * sizeof(*ns));
        if (!ns)
            return -ENOMEM;
        a->st = ns;
        a->capst = nc;
    }
    void *data = NULL;
    if (posix_memalign(&data, 64, zs.size ? (size_t)zs.size : 64) != 0)
        return hmt_errf(err, errlen, -ENOMEM, "%s: tensor %s: out of memory for %llu bytes",
                        a->path, tname, (unsigned long long)zs.size);
    char what[600];
    snprintf(what, sizeof(what), "storage %s of tensor %s", ename, tname);
    int rc = read_entry(a, idx, (size_t)zs.size, data, err, errlen, what);
    if (rc < 0) {
        free(data);
        return rc;
    }
    tz_storage *t = &a->st[a->nst++];
    t->key = strdup(s->s);
    t->data = data;
    t->size = (size_t)zs.size;
    *out = t;
    return 0;
}

int hmt_torch_tensor(hmt_torch_archive *a, const pv *v, const char *name, hmt_tensor *t,
                     char *err, size_t errlen)
{
    if (!v || v->kind != PV_TENSOR)
        return hmt_errf(err, errlen, -EINVAL, "%s: %s is not a tensor", a->path, name);
    tz_storage *s;
    int rc = get_storage(a, v->storage, name, &s, err, errlen);
    if (rc < 0)
        return rc;
    memset(t, 0, sizeof(*t));
    t->name = name;
    t->dtype = v->dtype;
    t->ndim = v->ndim;
    int64_t numel = 1, last = v->offset, expect = 1;
    bool contig = true;
    for (int d = v->ndim - 1; d >= 0; d--) {
        t->shape[d] = v->shape[d];
        t->stride[d] = v->stride[d];
        if (v->shape[d] > 1 && v->stride[d] != expect)
            contig = false;
        expect *= v->shape[d] ? v->shape[d] : 1;
        if (v->shape[d] && numel > INT64_MAX / v->shape[d])
            return hmt_errf(err, errlen, -EINVAL, "%s: tensor %s: shape overflows", a->path, name);
        numel *= v->shape[d];
    }
    if (numel > 0)
        for (int d = 0; d < v->ndim; d++) {
            if (v->stride[d] && (v->shape[d] - 1) > (INT64_MAX - last) / v->stride[d])
                return hmt_errf(err, errlen, -EINVAL, "%s: tensor %s: strides overflow", a->path, name);
            last += (v->shape[d] - 1) * v->stride[d];
        }
    if (numel > 0 && last >= v->storage->numel)
        return hmt_errf(err, errlen, -EINVAL,
                        "%s: tensor %s: view reaches element %lld of a %lld-element storage",
                        a->path, name, (long long)last, (long long)v->storage->numel);
    size_t es = hmt_dtype_size(v->dtype);
    t->numel = numel;
    t->nbytes = (size_t)numel * es;
    t->contiguous = contig;
    t->storage = s->data;
    t->data = numel ? (const char *)s->data + (size_t)v->offset * es : s->data;
    return 0;
}
