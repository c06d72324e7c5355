/* kernels.cu — GPT-2 inference kernels for a real GPU, compiled by nvcc to PTX at build time
 * and loaded by hmt-gpt2 with cuModuleLoad. kernels_host.c holds the same kernels as host C
 * for the simulated driver: the names, parameter lists and summation order match, so one
 * binary runs on either (the host .so sits beside the PTX under the same basename). The GPU
 * fuses multiply-adds (fmaf) and the host does not, so the two agree to rounding, not bit
 * for bit; each is bit-for-bit repeatable on its own.
 *
 * Every kernel works on one token position (decode with a KV cache; the prompt is fed one
 * token at a time too), float32 activations, weights in float32 ([out, in] like nn.Linear);
 * the *_bf16 variants read weights stored as bfloat16 (a job that casts before uploading),
 * widening each to float32 exactly (its 16 bits become the top half).
 * Reductions run in a fixed order with no atomics, so a run is bit-for-bit repeatable.
 * Launch shapes (set by main.c): element-wise and linear kernels use 1-D grids of 256-thread
 * blocks over their outputs; layernorm and argmax use one block of 256 threads; attention
 * uses one block per head.
 */
#include <stdint.h>

#define GPT2_THREADS 256

/* The weight element types: float, and bfloat16 held as its raw 16 bits. */
__device__ __forceinline__ float wload(const float *p, int64_t i) { return p[i]; }
__device__ __forceinline__ float wload(const unsigned short *p, int64_t i)
{
    return __uint_as_float((unsigned)p[i] << 16);
}

/* x[c] = wte[tokens[pos]][c] + wpe[pos][c]   (x: [C]) */
template <typename W>
__device__ void embed(float *x, const W *wte, const W *wpe, const int *tokens, int pos, int C)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C)
        return;
    int tok = tokens[pos];
    x[c] = wload(wte, (int64_t)tok * C + c) + wload(wpe, (int64_t)pos * C + c);
}
extern "C" __global__ void gpt2_embed(float *x, const float *wte, const float *wpe,
                                      const int *tokens, int pos, int C)
{
    embed(x, wte, wpe, tokens, pos, C);
}
extern "C" __global__ void gpt2_embed_bf16(float *x, const unsigned short *wte,
                                           const unsigned short *wpe, const int *tokens,
                                           int pos, int C)
{
    embed(x, wte, wpe, tokens, pos, C);
}

/* out = (in - mean) / sqrt(var + 1e-5) * w + b over C elements (nn.LayerNorm). One block;
 * thread 0 reduces serially so the sum order equals the host kernel's. */
template <typename W>
__device__ void layernorm(float *out, const float *in, const W *w, const W *b, int C)
{
    __shared__ float stat[2];
    if (threadIdx.x == 0) {
        float mean = 0.0f, var = 0.0f;
        for (int i = 0; i < C; i++)
            mean += in[i];
        mean /= (float)C;
        for (int i = 0; i < C; i++) {
            float d = in[i] - mean;
            var += d * d;
        }
        var /= (float)C;
        stat[0] = mean;
        stat[1] = 1.0f / sqrtf(var + 1e-5f);
    }
    __syncthreads();
    for (int i = threadIdx.x; i < C; i += blockDim.x)
        out[i] = (in[i] - stat[0]) * stat[1] * wload(w, i) + wload(b, i);
}
extern "C" __global__ void gpt2_layernorm(float *out, const float *in, const float *w,
                                          const float *b, int C)
{
    layernorm(out, in, w, b, C);
}
extern "C" __global__ void gpt2_layernorm_bf16(float *out, const float *in,
                                               const unsigned short *w, const unsigned short *b,
                                               int C)
{
    layernorm(out, in, w, b, C);
}

/* out[o] = sum_i W[o][i] * in[i] (+ bias[o]); W is [out_dim, in_dim]; bias may be NULL.
 * Eight interleaved partial sums, combined pairwise, exactly as kernels_host.c does. */
