/* fork.c — a forked child (a data-loader worker, say) inherits nothing of the spill file:
 * no descriptor of it and no io_uring that would keep its disk space alive after the parent
 * is gone, and no way to scribble on the parent's slots. The child can open a spill file of
 * its own; the parent's chunks are intact after the child ran. Also checks the EFAULT path
 * (direct I/O refused for a buffer: that chunk goes through the page cache) when run with
 * HMT_TEST_NVME_FAIL=efault.
 *
 * usage: nvme_fork [efault] */
#include "helpers.h"
#include "internal.h"
#include "nvme.h"

#include <sys/wait.h>

enum { SLOT = 128 << 10, N = 16 };

/* Count of this process's descriptors that point into dir or are io_urings. */
static int inherited(const char *dir)
{
    int n = 0;
    char path[64], link[4096];
    for (int fd = 0; fd < 1024; fd++) {
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ssize_t len = readlink(path, link, sizeof link - 1);
        if (len <= 0)
            continue;
        link[len] = 0;
        if (!strncmp(link, dir, strlen(dir)) || strstr(link, "io_uring"))
            n++;
    }
    return n;
}

static void roundtrip(void **bufs, uint64_t seed, int64_t *slots)
{
    int errs[N];
    for (unsigned i = 0; i < N; i++)
        pattern_fill(bufs[i], SLOT, seed + i);
    CHECK(hmt_nvme_write(N, bufs, SLOT, slots, errs, NULL, NULL) == 0, "write");
    for (unsigned i = 0; i < N; i++)
        memset(bufs[i], 0, SLOT);
    CHECK(hmt_nvme_read(N, bufs, SLOT, slots, errs, NULL, NULL) == 0, "read");
    for (unsigned i = 0; i < N; i++)
        CHECK(pattern_check(bufs[i], SLOT, seed + i) < 0, "chunk %u differs", i);
}

int main(int argc, char **argv)
{
    int efault = argc > 1 && !strcmp(argv[1], "efault");
    char *dir = spill_dir_make();
    hmt_opt.nvme_dir = dir;
    CHECK(hmt_nvme_init(SLOT) == 0, "init");
    void *bufs[N];
    int64_t slots[N];
    char *slab = chunk_alloc((size_t)N * SLOT);
    hmt_nvme_register_buffer(slab, (size_t)N * SLOT);
    for (unsigned i = 0; i < N; i++)
        bufs[i] = slab + (size_t)i * SLOT;
    roundtrip(bufs, 100, slots);          /* the parent's chunks stay stored */
    CHECK(inherited(dir) >= 1, "the parent has no spill file open: the check below is void");

    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        if (inherited(dir) != 0) {
            fprintf(stderr, "child inherited %d spill file / io_uring descriptors\n", inherited(dir));
            _exit(1);
        }
        int errs[N];
        int rc = hmt_nvme_read(1, bufs, SLOT, slots, errs, NULL, NULL);
        if (rc != -ENODEV) {
            fprintf(stderr, "child read the parent's slot: %d\n", rc);
            _exit(1);
        }
        if (hmt_nvme_init(SLOT) != 0)
            _exit(1);
        int64_t mine[N];
        roundtrip(bufs, 900, mine);       /* overwrites the child's copy of the buffers only */
        hmt_nvme_shutdown();
        _exit(0);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child failed");

    int errs[N];
    for (unsigned i = 0; i < N; i++)
        memset(bufs[i], 0, SLOT);
    CHECK(hmt_nvme_read(N, bufs, SLOT, slots, errs, NULL, NULL) == 0, "parent read");
    for (unsigned i = 0; i < N; i++)
        CHECK(pattern_check(bufs[i], SLOT, 100 + i) < 0, "parent's chunk %u changed", i);
    struct hmt_nvme_stats s;
    hmt_nvme_get_stats(&s);
    if (efault)
        CHECK(!strcmp(s.fallback, "buffered"), "EFAULT path not taken (fallback %s)", s.fallback);
    else
        CHECK(!strcmp(s.fallback, "none"), "fallback %s", s.fallback);
    hmt_nvme_unregister_buffer(slab);
    hmt_nvme_shutdown();
    CHECK(dir_entries(dir) == 0, "spill folder not empty");
    rmdir(dir);
    return T_PASS;
}
