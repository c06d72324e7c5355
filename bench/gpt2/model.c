/* model.c — GPT-2 weights: seeded random or read from a checkpoint, and their upload in
 * PyTorch's order and allocation pattern (see model.h). */
#include "model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#ifdef HMT_GPT2_WITH_CKPT
#include "ckpt.h"
#endif

static const struct {
    const char *name;
    struct gpt2_config cfg;
} configs[] = {
    /* n_layer, n_head, n_embd, vocab, block */
    {"tiny", {2, 4, 128, 256, 128}},        /* the shipped checkpoint's shape */
    {"small", {6, 6, 384, 256, 256}},       /* nanoGPT's "baby GPT", byte-level */
    {"124M", {12, 12, 768, 50257, 1024}},   /* GPT-2 small */
    {"350M", {24, 16, 1024, 50257, 1024}},  /* GPT-2 medium */
    {"774M", {36, 20, 1280, 50257, 1024}},  /* GPT-2 large */
    {"1558M", {48, 25, 1600, 50257, 1024}}, /* GPT-2 XL */
};

int gpt2_config_named(const char *name, struct gpt2_config *cfg)
{
    for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++)
        if (strcmp(configs[i].name, name) == 0) {
            *cfg = configs[i].cfg;
            return 0;
        }
    return -1;
}

/* State-dict entry names in nanoGPT order, with the shape of each; lm_head last, tied. */
typedef void (*visit_fn)(void *ctx, const char *name, int64_t numel, int kind);
enum { K_MATRIX, K_BIAS, K_LN_W, K_LN_B, K_TIED };

static void visit_names(const struct gpt2_config *c, visit_fn fn, void *ctx)
{
    char n[96];
    int64_t C = c->n_embd;
    fn(ctx, "transformer.wte.weight", (int64_t)c->vocab * C, K_MATRIX);
    fn(ctx, "transformer.wpe.weight", (int64_t)c->block * C, K_MATRIX);
    for (int l = 0; l < c->n_layer; l++) {
        /* numel = cc * C*C + c * C */
        static const struct { const char *s; int64_t cc, c; int kind; } rows[] = {
            {"ln_1.weight", 0, 1, K_LN_W},        {"ln_1.bias", 0, 1, K_LN_B},
            {"attn.c_attn.weight", 3, 0, K_MATRIX}, {"attn.c_attn.bias", 0, 3, K_BIAS},
            {"attn.c_proj.weight", 1, 0, K_MATRIX}, {"attn.c_proj.bias", 0, 1, K_BIAS},
            {"ln_2.weight", 0, 1, K_LN_W},        {"ln_2.bias", 0, 1, K_LN_B},
            {"mlp.c_fc.weight", 4, 0, K_MATRIX},    {"mlp.c_fc.bias", 0, 4, K_BIAS},
            {"mlp.c_proj.weight", 4, 0, K_MATRIX},  {"mlp.c_proj.bias", 0, 1, K_BIAS},
        };
        for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
            snprintf(n, sizeof(n), "transformer.h.%d.%s", l, rows[r].s);
            int64_t numel = rows[r].cc * C * C + rows[r].c * C;
            fn(ctx, n, numel, rows[r].kind);
        }
    }
    fn(ctx, "transformer.ln_f.weight", C, K_LN_W);
    fn(ctx, "transformer.ln_f.bias", C, K_LN_B);
    fn(ctx, "lm_head.weight", (int64_t)c->vocab * C, K_TIED);
}

struct random_ctx {
    struct gpt2_model *m;
    uint64_t state;
    int failed;
};

