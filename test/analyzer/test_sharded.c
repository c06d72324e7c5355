/* test_sharded.c — Hugging Face sharded weights (model.safetensors.index.json + shards):
 * hmt_weights_load on the directory (and on the index) returns every tensor with the same
 * bytes as the single-file checkpoint; naming optimizer state by shape is refused there
 * (shards lose parameter order), while signals without optimizer state work.
 * usage: test_sharded DATA_DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze.h"
#include "internal.h"
#include "test_util.h"

/* Writes entries [from, to) of a parsed safetensors image as a new file. */
static void write_shard(const char *path, const uint8_t *img, size_t start,
                        const hmt_st_entry *e, size_t from, size_t to)
{
    char h[16384];
    size_t hl = 0, off = 0;
    hl += (size_t)snprintf(h + hl, sizeof(h) - hl, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (size_t i = from; i < to; i++) {
        hl += (size_t)snprintf(h + hl, sizeof(h) - hl, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[", e[i].name);
        for (int d = 0; d < e[i].ndim; d++)
            hl += (size_t)snprintf(h + hl, sizeof(h) - hl, "%s%lld", d ? "," : "", (long long)e[i].shape[d]);
        size_t sz = e[i].end - e[i].begin;
        hl += (size_t)snprintf(h + hl, sizeof(h) - hl, "],\"data_offsets\":[%zu,%zu]}", off, off + sz);
        off += sz;
    }
    hl += (size_t)snprintf(h + hl, sizeof(h) - hl, "}");
    FILE *f = fopen(path, "wb");
    uint64_t n = hl;
    fwrite(&n, 8, 1, f);
    fwrite(h, 1, hl, f);
    for (size_t i = from; i < to; i++)
        fwrite(img + start + e[i].begin, 1, e[i].end - e[i].begin, f);
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
        return 1;
    }
    char src[4096], err[512];
    snprintf(src, sizeof(src), "%s/hf-small/model.safetensors", argv[1]);
    FILE *f = fopen(src, "rb");
    if (!f) {
        perror(src);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    size_t len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *img = malloc(len);
    if (fread(img, 1, len, f) != len)
        return 1;
    fclose(f);
    hmt_st_entry *e;
    size_t n, start;
    if (hmt_st_parse(img, len, &e, &n, &start, NULL, err, sizeof(err)) < 0) {
        fprintf(stderr, "FAIL %s\n", err);
        return 1;
    }
    char dir[] = "/tmp/hmt-sharded-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char s1[128], s2[128], idx[128];
    snprintf(s1, sizeof(s1), "%s/model-00001-of-00002.safetensors", dir);
    snprintf(s2, sizeof(s2), "%s/model-00002-of-00002.safetensors", dir);
    snprintf(idx, sizeof(idx), "%s/model.safetensors.index.json", dir);
    write_shard(s1, img, start, e, 0, n / 2);
    write_shard(s2, img, start, e, n / 2, n);
    f = fopen(idx, "w");
    fprintf(f, "{\"metadata\":{\"total_size\":%zu},\"weight_map\":{", len - start);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s\"%s\":\"model-0000%d-of-00002.safetensors\"", i ? "," : "", e[i].name, i < n / 2 ? 1 : 2);
    fprintf(f, "}}");
    fclose(f);

    hmt_tensor_set *one, *sh, *viaidx;
    CHECK(hmt_weights_load(src, &one, err, sizeof(err)) == 0, "single: %s", err);
    CHECK(hmt_weights_load(dir, &sh, err, sizeof(err)) == 0, "sharded dir: %s", err);
    CHECK(hmt_weights_load(idx, &viaidx, err, sizeof(err)) == 0, "index: %s", err);
    if (failures)
        return 1;
    CHECK(sh->n == one->n && viaidx->n == one->n, "tensor count %zu vs %zu", sh->n, one->n);
    for (size_t i = 0; i < one->n; i++) {
        const hmt_tensor *a = &one->t[i], *b = hmt_tensor_set_find(sh, a->name);
        CHECK(b && b->nbytes == a->nbytes && memcmp(a->data, b->data, a->nbytes) == 0,
              "%s differs in the shards", a->name);
    }
    hmt_weights_free(one);
    hmt_weights_free(sh);
    hmt_weights_free(viaidx);

    /* optimizer naming by shape is refused; magnitude works */
    char opt[4096];
    snprintf(opt, sizeof(opt), "%s/hf-small/optimizer.pt", argv[1]);
    char *paths[] = {opt, dir};
    hmt_ckpt *c;
    int rc = hmt_ckpt_open(paths, 2, &c, err, sizeof(err));
    CHECK(rc < 0 && strstr(err, "in shards"), "sharded + optimizer should be refused: %s", rc < 0 ? err : "accepted");
    if (rc == 0)
        hmt_ckpt_free(c);
    char *wonly[] = {idx};
    rc = hmt_ckpt_open(wonly, 1, &c, err, sizeof(err));
    CHECK(rc == 0 && c->np == n && !c->has_optimizer, "weights-only sharded open: %s", rc < 0 ? err : "");
    if (rc == 0)
        hmt_ckpt_free(c);

    /* an index naming a tensor no shard has */
    f = fopen(idx, "w");
    fprintf(f, "{\"weight_map\":{\"ghost.weight\":\"model-00001-of-00002.safetensors\"}}");
    fclose(f);
    CHECK(hmt_weights_load(dir, &sh, err, sizeof(err)) < 0 && strstr(err, "ghost.weight"), "ghost tensor: %s", err);

    unlink(s1);
    unlink(s2);
    unlink(idx);
    rmdir(dir);
    hmt_st_entries_free(e, n);
    free(img);
    if (failures) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    printf("ok: sharded safetensors\n");
    return 0;
}
