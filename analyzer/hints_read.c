/* hints_read.c — reads tier hints back: the versioned "hmt-tier-hints" format
 * (hints/HINTS.md) or the seed's flat {"module": "HBM|CPU|SSD"} map. Used by
 * `hmt analyze --compare hints.json`, the golden tests and the fuzz target; it validates
 * every field it returns (types, tier names, dtype names, shape vs numel vs bytes,
 * 16-hex-digit fingerprints) so callers can trust what they get.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "analyze.h"
#include "hmt/hints.h"
#include "internal.h"

void hmt_hints_free(hmt_hints *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->nt; i++) {
        free(h->t[i].name);
        free(h->t[i].module);
        for (size_t a = 0; a < h->t[i].naliases; a++)
            free(h->t[i].aliases[a]);
        free(h->t[i].aliases);
    }
    for (size_t i = 0; i < h->nm; i++)
        free(h->m[i].name);
    free(h->t);
    free(h->m);
    free(h->signal);
    free(h->by);
    free(h->per);
    free(h);
}

static int get_int(const cJSON *o, const char *k, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 9007199254740992.0) ||
        v->valuedouble != floor(v->valuedouble))
        return -EINVAL;
    *out = (int64_t)v->valuedouble;
    return 0;
}

static const char *get_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int parse_modules(const cJSON *obj, hmt_hints *h, char *err, size_t errlen)
{
    size_t n = (size_t)cJSON_GetArraySize(obj);
    h->m = calloc(n ? n : 1, sizeof(*h->m));
    if (!h->m)
        return -ENOMEM;
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        hmt_tier t;
        if (!cJSON_IsString(it) || hmt_tier_parse(it->valuestring, &t) < 0)
            return hmt_errf(err, errlen, -EINVAL, "module %s: tier is not \"HBM\", \"CPU\" or \"SSD\"",
                            it->string ? it->string : "?");
        hmt_hint_module *m = &h->m[h->nm];
        m->name = strdup(it->string ? it->string : "");
        m->tier = t;
        if (!m->name)
            return -ENOMEM;
        h->nm++;
    }
    return 0;
}

static int parse_tensor(const cJSON *o, hmt_hint_tensor *t, char *err, size_t errlen)
{
    const char *name = get_str(o, "name"), *mod = get_str(o, "module"), *tier = get_str(o, "tier"),
               *dt = get_str(o, "dtype");
    if (!cJSON_IsObject(o) || !name)
        return hmt_errf(err, errlen, -EINVAL, "tensor entry without a name");
    if (!(t->name = strdup(name)) || !(t->module = strdup(mod ? mod : "")))
        return -ENOMEM;
    if (!mod || !tier || hmt_tier_parse(tier, &t->tier) < 0)
        return hmt_errf(err, errlen, -EINVAL, "tensor %s: missing module or bad tier", name);
    if (!dt || hmt_dtype_parse(dt, &t->dtype) < 0)
        return hmt_errf(err, errlen, -EINVAL, "tensor %s: unknown dtype", name);
    uint64_t bytes;
    if (get_int(o, "order", &t->order) < 0 || get_int(o, "numel", &t->numel) < 0 ||
        get_int(o, "bytes", (int64_t *)&bytes) < 0)
        return hmt_errf(err, errlen, -EINVAL, "tensor %s: order/numel/bytes not non-negative integers", name);
    t->bytes = bytes;
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(o, "shape");
    int nd = cJSON_IsArray(sh) ? cJSON_GetArraySize(sh) : -1;
    if (nd < 0 || nd > HMT_MAX_DIMS)
        return hmt_errf(err, errlen, -EINVAL, "tensor %s: bad shape", name);
    t->ndim = nd;
    double numel = 1;
    for (int d = 0; d < nd; d++) {
        const cJSON *v = cJSON_GetArrayItem(sh, d);
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != floor(v->valuedouble) ||
            v->valuedouble > 9007199254740992.0)
            return hmt_errf(err, errlen, -EINVAL, "tensor %s: bad shape", name);
        t->shape[d] = (int64_t)v->valuedouble;
        numel *= v->valuedouble;
    }
    if (numel != (double)t->numel || (double)t->bytes != numel * (double)hmt_dtype_size(t->dtype))
        return hmt_errf(err, errlen, -EINVAL, "tensor %s: shape, numel and bytes disagree", name);
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(o, "score");
    if (!cJSON_IsNumber(sc) || !isfinite(sc->valuedouble))
        return hmt_errf(err, errlen, -EINVAL, "tensor %s: score is not a finite number", name);
    t->score = sc->valuedouble;
    const cJSON *fps = cJSON_GetObjectItemCaseSensitive(o, "fingerprints"), *f;
    if (!cJSON_IsObject(fps))
        return hmt_errf(err, errlen, -EINVAL, "tensor %s: no fingerprints object", name);
    cJSON_ArrayForEach(f, fps) {
        hmt_dtype fd;
        const char *s = cJSON_IsString(f) ? f->valuestring : "";
        if (!f->string || hmt_dtype_parse(f->string, &fd) < 0 || strlen(s) != 16 ||
            strspn(s, "0123456789abcdef") != 16)
            return hmt_errf(err, errlen, -EINVAL, "tensor %s: bad fingerprint %s", name,
                            f->string ? f->string : "?");
        t->fp[fd] = strtoull(s, NULL, 16);
        t->fp_mask |= 1u << fd;
    }
    if (!(t->fp_mask & (1u << t->dtype)))
        return hmt_errf(err, errlen, -EINVAL, "tensor %s: no fingerprint for its stored dtype", name);
    const cJSON *al = cJSON_GetObjectItemCaseSensitive(o, "aliases"), *a;
    if (al) {
        if (!cJSON_IsArray(al))
            return hmt_errf(err, errlen, -EINVAL, "tensor %s: aliases is not an array", name);
        t->aliases = calloc((size_t)cJSON_GetArraySize(al) + 1, sizeof(char *));
        if (!t->aliases)
            return -ENOMEM;
        cJSON_ArrayForEach(a, al) {
            if (!cJSON_IsString(a))
                return hmt_errf(err, errlen, -EINVAL, "tensor %s: alias is not a string", name);
            if (!(t->aliases[t->naliases] = strdup(a->valuestring)))
                return -ENOMEM;
            t->naliases++;
        }
    }
    return 0;
}

int hmt_hints_parse(const char *buf, size_t len, hmt_hints **out, char *err, size_t errlen)
{
    *out = NULL;
    cJSON *root = cJSON_ParseWithLength(buf, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return hmt_errf(err, errlen, -EINVAL, "not a JSON object");
    }
    hmt_hints *h = calloc(1, sizeof(*h));
    int rc = h ? 0 : -ENOMEM;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (rc == 0 && !fmt) {
        h->flat = true;
        rc = parse_modules(root, h, err, errlen);
    } else if (rc == 0) {
        int64_t ver;
        if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, HMT_HINTS_FORMAT) != 0)
            rc = hmt_errf(err, errlen, -EINVAL, "format is not \"%s\"", HMT_HINTS_FORMAT);
        else if (get_int(root, "version", &ver) < 0 || ver != HMT_HINTS_VERSION)
            rc = hmt_errf(err, errlen, -EINVAL, "unsupported version (this reader knows %d)", HMT_HINTS_VERSION);
        h->version = (int)(rc == 0 ? ver : 0);
        const cJSON *src = cJSON_GetObjectItemCaseSensitive(root, "source");
        const cJSON *ts = cJSON_GetObjectItemCaseSensitive(root, "tensors");
        const cJSON *mods = cJSON_GetObjectItemCaseSensitive(root, "modules");
        if (rc == 0 && (!cJSON_IsObject(src) || !cJSON_IsArray(ts) || !cJSON_IsObject(mods)))
            rc = hmt_errf(err, errlen, -EINVAL, "source, tensors or modules missing or mistyped");
        if (rc == 0) {
            const char *s;
            if ((s = get_str(src, "signal")) && !(h->signal = strdup(s)))
                rc = -ENOMEM;
            if ((s = get_str(src, "by")) && !(h->by = strdup(s)))
                rc = -ENOMEM;
            if ((s = get_str(src, "per")) && !(h->per = strdup(s)))
                rc = -ENOMEM;
        }
        if (rc == 0) {
            size_t n = (size_t)cJSON_GetArraySize(ts);
            h->t = calloc(n ? n : 1, sizeof(*h->t));
            rc = h->t ? 0 : -ENOMEM;
            const cJSON *it;
            cJSON_ArrayForEach(it, ts) {
                if (rc < 0)
                    break;
                rc = parse_tensor(it, &h->t[h->nt], err, errlen);
                h->nt++;
            }
        }
        if (rc == 0)
            rc = parse_modules(mods, h, err, errlen);
    }
    cJSON_Delete(root);
    if (rc < 0) {
        if (rc == -ENOMEM)
            hmt_errf(err, errlen, rc, "out of memory");
        hmt_hints_free(h);
        return rc;
    }
    *out = h;
    return 0;
}

int hmt_hints_read(const char *path, hmt_hints **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return hmt_errf(err, errlen, -errno, "%s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return -ENOMEM;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    fclose(f);
    char msg[512];
    int rc = hmt_hints_parse(buf, len, out, msg, sizeof(msg));
    free(buf);
    if (rc < 0)
        return hmt_errf(err, errlen, rc, "%s: %s", path, msg);
    return 0;
}
