/* pickle.c — a restricted unpickler for the data.pkl that torch.save writes.
 *
 * It implements only the opcodes torch.save's protocol-2 pickler emits for state dicts and
 * optimizer state (plus a few harmless protocol-4 framing ones), and it "calls" only four
 * known globals, by building values itself: collections.OrderedDict() -> dict,
 * torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...) -> tensor,
 * torch._utils._rebuild_parameter(tensor, ...) -> tensor, and the storage types
 * torch.<T>Storage that appear inside persistent ids. Nothing is ever executed: any other
 * opcode or global stops the load with one line naming it and its byte offset. Sizes are
 * bounded (stack depth, node count, string length) so hostile input cannot exhaust memory.
 *
 * Opcode semantics follow CPython's Lib/pickle.py and pickletools documentation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define PK_MAX_NODES    (1u << 22)
#define PK_MAX_STACK    (1u << 20)
#define PK_MAX_MARKS    4096
#define PK_MAX_MEMO     (1u << 22)

typedef struct pk {
    const uint8_t *p, *end, *start;
    hmt_pickle *out;
    size_t nodes;
    pv **stack;
    size_t sp, scap;
    size_t *marks;
    size_t nmarks;
    pv **memo;
    size_t memocap;
    char *err;
    size_t errlen;
} pk;

static const struct {
    const char *name;
    hmt_dtype dt;
} storage_types[] = {
    {"torch.DoubleStorage", HMT_DT_F64}, {"torch.FloatStorage", HMT_DT_F32},
    {"torch.HalfStorage", HMT_DT_F16}, {"torch.BFloat16Storage", HMT_DT_BF16},
    {"torch.LongStorage", HMT_DT_I64}, {"torch.IntStorage", HMT_DT_I32},
    {"torch.CharStorage", HMT_DT_I8}, {"torch.ByteStorage", HMT_DT_U8},
    {"torch.BoolStorage", HMT_DT_BOOL},
};

static const char *const allowed_globals[] = {
    "collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_parameter",
};

static pv *node(pk *k, pv_kind kind)
{
    if (k->nodes >= PK_MAX_NODES)
        return NULL;
    pv *v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    v->kind = kind;
    v->next_alloc = k->out->all;
    k->out->all = v;
    k->nodes++;
    return v;
}

void hmt_pickle_free(hmt_pickle *p)
{
    if (!p)
        return;
    for (pv *v = p->all, *nx; v; v = nx) {
        nx = v->next_alloc;
        free(v->s);
        free(v->items);
        free(v);
    }
    p->all = p->root = NULL;
}

static int fail(pk *k, const char *what)
{
    return hmt_errf(k->err, k->errlen, -EINVAL, "pickle: %s at byte %zu", what,
                    (size_t)(k->p - k->start));
}

static int push(pk *k, pv *v)
{
    if (!v)
        return fail(k, "out of memory or too many objects");
    if (k->sp == k->scap) {
        if (k->scap >= PK_MAX_STACK)
            return fail(k, "stack too deep");
        size_t nc = k->scap ? k->scap * 2 : 64;
        pv **ns = realloc(k->stack, nc * sizeof(*ns));
        if (!ns)
            return -ENOMEM;
        k->stack = ns;
        k->scap = nc;
    }
    k->stack[k->sp++] = v;
    return 0;
}

static size_t floor_sp(pk *k)
{
    return k->nmarks ? k->marks[k->nmarks - 1] : 0;
}

static pv *pop(pk *k)
{
    if (k->sp <= floor_sp(k))
        return NULL;
    return k->stack[--k->sp];
}

static pv *top(pk *k)
{
    return k->sp > floor_sp(k) ? k->stack[k->sp - 1] : NULL;
}

/* Pops to the last MARK; returns the start index of the marked items or -1. */
static long pop_mark(pk *k)
{
    if (!k->nmarks)
        return -1;
    return (long)k->marks[--k->nmarks];
}

static int append_item(pv *c, pv *x)
{
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 8;
        pv **ni = realloc(c->items, nc * sizeof(*ni));
        if (!ni)
            return -ENOMEM;
        c->items = ni;
        c->cap = nc;
    }
    c->items[c->n++] = x;
    return 0;
}

static pv *make_seq(pk *k, pv_kind kind, pv **items, size_t n)
{
    pv *t = node(k, kind);
    if (!t)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (append_item(t, items[i]) < 0)
            return NULL;
    return t;
}

