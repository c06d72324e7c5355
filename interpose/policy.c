/* policy.c — least recently used eviction with HBM-hinted chunks last (see policy.h).
 * One doubly linked list ordered by last use: touching moves a chunk to the tail, so the
 * head is the least recently used. Victim search walks from the head twice: first skipping
 * HBM-hinted chunks, then allowing them. Called under hmt_map_lock; O(1) touch. */
#include "policy.h"
#include "residency.h"

static struct hmt_chunk *lru_head, *lru_tail;

static void unlink_chunk(struct hmt_chunk *c)
{
    if (c->lru_prev) c->lru_prev->lru_next = c->lru_next; else lru_head = c->lru_next;
    if (c->lru_next) c->lru_next->lru_prev = c->lru_prev; else lru_tail = c->lru_prev;
    c->lru_prev = c->lru_next = NULL;
    c->on_lru = 0;
}

static void append_chunk(struct hmt_chunk *c)
{
    c->lru_prev = lru_tail;
    c->lru_next = NULL;
    if (lru_tail) lru_tail->lru_next = c; else lru_head = c;
    lru_tail = c;
    c->on_lru = 1;
}

void hmt_policy_resident(struct hmt_chunk *c)
{
    if (c->on_lru) unlink_chunk(c);
    append_chunk(c);
}

void hmt_policy_touch(struct hmt_chunk *c, uint64_t seq)
{
    c->last_use = seq;
    if (!c->on_lru) return;
    if (lru_tail != c) { unlink_chunk(c); append_chunk(c); }
}

void hmt_policy_gone(struct hmt_chunk *c)
{
    if (c->on_lru) unlink_chunk(c);
}

struct hmt_chunk *hmt_policy_victim(int (*ok)(struct hmt_chunk *, void *), void *arg,
                                    int (*is_hbm)(struct hmt_chunk *))
{
    for (int pass = 0; pass < 2; pass++) {
        for (struct hmt_chunk *c = lru_head; c; c = c->lru_next) {
            if (!ok(c, arg)) continue;
            if (pass == 0 && is_hbm && is_hbm(c)) continue;
            return c;
        }
    }
    return NULL;
}
