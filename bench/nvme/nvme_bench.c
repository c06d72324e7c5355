/* nvme_bench.c — is the NVMe tier as fast as the disk? Write (evict) and read (fault-in)
 * throughput through interpose/nvme.c against fio with ioengine=io_uring, direct=1 and the
 * same block size (the chunk size), queue depth, file size and folder, run back to back in
 * this process, several rounds (who goes first alternates); prints the medians and the ratios.
 *
 * usage: hmt-nvme-bench [--dir D] [--size BYTES] [--bs BYTES] [--qd N] [--rounds N] [--fio PATH]
 * Defaults: HMT_NVME_DIR (else $TMPDIR, else /var/tmp), 1G, 2M, HMT_NVME_QD (32), 3, fio.
 * Each round starts from a new file for both (hmt: a new spill file; fio: a deleted file),
 * so both pay for allocating blocks on write. Goal: ratio >= 0.95 both ways. */
#define _GNU_SOURCE
#include "internal.h"
#include "nvme.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Runs one fio job and returns its bandwidth in GB/s (10^9 B/s), or -1. */
static double run_fio(const char *fio, const char *rw, const char *file, uint64_t size,
                      uint64_t bs, long qd)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "%s --name=hmtbench --ioengine=io_uring --direct=1 --rw=%s --bs=%llu --iodepth=%ld "
             "--size=%llu --filename=%s --output-format=json --thread=0 2>/dev/null",
             fio, rw, (unsigned long long)bs, qd, (unsigned long long)size, file);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t cap = 1 << 20, len = 0;
    char *out = malloc(cap);
    size_t r;
    while (out && (r = fread(out + len, 1, cap - 1 - len, p)) > 0) {
        len += r;
        if (len + 1 == cap) {
            char *q = realloc(out, cap *= 2);
            if (!q) break;
            out = q;
        }
    }
    int st = pclose(p);
    if (!out)
        return -1;
    out[len] = 0;
    double gbps = -1;
    /* fio may print notes before the JSON object. */
    char *js = strchr(out, '{');
    cJSON *root = js ? cJSON_Parse(js) : NULL;
    cJSON *jobs = root ? cJSON_GetObjectItem(root, "jobs") : NULL;
    cJSON *job = jobs ? cJSON_GetArrayItem(jobs, 0) : NULL;
    cJSON *dir = job ? cJSON_GetObjectItem(job, strcmp(rw, "write") ? "read" : "write") : NULL;
    cJSON *bw = dir ? cJSON_GetObjectItem(dir, "bw_bytes") : NULL;
    if (st == 0 && cJSON_IsNumber(bw))
        gbps = bw->valuedouble / 1e9;
    cJSON_Delete(root);
    free(out);
    return gbps;
}

/* One round through the NVMe tier: a new spill file, size/bs chunks written as one batch,
 * then read back as one batch. Buffers: 2*qd chunks of one registered slab, cycled, so no two
 * requests in flight share a buffer. */
