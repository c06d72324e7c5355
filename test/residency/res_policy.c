/* res_policy — the eviction policy alone: least recently used first (by operation
 * sequence), HBM-hinted chunks only when nothing else is left, chunks that are not
 * eligible (pinned, not resident) skipped, chunks gone from HBM never chosen. */
#include <stdio.h>
#include <stdlib.h>
#include "residency.h"
#include "policy.h"
#include "hints.h"

#define FAIL(...) do { fprintf(stderr, "FAIL: " __VA_ARGS__); fprintf(stderr, "\n"); exit(1); } while (0)

static struct hmt_chunk c[5];
static int hbm[5];
static struct hmt_alloc alloc = { .base = 1ull << 40, .size = 5u << 21, .reserved = 5u << 21, .nchunks = 5 };

/* What the policy may ask of the rest of libhmt: the chunk size and the hints' tier. */
struct hmt_res hmt_res = { .chunk = 2u << 20 };
int hmt_hints_tier_of(CUdeviceptr addr, size_t len)
{
    (void)len;
    return hbm[(addr - alloc.base) / hmt_res.chunk] ? HMT_TIER_HBM : -1;
}
static int idx(struct hmt_chunk *x) { return x ? (int)(x - c) : -1; }
static int ok_all(struct hmt_chunk *x, void *a) { (void)a; return x->users == 0; }
static int is_hbm(struct hmt_chunk *x) { return hbm[x - c]; }

static void expect(int want, const char *what)
{
    int got = idx(hmt_policy_victim(ok_all, NULL, is_hbm));
    if (got != want) FAIL("%s: victim %d, want %d", what, got, want);
}

int main(void)
{
    for (int i = 0; i < 5; i++) { c[i].alloc = &alloc; c[i].index = (uint32_t)i; }
    expect(-1, "empty");
    for (int i = 0; i < 5; i++) hmt_policy_resident(&c[i]);
    expect(0, "oldest first");
    hmt_policy_touch(&c[0], 10);
    hmt_policy_touch(&c[2], 11);
    expect(1, "after touching 0 and 2");          /* order now 1 3 4 0 2 */
    c[1].users = 1;
    expect(3, "pinned 1 skipped");
    c[1].users = 0;
    hbm[1] = hbm[3] = 1;
    expect(4, "HBM-hinted 1 and 3 kept");
    hmt_policy_gone(&c[4]);
    expect(0, "4 gone");
    hmt_policy_gone(&c[0]);
    hmt_policy_gone(&c[2]);
    expect(1, "only HBM-hinted left: least recently used of them");
    hmt_policy_touch(&c[1], 12);
    expect(3, "HBM-hinted by recency");
    hmt_policy_resident(&c[4]);
    expect(4, "a non-hinted chunk before any hinted one");
    printf("policy: LRU, HBM-hinted last, pinned skipped: ok\n");
    return 0;
}
