/* errors.c — a failing spill file loses nothing: a chunk whose write fails (ENOSPC injected,
 * HMT_NVME_LIMIT reached, or a real 1 MiB tmpfs filled up) is reported per chunk and its
 * buffer is untouched; chunks that were stored read back bitwise equal; a read error reaches
 * the caller with the chunk's index, through the completion callback too.
 *
 * usage: nvme_errors inject_write | inject_read | limit | tmpfs
 * (inject_* expect HMT_TEST_NVME_FAIL=write / read in the environment, limit expects
 * HMT_NVME_LIMIT=640K; ctest sets them.) */
#include "helpers.h"
#include "internal.h"
#include "nvme.h"

#include <sched.h>
#include <sys/mount.h>

enum { SLOT = 64 << 10, N = 32 };

static void *bufs[N];
static int64_t slots[N];
static int errs[N];

static void fill_all(uint64_t base)
{
    for (unsigned i = 0; i < N; i++)
        pattern_fill(bufs[i], SLOT, base + i);
}

/* Writes n chunks (seeds base+i); failed chunks must keep their contents. Returns stored. */
static unsigned write_some(unsigned n, uint64_t base)
{
    int rv = hmt_nvme_write(n, bufs, SLOT, slots, errs, NULL, NULL);
    unsigned ok = 0;
    for (unsigned i = 0; i < n; i++) {
        long bad = pattern_check(bufs[i], SLOT, base + i);
        CHECK(bad < 0, "chunk %u's buffer changed by a write (word %ld)", i, bad);
        if (errs[i] == 0) {
            CHECK(slots[i] >= 0, "chunk %u: no error but no slot", i);
            ok++;
        } else {
            CHECK(slots[i] == -1, "failed chunk %u has slot %lld", i, (long long)slots[i]);
            CHECK(errs[i] == -ENOSPC, "chunk %u: %s, expected ENOSPC", i, strerror(-errs[i]));
        }
    }
    CHECK((rv == 0) == (ok == n), "return %d with %u of %u stored", rv, ok, n);
    return ok;
}

static int done_err[N], done_calls;
static void on_done(unsigned i, int err, void *arg)
{
    (void)arg;
    done_err[i] = err;
    done_calls++;
}