static int run_hmt(const char *dir, uint64_t size, uint64_t bs, long qd, double *w, double *r,
                   const char **fallback)
{
    unsigned n = (unsigned)(size / bs), nb = (unsigned)(2 * qd);
    char *slab;
    if (posix_memalign((void **)&slab, 2u << 20, (size_t)nb * bs))
        return -ENOMEM;
    memset(slab, 0x5A, (size_t)nb * bs);
    void **bufs = calloc(n, sizeof *bufs);
    int64_t *slots = calloc(n, sizeof *slots);
    int *errs = calloc(n, sizeof *errs);
    if (!bufs || !slots || !errs)
        return -ENOMEM;
    for (unsigned i = 0; i < n; i++)
        bufs[i] = slab + (size_t)(i % nb) * bs;
    hmt_opt.nvme_dir = dir;
    hmt_opt.nvme_qd = qd;
    int rc = hmt_nvme_init(bs);
    if (rc == 0)
        hmt_nvme_register_buffer(slab, (size_t)nb * bs);
    /* One chunk first, untimed: this thread's ring, the registration of the slab and the
     * first extent are set up once per process in real use, not per eviction. fio does the
     * same outside its clock (setup and file layout). */
    if (rc == 0 && (rc = hmt_nvme_write(1, bufs, bs, slots, errs, NULL, NULL)) == 0)
        hmt_nvme_free_slot(slots[0]);
    double t0 = now_s();
    if (rc == 0)
        rc = hmt_nvme_write(n, bufs, bs, slots, errs, NULL, NULL);
    double t1 = now_s();
    if (rc == 0)
        rc = hmt_nvme_read(n, bufs, bs, slots, errs, NULL, NULL);
    double t2 = now_s();
    struct hmt_nvme_stats st;
    hmt_nvme_get_stats(&st);
    *fallback = st.fallback;
    *w = (double)n * bs / (t1 - t0) / 1e9;
    *r = (double)n * bs / (t2 - t1) / 1e9;
    hmt_nvme_unregister_buffer(slab);
    hmt_nvme_shutdown();
    free(bufs);
    free(slots);
    free(errs);
    free(slab);
    return rc;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    const char *dir = hmt_opt.nvme_dir && *hmt_opt.nvme_dir ? hmt_opt.nvme_dir : getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/var/tmp";
    const char *fio = "fio";
    uint64_t size = 1ull << 30, bs = 2ull << 20;
    long qd = hmt_opt.nvme_qd;
    int rounds = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--dir")) dir = argv[i + 1];
        else if (!strcmp(argv[i], "--size")) hmt_parse_size(argv[i + 1], &size);
        else if (!strcmp(argv[i], "--bs")) hmt_parse_size(argv[i + 1], &bs);
        else if (!strcmp(argv[i], "--qd")) qd = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds")) rounds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--fio")) fio = argv[i + 1];
        else { fprintf(stderr, "hmt-nvme-bench: unknown option %s\n", argv[i]); return 2; }
    }
    if (rounds < 1 || rounds > 50 || bs % 4096 || size < bs || qd < 1) {
        fprintf(stderr, "hmt-nvme-bench: bad --rounds, --bs (multiple of 4096), --size or --qd\n");
        return 2;
    }
    size -= size % bs;
    char fiofile[4200];
    snprintf(fiofile, sizeof fiofile, "%s/hmt-nvme-bench-fio.%d", dir, (int)getpid());

    double fw[50], fr[50], hw[50], hr[50];
    const char *fallback = "?";
    for (int k = 0; k < rounds; k++) {
        /* Alternate who goes first, so neither always meets a disk (or a host cache behind a
         * virtual disk) just filled by the other. */
        int rc = 0;
        if (k % 2)
            rc = run_hmt(dir, size, bs, qd, &hw[k], &hr[k], &fallback);
        unlink(fiofile);
        fw[k] = run_fio(fio, "write", fiofile, size, bs, qd);
        fr[k] = run_fio(fio, "read", fiofile, size, bs, qd);
        unlink(fiofile);
        if (k % 2 == 0)
            rc = run_hmt(dir, size, bs, qd, &hw[k], &hr[k], &fallback);
        if (fw[k] < 0 || fr[k] < 0) {
            fprintf(stderr, "hmt-nvme-bench: fio failed (is it installed? --fio PATH)\n");
            return 1;
        }
        if (rc) {
            fprintf(stderr, "hmt-nvme-bench: NVMe tier failed in %s: %s\n", dir, strerror(-rc));
            return 1;
        }
        printf("round %d: write fio %.3f hmt %.3f  read fio %.3f hmt %.3f GB/s\n", k + 1,
                fw[k], hw[k], fr[k], hr[k]);
    }
    double mfw = median(fw, rounds), mfr = median(fr, rounds);
    double mhw = median(hw, rounds), mhr = median(hr, rounds);
    printf("NVMe tier vs fio (io_uring, direct=1): dir %s, file %.2f GiB, bs %llu KiB, qd %ld, "
           "%d rounds (medians), hmt fallback: %s\n", dir, size / 1073741824.0,
           (unsigned long long)(bs >> 10), qd, rounds, fallback);
    printf("| direction        | fio GB/s | hmt GB/s | hmt / fio |\n");
    printf("|------------------|---------:|---------:|----------:|\n");
    printf("| evict (write)    | %8.3f | %8.3f | %8.2fx |\n", mfw, mhw, mhw / mfw);
    printf("| fault-in (read)  | %8.3f | %8.3f | %8.2fx |\n", mfr, mhr, mhr / mfr);
    return 0;
}
