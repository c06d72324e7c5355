/* kernels_host.c — the GPT-2 kernels of kernels.cu as host C, for the simulated driver.
 * Built as a MODULE library (gpt2_kernels.so) exporting the `hmt_sim_kernels` table of
 * sim/include/hmt_sim.h; hmt-gpt2 passes its path to cuModuleLoad when the device is the sim.
 * Names, parameter lists and summation order are those of kernels.cu. A host kernel runs
 * once per launch and does the whole grid's work itself, single-threaded, so the loops are
 * written to let the compiler vectorise them (eight partial sums in the dot products).
 *
 * Parameter layouts are PTX's: each parameter at its natural alignment (pointers 8 bytes,
 * int 4 bytes), packed in declaration order. A table entry that disagreed with the CUDA
 * declaration would make cuFuncGetParamInfo lie, so each table is written next to its
 * kernel.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "hmt_sim.h"

#define P(i, T) (*(T *)params[i])

/* Weight loads: float, or bfloat16 as raw bits widened exactly to float (kernels.cu's
 * wload). Each weight-reading kernel is written once over a weight type W and instantiated
 * for both, as the CUDA templates are. */
static inline float wload_f32(const float *p, int64_t i) { return p[i]; }
static inline float wload_bf16(const uint16_t *p, int64_t i)
{
    union { uint32_t u; float f; } v = {(uint32_t)p[i] << 16};
    return v.f;
}

#define GPT2_WEIGHT_KERNELS(SUFFIX, W, WLOAD)                                              \
    static void gpt2_embed##SUFFIX(const hmt_sim_launch *l, void **params)                    \
    {                                                                                         \
        (void)l;                                                                              \
        float *x = P(0, float *);                                                             \
        const W *wte = P(1, const W *), *wpe = P(2, const W *);                               \
        const int *tokens = P(3, const int *);                                                \
        int pos = P(4, int), C = P(5, int);                                                   \
        int tok = tokens[pos];                                                                \
        for (int c = 0; c < C; c++)                                                           \
            x[c] = WLOAD(wte, (int64_t)tok * C + c) + WLOAD(wpe, (int64_t)pos * C + c);       \
    }                                                                                         \
    static void gpt2_layernorm##SUFFIX(const hmt_sim_launch *l, void **params)                \
    {                                                                                         \
        (void)l;                                                                              \
        float *out = P(0, float *);                                                           \
        const float *in = P(1, const float *);                                                \
        const W *w = P(2, const W *), *b = P(3, const W *);                                   \
        int C = P(4, int);                                                                    \
        float mean = 0.0f, var = 0.0f;                                                        \
        for (int i = 0; i < C; i++)                                                           \
            mean += in[i];                                                                    \
        mean /= (float)C;                                                                     \
        for (int i = 0; i < C; i++) {                                                         \
            float d = in[i] - mean;                                                           \
            var += d * d;                                                                     \
        }                                                                                     \
        var /= (float)C;                                                                      \
        float rstd = 1.0f / sqrtf(var + 1e-5f);                                               \
        for (int i = 0; i < C; i++)                                                           \
            out[i] = (in[i] - mean) * rstd * WLOAD(w, i) + WLOAD(b, i);                       \
    }                                                                                         \
    static void gpt2_linear##SUFFIX(const hmt_sim_launch *l, void **params)                   \
    {                                                                                         \
        (void)l;                                                                              \
        float *out = P(0, float *);                                                           \
        const float *in = P(1, const float *);                                                \
        const W *Wt = P(2, const W *), *bias = P(3, const W *);                               \
        int in_dim = P(4, int), out_dim = P(5, int);                                          \
        for (int o = 0; o < out_dim; o++) {                                                   \
            const W *row = Wt + (int64_t)o * in_dim;                                          \
            float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                            \
            int i = 0;                                                                        \
            for (; i + 8 <= in_dim; i += 8)                                                   \
                for (int k = 0; k < 8; k++)                                                   \
                    s[k] += WLOAD(row, i + k) * in[i + k];                                    \
            for (; i < in_dim; i++)                                                           \
                s[0] += WLOAD(row, i) * in[i];                                                \
            float acc = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));    \
            if (bias)                                                                         \
                acc += WLOAD(bias, o);                                                        \
            out[o] = acc;                                                                     \
        }                                                                                     \
    }

/* gpt2_embed[_bf16](float *x, const W *wte, const W *wpe, const int *tokens, int pos, int C)
 * gpt2_layernorm[_bf16](float *out, const float *in, const W *w, const W *b, int C)
 * gpt2_linear[_bf16](float *out, const float *in, const W *W, const W *bias, int in_dim,
 *                    int out_dim)                                  (bias may be NULL) */
