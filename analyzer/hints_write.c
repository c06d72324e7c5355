/* hints_write.c — writes tier_hints.json (format "hmt-tier-hints", version 1; specified in
 * hints/HINTS.md and hints/tier_hints.schema.json) or, with flat, the seed's
 * {"module": "HBM|CPU|SSD"} map alone.
 *
 * One entry per distinct tensor (tied keys sharing one tensor are listed in its "aliases"):
 * a program uploads a tied tensor once, so one fingerprint names it. A regular file is
 * written to a temporary name and renamed, so a reader never sees half a file; stdout
 * ("-"), devices, FIFOs and symlinks are handled as write_out says.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "analyze.h"
#include "hmt/hints.h"
#include "internal.h"

static const struct {
    const char *name;
    double setup_us, gbps;
} tier_specs[HMT_TIER_COUNT] = {{"HBM", 1, 800}, {"CPU", 5, 150}, {"SSD", 30, 10}};

static cJSON *shape_json(const hmt_tensor *t)
{
    cJSON *a = cJSON_CreateArray();
    for (int d = 0; a && d < t->ndim; d++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber((double)t->shape[d]));
    return a;
}

static int fingerprints_json(const hmt_tensor *t, cJSON *fps)
{
    hmt_dtype want[4] = {t->dtype, HMT_DT_F32, HMT_DT_F16, HMT_DT_BF16};
    int nwant = hmt_dtype_is_float(t->dtype) ? 4 : 1;
    for (int k = 0; k < nwant; k++) {
        if (k > 0 && want[k] == t->dtype)
            continue;
        uint64_t fp;
        int rc = hmt_tensor_fingerprint(t, want[k], &fp);
        if (rc < 0)
            return rc;
        char hex[17];
        snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)fp);
        cJSON_AddStringToObject(fps, hmt_dtype_name(want[k]), hex);
    }
    return 0;
}

/* Module -> tier: the tier holding most of the module's bytes (ties: the faster), so the
 * flat map keeps roughly to the byte budgets the tensors were placed under. An alias key's
 * module (lm_head) counts the bytes of the tensor it names. */
static int module_tier(const hmt_ckpt *c, const hmt_run *r, const char *mod)
{
    uint64_t bytes[HMT_TIER_COUNT] = {0};
    for (size_t i = 0; i < c->np; i++) {
        const hmt_param *p = &c->p[i];
        bool in = strcmp(p->module, mod) == 0;
        for (size_t a = 0; a < p->naliases && !in; a++) {
            const char *dot = strrchr(p->aliases[a], '.');
            size_t len = dot ? (size_t)(dot - p->aliases[a]) : strlen(p->aliases[a]);
            in = strlen(mod) == len && strncmp(p->aliases[a], mod, len) == 0;
        }
        if (in)
            bytes[r->param_tier[i]] += p->w->nbytes + 1;   /* +1: empty tensors count too */
    }
    int best = 0;
    for (int t = 1; t < HMT_TIER_COUNT; t++)
        if (bytes[t] > bytes[best])
            best = t;
    return best;
}

static cJSON *modules_json(const hmt_ckpt *c, const hmt_run *r)
{
    cJSON *m = cJSON_CreateObject();
    if (!m)
        return NULL;
    for (size_t i = 0; i < c->np; i++) {
        const hmt_param *p = &c->p[i];
        for (size_t a = 0; a <= p->naliases; a++) {
            char *mod;
            if (a == 0)
                mod = strdup(p->module);
            else {
                const char *dot = strrchr(p->aliases[a - 1], '.');
                mod = dot ? strndup(p->aliases[a - 1], (size_t)(dot - p->aliases[a - 1]))
                          : strdup(p->aliases[a - 1]);
            }
            if (!mod) {
                cJSON_Delete(m);
                return NULL;
            }
            if (!cJSON_GetObjectItemCaseSensitive(m, mod)) {
                int t = module_tier(c, r, mod);
                cJSON_AddStringToObject(m, mod, hmt_tier_name((hmt_tier)t));
            }
            free(mod);
        }
    }
    return m;
}

static cJSON *build(const hmt_ckpt *c, const hmt_run *r, int *rc)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", HMT_HINTS_FORMAT);
    cJSON_AddNumberToObject(root, "version", HMT_HINTS_VERSION);
    cJSON *src = cJSON_AddObjectToObject(root, "source");
    cJSON *ck = cJSON_AddArrayToObject(src, "checkpoint");
    for (int i = 0; i < r->ncheckpoints; i++)
        cJSON_AddItemToArray(ck, cJSON_CreateString(r->checkpoints[i]));
    cJSON_AddStringToObject(src, "signal", hmt_signal_name(r->signal));
    cJSON_AddStringToObject(src, "by", hmt_by_name(r->by));
    cJSON_AddStringToObject(src, "per", r->per_module ? "module" : "tensor");
    /* a fraction of the total bytes (<= 1) or a byte count (> 1), as on the command line */
    cJSON_AddNumberToObject(src, "hbm", r->budget.hbm);
    cJSON_AddNumberToObject(src, "cpu", r->budget.cpu);
    cJSON *tiers = cJSON_AddArrayToObject(root, "tiers");
    for (int t = 0; t < HMT_TIER_COUNT; t++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", tier_specs[t].name);
        cJSON_AddNumberToObject(o, "setup_us", tier_specs[t].setup_us);
        cJSON_AddNumberToObject(o, "bandwidth_gbps", tier_specs[t].gbps);
        cJSON_AddItemToArray(tiers, o);
    }
    cJSON *ts = cJSON_AddArrayToObject(root, "tensors");
    for (size_t i = 0; i < c->np && *rc == 0; i++) {
        const hmt_param *p = &c->p[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(ts, o);
        cJSON_AddStringToObject(o, "name", p->w->name);
        cJSON_AddStringToObject(o, "module", p->module);
        cJSON_AddStringToObject(o, "tier", hmt_tier_name(r->param_tier[i]));
        cJSON_AddNumberToObject(o, "order", (double)p->order);
        cJSON_AddStringToObject(o, "dtype", hmt_dtype_name(p->w->dtype));
        cJSON_AddItemToObject(o, "shape", shape_json(p->w));
        cJSON_AddNumberToObject(o, "numel", (double)p->w->numel);
        cJSON_AddNumberToObject(o, "bytes", (double)p->w->nbytes);
        cJSON_AddNumberToObject(o, "score", r->param_score[i]);
        *rc = fingerprints_json(p->w, cJSON_AddObjectToObject(o, "fingerprints"));
        if (p->naliases) {
            cJSON *al = cJSON_AddArrayToObject(o, "aliases");
            for (size_t a = 0; a < p->naliases; a++)
                cJSON_AddItemToArray(al, cJSON_CreateString(p->aliases[a]));
        }
    }
    cJSON_AddItemToObject(root, "modules", modules_json(c, r));
    return root;
}