template <typename W_t>
__device__ void linear(float *out, const float *in, const W_t *W, const W_t *bias, int in_dim,
                       int out_dim)
{
    int o = blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= out_dim)
        return;
    const W_t *row = W + (int64_t)o * in_dim;
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
    for (; i + 8 <= in_dim; i += 8)
        for (int k = 0; k < 8; k++)
            s[k] = fmaf(wload(row, i + k), in[i + k], s[k]);
    for (; i < in_dim; i++)
        s[0] = fmaf(wload(row, i), in[i], s[0]);
    float acc = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    if (bias)
        acc += wload(bias, o);
    out[o] = acc;
}
extern "C" __global__ void gpt2_linear(float *out, const float *in, const float *W,
                                       const float *bias, int in_dim, int out_dim)
{
    linear(out, in, W, bias, in_dim, out_dim);
}
extern "C" __global__ void gpt2_linear_bf16(float *out, const float *in, const unsigned short *W,
                                            const unsigned short *bias, int in_dim, int out_dim)
{
    linear(out, in, W, bias, in_dim, out_dim);
}

/* Causal self-attention for the token at `pos`, one block per head. qkv is [3C] (q, k, v as
 * nanoGPT splits c_attn's output); the kernel first stores this position's k and v into the
 * layer's caches ([block][C] each), then attends over positions 0..pos. att is scratch of
 * [n_head][block] floats. out is [C]. */
extern "C" __global__ void gpt2_attention(float *out, float *att, const float *qkv,
                                          float *kcache, float *vcache, int pos, int n_head,
                                          int C, int block)
{
    int h = blockIdx.x;
    int hs = C / n_head;
    const float *q = qkv + h * hs;
    for (int d = threadIdx.x; d < hs; d += blockDim.x) {
        kcache[(int64_t)pos * C + h * hs + d] = qkv[C + h * hs + d];
        vcache[(int64_t)pos * C + h * hs + d] = qkv[2 * C + h * hs + d];
    }
    __syncthreads();
    float *a = att + (int64_t)h * block;
    float scale = 1.0f / sqrtf((float)hs);
    for (int t = threadIdx.x; t <= pos; t += blockDim.x) {
        const float *k = kcache + (int64_t)t * C + h * hs;
        float s = 0.0f;
        for (int d = 0; d < hs; d++)
            s = fmaf(q[d], k[d], s);
        a[t] = s * scale;
    }
    __syncthreads();
    __shared__ float sum_inv;
    if (threadIdx.x == 0) {
        float m = a[0];
        for (int t = 1; t <= pos; t++)
            m = fmaxf(m, a[t]);
        float sum = 0.0f;
        for (int t = 0; t <= pos; t++) {
            a[t] = expf(a[t] - m);
            sum += a[t];
        }
        sum_inv = 1.0f / sum;
    }
    __syncthreads();
    for (int d = threadIdx.x; d < hs; d += blockDim.x) {
        float y = 0.0f;
        for (int t = 0; t <= pos; t++)
            y = fmaf(a[t], vcache[(int64_t)t * C + h * hs + d], y);
        out[h * hs + d] = y * sum_inv;
    }
}

/* x = GELU(x), the exact erf form (nanoGPT's nn.GELU()). */
extern "C" __global__ void gpt2_gelu(float *x, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

/* x += y (residual connection). */
extern "C" __global__ void gpt2_add(float *x, const float *y, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        x[i] += y[i];
}

/* tokens[pos] = index of the largest logit (the lowest index on ties). One block; thread 0
 * scans, which is fast enough for one row and keeps the tie rule obvious. */
extern "C" __global__ void gpt2_argmax(int *tokens, const float *logits, int pos, int n)
{
    if (threadIdx.x != 0)
        return;
    int best = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > logits[best])
            best = i;
    tokens[pos] = best;
}
