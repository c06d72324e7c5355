/* roundtrip.c — chunks written to the spill file by several threads at once come back
 * bitwise equal, thousands of write/read cycles, slots reused, in every I/O mode.
 *
 * usage: nvme_roundtrip EXPECTED_FALLBACK [SLOT_KIB] [CYCLES]
 * The mode is chosen by the environment (HMT_TEST_NVME_FALLBACK=threads|buffered|notmpfile);
 * EXPECTED_FALLBACK is what stats must then say ("none", "threads", "buffered"), so a switch
 * that silently did nothing fails the test. */
#include "helpers.h"
#include "probe.h"
#include "nvme.h"
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>

enum { THREADS = 4, BUFS = 16, OUTSTANDING = 32, MAXB = 4 };

static size_t slot_bytes;
static int cycles;
static atomic_ulong total_chunks;

struct fifo_ent { int64_t slot; uint64_t seed; };

struct read_ctx {
    void **bufs;
    uint64_t *seeds;
    int64_t *slots;
    int done[MAXB];
    unsigned n;
};

static void on_read(unsigned i, int err, void *arg)
{
    struct read_ctx *c = arg;
    CHECK(i < c->n, "callback index %u of %u", i, c->n);
    CHECK(c->done[i] == 0, "chunk %u completed twice", i);
    CHECK(err == 0, "read of slot %lld failed: %s", (long long)c->slots[i], strerror(-err));
    c->done[i] = 1;
    /* What a caller would do here: start this chunk's host->device copy. It must already
     * hold the whole chunk. */
    long bad = pattern_check(c->bufs[i], slot_bytes, c->seeds[i]);
    CHECK(bad < 0, "slot %lld: word %ld differs", (long long)c->slots[i], bad);
}

struct ready_ctx { unsigned next; unsigned n; };

static int on_ready(unsigned i, void *arg)
{
    struct ready_ctx *c = arg;
    CHECK(i == c->next, "ready called for chunk %u, expected %u", i, c->next);
    c->next++;
    return 0;
}