static int need(pk *k, size_t n)
{
    return (size_t)(k->end - k->p) >= n ? 0 : fail(k, "truncated");
}

static uint64_t rd_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static pv *make_str(pk *k, const uint8_t *s, size_t n)
{
    pv *v = node(k, PV_STR);
    if (!v)
        return NULL;
    v->s = malloc(n + 1);
    if (!v->s)
        return NULL;
    memcpy(v->s, s, n);
    v->s[n] = 0;
    v->slen = n;
    return v;
}

static int memo_put(pk *k, uint64_t idx)
{
    pv *v = top(k);
    if (!v)
        return fail(k, "memo put on empty stack");
    if (idx >= PK_MAX_MEMO)
        return fail(k, "memo index too large");
    if (idx >= k->memocap) {
        size_t nc = k->memocap ? k->memocap : 64;
        while (nc <= idx)
            nc *= 2;
        pv **nm = realloc(k->memo, nc * sizeof(*nm));
        if (!nm)
            return -ENOMEM;
        memset(nm + k->memocap, 0, (nc - k->memocap) * sizeof(*nm));
        k->memo = nm;
        k->memocap = nc;
    }
    k->memo[idx] = v;
    return 0;
}

static int memo_get(pk *k, uint64_t idx)
{
    if (idx >= k->memocap || !k->memo[idx])
        return fail(k, "memo get of an unset index");
    return push(k, k->memo[idx]);
}

static int int_arg(const pv *v, int64_t *out)
{
    if (!v || (v->kind != PV_INT && v->kind != PV_BOOL))
        return -EINVAL;
    *out = v->i;
    return 0;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks[, meta]) */
static pv *rebuild_tensor(pk *k, const pv *args)
{
    if (args->kind != PV_TUPLE || args->n < 4 || args->items[0]->kind != PV_STORAGE ||
        args->items[2]->kind != PV_TUPLE || args->items[3]->kind != PV_TUPLE ||
        args->items[2]->n != args->items[3]->n || args->items[2]->n > HMT_MAX_DIMS)
        return NULL;
    pv *t = node(k, PV_TENSOR);
    if (!t)
        return NULL;
    t->storage = args->items[0];
    t->dtype = t->storage->dtype;
    if (int_arg(args->items[1], &t->offset) < 0 || t->offset < 0)
        return NULL;
    t->ndim = (int)args->items[2]->n;
    for (int d = 0; d < t->ndim; d++)
        if (int_arg(args->items[2]->items[d], &t->shape[d]) < 0 || t->shape[d] < 0 ||
            int_arg(args->items[3]->items[d], &t->stride[d]) < 0 || t->stride[d] < 0)
            return NULL;
    return t;
}

static int do_reduce(pk *k)
{
    pv *args = pop(k), *fn = pop(k);
    if (!args || !fn)
        return fail(k, "REDUCE on a short stack");
    if (fn->kind != PV_GLOBAL || args->kind != PV_TUPLE)
        return fail(k, "REDUCE of something that is not an allowed global");
    pv *r = NULL;
    if (strcmp(fn->s, "collections.OrderedDict") == 0) {
        if (args->n)
            return fail(k, "OrderedDict called with arguments");
        r = node(k, PV_DICT);
    } else if (strcmp(fn->s, "torch._utils._rebuild_tensor_v2") == 0) {
        if (!(r = rebuild_tensor(k, args)))
            return fail(k, "malformed _rebuild_tensor_v2 arguments");
    } else if (strcmp(fn->s, "torch._utils._rebuild_parameter") == 0) {
        if (args->n < 1 || args->items[0]->kind != PV_TENSOR)
            return fail(k, "malformed _rebuild_parameter arguments");
        r = args->items[0];
    } else {
        return fail(k, "REDUCE of a storage type");
    }
    return push(k, r);
}

