/* fuzz_unpickle.c — libFuzzer entry for the restricted unpickler (data.pkl of torch.save):
 * nothing may crash, leak or execute; accepted trees are walked one level down. */
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hmt_pickle p;
    char err[256];
    if (hmt_unpickle(data, size, &p, err, sizeof(err)) == 0) {
        const pv *m = hmt_pv_get(p.root, "model");
        (void)hmt_pv_get(p.root, "optimizer");
        (void)hmt_pv_geti(p.root, 0);
        (void)hmt_pv_dict_len(m);
        hmt_pickle_free(&p);
    }
    return 0;
}
