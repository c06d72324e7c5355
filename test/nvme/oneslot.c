/* oneslot.c — a host tier smaller than one eviction batch, with the spill file behind it.
 * HMT_HOST_LIMIT=2M (one pinned slot), HMT_HBM_LIMIT=16M: three 8 MiB buffers, so each
 * allocation and each launch must evict four chunks at once. The host tier holds one; the
 * rest must reach the spill file through that slot (the first victim goes on to the SSD once
 * its copy-out is done, freeing the slot for the next). hmt used to refuse the other three
 * victims of the batch ("pinned host memory refused") and answer CUDA_ERROR_OUT_OF_MEMORY,
 * which the program never sees without hmt (invariant 4). Results must be bitwise equal to
 * the run without hmt, and the spill file must have been used.
 * Mode `hinted`: the same with hints placing every buffer on SSD, so the staging window (4M) sends
 * chunks back after each launch; HMT_STATS' staging_evictions must count only the chunks
 * that left (it counted every one chosen, refused ones too: more than `evictions`).
 *
 * usage: nvme_oneslot [plain|hinted] (the parent runs itself as a child, with and without
 * libhmt.so) */
#define _GNU_SOURCE
#include <dirent.h>
#include "res_common.h"
#include "sim_common.h"

#define BUF (8u * MIB)
#define NF ((int)(BUF / sizeof(float)))

#define CKC(call) do { CUresult r_ = (call); if (r_ != CUDA_SUCCESS) { \
        printf("error=%d at %s\n", (int)r_, #call); fflush(stdout); exit(2); } } while (0)

static int child(void)
{
    res_init();
    CUfunction f = res_func(res_module(), "axpy");
    CUdeviceptr b[3];
    float *h = malloc(BUF);
    for (int i = 0; i < 3; i++) {
        CKC(cuMemAlloc(&b[i], BUF));
        res_pattern(h, (size_t)NF, (unsigned)i + 1);
        CKC(cuMemcpyHtoD(b[i], h, BUF));
    }
    for (int r = 0; r < 6; r++) {   /* each launch needs 8 chunks: the other 4 must leave */
        CKC(res_axpy(f, NULL, b[(r + 1) % 3], b[r % 3], 0.5f, NF));
        CKC(cuCtxSynchronize());
    }
    uint64_t hash = RES_FNV_INIT;
    for (int i = 0; i < 3; i++) {
        CKC(cuMemcpyDtoH(h, b[i], BUF));
        hash = res_fnv(hash, h, BUF);
        CKC(cuMemFree(b[i]));
    }
    printf("hash=%016llx\n", (unsigned long long)hash);
    free(h);
    return 0;
}

/* Every buffer on SSD, named by the fingerprint of its upload (include/hmt/hints.h: XXH64 of
 * the first min(n, 64 KiB) bytes, seed n). */
static void write_hints(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) FAIL("cannot write %s", path);
    float *h = malloc(BUF);
    fprintf(f, "{\"format\": \"hmt-tier-hints\", \"version\": 1, \"tensors\": [\n");
    for (int i = 0; i < 3; i++) {
        res_pattern(h, (size_t)NF, (unsigned)i + 1);
        char name[32];
        snprintf(name, sizeof name, "b.%d", i);
        hints_entry(f, name, "b", "SSD", i, h, (unsigned)NF, i == 2);
    }
    fprintf(f, "]}\n");
    fclose(f);
    free(h);
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "child")) return child();
    int hinted = argc > 1 && !strcmp(argv[1], "hinted");
    char dir[512], stats[600], hints[600], e_dir[700], e_stats[700], e_hints[700];
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
    snprintf(dir, sizeof dir, "%s/hmt-nvme-oneslot-XXXXXX", tmp);
    if (!mkdtemp(dir)) FAIL("mkdtemp");
    snprintf(stats, sizeof stats, "%s.stats.json", dir);
    snprintf(e_dir, sizeof e_dir, "HMT_NVME_DIR=%s", dir);
    snprintf(e_stats, sizeof e_stats, "HMT_STATS=%s", stats);
    snprintf(hints, sizeof hints, "%s.hints.json", dir);
    snprintf(e_hints, sizeof e_hints, "HMT_HINTS=%s", hints);
    if (hinted) write_hints(hints);

    char out0[256], out1[256];
    int rc = res_run_child(argv[0], "work", 0, NULL, out0, sizeof out0);
    if (rc != 0) FAIL("run without hmt failed (%d): %s", rc, out0);
    const char *env[] = { e_dir, e_stats, "HMT_HBM_LIMIT=16M", "HMT_HOST_LIMIT=2M",
                          "HMT_HOST_SLAB=2M", "HMT_STAGING=4M", hinted ? e_hints : NULL, NULL };
    rc = res_run_child(argv[0], "work", 1, env, out1, sizeof out1);
    double wr = res_stat(stats, "nvme_bytes_written"), ev = res_stat(stats, "evictions");
    double st = res_stat(stats, "staging_evictions");
    int empty = dir_empty(dir);
    unlink(stats);
    unlink(hints);
    rmdir(dir);
    printf("rc %d, %s  evictions %.0f staging_evictions %.0f nvme_bytes_written %.0f\n", rc, out1,
           ev, st, wr);
    if (rc != 0) FAIL("run with hmt failed (%d): %s", rc, out1);
    if (strcmp(out0, out1)) FAIL("results differ with hmt: %s vs %s", out0, out1);
    if (!(wr >= 4.0 * MIB)) FAIL("the spill file was not used (%.0f bytes written)", wr);
    if (!empty) FAIL("spill folder %s not empty after the run", dir);
    if (hinted && !(st > 0)) FAIL("no staging evictions: the hints did not name the buffers");
    if (st > ev) FAIL("staging_evictions %.0f > evictions %.0f", st, ev);
    return 0;
}