static int do_global(pk *k, const char *mod, const char *name)
{
    size_t ml = strlen(mod), nl = strlen(name);
    char full[256];
    if (ml + nl + 2 > sizeof(full))
        return fail(k, "GLOBAL name too long");
    memcpy(full, mod, ml);
    full[ml] = '.';
    memcpy(full + ml + 1, name, nl + 1);
    bool ok = false;
    for (size_t i = 0; i < sizeof(allowed_globals) / sizeof(*allowed_globals); i++)
        ok |= strcmp(full, allowed_globals[i]) == 0;
    for (size_t i = 0; i < sizeof(storage_types) / sizeof(*storage_types); i++)
        ok |= strcmp(full, storage_types[i].name) == 0;
    if (!ok && strncmp(full, "torch.", 6) == 0 && ml + nl > 7 &&
        strcmp(full + ml + nl + 1 - 7, "Storage") == 0) {
        char msg[400];
        snprintf(msg, sizeof(msg), "unsupported storage type '%s' (dtypes read: F64 F32 F16 BF16 I64 I32 I8 U8 BOOL)", full);
        return fail(k, msg);
    }
    if (!ok) {
        char msg[400];
        snprintf(msg, sizeof(msg), "refused GLOBAL '%s' (not a tensor, storage or container type)", full);
        return fail(k, msg);
    }
    pv *g = node(k, PV_GLOBAL);
    if (!g || !(g->s = strdup(full)))
        return fail(k, "out of memory");
    g->slen = strlen(full);
    return push(k, g);
}

