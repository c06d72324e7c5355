/* weights.c — hmt_weights_load: finds the model weights of a checkpoint in whichever
 * layout it has (nanoGPT ckpt.pt, Hugging Face directory, .safetensors, a torch.save'd
 * state_dict) and returns them by state-dict key, in state-dict order.
 *
 * The set owns its key strings and holds a reference on its source (mapping or archive),
 * so tensors stay valid until hmt_weights_free, whoever else drops the source.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "internal.h"

#define ORIG_MOD "_orig_mod."   /* torch.compile's wrapper prefix (nanoGPT strips it too) */
#define DUMP_SEP "::"           /* hints/dump_optimizer.py: "<name>::exp_avg_sq" etc. */

hmt_wset *hmt_wset_new(void)
{
    return calloc(1, sizeof(hmt_wset));
}

int hmt_wset_add(hmt_wset *ws, const hmt_tensor *t, const char *name)
{
    if (ws->pub.n == ws->cap) {
        size_t nc = ws->cap ? ws->cap * 2 : 32;
        hmt_tensor *nt = realloc(ws->pub.t, nc * sizeof(*nt));
        if (!nt)
            return -ENOMEM;
        ws->pub.t = nt;
        ws->cap = nc;
    }
    hmt_tensor *d = &ws->pub.t[ws->pub.n];
    *d = *t;
    d->name = strdup(name);
    if (!d->name)
        return -ENOMEM;
    ws->pub.n++;
    return 0;
}

void hmt_weights_free(hmt_tensor_set *set)
{
    hmt_wset *ws = (hmt_wset *)set;
    if (!ws)
        return;
    for (size_t i = 0; i < ws->pub.n; i++)
        free((char *)ws->pub.t[i].name);
    free(ws->pub.t);
    for (size_t i = 0; i < ws->nst; i++)
        hmt_st_unref(ws->st[i]);
    free(ws->st);
    if (ws->ta)
        hmt_torch_unref(ws->ta);
    free(ws);
}

const hmt_tensor *hmt_tensor_set_find(const hmt_tensor_set *ws, const char *name)
{
    if (!ws || !name)
        return NULL;
    for (size_t i = 0; i < ws->n; i++)
        if (strcmp(ws->t[i].name, name) == 0)
            return &ws->t[i];
    return NULL;
}

int hmt_wset_from_state_dict(hmt_torch_archive *a, const pv *sd, hmt_wset **out,
                             char *err, size_t errlen)
{
    *out = NULL;
    if (!sd || sd->kind != PV_DICT)
        return hmt_errf(err, errlen, -EINVAL, "%s: state dict is not a dict", hmt_torch_path(a));
    hmt_wset *ws = hmt_wset_new();
    if (!ws)
        return -ENOMEM;
    hmt_torch_ref(a);
    ws->ta = a;
    for (size_t i = 0; i < sd->n; i += 2) {
        const pv *k = sd->items[i], *v = sd->items[i + 1];
        if (k->kind != PV_STR || v->kind != PV_TENSOR)
            continue;           /* not a tensor entry (never happens in torch state dicts) */
        const char *name = k->s;
        if (strncmp(name, ORIG_MOD, strlen(ORIG_MOD)) == 0)
            name += strlen(ORIG_MOD);
        hmt_tensor t;
        int rc = hmt_torch_tensor(a, v, name, &t, err, errlen);
        if (rc == 0)
            rc = hmt_wset_add(ws, &t, name);
        if (rc < 0) {
            hmt_weights_free(&ws->pub);
            return rc;
        }
    }
    if (!ws->pub.n) {
        hmt_weights_free(&ws->pub);
        return hmt_errf(err, errlen, -EINVAL, "%s: state dict holds no tensors", hmt_torch_path(a));
    }
    *out = ws;
    return 0;
}

