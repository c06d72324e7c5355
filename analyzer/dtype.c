/* dtype.c — element types: sizes, safetensors names, element loads and the float
 * conversions PyTorch's Tensor.to() performs (round to nearest, ties to even).
 *
 * Conversions are written on the bit patterns so they do not depend on the host FPU's
 * rounding mode or on compiler half-float support. F64 sources go through F32 first, as
 * c10::Half / c10::BFloat16 are constructed from float. NaN becomes the quiet NaN PyTorch
 * writes (F16 0x7E00 with the sign, BF16 0x7FC0).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const struct {
    const char *name;
    size_t size;
} dtypes[HMT_DT_COUNT] = {
    [HMT_DT_F64] = {"F64", 8}, [HMT_DT_F32] = {"F32", 4}, [HMT_DT_F16] = {"F16", 2},
    [HMT_DT_BF16] = {"BF16", 2}, [HMT_DT_I64] = {"I64", 8}, [HMT_DT_I32] = {"I32", 4},
    [HMT_DT_I8] = {"I8", 1}, [HMT_DT_U8] = {"U8", 1}, [HMT_DT_BOOL] = {"BOOL", 1},
};

int hmt_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

size_t hmt_dtype_size(hmt_dtype dt)
{
    return (unsigned)dt < HMT_DT_COUNT ? dtypes[dt].size : 0;
}

const char *hmt_dtype_name(hmt_dtype dt)
{
    return (unsigned)dt < HMT_DT_COUNT ? dtypes[dt].name : "?";
}

int hmt_dtype_parse(const char *name, hmt_dtype *out)
{
    for (int i = 0; i < HMT_DT_COUNT; i++)
        if (strcmp(name, dtypes[i].name) == 0) {
            *out = (hmt_dtype)i;
            return 0;
        }
    return -EINVAL;
}

bool hmt_dtype_is_float(hmt_dtype dt)
{
    return dt == HMT_DT_F64 || dt == HMT_DT_F32 || dt == HMT_DT_F16 || dt == HMT_DT_BF16;
}

float hmt_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000 | (man << 13);
    } else if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                man <<= 1;
                e++;
            } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float hmt_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t hmt_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffff;
    if (ax > 0x7f800000)
        return sign | 0x7e00;                   /* NaN */
    if (ax >= 0x477ff000)
        return sign | 0x7c00;                   /* >= 65520 rounds to infinity */
    int e = (int)(ax >> 23) - 127 + 15;
    uint32_t man = ax & 0x7fffff;
    if (e >= 1) {
        uint32_t h = ((uint32_t)e << 10) | (man >> 13), rem = man & 0x1fff;
        if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
            h++;
        return sign | (uint16_t)h;
    }
    if (e < -10)
        return sign;                            /* below half the smallest subnormal */
    uint32_t m = man | 0x800000;
    int shift = 14 - e;                         /* 14..24 */
    uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1)))
        h++;
    return sign | (uint16_t)h;
}

uint16_t hmt_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000)
        return 0x7fc0;
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

double hmt_load_f64(hmt_dtype dt, const void *p)
{
    switch (dt) {
    case HMT_DT_F64: { double v; memcpy(&v, p, 8); return v; }
    case HMT_DT_F32: { float v; memcpy(&v, p, 4); return v; }
    case HMT_DT_F16: { uint16_t v; memcpy(&v, p, 2); return hmt_f16_to_f32(v); }
    case HMT_DT_BF16: { uint16_t v; memcpy(&v, p, 2); return hmt_bf16_to_f32(v); }
    case HMT_DT_I64: { int64_t v; memcpy(&v, p, 8); return (double)v; }
    case HMT_DT_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    case HMT_DT_I8: return *(const int8_t *)p;
    case HMT_DT_U8: return *(const uint8_t *)p;
    case HMT_DT_BOOL: return *(const uint8_t *)p != 0;
    default: return 0;
    }
}

/* Byte address of row-major element i. */
static const void *elem_ptr(const hmt_tensor *t, int64_t i)
{
    size_t es = hmt_dtype_size(t->dtype);
    if (t->contiguous)
        return (const char *)t->data + (size_t)i * es;
    int64_t off = 0;
    for (int d = t->ndim - 1; d >= 0; d--) {
        int64_t idx = t->shape[d] ? i % t->shape[d] : 0;
        i = t->shape[d] ? i / t->shape[d] : 0;
        off += idx * t->stride[d];
    }
    return (const char *)t->data + off * (int64_t)es;
}

double hmt_tensor_elem(const hmt_tensor *t, int64_t i)
{
    return hmt_load_f64(t->dtype, elem_ptr(t, i));
}

void hmt_tensor_load_f64(const hmt_tensor *t, int64_t start, int64_t count, double *out)
{
    if (!t->contiguous) {
        for (int64_t i = 0; i < count; i++)
            out[i] = hmt_load_f64(t->dtype, elem_ptr(t, start + i));
        return;
    }
    const char *p = (const char *)t->data + start * (int64_t)hmt_dtype_size(t->dtype);
    switch (t->dtype) {
    case HMT_DT_F32:
        for (int64_t i = 0; i < count; i++) {
            float v;
            memcpy(&v, p + 4 * i, 4);
            out[i] = v;
        }
        break;
    case HMT_DT_F64:
        memcpy(out, p, (size_t)count * 8);
        break;
    default:
        for (int64_t i = 0; i < count; i++)
            out[i] = hmt_load_f64(t->dtype, p + i * (int64_t)hmt_dtype_size(t->dtype));
    }
}

int hmt_tensor_convert_prefix(const hmt_tensor *t, hmt_dtype to, void *dst, int64_t count)
{
    if (!t || !dst || count < 0 || count > t->numel || !hmt_dtype_is_float(t->dtype) ||
        (to != HMT_DT_F32 && to != HMT_DT_F16 && to != HMT_DT_BF16))
        return -EINVAL;
    if (t->dtype == to && t->contiguous) {
        memcpy(dst, t->data, (size_t)count * hmt_dtype_size(to));
        return 0;
    }
    for (int64_t i = 0; i < count; i++) {
        const void *p = elem_ptr(t, i);
        if (t->dtype == to) {
            memcpy((char *)dst + i * (int64_t)hmt_dtype_size(to), p, hmt_dtype_size(to));
            continue;
        }
        float f = (float)hmt_load_f64(t->dtype, p);
        if (to == HMT_DT_F32) {
            memcpy((char *)dst + i * 4, &f, 4);
        } else {
            uint16_t h = to == HMT_DT_F16 ? hmt_f32_to_f16(f) : hmt_f32_to_bf16(f);
            memcpy((char *)dst + i * 2, &h, 2);
        }
    }
    return 0;
}

int hmt_tensor_convert(const hmt_tensor *t, hmt_dtype to, void *dst)
{
    return t ? hmt_tensor_convert_prefix(t, to, dst, t->numel) : -EINVAL;
}
