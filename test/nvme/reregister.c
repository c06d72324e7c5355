/* reregister.c — a slab unregistered, unmapped and replaced by new memory at the same address
 * must not be served from the old registration: io_uring's fixed buffers pin the pages they
 * were registered with, so a stale table entry would write the old pages' bytes to disk.
 * Also: a slab registered while a thread already has a ring is picked up by that ring. */
#include "helpers.h"
#include "internal.h"
#include "nvme.h"

#include <sys/mman.h>

enum { SLOT = 256 << 10, SLAB = 4 * SLOT };

static void roundtrip(char *slab, uint64_t seed)
{
    void *bufs[4];
    int64_t slots[4];
    int errs[4];
    for (unsigned i = 0; i < 4; i++) {
        bufs[i] = slab + (size_t)i * SLOT;
        pattern_fill(bufs[i], SLOT, seed + i);
    }
    CHECK(hmt_nvme_write(4, bufs, SLOT, slots, errs, NULL, NULL) == 0, "write");
    for (unsigned i = 0; i < 4; i++)
        memset(bufs[i], 0, SLOT);
    CHECK(hmt_nvme_read(4, bufs, SLOT, slots, errs, NULL, NULL) == 0, "read");
    for (unsigned i = 0; i < 4; i++) {
        long bad = pattern_check(bufs[i], SLOT, seed + i);
        CHECK(bad < 0, "seed %llu chunk %u differs at word %ld (stale registration?)",
              (unsigned long long)seed, i, bad);
        hmt_nvme_free_slot(slots[i]);
    }
}

int main(void)
{
    char *dir = spill_dir_make();
    hmt_opt.nvme_dir = dir;
    CHECK(hmt_nvme_init(SLOT) == 0, "init");
    char *slab = mmap(NULL, SLAB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(slab != MAP_FAILED, "mmap");
    roundtrip(slab, 10);                       /* this thread's ring exists, slab unregistered */
    CHECK(hmt_nvme_register_buffer(slab, SLAB) == 0, "register");
    struct hmt_nvme_stats st;
    hmt_nvme_get_stats(&st);
    uint64_t fixed0 = st.fixed_buffer_ios;
    roundtrip(slab, 20);                       /* picked up by the existing ring */
    hmt_nvme_get_stats(&st);
    int uring = strcmp(st.fallback, "threads") && strcmp(st.fallback, "threads+buffered");
    if (uring)
        CHECK(st.fixed_buffer_ios >= fixed0 + 8, "a slab registered late was not used as fixed");

    /* Replace the memory behind the same address. */
    hmt_nvme_unregister_buffer(slab);
    CHECK(munmap(slab, SLAB) == 0, "munmap");
    char *again = mmap(slab, SLAB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(again == slab, "mmap at the same address");
    roundtrip(slab, 30);                       /* unregistered: plain reads/writes */
    CHECK(hmt_nvme_register_buffer(slab, SLAB) == 0, "register again");
    roundtrip(slab, 40);                       /* the new pages, not the old ones */
    hmt_nvme_unregister_buffer(slab);
    munmap(slab, SLAB);
    hmt_nvme_shutdown();
    CHECK(dir_entries(dir) == 0, "spill folder not empty");
    rmdir(dir);
    return T_PASS;
}
