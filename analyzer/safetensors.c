/* safetensors.c — reader for the safetensors format (huggingface/safetensors: 8-byte
 * little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets}},
 * optional "__metadata__" of strings, then the data area; offsets are relative to it).
 *
 * The parser works on an in-memory image so the fuzz target can drive it directly; the
 * file is mmapped read-only and tensors point into the mapping. Every number in the header
 * is checked (integral, in range, no overflow) and every tensor's bytes must lie inside the
 * file and match shape x dtype size: a truncated or corrupt file is an error, never a read
 * past the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "internal.h"

#define ST_MAX_HEADER (100u << 20)   /* the format's own limit is 100 MB */

struct hmt_st_file {
    int refs;
    char *path;
    uint8_t *map;
    size_t len;
    size_t data_start;
    hmt_st_entry *e;
    size_t n;
    char *meta_format;
    bool name_sorted;           /* data in the safetensors library's (dtype, name) order */
};

void hmt_st_entries_free(hmt_st_entry *e, size_t n)
{
    if (!e)
        return;
    for (size_t i = 0; i < n; i++)
        free(e[i].name);
    free(e);
}

/* A JSON number that is a non-negative integer below 2^53. */
static int json_u64(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j))
        return -EINVAL;
    double d = j->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(uint64_t)d)
        return -EINVAL;
    *out = (uint64_t)d;
    return 0;
}