/* splitmix64: small, fast, and the same sequence on every machine. */
static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void random_visit(void *vctx, const char *name, int64_t numel, int kind)
{
    struct random_ctx *ctx = vctx;
    struct gpt2_model *m = ctx->m;
    struct gpt2_tensor *t = &m->t[m->n];
    memset(t, 0, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->numel = numel;
    t->tied_to = -1;
    if (kind == K_TIED) {
        t->tied_to = 0;     /* wte */
        t->data = m->t[0].data;
        m->n++;
        return;
    }
    float *d = malloc((size_t)numel * sizeof(float));
    if (!d) {
        ctx->failed = 1;
        return;
    }
    /* uniform on [-a, a] with a = 0.02 * sqrt(3): standard deviation 0.02 like GPT-2's
     * normal init, at a fraction of the cost of Gaussian sampling for 124M+ weights. */
    const float a = 0.02f * 1.7320508f;
    for (int64_t i = 0; i < numel; i++) {
        switch (kind) {
        case K_MATRIX: {
            uint32_t r = (uint32_t)(splitmix64(&ctx->state) >> 40);     /* 24 bits */
            d[i] = ((float)r * (1.0f / 16777216.0f) * 2.0f - 1.0f) * a;
            break;
        }
        case K_LN_W:
            d[i] = 1.0f;
            break;
        default:
            d[i] = 0.0f;
        }
    }
    t->data = t->owned = d;
    m->n++;
}

static void count_visit(void *ctx, const char *name, int64_t numel, int kind)
{
    (void)name, (void)numel, (void)kind;
    (*(size_t *)ctx)++;
}

int gpt2_model_random(struct gpt2_model *m, const struct gpt2_config *cfg, uint64_t seed,
                      const char *config_name)
{
    memset(m, 0, sizeof(*m));
    m->cfg = *cfg;
    size_t count = 0;
    visit_names(cfg, count_visit, &count);
    m->t = calloc(count, sizeof(*m->t));
    if (!m->t)
        return -1;
    struct random_ctx ctx = {m, seed, 0};
    visit_names(cfg, random_visit, &ctx);
    if (ctx.failed) {
        fprintf(stderr, "hmt-gpt2: out of host memory building random weights\n");
        return -1;
    }
    snprintf(m->source, sizeof(m->source), "random:%s", config_name);
    return 0;
}

#ifdef HMT_GPT2_WITH_CKPT
int gpt2_model_load(struct gpt2_model *m, const char *path, int n_head)
{
    memset(m, 0, sizeof(*m));
    char err[512] = "";
    hmt_tensor_set *ws = NULL;
    if (hmt_weights_load(path, &ws, err, sizeof(err)) != 0) {
        fprintf(stderr, "hmt-gpt2: %s\n", err[0] ? err : "cannot read checkpoint");
        return -1;
    }
    m->ckpt = ws;
    snprintf(m->source, sizeof(m->source), "%s", path);
    /* The configuration comes from the shapes: wte [vocab, C], wpe [block, C], layers by
     * counting transformer.h.N.ln_1.weight. */
    const hmt_tensor *wte = hmt_tensor_set_find(ws, "transformer.wte.weight");
    const hmt_tensor *wpe = hmt_tensor_set_find(ws, "transformer.wpe.weight");
    if (!wte || !wpe || wte->ndim != 2 || wpe->ndim != 2 || wte->shape[1] != wpe->shape[1]) {
        fprintf(stderr, "hmt-gpt2: %s: not a GPT-2 checkpoint (no transformer.wte/wpe.weight "
                        "with nanoGPT names)\n", path);
        return -1;
    }
    m->cfg.vocab = (int)wte->shape[0];
    m->cfg.n_embd = (int)wte->shape[1];
    m->cfg.block = (int)wpe->shape[0];
    m->cfg.n_head = n_head;
    char name[96];
    for (;;) {
        snprintf(name, sizeof(name), "transformer.h.%d.ln_1.weight", m->cfg.n_layer);
        if (!hmt_tensor_set_find(ws, name))
            break;
        m->cfg.n_layer++;
    }
    if (m->cfg.n_embd % n_head != 0) {
        fprintf(stderr, "hmt-gpt2: n_embd %d is not a multiple of --n-head %d\n",
                m->cfg.n_embd, n_head);
        return -1;
    }
    m->t = calloc(ws->n + 1, sizeof(*m->t));
    if (!m->t)
        return -1;
    for (size_t i = 0; i < ws->n; i++) {
        const hmt_tensor *src = &ws->t[i];
        struct gpt2_tensor *t = &m->t[m->n];
        snprintf(t->name, sizeof(t->name), "%s", src->name);
        t->numel = src->numel;
        t->tied_to = -1;
        for (size_t j = 0; j < i; j++)
            if (ws->t[j].storage == src->storage && ws->t[j].data == src->data) {
                t->tied_to = (int)j;
                break;
            }
        if (src->dtype == HMT_DT_F32 && src->contiguous) {
            t->data = src->data;
        } else {
            /* PyTorch would upload the stored dtype; our kernels read F32, so a checkpoint
             * stored otherwise is converted on the host first. */
            t->owned = malloc((size_t)src->numel * sizeof(float));
            if (!t->owned || hmt_tensor_convert(src, HMT_DT_F32, t->owned) != 0) {
                fprintf(stderr, "hmt-gpt2: %s: tensor %s: cannot convert %s to F32\n", path,
                        src->name, hmt_dtype_name(src->dtype));
                return -1;
            }
            t->data = t->owned;
        }
        m->n++;
    }
    /* A Hugging Face safetensors file leaves the tied lm_head out; PyTorch's model still
     * has it, as the same parameter. */
    if (!hmt_tensor_set_find(ws, "lm_head.weight")) {
        struct gpt2_tensor *t = &m->t[m->n];
        snprintf(t->name, sizeof(t->name), "lm_head.weight");
        t->numel = wte->numel;
        for (size_t j = 0; j < m->n; j++)
            if (strcmp(m->t[j].name, "transformer.wte.weight") == 0)
                t->tied_to = (int)j;
        t->data = m->t[t->tied_to].data;
        m->n++;
    }
    return 0;
}
#else
int gpt2_model_load(struct gpt2_model *m, const char *path, int n_head)
{
    (void)m, (void)n_head;
    fprintf(stderr, "hmt-gpt2: %s: this build has no checkpoint reader (the analyzer library "
                    "was not built); use --random-weights\n", path);
    return -1;
}
#endif

#define SEGMENT_BYTES (20u << 20)   /* PyTorch kLargeBuffer */
#define LARGE_BYTES (10u << 20)     /* above this, PyTorch allocates the block by itself */

static void note_alloc(struct gpt2_model *m, CUdeviceptr p)
{
    m->allocs = realloc(m->allocs, (m->nallocs + 1) * sizeof(*m->allocs));
    if (!m->allocs) {
        fprintf(stderr, "hmt-gpt2: out of host memory\n");
        exit(1);
    }
    m->allocs[m->nallocs++] = p;
}

/* Host bf16 copy of t (see gpt2_model_upload). */
static void *to_bf16(const struct gpt2_tensor *t)
{
#ifdef HMT_GPT2_WITH_CKPT
    hmt_tensor src;
    memset(&src, 0, sizeof(src));
    src.name = t->name;
    src.dtype = HMT_DT_F32;
    src.ndim = 1;
    src.shape[0] = t->numel;
    src.stride[0] = 1;
    src.numel = t->numel;
    src.nbytes = (size_t)t->numel * sizeof(float);
    src.contiguous = 1;
    src.data = src.storage = t->data;
    void *dst = malloc((size_t)t->numel * 2);
    if (dst && hmt_tensor_convert(&src, HMT_DT_BF16, dst) == 0)
        return dst;
    free(dst);
    fprintf(stderr, "hmt-gpt2: tensor %s: cannot convert to bf16\n", t->name);
#else
    fprintf(stderr, "hmt-gpt2: --dtype bf16 needs the analyzer's converter (not in this build); "
                    "tensor %s\n", t->name);
#endif
    exit(1);
}

void gpt2_model_upload(struct gpt2_model *m, int segments, int bf16, size_t *alloc_count,
                       size_t *bytes)
{
    CUdeviceptr seg = 0;
    size_t seg_used = SEGMENT_BYTES;
    *bytes = 0;
    for (size_t i = 0; i < m->n; i++) {
        struct gpt2_tensor *t = &m->t[i];
        if (t->tied_to >= 0) {
            t->dptr = m->t[t->tied_to].dptr;
            continue;
        }
        size_t nb = (size_t)t->numel * (bf16 ? 2 : sizeof(float));
        if (!segments) {
            CU(gpt2_mem_alloc(&t->dptr, nb));
            note_alloc(m, t->dptr);
        } else {
            size_t rounded = (nb + 511) & ~(size_t)511;
            if (rounded > LARGE_BYTES) {
                size_t big = (rounded + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
                CU(gpt2_mem_alloc(&t->dptr, big));
                note_alloc(m, t->dptr);
            } else {
                if (seg_used + rounded > SEGMENT_BYTES) {
                    CU(gpt2_mem_alloc(&seg, SEGMENT_BYTES));
                    note_alloc(m, seg);
                    seg_used = 0;
                }
                t->dptr = seg + seg_used;
                seg_used += rounded;
            }
        }
        if (bf16) {
            void *h = to_bf16(t);
            CU(drv.MemcpyHtoD(t->dptr, h, nb));
            free(h);
        } else {
            CU(drv.MemcpyHtoD(t->dptr, t->data, nb));
        }
        *bytes += nb;
    }
    *alloc_count = m->nallocs;
}

int gpt2_model_bind(struct gpt2_model *m)
{
    m->layer = calloc((size_t)m->cfg.n_layer, sizeof(*m->layer));
    if (!m->layer)
        return -1;
#define FIND(dst, ...)                                                                     \
    do {                                                                                  \
        char n_[96];                                                                      \
        snprintf(n_, sizeof(n_), __VA_ARGS__);                                            \
        size_t i_;                                                                        \
        for (i_ = 0; i_ < m->n && strcmp(m->t[i_].name, n_) != 0; i_++)                   \
            ;                                                                             \
        if (i_ == m->n) {                                                                 \
            fprintf(stderr, "hmt-gpt2: %s: tensor %s missing\n", m->source, n_);           \
            return -1;                                                                    \
        }                                                                                 \
        dst = m->t[i_].dptr;                                                              \
    } while (0)
    FIND(m->wte, "transformer.wte.weight");
    FIND(m->wpe, "transformer.wpe.weight");
    FIND(m->ln_f_w, "transformer.ln_f.weight");
    FIND(m->ln_f_b, "transformer.ln_f.bias");
    for (int l = 0; l < m->cfg.n_layer; l++) {
        struct gpt2_layer *L = &m->layer[l];
        FIND(L->ln_1_w, "transformer.h.%d.ln_1.weight", l);
        FIND(L->ln_1_b, "transformer.h.%d.ln_1.bias", l);
        FIND(L->c_attn_w, "transformer.h.%d.attn.c_attn.weight", l);
        FIND(L->c_attn_b, "transformer.h.%d.attn.c_attn.bias", l);
        FIND(L->attn_proj_w, "transformer.h.%d.attn.c_proj.weight", l);
        FIND(L->attn_proj_b, "transformer.h.%d.attn.c_proj.bias", l);
        FIND(L->ln_2_w, "transformer.h.%d.ln_2.weight", l);
        FIND(L->ln_2_b, "transformer.h.%d.ln_2.bias", l);
        FIND(L->c_fc_w, "transformer.h.%d.mlp.c_fc.weight", l);
        FIND(L->c_fc_b, "transformer.h.%d.mlp.c_fc.bias", l);
        FIND(L->mlp_proj_w, "transformer.h.%d.mlp.c_proj.weight", l);
        FIND(L->mlp_proj_b, "transformer.h.%d.mlp.c_proj.bias", l);
    }
#undef FIND
    return 0;
}

void gpt2_model_free(struct gpt2_model *m)
{
    for (size_t i = 0; i < m->nallocs; i++)
        drv.MemFree(m->allocs[i]);
    free(m->allocs);
    for (size_t i = 0; i < m->n; i++)
        free(m->t[i].owned);
    free(m->t);
    free(m->layer);
#ifdef HMT_GPT2_WITH_CKPT
    if (m->ckpt)
        hmt_weights_free(m->ckpt);
#endif
    memset(m, 0, sizeof(*m));
}

int64_t gpt2_model_params(const struct gpt2_model *m)
{
    int64_t n = 0;
    for (size_t i = 0; i < m->n; i++)
        if (m->t[i].tied_to < 0)
            n += m->t[i].numel;
    return n;
}
