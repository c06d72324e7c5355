/* ckpt.h — reading training checkpoints without Python: the analyzer's readers, shared
 * with workloads (bench/) that upload weights the way PyTorch does.
 *
 * Formats: safetensors (header via cJSON) and PyTorch archives written by torch.save
 * (zip via libzip; data.pkl through a restricted unpickler that only builds dicts, lists,
 * tuples, OrderedDicts, numbers, strings, None/bools and tensors; anything else is refused).
 * Layouts: nanoGPT ckpt.pt {'model', 'optimizer', ...}; Hugging Face Trainer directory
 * (model.safetensors + optimizer.pt); a bare optimizer.state_dict() archive plus a weights
 * file. Errors are returned as one line in `err` naming the file (and tensor, where one is
 * involved); functions return 0 on success or a negative errno-style code.
 */
#ifndef HMT_ANALYZER_CKPT_H
#define HMT_ANALYZER_CKPT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hmt_dtype {
    HMT_DT_F64, HMT_DT_F32, HMT_DT_F16, HMT_DT_BF16,
    HMT_DT_I64, HMT_DT_I32, HMT_DT_I8, HMT_DT_U8, HMT_DT_BOOL,
    HMT_DT_COUNT
} hmt_dtype;

/* Bytes per element (F64 8, F32 4, F16/BF16 2, ...). */
size_t hmt_dtype_size(hmt_dtype dt);
/* "F32", "BF16", ... (safetensors spelling). */
const char *hmt_dtype_name(hmt_dtype dt);

#define HMT_MAX_DIMS 8

/* One tensor as stored. `data` points at its first element inside memory the owning
 * object keeps alive; with `contiguous` 0 the elements follow `stride` (in elements). */
typedef struct hmt_tensor {
    const char *name;           /* state-dict key, e.g. "transformer.h.0.attn.c_attn.weight" */
    hmt_dtype dtype;
    int ndim;
    int64_t shape[HMT_MAX_DIMS];
    int64_t stride[HMT_MAX_DIMS];   /* in elements */
    int64_t numel;
    size_t nbytes;              /* numel * dtype size */
    int contiguous;             /* row-major contiguous */
    const void *data;           /* first element */
    const void *storage;        /* storage base: tensors sharing it are tied or views */
} hmt_tensor;

/* An ordered set of named tensors (state-dict order). */
typedef struct hmt_tensor_set {
    hmt_tensor *t;
    size_t n;
} hmt_tensor_set;

/* Loads the model weights of a checkpoint: `path` is a nanoGPT ckpt.pt, a .safetensors
 * file, a Hugging Face directory, or a torch.save'd state_dict. On success *out holds the
 * weights in state-dict order (a tied tensor saved once appears once per key that names
 * it, sharing storage). For .safetensors that is the stored (data-offset) order; note that
 * the safetensors library itself stores tensors sorted by dtype, then name. Tensor data of
 * a .safetensors file is mmapped and may be unaligned for its dtype (read with memcpy or
 * hmt_tensor_convert). Free with hmt_weights_free. Thread-safe for distinct calls. */
int hmt_weights_load(const char *path, hmt_tensor_set **out, char *err, size_t errlen);
void hmt_weights_free(hmt_tensor_set *ws);

/* Finds a tensor by name; NULL if absent. */
const hmt_tensor *hmt_tensor_set_find(const hmt_tensor_set *ws, const char *name);

/* Copies tensor t into dst as contiguous elements of dtype `to` (F32, F16 or BF16 from any
 * float dtype; conversions to F16/BF16 round to nearest even, as PyTorch's .to() does).
 * dst must hold t->numel * hmt_dtype_size(to) bytes. Returns 0 or -EINVAL. */
int hmt_tensor_convert(const hmt_tensor *t, hmt_dtype to, void *dst);

#ifdef __cplusplus
}
#endif
#endif