static void *worker(void *argp)
{
    unsigned t = (unsigned)(uintptr_t)argp;
    char *slab = chunk_alloc(BUFS * slot_bytes);
    /* Half the threads use fixed buffers (registered slab), half plain ones. */
    if (t % 2 == 0)
        CHECK(hmt_nvme_register_buffer(slab, BUFS * slot_bytes) == 0, "register");
    struct fifo_ent fifo[OUTSTANDING + MAXB];
    unsigned nf = 0;
    uint64_t rng = 0x1234567 + t, seq = 0;
    for (int c = 0; c <= cycles; c++) {
        int last = c == cycles;
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        unsigned b = 1 + (unsigned)((rng >> 33) % MAXB);
        void *bufs[MAXB];
        int64_t slots[MAXB];
        uint64_t seeds[MAXB];
        int errs[MAXB];
        if (!last) {
            for (unsigned i = 0; i < b; i++) {
                bufs[i] = slab + (size_t)i * slot_bytes;
                seeds[i] = ((uint64_t)t << 40) | ++seq;
                pattern_fill(bufs[i], slot_bytes, seeds[i]);
            }
            struct ready_ctx rc = { 0, b };
            int use_ready = c % 2;
            int rv = hmt_nvme_write(b, bufs, slot_bytes, slots, errs, use_ready ? on_ready : NULL, &rc);
            CHECK(rv == 0, "write: %s", strerror(-rv));
            CHECK(!use_ready || rc.next == b, "ready called %u times for %u chunks", rc.next, b);
            for (unsigned i = 0; i < b; i++) {
                CHECK(errs[i] == 0 && slots[i] >= 0, "chunk %u: err %d slot %lld", i, errs[i],
                      (long long)slots[i]);
                fifo[nf++] = (struct fifo_ent){ slots[i], seeds[i] };
            }
            atomic_fetch_add(&total_chunks, b);
        }
        /* Read back the oldest ones once enough are outstanding (all of them at the end). */
        while (nf > (last ? 0 : OUTSTANDING)) {
            unsigned r = nf < MAXB ? nf : MAXB;
            struct read_ctx ctx = { bufs, seeds, slots, { 0 }, r };
            for (unsigned i = 0; i < r; i++) {
                bufs[i] = slab + (size_t)(MAXB + i) * slot_bytes;
                memset(bufs[i], 0xAA, slot_bytes);
                slots[i] = fifo[i].slot;
                seeds[i] = fifo[i].seed;
            }
            int rv = hmt_nvme_read(r, bufs, slot_bytes, slots, errs, on_read, &ctx);
            CHECK(rv == 0, "read: %s", strerror(-rv));
            for (unsigned i = 0; i < r; i++) {
                CHECK(ctx.done[i] == 1, "chunk %u: no completion callback", i);
                hmt_nvme_free_slot(slots[i]);
            }
            memmove(fifo, fifo + r, (nf - r) * sizeof fifo[0]);
            nf -= r;
        }
    }
    if (t % 2 == 0)
        hmt_nvme_unregister_buffer(slab);
    free(slab);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *asked = argc > 1 ? argv[1] : "none";
    slot_bytes = (size_t)(argc > 2 ? atoi(argv[2]) : 64) << 10;
    cycles = argc > 3 ? atoi(argv[3]) : 1000;
    char *dir = spill_dir_make();
    hmt_opt.nvme_dir = dir;
    /* what this machine forces by itself comes on top of what the test asks for */
    const char *expect = probe_name(probe_bits(asked) | probe_fallbacks(dir));
    int rc = hmt_nvme_init(slot_bytes);
    CHECK(rc == 0, "init in %s: %s", dir, strerror(-rc));
    CHECK(hmt_nvme_init(slot_bytes) == 0, "second init");
    CHECK(hmt_nvme_init(slot_bytes * 2) == -EINVAL, "init with another slot size must fail");
    CHECK(dir_entries(dir) == 0, "spill file has a name in %s", dir);

    pthread_t th[THREADS];
    for (unsigned t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, worker, (void *)(uintptr_t)t);
    for (unsigned t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);

    struct hmt_nvme_stats st;
    hmt_nvme_get_stats(&st);
    uint64_t total = atomic_load(&total_chunks) * slot_bytes;
    printf("%lu chunks of %zu KiB, 4 threads: write %.2f GB/s, read %.2f GB/s, fallback %s, "
           "file %lu slots\n", (unsigned long)atomic_load(&total_chunks), slot_bytes >> 10,
           st.write_gbps, st.read_gbps, st.fallback, (unsigned long)st.slots_total);
    CHECK(st.bytes_written == total && st.bytes_read == total, "bytes %lu/%lu, expected %lu",
          (unsigned long)st.bytes_written, (unsigned long)st.bytes_read, (unsigned long)total);
    CHECK(hmt_stats[HMT_STAT_nvme_bytes_written] == total, "stat nvme_bytes_written");
    CHECK(hmt_stats[HMT_STAT_nvme_bytes_read] == total, "stat nvme_bytes_read");
    CHECK(st.slots_used == 0, "%lu slots still used", (unsigned long)st.slots_used);
    /* Reuse: at most THREADS * (OUTSTANDING + MAXB) slots are ever live at once. */
    CHECK(st.slots_total <= 2 * THREADS * (OUTSTANDING + MAXB) + 64,
          "file grew to %lu slots: freed slots not reused", (unsigned long)st.slots_total);
    CHECK(strcmp(st.fallback, expect) == 0, "fallback is %s, expected %s", st.fallback, expect);
    /* Even threads registered their slab: with io_uring their I/O used fixed buffers. */
    if (!strstr(expect, "threads"))
        CHECK(st.fixed_buffer_ios > 0, "no request used a registered (fixed) buffer");
    else
        CHECK(st.fixed_buffer_ios == 0, "fixed buffers counted without io_uring");

    /* Negative control: the check above must be able to fail. Chunk A read back and checked
     * against chunk B's contents is caught. */
    void *a = chunk_alloc(slot_bytes), *bb = chunk_alloc(slot_bytes);
    pattern_fill(a, slot_bytes, 1);
    pattern_fill(bb, slot_bytes, 2);
    void *bufs[2] = { a, bb };
    int64_t slots[2];
    int errs[2];
    CHECK(hmt_nvme_write(2, bufs, slot_bytes, slots, errs, NULL, NULL) == 0, "control write");
    int64_t swapped[2] = { slots[1], slots[0] };
    CHECK(hmt_nvme_read(2, bufs, slot_bytes, swapped, errs, NULL, NULL) == 0, "control read");
    CHECK(pattern_check(a, slot_bytes, 1) >= 0 && pattern_check(bb, slot_bytes, 2) >= 0,
          "verifier did not notice swapped chunks");
    CHECK(pattern_check(a, slot_bytes, 2) < 0 && pattern_check(bb, slot_bytes, 1) < 0,
          "swapped chunks differ from what was written");
    free(a);
    free(bb);

    hmt_nvme_shutdown();
    CHECK(dir_entries(dir) == 0, "spill folder %s not empty", dir);
    rmdir(dir);
    return T_PASS;
}