/* ('storage', <T>Storage, key, location, numel) -> PV_STORAGE */
static int do_persid(pk *k)
{
    pv *pid = pop(k);
    if (!pid || pid->kind != PV_TUPLE || pid->n != 5 || pid->items[0]->kind != PV_STR ||
        strcmp(pid->items[0]->s, "storage") != 0 || pid->items[1]->kind != PV_GLOBAL ||
        pid->items[2]->kind != PV_STR || pid->items[4]->kind != PV_INT || pid->items[4]->i < 0)
        return fail(k, "BINPERSID with a persistent id that is not a torch storage");
    const char *ty = pid->items[1]->s;
    int dt = -1;
    for (size_t i = 0; i < sizeof(storage_types) / sizeof(*storage_types); i++)
        if (strcmp(ty, storage_types[i].name) == 0)
            dt = (int)storage_types[i].dt;
    if (dt < 0)
        return fail(k, "BINPERSID with an unsupported storage type");
    const char *key = pid->items[2]->s;
    if (!*key || strspn(key, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_") != strlen(key))
        return fail(k, "BINPERSID with a malformed storage key");
    pv *s = node(k, PV_STORAGE);
    if (!s || !(s->s = strdup(key)))
        return fail(k, "out of memory");
    s->slen = strlen(key);
    s->dtype = (hmt_dtype)dt;
    s->numel = pid->items[4]->i;
    return push(k, s);
}

static int set_items(pk *k, pv *d, size_t from)
{
    if (!d || d->kind != PV_DICT)
        return fail(k, "SETITEM(S) on something that is not a dict");
    if ((k->sp - from) % 2)
        return fail(k, "SETITEMS with an odd number of items");
    for (size_t i = from; i < k->sp; i += 2) {
        pv *key = k->stack[i];
        /* Replace an existing key (Python dict semantics) for int and str keys. */
        size_t j;
        for (j = 0; j < d->n; j += 2) {
            pv *o = d->items[j];
            if (o->kind == key->kind &&
                ((o->kind == PV_INT && o->i == key->i) ||
                 (o->kind == PV_STR && strcmp(o->s, key->s) == 0)))
                break;
        }
        if (j < d->n) {
            d->items[j + 1] = k->stack[i + 1];
            continue;
        }
        if (append_item(d, key) < 0 || append_item(d, k->stack[i + 1]) < 0)
            return -ENOMEM;
    }
    k->sp = from;
    return 0;
}

static int read_line(pk *k, char *buf, size_t cap)
{
    const uint8_t *nl = memchr(k->p, '\n', (size_t)(k->end - k->p));
    if (!nl || (size_t)(nl - k->p) >= cap)
        return fail(k, "GLOBAL without a short newline-terminated name");
    memcpy(buf, k->p, (size_t)(nl - k->p));
    buf[nl - k->p] = 0;
    k->p = nl + 1;
    return 0;
}

static int step(pk *k, bool *done)
{
    int rc;
    uint8_t op = *k->p++;
    switch (op) {
    case 0x80: /* PROTO */
        if ((rc = need(k, 1)) < 0)
            return rc;
        if (*k->p > 5)
            return fail(k, "unsupported pickle protocol");
        k->p++;
        return 0;
    case 0x95: /* FRAME (protocol 4): framing is transparent */
        if ((rc = need(k, 8)) < 0)
            return rc;
        k->p += 8;
        return 0;
    case '.': /* STOP */
        *done = true;
        return 0;
    case '(': /* MARK */
        if (k->nmarks >= PK_MAX_MARKS)
            return fail(k, "too many nested MARKs");
        k->marks[k->nmarks++] = k->sp;
        return 0;
    case '}': return push(k, node(k, PV_DICT));
    case ']': return push(k, node(k, PV_LIST));
    case ')': return push(k, node(k, PV_TUPLE));
    case 'N': return push(k, node(k, PV_NONE));
    case 0x88: case 0x89: { /* NEWTRUE / NEWFALSE */
        pv *v = node(k, PV_BOOL);
        if (v)
            v->i = op == 0x88;
        return push(k, v);
    }
    case 'K': case 'M': case 'J': { /* BININT1 / BININT2 / BININT */
        int n = op == 'K' ? 1 : op == 'M' ? 2 : 4;
        if ((rc = need(k, (size_t)n)) < 0)
            return rc;
        pv *v = node(k, PV_INT);
        if (v)
            v->i = n == 4 ? (int64_t)(int32_t)rd_le(k->p, 4) : (int64_t)rd_le(k->p, n);
        k->p += n;
        return push(k, v);
    }
    case 0x8a: { /* LONG1: little-endian two's complement, up to 8 bytes here */
        if ((rc = need(k, 1)) < 0)
            return rc;
        size_t n = *k->p++;
        if (n > 8)
            return fail(k, "LONG1 integer wider than 64 bits");
        if ((rc = need(k, n)) < 0)
            return rc;
        uint64_t u = rd_le(k->p, (int)n);
        if (n && n < 8 && (k->p[n - 1] & 0x80))
            u |= ~0ull << (8 * n);
        k->p += n;
        pv *v = node(k, PV_INT);
        if (v)
            v->i = (int64_t)u;
        return push(k, v);
    }
    case 'G': { /* BINFLOAT: big-endian double */
        if ((rc = need(k, 8)) < 0)
            return rc;
        uint64_t u = 0;
        for (int i = 0; i < 8; i++)
            u = (u << 8) | k->p[i];
        k->p += 8;
        pv *v = node(k, PV_FLOAT);
        if (v)
            memcpy(&v->f, &u, 8);
        return push(k, v);
    }
    case 'X': case 0x8c: case 'T': case 'U': { /* BINUNICODE, SHORT_BINUNICODE, BINSTRING, SHORT_BINSTRING */
        int lb = (op == 'X' || op == 'T') ? 4 : 1;
        if ((rc = need(k, (size_t)lb)) < 0)
            return rc;
        uint64_t n = rd_le(k->p, lb);
        k->p += lb;
        if ((rc = need(k, n)) < 0)
            return rc;
        pv *v = make_str(k, k->p, (size_t)n);
        k->p += n;
        return push(k, v);
    }
    case 'q': case 'r': { /* BINPUT / LONG_BINPUT */
        int n = op == 'q' ? 1 : 4;
        if ((rc = need(k, (size_t)n)) < 0)
            return rc;
        uint64_t idx = rd_le(k->p, n);
        k->p += n;
        return memo_put(k, idx);
    }
    case 0x94: /* MEMOIZE */
        for (size_t i = 0; i < k->memocap; i++)
            if (!k->memo[i])
                return memo_put(k, i);
        return memo_put(k, k->memocap);
    case 'h': case 'j': { /* BINGET / LONG_BINGET */
        int n = op == 'h' ? 1 : 4;
        if ((rc = need(k, (size_t)n)) < 0)
            return rc;
        uint64_t idx = rd_le(k->p, n);
        k->p += n;
        return memo_get(k, idx);
    }
    case 0x85: case 0x86: case 0x87: { /* TUPLE1/2/3 */
        size_t n = (size_t)(op - 0x84);
        if (k->sp < floor_sp(k) + n)
            return fail(k, "TUPLEn on a short stack");
        pv *t = make_seq(k, PV_TUPLE, k->stack + k->sp - n, n);
        k->sp -= n;
        return push(k, t);
    }
    case 't': case 'l': { /* TUPLE / LIST from MARK */
        long from = pop_mark(k);
        if (from < 0)
            return fail(k, "TUPLE/LIST without MARK");
        pv *t = make_seq(k, op == 't' ? PV_TUPLE : PV_LIST, k->stack ? k->stack + from : NULL,
                         k->sp - (size_t)from);
        k->sp = (size_t)from;
        return push(k, t);
    }
    case 'd': { /* DICT from MARK */
        long from = pop_mark(k);
        if (from < 0)
            return fail(k, "DICT without MARK");
        pv *d = node(k, PV_DICT);
        if (!d)
            return fail(k, "out of memory");
        if ((rc = set_items(k, d, (size_t)from)) < 0)
            return rc;
        return push(k, d);
    }
    case 'a': { /* APPEND */
        pv *x = pop(k), *l = top(k);
        if (!x || !l || l->kind != PV_LIST)
            return fail(k, "APPEND to something that is not a list");
        return append_item(l, x);
    }
    case 'e': { /* APPENDS */
        long from = pop_mark(k);
        if (from < 0 || (size_t)from <= floor_sp(k) || k->stack[from - 1]->kind != PV_LIST)
            return fail(k, "APPENDS to something that is not a list");
        pv *l = k->stack[from - 1];
        for (size_t i = (size_t)from; i < k->sp; i++)
            if (append_item(l, k->stack[i]) < 0)
                return -ENOMEM;
        k->sp = (size_t)from;
        return 0;
    }
    case 's': { /* SETITEM */
        if (k->sp < floor_sp(k) + 3)
            return fail(k, "SETITEM on a short stack");
        return set_items(k, k->stack[k->sp - 3], k->sp - 2);
    }
    case 'u': { /* SETITEMS */
        long from = pop_mark(k);
        if (from < 0 || (size_t)from <= floor_sp(k))
            return fail(k, "SETITEMS without a dict under its MARK");
        return set_items(k, k->stack[from - 1], (size_t)from);
    }
    case 'c': { /* GLOBAL "module\nname\n" */
        char mod[128], name[128];
        if ((rc = read_line(k, mod, sizeof(mod))) < 0 || (rc = read_line(k, name, sizeof(name))) < 0)
            return rc;
        return do_global(k, mod, name);
    }
    case 'R': return do_reduce(k);
    case 'Q': return do_persid(k);
    case 'b': { /* BUILD: state of an OrderedDict (_metadata) or a tensor is not needed */
        pv *state = pop(k), *obj = top(k);
        if (!state || !obj || (obj->kind != PV_DICT && obj->kind != PV_TENSOR))
            return fail(k, "BUILD on something that is not a dict or tensor");
        return 0;
    }
    case '0': /* POP */
        if (!pop(k))
            return fail(k, "POP on an empty stack");
        return 0;
    default: {
        char msg[64];
        snprintf(msg, sizeof(msg), "refused opcode 0x%02x", op);
        k->p--;
        return fail(k, msg);
    }
    }
}

int hmt_unpickle(const void *buf, size_t len, hmt_pickle *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    pk k = {.p = buf, .start = buf, .end = (const uint8_t *)buf + len, .out = out,
            .err = err, .errlen = errlen};
    k.marks = malloc(PK_MAX_MARKS * sizeof(*k.marks));
    int rc = k.marks ? 0 : -ENOMEM;
    bool done = false;
    while (rc == 0 && !done) {
        if (k.p >= k.end) {
            rc = fail(&k, "truncated (no STOP)");
            break;
        }
        rc = step(&k, &done);
    }
    if (rc == 0) {
        if (k.sp != 1 || k.nmarks)
            rc = fail(&k, "STOP with an unbalanced stack");
        else
            out->root = k.stack[0];
    }
    free(k.stack);
    free(k.marks);
    free(k.memo);
    if (rc < 0) {
        if (rc == -ENOMEM)
            hmt_errf(err, errlen, rc, "pickle: out of memory");
        hmt_pickle_free(out);
    }
    return rc;
}

size_t hmt_pv_dict_len(const pv *d)
{
    return d && d->kind == PV_DICT ? d->n / 2 : 0;
}

const pv *hmt_pv_get(const pv *d, const char *key)
{
    if (!d || d->kind != PV_DICT)
        return NULL;
    for (size_t i = 0; i < d->n; i += 2)
        if (d->items[i]->kind == PV_STR && strcmp(d->items[i]->s, key) == 0)
            return d->items[i + 1];
    return NULL;
}

const pv *hmt_pv_geti(const pv *d, int64_t key)
{
    if (!d || d->kind != PV_DICT)
        return NULL;
    for (size_t i = 0; i < d->n; i += 2)
        if (d->items[i]->kind == PV_INT && d->items[i]->i == key)
            return d->items[i + 1];
    return NULL;
}
