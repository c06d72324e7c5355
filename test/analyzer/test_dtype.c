/* test_dtype.c — float conversions round to nearest even like PyTorch's .to(), and the
 * fingerprint is XXH64(prefix, seed = size) over the bytes in the requested dtype.
 * Exhaustive over all F16 and BF16 bit patterns (round trips), known-answer cases at the
 * rounding boundaries, and 2M random F32 values checked against nearest-even by distance.
 * usage: test_dtype DATA_DIR
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "analyze.h"
#include "internal.h"

static int failures;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            if (failures++ < 20) {                                                         \
                fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                       \
                fprintf(stderr, __VA_ARGS__);                                              \
                fputc('\n', stderr);                                                       \
            }                                                                              \
        }                                                                                  \
    } while (0)

static float bits_f(uint32_t b)
{
    float f;
    memcpy(&f, &b, 4);
    return f;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* Nearest-even check of a rounding h of f, given a decoder. */
static void check_nearest(float f, uint16_t h, float (*dec)(uint16_t), const char *what)
{
    double v = dec(h), d = fabs((double)f - v);
    for (int s = -1; s <= 1; s += 2) {
        uint16_t o = (uint16_t)(h + s);
        if ((o & 0x7fff) >= ((dec == hmt_f16_to_f32) ? 0x7c00 : 0x7f80) || ((o ^ h) & 0x8000))
            continue;           /* crossed into Inf/NaN or the sign bit */
        double od = fabs((double)f - dec(o));
        CHECK(d < od || (d == od && !(h & 1)), "%s of %.9g: %04x not nearest-even (vs %04x)",
              what, (double)f, h, o);
    }
}

