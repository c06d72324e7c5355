/* fingerprint.c — the tensor fingerprint of include/hmt/hints.h:
 *   fp(bytes, n) = XXH64(bytes, min(n, HMT_FP_PREFIX_BYTES), seed = n)
 * over a tensor's contiguous bytes in a given dtype. Only the prefix is ever converted,
 * so fingerprinting a large tensor in three dtypes costs three 64 KiB conversions.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "analyze.h"
#include "hmt/hints.h"
#include "internal.h"

uint64_t hmt_fingerprint(const void *bytes, uint64_t n)
{
    size_t len = n < HMT_FP_PREFIX_BYTES ? (size_t)n : HMT_FP_PREFIX_BYTES;
    return (uint64_t)XXH64(bytes, len, (XXH64_hash_t)n);
}

int hmt_tensor_fingerprint(const hmt_tensor *t, hmt_dtype to, uint64_t *fp)
{
    size_t es = hmt_dtype_size(to);
    if (!es || (to != t->dtype && !hmt_dtype_is_float(t->dtype)))
        return -EINVAL;
    uint64_t n = (uint64_t)t->numel * es;
    int64_t count = (int64_t)((n < HMT_FP_PREFIX_BYTES ? n : HMT_FP_PREFIX_BYTES) / es);
    uint8_t *buf = malloc(count ? (size_t)count * es : 1);
    if (!buf)
        return -ENOMEM;
    int rc = 0;
    if (to == t->dtype && t->contiguous) {
        memcpy(buf, t->data, (size_t)count * es);
    } else if (to == t->dtype && !hmt_dtype_is_float(to)) {
        /* strided integer tensor: gather raw elements (the conversion path is float-only) */
        hmt_tensor c = *t;
        for (int64_t i = 0; i < count; i++) {
            int64_t off = 0, k = i;
            for (int d = c.ndim - 1; d >= 0; d--) {
                off += (c.shape[d] ? k % c.shape[d] : 0) * c.stride[d];
                k = c.shape[d] ? k / c.shape[d] : 0;
            }
            memcpy(buf + i * (int64_t)es, (const uint8_t *)c.data + off * (int64_t)es, es);
        }
    } else if (to == HMT_DT_F64) {
        for (int64_t i = 0; i < count; i++) {
            double v = hmt_tensor_elem(t, i);
            memcpy(buf + i * 8, &v, 8);
        }
    } else {
        rc = hmt_tensor_convert_prefix(t, to, buf, count);
    }
    if (rc == 0)
        *fp = hmt_fingerprint(buf, n);
    free(buf);
    return rc;
}
