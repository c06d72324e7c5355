/* model.h — GPT-2 weights on the host (from a checkpoint or seeded random) and their upload
 * to the device the way PyTorch's `model.to("cuda")` does it.
 *
 * Names and order are nanoGPT's state dict: transformer.wte.weight, transformer.wpe.weight,
 * transformer.h.N.{ln_1,attn.c_attn,attn.c_proj,ln_2,mlp.c_fc,mlp.c_proj}.{weight,bias},
 * transformer.ln_f.{weight,bias}, lm_head.weight (tied: the same storage as wte). Linear
 * weights are [out, in] (nn.Linear).
 */
#ifndef HMT_GPT2_MODEL_H
#define HMT_GPT2_MODEL_H

#include <cuda.h>
#include <stddef.h>
#include <stdint.h>

struct gpt2_config {
    int n_layer, n_head, n_embd, vocab, block;
};

/* One state-dict entry, float32 contiguous on the host. */
struct gpt2_tensor {
    char name[96];
    int64_t numel;
    const float *data;      /* F32 bytes to upload (points into the checkpoint when it is F32) */
    float *owned;           /* non-NULL when data was made here (random, converted) */
    int tied_to;            /* index of an earlier entry with the same storage, or -1 */
    CUdeviceptr dptr;       /* after upload */
};

struct gpt2_model {
    struct gpt2_config cfg;
    struct gpt2_tensor *t;
    size_t n;
    char source[256];       /* checkpoint path or "random:<config>" */
    void *ckpt;             /* hmt_tensor_set* kept alive while data points into it */
    CUdeviceptr *allocs;    /* every cuMemAlloc_v2 made for weights, to free */
    size_t nallocs;
    /* device pointers by role, filled by gpt2_model_bind() */
    CUdeviceptr wte, wpe, ln_f_w, ln_f_b;
    struct gpt2_layer {
        CUdeviceptr ln_1_w, ln_1_b, c_attn_w, c_attn_b, attn_proj_w, attn_proj_b;
        CUdeviceptr ln_2_w, ln_2_b, c_fc_w, c_fc_b, mlp_proj_w, mlp_proj_b;
    } *layer;
};

/* Known random-weight configurations: "tiny" (the shipped checkpoint's shape), "small",
 * "124M", "350M", "774M", "1558M". Returns 0 or -1 when the name is unknown. */
int gpt2_config_named(const char *name, struct gpt2_config *cfg);

/* Builds weights for cfg from a fixed seed: Linear/embedding weights uniform with std 0.02
 * (GPT-2's init scale), biases 0, LayerNorm weight 1 / bias 0. Same seed, same bytes. */
int gpt2_model_random(struct gpt2_model *m, const struct gpt2_config *cfg, uint64_t seed,
                      const char *config_name);

/* Reads a checkpoint through analyzer/ckpt.h (hmt_weights_load). The shape comes from the
 * tensors; n_head from `n_head` (not stored in the weights). -1 with a message on error, or
 * when this build has no checkpoint reader. */
int gpt2_model_load(struct gpt2_model *m, const char *path, int n_head);

/* Uploads every tensor in state-dict order with cuMemAlloc_v2 + cuMemcpyHtoD_v2, each its
 * own allocation; a tied entry reuses its partner's memory (PyTorch moves a shared parameter
 * once). With `segments`, tensors are instead sub-allocated from 20 MiB segments as PyTorch's
 * caching allocator does for mid-size blocks (sizes rounded up to 512 bytes; a tensor over
 * 10 MiB gets its own allocation rounded up to 2 MiB). Sets *alloc_count and *bytes. */
/* With `bf16`, each tensor is cast to bfloat16 on the host first (round to nearest even, as
 * PyTorch's .to(torch.bfloat16) does, through analyzer/ckpt.h's hmt_tensor_convert) and the
 * 2-byte elements are uploaded: a job that casts before moving to the GPU. Exits with one
 * line when bf16 is asked for in a build without the analyzer library. */
void gpt2_model_upload(struct gpt2_model *m, int segments, int bf16, size_t *alloc_count,
                       size_t *bytes);

/* Fills the role pointers from the uploaded tensors; -1 naming a missing tensor. */
int gpt2_model_bind(struct gpt2_model *m);

/* Frees device memory (segments included) and host copies. */
void gpt2_model_free(struct gpt2_model *m);

/* Number of parameters (tied counted once). */
int64_t gpt2_model_params(const struct gpt2_model *m);

#endif