int main(int argc, char **argv)
{
    /* exhaustive round trips */
    for (uint32_t h = 0; h < 65536; h++) {
        float f = hmt_f16_to_f32((uint16_t)h);
        uint16_t back = hmt_f32_to_f16(f);
        bool nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        CHECK(nan ? back == ((h & 0x8000) | 0x7e00) : back == h, "f16 %04x -> %04x", h, back);
        float g = hmt_bf16_to_f32((uint16_t)h);
        uint16_t bb = hmt_f32_to_bf16(g);
        bool bnan = (h & 0x7f80) == 0x7f80 && (h & 0x7f);
        CHECK(bnan ? bb == 0x7fc0 : bb == h, "bf16 %04x -> %04x", h, bb);
    }
    /* known answers */
    struct { float f; uint16_t h, b; } k[] = {
        {1.0f, 0x3c00, 0x3f80},
        {65504.0f, 0x7bff, 0x4780},
        {65519.99f, 0x7bff, 0x4780},
        {65520.0f, 0x7c00, 0x4780},
        {0x1p-24f, 0x0001, 0x3380},
        {0x1p-25f, 0x0000, 0x3300},                 /* tie between 0 and 2^-24 -> even 0 */
        {0x1.8p-25f, 0x0001, 0x3340},
        {0x1p-14f, 0x0400, 0x3880},
        {1.0f + 0x1p-11f, 0x3c00, 0x3f80},          /* f16 tie -> even */
        {1.0f + 0x3p-11f, 0x3c02, 0x3f80},          /* f16 tie -> even (up) */
        {1.0f + 0x1p-8f, 0x3c04, 0x3f80},           /* bf16 tie -> even (down) */
        {1.0f + 0x3p-8f, 0x3c0c, 0x3f82},           /* bf16 tie -> even (up) */
        {-2.5f, 0xc100, 0xc020},
        {-0.0f, 0x8000, 0x8000},
    };
    for (size_t i = 0; i < sizeof(k) / sizeof(*k); i++) {
        CHECK(hmt_f32_to_f16(k[i].f) == k[i].h, "f16(%a) = %04x, want %04x", (double)k[i].f,
              hmt_f32_to_f16(k[i].f), k[i].h);
        CHECK(hmt_f32_to_bf16(k[i].f) == k[i].b, "bf16(%a) = %04x, want %04x", (double)k[i].f,
              hmt_f32_to_bf16(k[i].f), k[i].b);
    }
    CHECK(hmt_f32_to_f16(bits_f(0x7f800000)) == 0x7c00, "inf");
    CHECK(hmt_f32_to_bf16(bits_f(0x7fffffff)) == 0x7fc0, "bf16 nan");
    CHECK(hmt_f32_to_bf16(bits_f(0x7f7fffff)) == 0x7f80, "bf16 FLT_MAX rounds to inf");
    /* random values: nearest-even by distance */
    for (int i = 0; i < 2000000; i++) {
        uint32_t b = rnd() ^ (rnd() << 16);
        float f = bits_f(b);
        if (!isfinite(f))
            continue;
        if (fabsf(f) < 65520.0f)
            check_nearest(f, hmt_f32_to_f16(f), hmt_f16_to_f32, "f16");
        uint16_t bb = hmt_f32_to_bf16(f);
        if ((bb & 0x7f80) != 0x7f80)
            check_nearest(f, bb, hmt_bf16_to_f32, "bf16");
    }

    /* fingerprint = XXH64(first min(n, 64 KiB) bytes, seed n) */
    CHECK(hmt_fingerprint("", 0) == 0xef46db3751d8e999ull, "XXH64 of nothing, seed 0");
    uint8_t *big = malloc(200000);
    for (int i = 0; i < 200000; i++)
        big[i] = (uint8_t)rnd();
    CHECK(hmt_fingerprint(big, 200000) == XXH64(big, 65536, 200000), "prefix + size seed");
    CHECK(hmt_fingerprint(big, 100) == XXH64(big, 100, 100), "small");
    CHECK(hmt_fingerprint(big, 70000) != hmt_fingerprint(big, 80000), "size is part of it");

    /* a strided view fingerprints like its contiguous copy, in every dtype */
    float src[6 * 4];
    for (int i = 0; i < 24; i++)
        src[i] = (float)i * 0.37f - 3.1f;
    hmt_tensor tt = {.name = "t", .dtype = HMT_DT_F32, .ndim = 2, .shape = {4, 6},
                     .stride = {1, 4}, .numel = 24, .nbytes = 96, .contiguous = 0, .data = src,
                     .storage = src};
    float cont[24];
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 6; c++)
            cont[r * 6 + c] = src[c * 4 + r];
    hmt_tensor tc = {.name = "c", .dtype = HMT_DT_F32, .ndim = 2, .shape = {4, 6},
                     .stride = {6, 1}, .numel = 24, .nbytes = 96, .contiguous = 1, .data = cont,
                     .storage = cont};
    hmt_dtype dts[] = {HMT_DT_F32, HMT_DT_F16, HMT_DT_BF16};
    for (int d = 0; d < 3; d++) {
        uint64_t a, b;
        CHECK(hmt_tensor_fingerprint(&tt, dts[d], &a) == 0 && hmt_tensor_fingerprint(&tc, dts[d], &b) == 0 &&
              a == b, "strided vs contiguous %s", hmt_dtype_name(dts[d]));
    }
    uint16_t h16[24];
    CHECK(hmt_tensor_convert(&tt, HMT_DT_F16, h16) == 0 && h16[1] == hmt_f32_to_f16(src[4]),
          "convert follows strides");
    CHECK(hmt_tensor_convert(&tt, HMT_DT_I32, h16) < 0, "convert to I32 refused");

    /* a real tensor: fingerprint of the file's bytes equals the reader's */
    if (argc > 1) {
        char p[4096], err[256];
        snprintf(p, sizeof(p), "%s/hf-small/model.safetensors", argv[1]);
        hmt_tensor_set *ws;
        if (hmt_weights_load(p, &ws, err, sizeof(err)) < 0) {
            CHECK(0, "%s", err);
        } else {
            FILE *f = fopen(p, "rb");
            uint8_t hdr[8];
            uint64_t hl = 0;
            if (f && fread(hdr, 1, 8, f) == 8) {
                for (int i = 7; i >= 0; i--)
                    hl = hl << 8 | hdr[i];
                /* first tensor (transformer.wte.weight) starts the data area */
                uint8_t *buf = malloc(ws->t[0].nbytes);
                fseek(f, (long)(8 + hl), SEEK_SET);
                if (fread(buf, 1, ws->t[0].nbytes, f) == ws->t[0].nbytes) {
                    uint64_t a;
                    CHECK(hmt_tensor_fingerprint(&ws->t[0], HMT_DT_F32, &a) == 0 &&
                              a == XXH64(buf, 65536, ws->t[0].nbytes),
                          "file bytes fingerprint of %s", ws->t[0].name);
                }
                free(buf);
            }
            if (f)
                fclose(f);
            hmt_weights_free(ws);
        }
    }
    free(big);
    if (failures) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    printf("ok: conversions and fingerprints\n");
    return 0;
}