static int cmp_begin(const void *a, const void *b)
{
    const hmt_st_entry *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

int hmt_st_parse(const uint8_t *buf, size_t len, hmt_st_entry **out, size_t *nout,
                 size_t *data_start, char **meta_format, char *err, size_t errlen)
{
    *out = NULL;
    *nout = 0;
    if (meta_format)
        *meta_format = NULL;
    if (len < 8)
        return hmt_errf(err, errlen, -EINVAL, "file too short for a safetensors header (%zu bytes)", len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | buf[i];
    if (hlen > ST_MAX_HEADER || hlen > len - 8)
        return hmt_errf(err, errlen, -EINVAL,
                        "header length %llu exceeds the file (%zu bytes): truncated or not safetensors",
                        (unsigned long long)hlen, len);
    size_t dstart = 8 + (size_t)hlen, dlen = len - dstart;
    cJSON *root = cJSON_ParseWithLength((const char *)buf + 8, (size_t)hlen);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return hmt_errf(err, errlen, -EINVAL, "header is not a JSON object");
    }
    int rc = 0;
    size_t cap = (size_t)cJSON_GetArraySize(root), n = 0;
    hmt_st_entry *e = calloc(cap ? cap : 1, sizeof(*e));
    if (!e) {
        cJSON_Delete(root);
        return -ENOMEM;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, root) {
        const char *name = it->string ? it->string : "";
        if (strcmp(name, "__metadata__") == 0) {
            if (!cJSON_IsObject(it)) {
                rc = hmt_errf(err, errlen, -EINVAL, "__metadata__ is not an object");
                goto out;
            }
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(it, "format");
            if (meta_format && cJSON_IsString(f) && !*meta_format)
                *meta_format = strdup(f->valuestring);
            continue;
        }
        hmt_st_entry *x = &e[n];
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(it, "shape");
        const cJSON *off = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
        if (!cJSON_IsObject(it) || !cJSON_IsString(dt) || !cJSON_IsArray(sh) ||
            !cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2) {
            rc = hmt_errf(err, errlen, -EINVAL, "tensor %s: entry lacks dtype/shape/data_offsets", name);
            goto out;
        }
        if (hmt_dtype_parse(dt->valuestring, &x->dtype) < 0) {
            rc = hmt_errf(err, errlen, -EINVAL, "tensor %s: unsupported dtype %s", name, dt->valuestring);
            goto out;
        }
        int nd = cJSON_GetArraySize(sh);
        if (nd > HMT_MAX_DIMS) {
            rc = hmt_errf(err, errlen, -EINVAL, "tensor %s: %d dimensions (at most %d)", name, nd, HMT_MAX_DIMS);
            goto out;
        }
        x->ndim = nd;
        uint64_t numel = 1;
        for (int d = 0; d < nd; d++) {
            uint64_t v;
            if (json_u64(cJSON_GetArrayItem(sh, d), &v) < 0 || v > (1ull << 40) ||
                (v && numel > (UINT64_MAX >> 8) / v)) {
                rc = hmt_errf(err, errlen, -EINVAL, "tensor %s: bad shape", name);
                goto out;
            }
            x->shape[d] = (int64_t)v;
            numel *= v;
        }
        if (json_u64(cJSON_GetArrayItem(off, 0), &x->begin) < 0 ||
            json_u64(cJSON_GetArrayItem(off, 1), &x->end) < 0 || x->begin > x->end ||
            x->end > dlen) {
            rc = hmt_errf(err, errlen, -EINVAL,
                          "tensor %s: data_offsets outside the data area (%zu bytes): truncated file?",
                          name, dlen);
            goto out;
        }
        if (numel * hmt_dtype_size(x->dtype) != x->end - x->begin) {
            rc = hmt_errf(err, errlen, -EINVAL, "tensor %s: %llu bytes for shape of %llu %s elements",
                          name, (unsigned long long)(x->end - x->begin),
                          (unsigned long long)numel, hmt_dtype_name(x->dtype));
            goto out;
        }
        x->name = strdup(name);
        if (!x->name) {
            rc = -ENOMEM;
            goto out;
        }
        n++;
    }
    qsort(e, n, sizeof(*e), cmp_begin);
    for (size_t i = 1; i < n; i++)
        if (e[i].begin < e[i - 1].end) {
            rc = hmt_errf(err, errlen, -EINVAL, "tensors %s and %s overlap", e[i - 1].name, e[i].name);
            goto out;
        }
out:
    cJSON_Delete(root);
    if (rc < 0) {
        hmt_st_entries_free(e, n);
        if (meta_format) {
            free(*meta_format);
            *meta_format = NULL;
        }
        return rc;
    }
    *out = e;
    *nout = n;
    if (data_start)
        *data_start = dstart;
    return 0;
}

/* For a file that failed to parse: "JSON" if it starts with '{' or '[' after whitespace,
 * "text" if its first bytes are all printable ASCII, else NULL. Asked only after parsing
 * failed, because a real header length's low byte may well be '{'. Text cannot be a
 * safetensors file: 8 printable bytes make a header length above 2^56. */
static const char *text_kind(const uint8_t *b, size_t len)
{
    size_t i = 0;
    while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r'))
        i++;
    if (i < len && (b[i] == '{' || b[i] == '['))
        return "JSON";
    if (len < 8)
        return NULL;
    for (i = 0; i < 8; i++)
        if (!(b[i] >= 0x20 && b[i] < 0x7f) && b[i] != '\t' && b[i] != '\n' && b[i] != '\r')
            return NULL;
    return "text";
}

int hmt_st_open(const char *path, hmt_st_file **out, char *err, size_t errlen)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hmt_errf(err, errlen, -errno, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return hmt_errf(err, errlen, -EINVAL, "%s: not a regular file", path);
    }
    hmt_st_file *f = calloc(1, sizeof(*f));
    if (!f) {
        close(fd);
        return -ENOMEM;
    }
    f->refs = 1;
    f->path = strdup(path);
    f->len = (size_t)st.st_size;
    if (f->len) {
        f->map = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (f->map == MAP_FAILED) {
            int e = errno;
            f->map = NULL;
            close(fd);
            hmt_st_unref(f);
            return hmt_errf(err, errlen, -e, "%s: mmap: %s", path, strerror(e));
        }
    }
    close(fd);
    char msg[384];
    int rc = hmt_st_parse(f->map, f->len, &f->e, &f->n, &f->data_start, &f->meta_format,
                          msg, sizeof(msg));
    if (rc < 0) {
        const char *looks = text_kind(f->map, f->len);
        hmt_st_unref(f);
        if (looks)   /* e.g. a tier_hints.json or a script given as the checkpoint */
            return hmt_errf(err, errlen, rc,
                            "%s: not a checkpoint (looks like %s; expected .safetensors, a torch.save "
                            "archive or a folder)", path, looks);
        size_t pl = strlen(path), sl = strlen(".safetensors");
        if (pl < sl || strcmp(path + pl - sl, ".safetensors") != 0)
            return hmt_errf(err, errlen, rc, "%s: neither a torch.save zip archive nor safetensors (%s)",
                            path, msg);
        return hmt_errf(err, errlen, rc, "%s: %s", path, msg);
    }
    /* The safetensors library writes tensors sorted by dtype, then name, losing state-dict
     * order. Detect that layout: names ascending within each run of one dtype. */
    f->name_sorted = f->n >= 3;
    for (size_t i = 1; i < f->n && f->name_sorted; i++)
        if (f->e[i].dtype == f->e[i - 1].dtype && strcmp(f->e[i - 1].name, f->e[i].name) > 0)
            f->name_sorted = false;
    *out = f;
    return 0;
}

bool hmt_st_name_sorted(const hmt_st_file *f)
{
    return f->name_sorted;
}

void hmt_st_ref(hmt_st_file *f)
{
    f->refs++;
}

void hmt_st_unref(hmt_st_file *f)
{
    if (!f || --f->refs > 0)
        return;
    if (f->map)
        munmap(f->map, f->len);
    hmt_st_entries_free(f->e, f->n);
    free(f->meta_format);
    free(f->path);
    free(f);
}

size_t hmt_st_count(const hmt_st_file *f)
{
    return f->n;
}

const char *hmt_st_meta_format(const hmt_st_file *f)
{
    return f->meta_format;
}

void hmt_st_tensor(const hmt_st_file *f, size_t i, hmt_tensor *t)
{
    const hmt_st_entry *x = &f->e[i];
    memset(t, 0, sizeof(*t));
    t->name = x->name;
    t->dtype = x->dtype;
    t->ndim = x->ndim;
    t->numel = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        t->shape[d] = x->shape[d];
        t->stride[d] = t->numel;
        t->numel *= x->shape[d];
    }
    t->nbytes = (size_t)(x->end - x->begin);
    t->contiguous = 1;
    t->data = f->map + f->data_start + x->begin;
    t->storage = t->data;
}
