/* internal.h — what the analyzer's files share and nothing outside analyzer/ needs:
 * the pickle value tree built by the restricted unpickler, the safetensors header parser,
 * the torch.save archive (libzip + unpickler + lazily read storages) and the owned tensor
 * set behind hmt_tensor_set. ckpt.h stays the public contract; this header may change.
 *
 * Ownership: a tensor set owns its names and holds a reference on the source (mapped
 * safetensors file or torch archive) whose memory its tensors point into.
 */
#ifndef HMT_ANALYZER_INTERNAL_H
#define HMT_ANALYZER_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ckpt.h"

/* Formats one line into err (if err != NULL), returns `rc`. */
int hmt_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* dtype helpers (dtype.c) */
bool hmt_dtype_is_float(hmt_dtype dt);
int hmt_dtype_parse(const char *name, hmt_dtype *out);     /* "F32" -> HMT_DT_F32; -EINVAL */
double hmt_load_f64(hmt_dtype dt, const void *p);          /* one element, unaligned ok */
uint16_t hmt_f32_to_f16(float f);
uint16_t hmt_f32_to_bf16(float f);
float hmt_f16_to_f32(uint16_t h);
float hmt_bf16_to_f32(uint16_t h);
/* Element i of tensor t (row-major index over shape, following strides) as double. */
double hmt_tensor_elem(const hmt_tensor *t, int64_t i);
/* Elements [start, start + count) in row-major order as doubles (fast for contiguous). */
void hmt_tensor_load_f64(const hmt_tensor *t, int64_t start, int64_t count, double *out);
/* Like hmt_tensor_convert but only the first `count` elements (row-major). */
int hmt_tensor_convert_prefix(const hmt_tensor *t, hmt_dtype to, void *dst, int64_t count);

/* ---- pickle value tree (pickle.c) ---- */
typedef enum pv_kind {
    PV_NONE, PV_BOOL, PV_INT, PV_FLOAT, PV_STR, PV_TUPLE, PV_LIST, PV_DICT,
    PV_GLOBAL, PV_STORAGE, PV_TENSOR
} pv_kind;

typedef struct pv pv;
struct pv {
    pv_kind kind;
    pv *next_alloc;             /* every node of one pickle, for freeing */
    int64_t i;                  /* BOOL, INT */
    double f;                   /* FLOAT */
    char *s;                    /* STR; GLOBAL "module.name"; STORAGE key */
    size_t slen;
    pv **items;                 /* TUPLE/LIST items; DICT keys and values interleaved */
    size_t n, cap;              /* items used (DICT: 2 * entries) / allocated */
    hmt_dtype dtype;            /* STORAGE, TENSOR (from its storage) */
    int64_t numel;              /* STORAGE: elements */
    pv *storage;                /* TENSOR */
    int64_t offset;             /* TENSOR: storage offset in elements */
    int ndim;
    int64_t shape[HMT_MAX_DIMS], stride[HMT_MAX_DIMS];
};

typedef struct hmt_pickle {
    pv *root;
    pv *all;
} hmt_pickle;

/* Runs the restricted unpickler over buf. Errors name the opcode/global and byte offset. */
int hmt_unpickle(const void *buf, size_t len, hmt_pickle *out, char *err, size_t errlen);
void hmt_pickle_free(hmt_pickle *p);
size_t hmt_pv_dict_len(const pv *d);
const pv *hmt_pv_get(const pv *dict, const char *key);    /* string key; NULL if absent */
const pv *hmt_pv_geti(const pv *dict, int64_t key);       /* int key; NULL if absent */

/* ---- safetensors (safetensors.c) ---- */
typedef struct hmt_st_entry {
    char *name;
    hmt_dtype dtype;
    int ndim;
    int64_t shape[HMT_MAX_DIMS];
    uint64_t begin, end;        /* byte offsets into the data area */
} hmt_st_entry;

/* Parses and validates a whole safetensors image (header + data) of `len` bytes: every
 * offset/size is checked against len. Entries come out in data-offset order (the order
 * safetensors writers use for state-dict order). `meta_format` receives a strdup of
 * __metadata__.format when present (else NULL). */
int hmt_st_parse(const uint8_t *buf, size_t len, hmt_st_entry **out, size_t *n,
                 size_t *data_start, char **meta_format, char *err, size_t errlen);
void hmt_st_entries_free(hmt_st_entry *e, size_t n);

typedef struct hmt_st_file hmt_st_file;
int hmt_st_open(const char *path, hmt_st_file **out, char *err, size_t errlen);
void hmt_st_ref(hmt_st_file *f);
void hmt_st_unref(hmt_st_file *f);
size_t hmt_st_count(const hmt_st_file *f);
const char *hmt_st_meta_format(const hmt_st_file *f);
/* True if the tensors are stored sorted by name within each dtype (3 or more tensors), as
 * the safetensors library writes them: the file then does not tell state-dict order. */
bool hmt_st_name_sorted(const hmt_st_file *f);
/* Fills t (name points into f) for entry i. */
void hmt_st_tensor(const hmt_st_file *f, size_t i, hmt_tensor *t);

/* ---- torch.save archives (torchzip.c) ---- */
typedef struct hmt_torch_archive hmt_torch_archive;
int hmt_torch_open(const char *path, hmt_torch_archive **out, char *err, size_t errlen);
void hmt_torch_ref(hmt_torch_archive *a);
void hmt_torch_unref(hmt_torch_archive *a);
const pv *hmt_torch_root(const hmt_torch_archive *a);
const char *hmt_torch_path(const hmt_torch_archive *a);
/* Materializes a PV_TENSOR: reads its storage (once, shared with other tensors of the same
 * storage) and bounds-checks offset/shape/stride. t->name is set to `name` (not copied). */
int hmt_torch_tensor(hmt_torch_archive *a, const pv *v, const char *name, hmt_tensor *t,
                     char *err, size_t errlen);
/* True if the file starts with a zip signature. */
bool hmt_is_zip(const char *path);

/* ---- owned tensor sets (weights.c) ---- */
typedef struct hmt_wset {
    hmt_tensor_set pub;         /* first: hmt_tensor_set * casts to hmt_wset * */
    size_t cap;
    hmt_st_file **st;           /* safetensors files (several for a sharded checkpoint) */
    size_t nst;
    hmt_torch_archive *ta;
    bool order_unknown;         /* name-sorted or sharded safetensors: not state-dict order */
} hmt_wset;

hmt_wset *hmt_wset_new(void);
/* Appends t with a copy of name. */
int hmt_wset_add(hmt_wset *ws, const hmt_tensor *t, const char *name);
/* Builds the weights of a state dict (PV_DICT name -> tensor) inside archive a. Keys with
 * nanoGPT's torch.compile prefix "_orig_mod." are stripped. */
int hmt_wset_from_state_dict(hmt_torch_archive *a, const pv *sd, hmt_wset **out,
                             char *err, size_t errlen);
/* Appends the weights of a safetensors file to ws (dump_optimizer.py state entries skipped). */
int hmt_wset_add_safetensors(hmt_wset *ws, hmt_st_file *f);

#endif