GPT2_WEIGHT_KERNELS(, float, wload_f32)
GPT2_WEIGHT_KERNELS(_bf16, uint16_t, wload_bf16)
static const hmt_sim_param embed_params[] = {{0, 8}, {8, 8}, {16, 8}, {24, 8}, {32, 4}, {36, 4}};
static const hmt_sim_param layernorm_params[] = {{0, 8}, {8, 8}, {16, 8}, {24, 8}, {32, 4}};
static const hmt_sim_param linear_params[] = {{0, 8}, {8, 8}, {16, 8}, {24, 8}, {32, 4}, {36, 4}};

/* gpt2_attention(float *out, float *att, const float *qkv, float *kcache, float *vcache,
 *                int pos, int n_head, int C, int block) */
static void gpt2_attention(const hmt_sim_launch *l, void **params)
{
    (void)l;
    float *out = P(0, float *), *att = P(1, float *);
    const float *qkv = P(2, const float *);
    float *kcache = P(3, float *), *vcache = P(4, float *);
    int pos = P(5, int), n_head = P(6, int), C = P(7, int), block = P(8, int);
    int hs = C / n_head;
    for (int c = 0; c < C; c++) {
        kcache[(int64_t)pos * C + c] = qkv[C + c];
        vcache[(int64_t)pos * C + c] = qkv[2 * C + c];
    }
    float scale = 1.0f / sqrtf((float)hs);
    for (int h = 0; h < n_head; h++) {
        const float *q = qkv + h * hs;
        float *a = att + (int64_t)h * block;
        for (int t = 0; t <= pos; t++) {
            const float *k = kcache + (int64_t)t * C + h * hs;
            float s = 0.0f;
            for (int d = 0; d < hs; d++)
                s += q[d] * k[d];
            a[t] = s * scale;
        }
        float m = a[0];
        for (int t = 1; t <= pos; t++)
            m = fmaxf(m, a[t]);
        float sum = 0.0f;
        for (int t = 0; t <= pos; t++) {
            a[t] = expf(a[t] - m);
            sum += a[t];
        }
        float sum_inv = 1.0f / sum;
        for (int d = 0; d < hs; d++) {
            float y = 0.0f;
            for (int t = 0; t <= pos; t++)
                y += a[t] * vcache[(int64_t)t * C + h * hs + d];
            out[h * hs + d] = y * sum_inv;
        }
    }
}
static const hmt_sim_param attention_params[] = {{0, 8},  {8, 8},  {16, 8}, {24, 8}, {32, 8},
                                                 {40, 4}, {44, 4}, {48, 4}, {52, 4}};

/* gpt2_gelu(float *x, int n): exact erf GELU (nanoGPT's nn.GELU()). */
static void gpt2_gelu(const hmt_sim_launch *l, void **params)
{
    (void)l;
    float *x = P(0, float *);
    int n = P(1, int);
    for (int i = 0; i < n; i++)
        x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}
static const hmt_sim_param gelu_params[] = {{0, 8}, {8, 4}};

/* gpt2_add(float *x, const float *y, int n) */
static void gpt2_add(const hmt_sim_launch *l, void **params)
{
    (void)l;
    float *x = P(0, float *);
    const float *y = P(1, const float *);
    int n = P(2, int);
    for (int i = 0; i < n; i++)
        x[i] += y[i];
}
static const hmt_sim_param add_params[] = {{0, 8}, {8, 8}, {16, 4}};

/* gpt2_argmax(int *tokens, const float *logits, int pos, int n): lowest index on ties. */
static void gpt2_argmax(const hmt_sim_launch *l, void **params)
{
    (void)l;
    int *tokens = P(0, int *);
    const float *logits = P(1, const float *);
    int pos = P(2, int), n = P(3, int);
    int best = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > logits[best])
            best = i;
    tokens[pos] = best;
}
static const hmt_sim_param argmax_params[] = {{0, 8}, {8, 8}, {16, 4}, {20, 4}};

#define K(name, ps) {#name, name, sizeof(ps) / sizeof(ps[0]), ps}
__attribute__((visibility("default"))) const hmt_sim_kernel_desc hmt_sim_kernels[] = {
    K(gpt2_embed, embed_params),
    K(gpt2_layernorm, layernorm_params),
    K(gpt2_linear, linear_params),
    K(gpt2_embed_bf16, embed_params),
    K(gpt2_layernorm_bf16, layernorm_params),
    K(gpt2_linear_bf16, linear_params),
    K(gpt2_attention, attention_params),
    K(gpt2_gelu, gelu_params),
    K(gpt2_add, add_params),
    K(gpt2_argmax, argmax_params),
    {NULL, NULL, 0, NULL},
};
