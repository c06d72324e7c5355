/* hints_real.c — interpose/hints.c against the analyzer's real output: the hints file that
 * `hmt analyze` wrote for test/data/nanogpt-small, and that checkpoint's tensors read with
 * the analyzer's reader and converted with its round-to-nearest-even casts. Every tensor,
 * "uploaded" (synthetic device addresses, no driver) as F32, F16 or BF16, must be named
 * after itself by fingerprint: the two rooms agree on the fingerprint definition
 * (include/hmt/hints.h). The tied lm_head.weight is uploaded once, as wte.
 *
 *   hints_real CKPT HINTS F32|F16|BF16
 */
#define _GNU_SOURCE
#include "ckpt.h"
#include "hints.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hmt_test_options(void);

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: hints_real CKPT HINTS F32|F16|BF16\n");
        return 1;
    }
    hmt_dtype dt = !strcmp(argv[3], "F16") ? HMT_DT_F16 : !strcmp(argv[3], "BF16") ? HMT_DT_BF16 : HMT_DT_F32;
    char err[512];
    hmt_tensor_set *ws = NULL;
    if (hmt_weights_load(argv[1], &ws, err, sizeof err) != 0) {
        fprintf(stderr, "hints_real: %s\n", err);
        return 1;
    }
    setenv("HMT_HINTS", argv[2], 1);
    hmt_test_options();
    if (hmt_hints_init() != 0 || !hmt_hints_active()) {
        fprintf(stderr, "hints_real: %s did not load\n", argv[2]);
        return 1;
    }
    CUdeviceptr next = 0x7f2000000000ull;
    size_t total = 0, named = 0, bad = 0;
    for (size_t i = 0; i < ws->n; i++) {
        const hmt_tensor *t = &ws->t[i];
        int tied = 0;
        for (size_t j = 0; j < i; j++)
            tied |= ws->t[j].data == t->data;
        if (tied)
            continue;
        size_t n = (size_t)t->numel * hmt_dtype_size(dt);
        void *buf = malloc(n);
        if (hmt_tensor_convert(t, dt, buf) != 0) {
            fprintf(stderr, "hints_real: cannot convert %s\n", t->name);
            return 1;
        }
        hmt_hints_note_alloc(next, n);
        hmt_hints_note_htod(next, buf, n);
        const char *nm = hmt_hints_name_at(next);
        total += n;
        if (nm && !strcmp(nm, t->name)) {
            named += n;
        } else {
            bad++;
            fprintf(stderr, "hints_real: %s (%zu bytes %s) named %s\n", t->name, n, argv[3], nm ? nm : "(nothing)");
        }
        next += (n + 0xfffff) & ~(size_t)0xfffff;
        free(buf);
    }
    printf("hints_real %s: %zu/%zu bytes named right, %zu tensors wrong\n", argv[3], named, total, bad);
    hmt_weights_free(ws);
    return bad || !total ? 1 : 0;
}