/* Reads back every stored chunk of the last write_some and checks its contents. */
static void read_back(unsigned n, uint64_t base)
{
    int64_t rs[N];
    void *rb[N];
    unsigned m = 0;
    uint64_t seed[N];
    for (unsigned i = 0; i < n; i++)
        if (slots[i] >= 0) {
            rs[m] = slots[i];
            seed[m] = base + i;
            rb[m] = chunk_alloc(SLOT);
            m++;
        }
    int re[N];
    CHECK(hmt_nvme_read(m, rb, SLOT, rs, re, NULL, NULL) == 0, "read back");
    for (unsigned j = 0; j < m; j++) {
        CHECK(re[j] == 0, "read %u: %s", j, strerror(-re[j]));
        long bad = pattern_check(rb[j], SLOT, seed[j]);
        CHECK(bad < 0, "stored chunk %u differs at word %ld", j, bad);
        free(rb[j]);
    }
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    char *dir = spill_dir_make();
    int mounted = 0;
    if (!strcmp(mode, "tmpfs")) {
        /* A private mount namespace: the tmpfs disappears with this process, whatever happens. */
        if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
            mount("hmt-nvme-test", dir, "tmpfs", 0, "size=1m,mode=0700") != 0) {
            fprintf(stderr, "skip: cannot mount a tmpfs here (%s)\n", strerror(errno));
            rmdir(dir);
            return T_SKIP;
        }
        mounted = 1;
    }
    hmt_opt.nvme_dir = dir;
    CHECK(hmt_nvme_init(SLOT) == 0, "init in %s", dir);
    for (unsigned i = 0; i < N; i++)
        bufs[i] = chunk_alloc(SLOT);
    struct hmt_nvme_stats st;

    if (!strcmp(mode, "inject_write")) {
        CHECK(hmt_opt.test_nvme_fail && strstr(hmt_opt.test_nvme_fail, "write"), "needs HMT_TEST_NVME_FAIL=write");
        fill_all(100);
        CHECK(write_some(8, 100) == 0, "injected ENOSPC: nothing may be stored");
        hmt_nvme_get_stats(&st);
        CHECK(st.write_errors == 8 && st.bytes_written == 0 && st.slots_used == 0,
              "errors %lu, bytes %lu, slots %lu", (unsigned long)st.write_errors,
              (unsigned long)st.bytes_written, (unsigned long)st.slots_used);
        CHECK(hmt_stats[HMT_STAT_nvme_write_errors] == 8, "stat nvme_write_errors");
    } else if (!strcmp(mode, "inject_read")) {
        CHECK(hmt_opt.test_nvme_fail && strstr(hmt_opt.test_nvme_fail, "read"), "needs HMT_TEST_NVME_FAIL=read");
        fill_all(200);
        CHECK(write_some(4, 200) == 4, "writes must work when only reads fail");
        int rv = hmt_nvme_read(4, bufs, SLOT, slots, errs, on_done, NULL);
        CHECK(rv == -EIO, "read returned %d, expected -EIO", rv);
        CHECK(done_calls == 4, "%d completion callbacks for 4 chunks", done_calls);
        for (unsigned i = 0; i < 4; i++)
            CHECK(errs[i] == -EIO && done_err[i] == -EIO, "chunk %u: err %d, callback %d", i,
                  errs[i], done_err[i]);
        hmt_nvme_get_stats(&st);
        CHECK(st.read_errors == 4 && st.bytes_read == 0, "read errors %lu",
              (unsigned long)st.read_errors);
        /* A read error leaves the slot allocated: the data may be retried or the tensor named. */
        CHECK(st.slots_used == 4, "%lu slots used after failed reads", (unsigned long)st.slots_used);
    } else if (!strcmp(mode, "limit")) {
        CHECK(hmt_opt.nvme_limit == 10 * SLOT, "needs HMT_NVME_LIMIT=640K");
        fill_all(300);
        CHECK(write_some(16, 300) == 10, "HMT_NVME_LIMIT: exactly 10 chunks fit");
        read_back(16, 300);
        /* Freed slots are reused; the file never grows past the limit. */
        hmt_nvme_free_slot(slots[0]);
        hmt_nvme_free_slot(slots[1]);
        hmt_nvme_free_slot(slots[2]);
        /* A freed slot cannot be read, and freeing it again changes nothing. */
        int e1;
        CHECK(hmt_nvme_read(1, bufs, SLOT, &slots[0], &e1, NULL, NULL) == -EINVAL && e1 == -EINVAL,
              "read of a freed slot: %d", e1);
        hmt_nvme_free_slot(slots[0]);
        hmt_nvme_get_stats(&st);
        CHECK(st.slots_used == 7, "%lu slots used after 3 frees and a double free",
              (unsigned long)st.slots_used);
        fill_all(400);
        CHECK(write_some(5, 400) == 3, "3 freed slots hold 3 more chunks");
        read_back(5, 400);
        hmt_nvme_get_stats(&st);
        CHECK(st.slots_total == 10 && st.slots_used == 10, "slots %lu of %lu",
              (unsigned long)st.slots_used, (unsigned long)st.slots_total);
    } else if (!strcmp(mode, "tmpfs")) {
        fill_all(500);
        unsigned ok = write_some(N, 500);   /* 2 MiB into 1 MiB */
        CHECK(ok > 0 && ok < N, "%u of %u chunks stored on a 1 MiB tmpfs", ok, N);
        read_back(N, 500);
        /* One at a time until full: still nothing lost, and space comes back on free. */
        hmt_nvme_free_slot(slots[0]);
        fill_all(600);
        CHECK(write_some(2, 600) == 1, "one freed slot takes one chunk");
        read_back(2, 600);
        fprintf(stderr, "%u of %u chunks fit a 1 MiB tmpfs\n", ok, N);
    } else {
        fprintf(stderr, "usage: nvme_errors inject_write | inject_read | limit | tmpfs\n");
        return T_FAIL;
    }
    hmt_nvme_shutdown();
    /* An io_uring is torn down by the kernel in the background after it is closed, and its
     * registered file with it: the tmpfs may stay busy for a moment. */
    for (int tries = 0; mounted && tries < 200; tries++) {
        if (umount(dir) == 0)
            mounted = 0;
        else
            usleep(10000);
    }
    CHECK(!mounted, "umount %s: %s", dir, strerror(errno));
    CHECK(dir_entries(dir) == 0, "spill folder %s not empty", dir);
    rmdir(dir);
    return T_PASS;
}
