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

/* gpt2_embed(float *x, const float *wte, const float *wpe, const int *tokens, int pos, int C) */
static void gpt2_embed(const hmt_sim_launch *l, void **params)
{
    (void)l;
    float *x = P(0, float *);
    const float *wte = P(1, const float *), *wpe = P(2, const float *);
    const int *tokens = P(3, const int *);
    int pos = P(4, int), C = P(5, int);
    int tok = tokens[pos];
    for (int c = 0; c < C; c++)
        x[c] = wte[(int64_t)tok * C + c] + wpe[(int64_t)pos * C + c];
}
static const hmt_sim_param embed_params[] = {{0, 8}, {8, 8}, {16, 8}, {24, 8}, {32, 4}, {36, 4}};

/* gpt2_layernorm(float *out, const float *in, const float *w, const float *b, int C) */
static void gpt2_layernorm(const hmt_sim_launch *l, void **params)
{
    (void)l;
    float *out = P(0, float *);
    const float *in = P(1, const float *), *w = P(2, const float *), *b = P(3, const float *);
    int C = P(4, int);
    float mean = 0.0f, var = 0.0f;
    for (int i = 0; i < C; i++)
        mean += in[i];
    mean /= (float)C;
    for (int i = 0; i < C; i++) {
        float d = in[i] - mean;
        var += d * d;
    }
    var /= (float)C;
    float rstd = 1.0f / sqrtf(var + 1e-5f);
    for (int i = 0; i < C; i++)
        out[i] = (in[i] - mean) * rstd * w[i] + b[i];
}
static const hmt_sim_param layernorm_params[] = {{0, 8}, {8, 8}, {16, 8}, {24, 8}, {32, 4}};

/* gpt2_linear(float *out, const float *in, const float *W, const float *bias, int in_dim,
 *             int out_dim) */
static void gpt2_linear(const hmt_sim_launch *l, void **params)
{
    (void)l;
    float *out = P(0, float *);
    const float *in = P(1, const float *), *W = P(2, const float *);
    const float *bias = P(3, const float *);
    int in_dim = P(4, int), out_dim = P(5, int);
    for (int o = 0; o < out_dim; o++) {
        const float *row = W + (int64_t)o * in_dim;
        float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int i = 0;
        for (; i + 8 <= in_dim; i += 8)
            for (int k = 0; k < 8; k++)
                s[k] += row[i + k] * in[i + k];
        for (; i < in_dim; i++)
            s[0] += row[i] * in[i];
        float acc = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
        if (bias)
            acc += bias[o];
        out[o] = acc;
    }
}
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
    K(gpt2_attention, attention_params),
    K(gpt2_gelu, gelu_params),
    K(gpt2_add, add_params),
    K(gpt2_argmax, argmax_params),
    {NULL, NULL, 0, NULL},
};
