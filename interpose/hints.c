/* hints.c — placeholder until the hints room lands: no hints are ever loaded, so every
 * query answers "untagged" and residency treats all memory as HBM-preferred. */
#include "hints.h"

int hmt_hints_init(void) { return 0; }
int hmt_hints_active(void) { return 0; }
void hmt_hints_note_htod(CUdeviceptr dst, const void *src, size_t bytes) { (void)dst; (void)src; (void)bytes; }
void hmt_hints_note_alloc(CUdeviceptr base, size_t bytes) { (void)base; (void)bytes; }
void hmt_hints_note_free(CUdeviceptr base, size_t bytes) { (void)base; (void)bytes; }
int hmt_hints_tier_of(CUdeviceptr addr, size_t len) { (void)addr; (void)len; return -1; }
int hmt_hints_tensor_at(CUdeviceptr addr, CUdeviceptr *start, size_t *len, int *tier)
{ (void)addr; (void)start; (void)len; (void)tier; return 0; }
void hmt_hints_stats_json(void *root) { (void)root; }