static int write_all(int fd, const char *txt)
{
    size_t n = strlen(txt), off = 0;
    while (off < n) {
        ssize_t w = write(fd, txt + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        off += (size_t)w;
    }
    return 0;
}

/* Follows symlinks from `path` to the file they finally name (which need not exist yet),
 * into `out`. Relative link targets are relative to the link's own directory. */
static int resolve_links(const char *path, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", path);
    for (int hops = 0; hops < 40; hops++) {
        struct stat st;
        if (lstat(out, &st) < 0 || !S_ISLNK(st.st_mode))
            return 0;
        char link[PATH_MAX];
        ssize_t n = readlink(out, link, sizeof(link) - 1);
        if (n < 0)
            return -errno;
        link[n] = 0;
        if (link[0] == '/') {
            snprintf(out, outlen, "%s", link);
        } else {
            char *slash = strrchr(out, '/');
            size_t dl = slash ? (size_t)(slash - out) + 1 : 0;
            if (dl + (size_t)n + 1 > outlen)
                return -ENAMETOOLONG;
            memmove(out + dl, link, (size_t)n + 1);
        }
    }
    return -ELOOP;
}

/* Writes txt + "\n" to `path`:
 * - "-": standard output;
 * - an existing non-regular file (a device such as /dev/null, a FIFO, a socket's peer):
 *   written into directly — replacing it by a renamed regular file would destroy it;
 * - a symlink: through to the file it names, keeping the link;
 * - a regular file or a new path: a temporary file in the same directory, renamed over
 *   it, so a reader never sees half a file (the replaced file's mode, and its owner
 *   where permitted, are kept).
 * Errors name `path` as the user gave it. */
static int write_out(const char *path, const char *body, char *err, size_t errlen)
{
    size_t bl = strlen(body);
    char *txt = malloc(bl + 2);
    if (!txt)
        return hmt_errf(err, errlen, -ENOMEM, "%s: out of memory", path);
    memcpy(txt, body, bl);
    memcpy(txt + bl, "\n", 2);
    int rc = 0;
    if (strcmp(path, "-") == 0) {
        if ((rc = write_all(STDOUT_FILENO, txt)) < 0)
            rc = hmt_errf(err, errlen, rc, "standard output: write failed: %s", strerror(-rc));
        free(txt);
        return rc;
    }
    char target[PATH_MAX];
    struct stat st;
    bool exists;
    if ((rc = resolve_links(path, target, sizeof(target))) < 0)
        goto fail;
    exists = stat(target, &st) == 0;
    if (exists && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) {
            rc = -EISDIR;
            goto fail;
        }
        int fd = open(target, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0) {
            rc = -errno;
            goto fail;
        }
        rc = write_all(fd, txt);
        if (close(fd) < 0 && rc == 0)
            rc = -errno;
        if (rc < 0)
            goto fail;
        free(txt);
        return 0;
    }
    char tmp[PATH_MAX + 16];
    snprintf(tmp, sizeof(tmp), "%s.XXXXXX", target);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        rc = -errno;
        goto fail;
    }
    mode_t mode;
    if (exists) {
        mode = st.st_mode & 07777;
        /* keep the owner too where we may (root replacing a user's file); else ours */
        if (fchown(fd, st.st_uid, st.st_gid) != 0) {
        }
    } else {
        mode_t um = umask(0);
        umask(um);
        mode = 0666 & ~um;
    }
    rc = fchmod(fd, mode) < 0 ? -errno : 0;
    if (rc == 0)
        rc = write_all(fd, txt);
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, target) < 0)
        rc = -errno;
    if (rc < 0) {
        unlink(tmp);
        goto fail;
    }
    free(txt);
    return 0;
fail:
    free(txt);
    return hmt_errf(err, errlen, rc, "%s: cannot write: %s", path, strerror(-rc));
}

int hmt_hints_write(const hmt_ckpt *c, const hmt_run *r, const char *path, bool flat,
                    char *err, size_t errlen)
{
    int rc = 0;
    cJSON *root = flat ? modules_json(c, r) : build(c, r, &rc);
    char *txt = root && rc == 0 ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!txt)
        return hmt_errf(err, errlen, rc < 0 ? rc : -ENOMEM, "%s: cannot build hints (%s)", path,
                        rc < 0 ? strerror(-rc) : "out of memory");
    rc = write_out(path, txt, err, errlen);
    free(txt);
    return rc;
}