int hmt_wset_add_safetensors(hmt_wset *ws, hmt_st_file *f)
{
    hmt_st_file **ns = realloc(ws->st, (ws->nst + 1) * sizeof(*ns));
    if (!ns)
        return -ENOMEM;
    ws->st = ns;
    hmt_st_ref(f);
    ws->st[ws->nst++] = f;
    if (hmt_st_name_sorted(f) || ws->nst > 1)
        ws->order_unknown = true;
    bool dump = hmt_st_meta_format(f) && strcmp(hmt_st_meta_format(f), "hmt-optimizer-dump") == 0;
    for (size_t i = 0; i < hmt_st_count(f); i++) {
        hmt_tensor t;
        hmt_st_tensor(f, i, &t);
        if (dump && strstr(t.name, DUMP_SEP))
            continue;           /* optimizer state in a dump_optimizer.py file */
        if (hmt_tensor_set_find(&ws->pub, t.name))
            continue;           /* a later shard repeating a key: the first one counts */
        int rc = hmt_wset_add(ws, &t, t.name);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Hugging Face sharded weights: model.safetensors.index.json {"weight_map": {name: file}};
 * the shards are read in file-name order (model-00001-of-0000N first). */
static int load_sharded(const char *index, hmt_tensor_set **out, char *err, size_t errlen)
{
    FILE *f = fopen(index, "rb");
    if (!f)
        return hmt_errf(err, errlen, -errno, "%s: %s", index, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0, got;
    do {
        if (len == cap) {
            char *nb = realloc(buf, cap = cap ? cap * 2 : 65536);
            if (!nb) {
                free(buf);
                fclose(f);
                return -ENOMEM;
            }
            buf = nb;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
    } while (got);
    fclose(f);
    cJSON *root = cJSON_ParseWithLength(buf, len);
    free(buf);
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map"), *it;
    if (!cJSON_IsObject(map)) {
        cJSON_Delete(root);
        return hmt_errf(err, errlen, -EINVAL, "%s: no \"weight_map\" object", index);
    }
    size_t nmap = (size_t)cJSON_GetArraySize(map), nfiles = 0;
    char **files = calloc(nmap ? nmap : 1, sizeof(char *));
    int rc = files ? 0 : -ENOMEM;
    cJSON_ArrayForEach(it, map) {
        if (rc < 0)
            break;
        if (!cJSON_IsString(it) || strchr(it->valuestring, '/') || it->valuestring[0] == '.') {
            rc = hmt_errf(err, errlen, -EINVAL, "%s: tensor %s: bad shard file name", index,
                          it->string ? it->string : "?");
            break;
        }
        size_t j;
        for (j = 0; j < nfiles && strcmp(files[j], it->valuestring) != 0; j++)
            ;
        if (j == nfiles)
            files[nfiles++] = it->valuestring;
    }
    if (rc == 0)
        qsort(files, nfiles, sizeof(*files), cmp_str);
    hmt_wset *ws = rc == 0 ? hmt_wset_new() : NULL;
    if (rc == 0 && !ws)
        rc = -ENOMEM;
    const char *slash = strrchr(index, '/');
    int dirlen = slash ? (int)(slash - index) : 1;
    const char *dir = slash ? index : ".";
    for (size_t j = 0; j < nfiles && rc == 0; j++) {
        char p[4096];
        snprintf(p, sizeof(p), "%.*s/%s", dirlen, dir, files[j]);
        hmt_st_file *sf;
        if ((rc = hmt_st_open(p, &sf, err, errlen)) < 0)
            break;
        rc = hmt_wset_add_safetensors(ws, sf);
        hmt_st_unref(sf);
    }
    cJSON_ArrayForEach(it, map) {
        if (rc < 0)
            break;
        if (!hmt_tensor_set_find(&ws->pub, it->string))
            rc = hmt_errf(err, errlen, -EINVAL, "%s: tensor %s: not found in its shard %s", index,
                          it->string, it->valuestring);
    }
    free(files);
    cJSON_Delete(root);
    if (rc < 0) {
        if (ws)
            hmt_weights_free(&ws->pub);
        return rc;
    }
    ws->order_unknown = true;
    *out = &ws->pub;
    return 0;
}

/* Picks the weights dict inside a torch.save'd object. */
static const pv *find_state_dict(const pv *root)
{
    const pv *m;
    if ((m = hmt_pv_get(root, "model")) && m->kind == PV_DICT)
        return m;
    if ((m = hmt_pv_get(root, "state_dict")) && m->kind == PV_DICT)
        return m;
    if ((m = hmt_pv_get(root, "model_state_dict")) && m->kind == PV_DICT)
        return m;
    if (root && root->kind == PV_DICT && root->n && root->items[1]->kind == PV_TENSOR)
        return root;
    return NULL;
}

static int load_file(const char *path, hmt_tensor_set **out, char *err, size_t errlen)
{
    int rc;
    hmt_wset *ws = NULL;
    if (hmt_is_zip(path)) {
        hmt_torch_archive *a;
        if ((rc = hmt_torch_open(path, &a, err, errlen)) < 0)
            return rc;
        const pv *root = hmt_torch_root(a), *sd = find_state_dict(root);
        if (!sd) {
            rc = hmt_pv_get(root, "state") && hmt_pv_get(root, "param_groups")
                     ? hmt_errf(err, errlen, -EINVAL,
                                "%s: an optimizer state_dict holds no weights; give the weights file too", path)
                     : hmt_errf(err, errlen, -EINVAL,
                                "%s: no state dict found (expected a 'model' entry or a dict of tensors)", path);
        } else {
            rc = hmt_wset_from_state_dict(a, sd, &ws, err, errlen);
        }
        hmt_torch_unref(a);
    } else {
        size_t pl = strlen(path), il = strlen(".index.json");
        if (pl > il && strcmp(path + pl - il, ".index.json") == 0)
            return load_sharded(path, out, err, errlen);
        hmt_st_file *f;
        if ((rc = hmt_st_open(path, &f, err, errlen)) < 0)
            return rc;
        ws = hmt_wset_new();
        rc = ws ? hmt_wset_add_safetensors(ws, f) : -ENOMEM;
        hmt_st_unref(f);
        if (rc < 0) {
            hmt_weights_free(ws ? &ws->pub : NULL);
            return rc;
        }
    }
    if (rc < 0)
        return rc;
    *out = &ws->pub;
    return 0;
}

int hmt_weights_load(const char *path, hmt_tensor_set **out, char *err, size_t errlen)
{
    *out = NULL;
    struct stat st;
    if (!path || stat(path, &st) < 0)
        return hmt_errf(err, errlen, -ENOENT, "%s: %s", path ? path : "(null)", strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return load_file(path, out, err, errlen);
    static const char *const names[] = {"model.safetensors", "model.safetensors.index.json",
                                        "pytorch_model.bin"};
    for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", path, names[i]);
        if (stat(p, &st) == 0)
            return load_file(p, out, err, errlen);
    }
    return hmt_errf(err, errlen, -ENOENT,
                    "%s: directory has no model.safetensors, model.safetensors.index.json or pytorch_model.bin",
                    path);
}
