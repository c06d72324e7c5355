/* nvme.c — the NVMe tier: whole chunks written to and read from one unnamed spill file.
 *
 * Shaped for the disk's speed with no copy of our own: the caller's pinned chunk buffers go
 * straight to the device with O_DIRECT; each calling thread owns an io_uring (so no lock is
 * held while I/O is in flight and completion callbacks can enqueue driver copies at once);
 * the file and the host pool's slabs are registered with every ring (fixed file, fixed
 * buffers), so the kernel neither looks up the fd nor pins pages per request. Where the
 * kernel refuses (no io_uring, no O_DIRECT) the same batch runs through a pread/pwrite thread
 * pool or the page cache; the API and the per-chunk error reporting are the same.
 * The contract, options and error model are in nvme.h.
 *
 * Locks, outermost first (all below residency's locks; none is held across I/O, a callback
 * or a driver call, except fallocate under g.lock when the file grows):
 *   g.lock        spill file state: slot free list, file size, slab table, fallback flags
 *   g.busy_lock   the busy-time clocks behind nvme_*_gbps          (leaf)
 *   rings_lock    the list of every thread's ring, for fork         (leaf)
 *   pool.lock     the thread-pool job queue (fallback only)         (leaf)
 *   batch->lock   one thread-pool batch's completion queue          (leaf)
 * g.lock may be held while taking a leaf; never the other way round.
 */
#define _GNU_SOURCE
#include "nvme.h"
#include "internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NVME_ALIGN      4096u
/* A registered buffer may not exceed 1 GiB (io_uring's limit), so slabs are split into
 * pieces of at most this size, each one entry of the fixed-buffer table. */
#define NVME_PIECE_MAX  (1ull << 30)
#define NVME_MAX_PIECES 4096u   /* 4 TiB of slabs of up to 1 GiB; more go unregistered */
#define NVME_QD_MAX     4096L
#define NVME_POOL_MAX   32u

enum { FB_THREADS = 1, FB_BUFFERED = 2 };

struct piece { char *base; size_t len; uint64_t id; };

static struct {
    pthread_mutex_t lock;
    int inited, init_rc;
    int fd;
    int fd_buffered;             /* the same file without O_DIRECT, opened on first EFAULT */
    size_t slot_bytes;
    unsigned qd;
    int direct;                  /* fd has O_DIRECT */
    int fallback;                /* FB_* bits */
    int fail_write, fail_read, fail_efault;   /* test-only error injection */
    _Atomic uint64_t epoch;      /* bumped by each init; rings of an older epoch are stale */
    char dir[4096];
    /* slots */
    int64_t hwm;                 /* slots ever handed out: [0, hwm) */
    int64_t file_slots;          /* slots the file has space for */
    int64_t max_slots;           /* HMT_NVME_LIMIT / slot_bytes, 0 = no limit */
    int64_t *free_slots;
    size_t nfree, free_cap;
    uint8_t *used;               /* per slot: 1 while it holds a chunk (catches double frees) */
    size_t used_cap;
    uint64_t slots_used;
    /* fixed-buffer table shared by all rings; each ring syncs to it by generation */
    struct piece pieces[NVME_MAX_PIECES];
    unsigned npieces_hi;         /* entries [0, npieces_hi) may be in use */
    uint64_t piece_gen, next_piece_id;
    /* busy clocks */
    pthread_mutex_t busy_lock;
    int busy_active[2];
    uint64_t busy_since[2], busy_ns[2];
    _Atomic uint64_t bytes[2], errors[2];
    _Atomic uint64_t fixed_ios;
} g = { .lock = PTHREAD_MUTEX_INITIALIZER, .busy_lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1,
        .fd_buffered = -1 };

enum { DIR_WRITE = 0, DIR_READ = 1 };

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The wall time during which at least one batch of a direction is in flight, so that
 * concurrent batches from several threads are not counted twice. */
static void busy_begin(int d)
{
    pthread_mutex_lock(&g.busy_lock);
    if (g.busy_active[d]++ == 0)
        g.busy_since[d] = now_ns();
    pthread_mutex_unlock(&g.busy_lock);
}

static void busy_end(int d)
{
    pthread_mutex_lock(&g.busy_lock);
    if (--g.busy_active[d] == 0) {
        uint64_t dt = now_ns() - g.busy_since[d];
        g.busy_ns[d] += dt;
        if (d == DIR_WRITE) HMT_STAT_ADD(nvme_write_ns, dt);
        else                HMT_STAT_ADD(nvme_read_ns, dt);
    }
    pthread_mutex_unlock(&g.busy_lock);
}

/* ---- options ------------------------------------------------------------------------- */

static int has_token(const char *list, const char *tok)
{
    size_t n = strlen(tok);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, tok, n) == 0)
            return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

static void pick_dir(char *out, size_t cap)
{
    const char *d = hmt_opt.nvme_dir;
    if (!d || !*d) d = getenv("TMPDIR");   /* the documented default, not an hmt option */
    if (!d || !*d) d = "/var/tmp";
    snprintf(out, cap, "%s", d);
}

/* ---- the spill file ------------------------------------------------------------------- */

/* Opens an unnamed file in dir: O_TMPFILE, or (file systems without it) a random name
 * unlinked at once, so a crash never leaves a file that holds model weights. */
static int open_spill(const char *dir, int direct, int no_tmpfile)
{
    int flags = O_RDWR | O_CLOEXEC | (direct ? O_DIRECT : 0);
    if (!no_tmpfile) {
        int fd = open(dir, flags | O_TMPFILE, 0600);
        if (fd >= 0)
            return fd;
        /* EINVAL here is O_DIRECT refused as often as O_TMPFILE unsupported: let the
         * caller retry without O_DIRECT before giving up on O_TMPFILE. */
        if (errno != EOPNOTSUPP && errno != EISDIR && errno != ENOENT && errno != EINVAL)
            return -errno;
        if (errno == ENOENT) {
            struct stat st;
            if (stat(dir, &st) != 0)
                return -ENOENT;
        }
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/.hmt-spill-XXXXXX", dir);
    int fd = mkostemp(path, flags);
    if (fd < 0)
        return -errno;
    unlink(path);
    fchmod(fd, 0600);
    return fd;
}

/* Makes room for slots [0, want) in the file. Called with g.lock held. */
static int grow_file(int64_t want)
{
    if (want <= g.file_slots)
        return 0;
    if (g.max_slots && want > g.max_slots)
        return -ENOSPC;
    /* Grow in steps (a quarter of the file, 16..512 slots) so fallocate is rare, but settle
     * for exactly what is needed when the disk is nearly full. */
    int64_t step = g.file_slots / 4;
    if (step < 16) step = 16;
    if (step > 512) step = 512;
    int64_t target = want > g.file_slots + step ? want : g.file_slots + step;
    if (g.max_slots && target > g.max_slots)
        target = g.max_slots;
    for (int attempt = 0; attempt < 2; attempt++) {
        off_t off = (off_t)g.file_slots * (off_t)g.slot_bytes;
        off_t len = (off_t)(target - g.file_slots) * (off_t)g.slot_bytes;
        if (fallocate(g.fd, 0, off, len) == 0) {
            g.file_slots = target;
            return 0;
        }
        int e = errno;
        if (e == EOPNOTSUPP) {
            /* No preallocation here (some network file systems): space is found by the
             * writes themselves and ENOSPC, if any, comes back per chunk. */
            g.file_slots = target;
            return 0;
        }
        if (e != ENOSPC && e != EFBIG && e != EDQUOT)
            return -e;
        target = want;
    }
    return -ENOSPC;
}

/* Hands out a slot with space behind it, or -ENOSPC / -ENOMEM. Called with g.lock held. */
static int64_t slot_alloc(void)
{
    int64_t s;
    if (g.nfree) {
        s = g.free_slots[--g.nfree];
    } else {
        if ((size_t)g.hwm >= g.used_cap) {
            size_t cap = g.used_cap ? g.used_cap * 2 : 1024;
            uint8_t *u = realloc(g.used, cap);
            if (!u)
                return -ENOMEM;
            memset(u + g.used_cap, 0, cap - g.used_cap);
            g.used = u;
            g.used_cap = cap;
        }
        if (grow_file(g.hwm + 1) != 0)
            return -ENOSPC;
        s = g.hwm++;
    }
    g.used[s] = 1;
    g.slots_used++;
    return s;
}

/* 1 when slot s holds a chunk. Called with g.lock held. */
static int slot_live(int64_t s)
{
    return s >= 0 && s < g.hwm && g.used[s];
}

/* Called with g.lock held. */
static void slot_release(int64_t s)
{
    if (!slot_live(s)) {
        if (s >= 0)
            HMT_WARN_ONCE("spill file slot %lld freed twice or never allocated (ignored)",
                          (long long)s);
        return;
    }
    if (g.nfree == g.free_cap) {
        size_t cap = g.free_cap ? g.free_cap * 2 : 256;
        int64_t *p = realloc(g.free_slots, cap * sizeof *p);
        if (!p)
            return;   /* the slot is leaked (space only), never handed out twice */
        g.free_slots = p;
        g.free_cap = cap;
    }
    g.free_slots[g.nfree++] = s;
    g.used[s] = 0;
    g.slots_used--;
}

void hmt_nvme_free_slot(int64_t slot)
{
    if (slot < 0)
        return;
    pthread_mutex_lock(&g.lock);
    slot_release(slot);
    pthread_mutex_unlock(&g.lock);
}

/* O_DIRECT was accepted at open but refused for I/O (EINVAL on aligned buffers): switch the
 * shared file description to buffered I/O for everyone. */
static void drop_direct(void)
{
    pthread_mutex_lock(&g.lock);
    if (g.direct) {
        int fl = fcntl(g.fd, F_GETFL);
        if (fl >= 0 && fcntl(g.fd, F_SETFL, fl & ~O_DIRECT) == 0) {
            g.direct = 0;
            g.fallback |= FB_BUFFERED;
        }
    }
    pthread_mutex_unlock(&g.lock);
    HMT_WARN_ONCE("spill file in %s refuses O_DIRECT; using buffered I/O (slower, uses page cache)",
                  g.dir);
}

static void atfork_child(void);
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void atfork_register(void) { pthread_atfork(NULL, NULL, atfork_child); }

int hmt_nvme_init(size_t slot_bytes)
{
    pthread_mutex_lock(&g.lock);
    if (g.inited) {
        int rc = g.init_rc ? g.init_rc : (slot_bytes == g.slot_bytes ? 0 : -EINVAL);
        pthread_mutex_unlock(&g.lock);
        return rc;
    }
    g.inited = 1;
    g.epoch++;
    if (slot_bytes == 0 || slot_bytes % NVME_ALIGN) {
        g.init_rc = -EINVAL;
        goto out;
    }
    g.slot_bytes = slot_bytes;
    long qd = hmt_opt.nvme_qd;
    if (qd < 1) qd = 1;
    if (qd > NVME_QD_MAX) qd = NVME_QD_MAX;
    g.qd = (unsigned)qd;
    g.max_slots = (int64_t)(hmt_opt.nvme_limit / slot_bytes);
    if (hmt_opt.nvme_limit && g.max_slots == 0)
        g.max_slots = -1;   /* limit below one slot: grow_file refuses everything */
    const char *fb = hmt_opt.test_nvme_fallback;
    g.fallback = (has_token(fb, "threads") ? FB_THREADS : 0) |
                 (has_token(fb, "buffered") ? FB_BUFFERED : 0);
    g.fail_write = has_token(hmt_opt.test_nvme_fail, "write");
    g.fail_read = has_token(hmt_opt.test_nvme_fail, "read");
    g.fail_efault = has_token(hmt_opt.test_nvme_fail, "efault");
    pthread_once(&atfork_once, atfork_register);
    pick_dir(g.dir, sizeof g.dir);

    int no_tmpfile = has_token(fb, "notmpfile");
    int fd = -EINVAL;
    g.direct = 0;
    if (!(g.fallback & FB_BUFFERED)) {
        fd = open_spill(g.dir, 1, no_tmpfile);
        g.direct = fd >= 0;
    }
    if (fd < 0 && (fd == -EINVAL || (g.fallback & FB_BUFFERED))) {
        fd = open_spill(g.dir, 0, no_tmpfile);
        if (fd >= 0 && !(g.fallback & FB_BUFFERED))
            HMT_WARN("spill file in %s refuses O_DIRECT; using buffered I/O (slower, uses page cache)",
                     g.dir);
        else if (fd >= 0)
            HMT_WARN("spill file in %s uses buffered I/O (HMT_TEST_NVME_FALLBACK)", g.dir);
        if (fd >= 0)
            g.fallback |= FB_BUFFERED;
    }
    if (fd < 0) {
        g.init_rc = fd;
        HMT_WARN("cannot create a spill file in %s (%s); the SSD tier is off, set HMT_NVME_DIR",
                 g.dir, strerror(-fd));
        goto out;
    }
    g.fd = fd;
    g.hwm = g.file_slots = 0;
    g.nfree = 0;
    g.slots_used = 0;
    g.init_rc = 0;
out:
    pthread_mutex_unlock(&g.lock);
    return g.init_rc;
}

/* ---- fixed buffers -------------------------------------------------------------------- */

int hmt_nvme_register_buffer(void *base, size_t len)
{
    if (!base || !len)
        return -EINVAL;
    pthread_mutex_lock(&g.lock);
    int rc = 0;
    char *p = base, *end = p + len;
    while (p < end) {
        size_t piece = (size_t)(end - p) > NVME_PIECE_MAX ? NVME_PIECE_MAX : (size_t)(end - p);
        unsigned k = 0;
        while (k < NVME_MAX_PIECES && g.pieces[k].id)
            k++;
        if (k == NVME_MAX_PIECES) {
            rc = -ENOSPC;   /* the rest of the slab goes through plain READ/WRITE */
            break;
        }
        g.pieces[k] = (struct piece){ p, piece, ++g.next_piece_id };
        if (k + 1 > g.npieces_hi)
            g.npieces_hi = k + 1;
        p += piece;
    }
    g.piece_gen++;
    pthread_mutex_unlock(&g.lock);
    return rc;
}

void hmt_nvme_unregister_buffer(void *base)
{
    pthread_mutex_lock(&g.lock);
    char *lo = base;
    /* Pieces of one slab are contiguous from its base: drop every piece that starts inside
     * the run that begins at base. */
    for (int again = 1; again;) {
        again = 0;
        for (unsigned k = 0; k < g.npieces_hi; k++) {
            if (g.pieces[k].id && g.pieces[k].base == lo) {
                lo += g.pieces[k].len;
                g.pieces[k] = (struct piece){ 0 };
                again = 1;
            }
        }
    }
    g.piece_gen++;
    pthread_mutex_unlock(&g.lock);
}

/* ---- per-thread io_uring -------------------------------------------------------------- */

struct nvme_ring {
    struct io_uring ring;
    unsigned qd;
    uint64_t epoch;
    int fixed_file;          /* g.fd registered at index 0 */
    int buf_table;           /* a sparse fixed-buffer table is registered */
    uint64_t piece_gen;
    unsigned hi;
    struct { char *base; size_t len; uint64_t id; int ok; } reg[NVME_MAX_PIECES];
    struct nvme_ring *all_prev, *all_next;   /* every live ring, for fork */
};

static pthread_key_t ring_key;
static pthread_once_t ring_key_once = PTHREAD_ONCE_INIT;
static __thread struct nvme_ring *t_ring;
static atomic_int uring_dead;   /* io_uring refused by the kernel: every thread uses the pool */

/* Every live ring, so that a forked child can close them all: an inherited ring would keep
 * the parent's spill file (and its disk space) alive for as long as the child lives. */
static pthread_mutex_t rings_lock = PTHREAD_MUTEX_INITIALIZER;   /* leaf */
static struct nvme_ring *rings_all;

static void ring_free(struct nvme_ring *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&rings_lock);
    if (r->all_prev) r->all_prev->all_next = r->all_next;
    else             rings_all = r->all_next;
    if (r->all_next) r->all_next->all_prev = r->all_prev;
    pthread_mutex_unlock(&rings_lock);
    io_uring_queue_exit(&r->ring);
    free(r);
}

static void ring_destructor(void *p) { ring_free(p); }
static int ring_key_made;
static void ring_key_make(void) { ring_key_made = pthread_key_create(&ring_key, ring_destructor) == 0; }

/* Brings the ring's fixed-buffer table in line with g.pieces. A piece the kernel will not
 * register (memlock limit, memory it cannot pin) is remembered as not ok and served by
 * plain READ/WRITE. */
static void ring_sync_buffers(struct nvme_ring *r)
{
    if (!r->buf_table)
        return;
    pthread_mutex_lock(&g.lock);
    uint64_t gen = g.piece_gen;
    if (gen == r->piece_gen) {
        pthread_mutex_unlock(&g.lock);
        return;
    }
    unsigned hi = g.npieces_hi > r->hi ? g.npieces_hi : r->hi;
    struct piece *want = malloc((hi ? hi : 1) * sizeof *want);   /* not on the caller's stack */
    if (!want) {
        pthread_mutex_unlock(&g.lock);
        return;   /* try again on the next batch; unregistered buffers still work */
    }
    memcpy(want, g.pieces, hi * sizeof want[0]);
    pthread_mutex_unlock(&g.lock);

    for (unsigned k = 0; k < hi; k++) {
        if (r->reg[k].id == want[k].id)
            continue;
        struct iovec iov = { want[k].base, want[k].len };
        __u64 tag = 0;
        int rc = io_uring_register_buffers_update_tag(&r->ring, k, &iov, &tag, 1);
        r->reg[k].base = want[k].base;
        r->reg[k].len = want[k].len;
        r->reg[k].id = want[k].id;
        r->reg[k].ok = rc == 1 && want[k].id != 0;
        if (want[k].id && rc != 1)
            HMT_WARN_ONCE("cannot register pinned slabs with io_uring (%s); using unregistered buffers",
                          strerror(rc < 0 ? -rc : EIO));
    }
    free(want);
    r->hi = hi;
    r->piece_gen = gen;
}

/* This thread's ring, made on first use; NULL when io_uring is unavailable (then the
 * caller uses the thread pool). */
static struct nvme_ring *ring_get(void)
{
    if (atomic_load(&uring_dead) || (g.fallback & FB_THREADS))
        return NULL;
    pthread_once(&ring_key_once, ring_key_make);
    struct nvme_ring *r = t_ring;
    if (r && r->epoch != g.epoch) {
        ring_free(r);
        r = t_ring = NULL;
        pthread_setspecific(ring_key, NULL);
    }
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return NULL;
        r->qd = g.qd;
        int rc = io_uring_queue_init(r->qd, &r->ring, 0);
        if (rc < 0) {
            free(r);
            if (rc == -ENOSYS || rc == -EPERM) {
                atomic_store(&uring_dead, 1);
                pthread_mutex_lock(&g.lock);
                g.fallback |= FB_THREADS;
                pthread_mutex_unlock(&g.lock);
                HMT_WARN("io_uring unavailable (%s); spill file I/O uses a thread pool",
                         strerror(-rc));
            }
            return NULL;
        }
        r->epoch = g.epoch;
        r->fixed_file = io_uring_register_files(&r->ring, &g.fd, 1) == 0;
        r->buf_table = io_uring_register_buffers_sparse(&r->ring, NVME_MAX_PIECES) == 0;
        pthread_mutex_lock(&rings_lock);
        r->all_next = rings_all;
        if (rings_all)
            rings_all->all_prev = r;
        rings_all = r;
        pthread_mutex_unlock(&rings_lock);
        t_ring = r;
        pthread_setspecific(ring_key, r);
    }
    ring_sync_buffers(r);
    return r;
}

/* Index of the registered piece holding [p, p+len), or -1. */
static int ring_find_buf(const struct nvme_ring *r, const char *p, size_t len)
{
    for (unsigned k = 0; k < r->hi; k++)
        if (r->reg[k].ok && p >= r->reg[k].base && p + len <= r->reg[k].base + r->reg[k].len)
            return (int)k;
    return -1;
}

/* ---- one batch ------------------------------------------------------------------------ */

struct nvme_op {
    char *buf;
    off_t off;
    size_t done;
    int buf_idx;                 /* fixed buffer, or -1 */
    int efaulted;                /* direct I/O refused this buffer; went through the page cache */
    int fin;                     /* its result is final (io_uring path) */
    struct nvme_op *qnext;       /* thread pool queue */
    struct nvme_batch *b;
    unsigned i;
};

struct nvme_batch {
    int d;                       /* DIR_WRITE / DIR_READ */
    unsigned n;
    size_t bytes;
    struct nvme_op *ops;
    int *errs;
    hmt_nvme_ready_fn ready;
    hmt_nvme_done_fn on_done;
    void *arg;
    /* thread pool only */
    pthread_mutex_t lock;
    pthread_cond_t cv;
    unsigned *doneq, nq;
};

static void ring_prep(struct nvme_ring *r, struct nvme_batch *b, struct nvme_op *op)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    if (!sqe) {   /* cannot happen: at most qd in flight on a ring of qd entries */
        io_uring_submit(&r->ring);
        sqe = io_uring_get_sqe(&r->ring);
    }
    int fd = r->fixed_file ? 0 : g.fd;
    char *p = op->buf + op->done;
    unsigned len = (unsigned)(b->bytes - op->done);
    off_t off = op->off + (off_t)op->done;
    if (op->buf_idx >= 0) {
        g.fixed_ios++;
        if (b->d == DIR_WRITE) io_uring_prep_write_fixed(sqe, fd, p, len, off, op->buf_idx);
        else                   io_uring_prep_read_fixed(sqe, fd, p, len, off, op->buf_idx);
    } else {
        if (b->d == DIR_WRITE) io_uring_prep_write(sqe, fd, p, len, off);
        else                   io_uring_prep_read(sqe, fd, p, len, off);
    }
    if (r->fixed_file)
        sqe->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data(sqe, op);
}

static void op_finish(struct nvme_batch *b, unsigned i)
{
    if (b->d == DIR_READ && b->on_done)
        b->on_done(i, b->errs[i], b->arg);
}

/* The file without O_DIRECT: a second descriptor of the same (unnamed) file. */
static int buffered_fd(void)
{
    pthread_mutex_lock(&g.lock);
    if (g.fd_buffered < 0 && g.fd >= 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", g.fd);
        g.fd_buffered = open(path, O_RDWR | O_CLOEXEC);
        if (g.fd_buffered < 0)
            g.fd_buffered = -errno;
    }
    int fd = g.fd_buffered;
    pthread_mutex_unlock(&g.lock);
    return fd;
}

/* Direct I/O refused a buffer with EFAULT (memory the kernel cannot pin for I/O, as some
 * driver mappings are): copy that chunk through the page cache instead, synchronously. The
 * kernel keeps the two descriptors coherent (direct I/O flushes and invalidates the cache
 * over its range). 1 done, or -errno. */
static int op_buffered(struct nvme_batch *b, struct nvme_op *op)
{
    HMT_WARN_ONCE("pinned buffers refuse direct I/O (EFAULT); their chunks go through the page cache");
    op->efaulted = 1;
    pthread_mutex_lock(&g.lock);
    g.fallback |= FB_BUFFERED;
    pthread_mutex_unlock(&g.lock);
    int fd = buffered_fd();
    if (fd < 0)
        return fd;
    while (op->done < b->bytes) {
        size_t len = b->bytes - op->done;
        off_t off = op->off + (off_t)op->done;
        ssize_t r = b->d == DIR_WRITE ? pwrite(fd, op->buf + op->done, len, off)
                                      : pread(fd, op->buf + op->done, len, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return b->d == DIR_READ ? -ENODATA : -EIO;
        op->done += (size_t)r;
    }
    return 1;
}

/* What a completed request (res = bytes or -errno) means for its op: 1 done, 0 resubmit,
 * <0 failed. Shared by io_uring and the thread pool. */
static int op_account(struct nvme_batch *b, struct nvme_op *op, long res)
{
    /* Test-only injection, applied to the completion so the real error path runs. */
    if (res >= 0 && b->d == DIR_WRITE && g.fail_write)
        res = -ENOSPC;
    if (res >= 0 && b->d == DIR_READ && g.fail_read)
        res = -EIO;
    if (res >= 0 && g.fail_efault && g.direct && !op->efaulted)
        res = -EFAULT;
    if (res == -EINTR || res == -EAGAIN)
        return 0;
    if (res == -EFAULT && g.direct && !op->efaulted)
        return op_buffered(b, op);
    if (res == -EINVAL && g.direct && op->done == 0) {
        drop_direct();   /* file system takes O_DIRECT at open, refuses it for I/O */
        return g.direct ? -EINVAL : 0;
    }
    if (res < 0)
        return (int)res;
    if (res == 0)
        return b->d == DIR_READ ? -ENODATA : -EIO;
    op->done += (size_t)res;
    return op->done >= b->bytes ? 1 : 0;   /* short read/write: resume the rest */
}

static void uring_batch(struct nvme_ring *r, struct nvme_batch *b)
{
    unsigned next = 0, inflight = 0, finished = 0, queued = 0;
    while (finished < b->n) {
        while (next < b->n && inflight < r->qd) {
            unsigned i = next++;
            if (b->errs[i]) {            /* failed before I/O: no slot, misaligned, injected */
                finished++;
                b->ops[i].fin = 1;
                op_finish(b, i);
                continue;
            }
            if (b->ready) {
                /* Submit what is queued before possibly waiting for this chunk's copy. */
                if (queued) {
                    io_uring_submit(&r->ring);
                    queued = 0;
                }
                int rc = b->ready(i, b->arg);
                if (rc < 0) {
                    b->errs[i] = rc;
                    finished++;
                    b->ops[i].fin = 1;
                    continue;
                }
            }
            struct nvme_op *op = &b->ops[i];
            op->buf_idx = r->buf_table ? ring_find_buf(r, op->buf, b->bytes) : -1;
            ring_prep(r, b, op);
            queued++;
            inflight++;
        }
        if (!inflight)
            continue;
        int rc = io_uring_submit_and_wait(&r->ring, 1);
        queued = 0;
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
            /* The ring itself failed. Requests already in the kernel may still write into the
             * caller's buffers: wait for them before the buffers go back, then fail every
             * chunk not done, and have this thread make a new ring next time. */
            HMT_WARN_ONCE("io_uring submit failed (%s); spill file batch aborted", strerror(-rc));
            while (inflight) {
                struct io_uring_cqe *cqe;
                if (io_uring_wait_cqe(&r->ring, &cqe) < 0)
                    break;
                io_uring_cqe_seen(&r->ring, cqe);
                inflight--;
            }
            r->epoch = 0;
            for (unsigned i = 0; i < b->n; i++) {
                if (b->ops[i].fin)
                    continue;
                b->ops[i].fin = 1;
                b->errs[i] = rc;
                op_finish(b, i);
            }
            return;
        }
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&r->ring, head, cqe) {
            seen++;
            struct nvme_op *op = io_uring_cqe_get_data(cqe);
            int st = op_account(b, op, cqe->res);
            if (st == 0) {
                ring_prep(r, b, op);
                queued++;
                continue;
            }
            if (st < 0)
                b->errs[op->i] = st;
            inflight--;
            finished++;
            op->fin = 1;
            op_finish(b, op->i);
        }
        io_uring_cq_advance(&r->ring, seen);
    }
}

/* ---- thread pool fallback ------------------------------------------------------------- */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cv;
    struct nvme_op *head, *tail;
    unsigned nthreads;
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void *pool_worker(void *unused)
{
    (void)unused;
    for (;;) {
        pthread_mutex_lock(&pool.lock);
        while (!pool.head)
            pthread_cond_wait(&pool.cv, &pool.lock);
        struct nvme_op *op = pool.head;
        pool.head = op->qnext;
        if (!pool.head)
            pool.tail = NULL;
        pthread_mutex_unlock(&pool.lock);

        struct nvme_batch *b = op->b;
        int st;
        do {
            size_t len = b->bytes - op->done;
            off_t off = op->off + (off_t)op->done;
            ssize_t res = b->d == DIR_WRITE ? pwrite(g.fd, op->buf + op->done, len, off)
                                            : pread(g.fd, op->buf + op->done, len, off);
            st = op_account(b, op, res < 0 ? -errno : res);
        } while (st == 0);
        pthread_mutex_lock(&b->lock);
        if (st < 0)
            b->errs[op->i] = st;
        b->doneq[b->nq++] = op->i;
        pthread_cond_signal(&b->cv);
        pthread_mutex_unlock(&b->lock);
    }
    return NULL;
}

static int pool_start(void)
{
    pthread_mutex_lock(&pool.lock);
    unsigned want = g.qd < NVME_POOL_MAX ? g.qd : NVME_POOL_MAX;
    while (pool.nthreads < want) {
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&a, 256 * 1024);   /* room for the log path */
        int rc = pthread_create(&t, &a, pool_worker, NULL);
        pthread_attr_destroy(&a);
        if (rc)
            break;
        pool.nthreads++;
    }
    int ok = pool.nthreads > 0;
    pthread_mutex_unlock(&pool.lock);
    return ok ? 0 : -EAGAIN;
}

static void pool_batch(struct nvme_batch *b)
{
    if (pool_start() != 0) {
        for (unsigned i = 0; i < b->n; i++) {
            if (!b->errs[i])
                b->errs[i] = -EAGAIN;
            op_finish(b, i);
        }
        return;
    }
    b->doneq = calloc(b->n ? b->n : 1, sizeof *b->doneq);
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->cv, NULL);
    unsigned finished = 0, taken = 0, queued = 0;
    for (unsigned i = 0; i < b->n; i++) {
        if (!b->errs[i] && b->ready) {
            int rc = b->ready(i, b->arg);
            if (rc < 0)
                b->errs[i] = rc;
        }
        if (b->errs[i] || !b->doneq) {
            if (!b->errs[i])
                b->errs[i] = -ENOMEM;
            finished++;
            op_finish(b, i);
            continue;
        }
        struct nvme_op *op = &b->ops[i];
        pthread_mutex_lock(&pool.lock);
        if (pool.tail) pool.tail->qnext = op;
        else           pool.head = op;
        pool.tail = op;
        pthread_cond_signal(&pool.cv);
        pthread_mutex_unlock(&pool.lock);
        queued++;
    }
    while (taken < queued) {
        unsigned got[64], k = 0;
        pthread_mutex_lock(&b->lock);
        while (taken == b->nq)
            pthread_cond_wait(&b->cv, &b->lock);
        while (taken < b->nq && k < 64)
            got[k++] = b->doneq[taken++];
        pthread_mutex_unlock(&b->lock);
        for (unsigned j = 0; j < k; j++)
            op_finish(b, got[j]);
    }
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->lock);
    free(b->doneq);
}

/* ---- the batch API -------------------------------------------------------------------- */

static int run_batch(struct nvme_batch *b)
{
    busy_begin(b->d);
    struct nvme_ring *r = ring_get();
    if (r) {
        uring_batch(r, b);
    } else {
        /* A refused io_uring was announced by ring_get; say why in the other cases. */
        if (!atomic_load(&uring_dead))
            HMT_WARN_ONCE("spill file I/O through a pread/pwrite thread pool (%s)",
                          (g.fallback & FB_THREADS) ? "HMT_TEST_NVME_FALLBACK" : "no io_uring for this thread");
        pool_batch(b);
    }
    busy_end(b->d);
    int first = 0;
    for (unsigned i = 0; i < b->n && !first; i++)
        first = b->errs[i];
    return first;
}

/* 0 when the spill file is open and `bytes` fits a slot; -ENODEV before hmt_nvme_init. */
static int check_ready(size_t bytes)
{
    pthread_mutex_lock(&g.lock);
    int rc = !g.inited ? -ENODEV : g.init_rc ? g.init_rc : 0;
    if (!rc && (!bytes || bytes > g.slot_bytes))
        rc = -EINVAL;
    pthread_mutex_unlock(&g.lock);
    return rc;
}

int hmt_nvme_write(unsigned n, void *const bufs[], size_t bytes, int64_t slots_out[],
                   int errs[], hmt_nvme_ready_fn ready, void *arg)
{
    if (n == 0)
        return 0;
    int rc = check_ready(bytes);
    if (rc) {
        for (unsigned i = 0; i < n; i++)
            errs[i] = rc, slots_out[i] = -1;
        return rc;
    }
    struct nvme_op *ops = calloc(n, sizeof *ops);
    if (!ops) {
        for (unsigned i = 0; i < n; i++)
            errs[i] = -ENOMEM, slots_out[i] = -1;
        return -ENOMEM;
    }
    int direct = g.direct;
    pthread_mutex_lock(&g.lock);
    for (unsigned i = 0; i < n; i++) {
        errs[i] = 0;
        slots_out[i] = -1;
        if (direct && (((uintptr_t)bufs[i] | bytes) & (NVME_ALIGN - 1))) {
            errs[i] = -EINVAL;
            continue;
        }
        int64_t s = slot_alloc();
        if (s < 0) {
            errs[i] = (int)s;
            continue;
        }
        slots_out[i] = s;
    }
    pthread_mutex_unlock(&g.lock);
    for (unsigned i = 0; i < n; i++)
        ops[i] = (struct nvme_op){ .buf = bufs[i], .off = (off_t)slots_out[i] * (off_t)g.slot_bytes,
                                   .buf_idx = -1, .i = i };
    struct nvme_batch b = { .d = DIR_WRITE, .n = n, .bytes = bytes, .ops = ops, .errs = errs,
                            .ready = ready, .arg = arg };
    for (unsigned i = 0; i < n; i++)
        ops[i].b = &b;
    rc = run_batch(&b);

    uint64_t ok = 0, bad = 0;
    pthread_mutex_lock(&g.lock);
    for (unsigned i = 0; i < n; i++) {
        if (errs[i]) {
            slot_release(slots_out[i]);
            slots_out[i] = -1;
            bad++;
        } else {
            ok++;
        }
    }
    pthread_mutex_unlock(&g.lock);
    free(ops);
    g.bytes[DIR_WRITE] += ok * bytes;
    g.errors[DIR_WRITE] += bad;
    HMT_STAT_ADD(nvme_bytes_written, ok * bytes);
    if (bad) {
        HMT_STAT_ADD(nvme_write_errors, bad);
        if (rc == -ENOSPC)
            HMT_WARN_ONCE("spill file in %s is full; chunks stay in the host tier or on the GPU",
                          g.dir);
        else
            HMT_WARN_ONCE("spill file write failed in %s (%s); chunks stay where they were",
                          g.dir, strerror(-rc));
    }
    return rc;
}

int hmt_nvme_read(unsigned n, void *const bufs[], size_t bytes, const int64_t slots[],
                  int errs[], hmt_nvme_done_fn on_done, void *arg)
{
    if (n == 0)
        return 0;
    int rc = check_ready(bytes);
    if (rc) {
        for (unsigned i = 0; i < n; i++) {
            errs[i] = rc;
            if (on_done)
                on_done(i, rc, arg);
        }
        return rc;
    }
    struct nvme_op *ops = calloc(n, sizeof *ops);
    if (!ops) {
        for (unsigned i = 0; i < n; i++) {
            errs[i] = -ENOMEM;
            if (on_done)
                on_done(i, -ENOMEM, arg);
        }
        return -ENOMEM;
    }
    int direct = g.direct;
    struct nvme_batch b = { .d = DIR_READ, .n = n, .bytes = bytes, .ops = ops, .errs = errs,
                            .on_done = on_done, .arg = arg };
    pthread_mutex_lock(&g.lock);
    for (unsigned i = 0; i < n; i++)
        errs[i] = slot_live(slots[i]) ? 0 : -EINVAL;
    pthread_mutex_unlock(&g.lock);
    for (unsigned i = 0; i < n; i++) {
        if (!errs[i] && direct && (((uintptr_t)bufs[i] | bytes) & (NVME_ALIGN - 1)))
            errs[i] = -EINVAL;
        ops[i] = (struct nvme_op){ .buf = bufs[i], .off = (off_t)slots[i] * (off_t)g.slot_bytes,
                                   .buf_idx = -1, .b = &b, .i = i };
    }
    rc = run_batch(&b);
    uint64_t ok = 0, bad = 0;
    for (unsigned i = 0; i < n; i++)
        errs[i] ? bad++ : ok++;
    free(ops);
    g.bytes[DIR_READ] += ok * bytes;
    g.errors[DIR_READ] += bad;
    HMT_STAT_ADD(nvme_bytes_read, ok * bytes);
    if (bad)
        HMT_STAT_ADD(nvme_read_errors, bad);
    return rc;
}

/* ---- stats and shutdown --------------------------------------------------------------- */

static const char *fallback_name(int fb)
{
    switch (fb & (FB_THREADS | FB_BUFFERED)) {
    case FB_THREADS:                return "threads";
    case FB_BUFFERED:               return "buffered";
    case FB_THREADS | FB_BUFFERED:  return "threads+buffered";
    default:                        return "none";
    }
}

void hmt_nvme_get_stats(struct hmt_nvme_stats *out)
{
    memset(out, 0, sizeof *out);
    out->bytes_written = g.bytes[DIR_WRITE];
    out->bytes_read = g.bytes[DIR_READ];
    out->write_errors = g.errors[DIR_WRITE];
    out->read_errors = g.errors[DIR_READ];
    out->fixed_buffer_ios = g.fixed_ios;
    pthread_mutex_lock(&g.busy_lock);
    out->write_ns = g.busy_ns[DIR_WRITE];
    out->read_ns = g.busy_ns[DIR_READ];
    pthread_mutex_unlock(&g.busy_lock);
    out->write_gbps = out->write_ns ? (double)out->bytes_written / (double)out->write_ns : 0;
    out->read_gbps = out->read_ns ? (double)out->bytes_read / (double)out->read_ns : 0;
    pthread_mutex_lock(&g.lock);
    out->slots_used = g.slots_used;
    out->slots_total = (uint64_t)g.file_slots;
    out->fallback = fallback_name(g.fallback);
    pthread_mutex_unlock(&g.lock);
}

void hmt_nvme_stats_json(void *root)
{
    pthread_mutex_lock(&g.lock);
    int inited = g.inited && !g.init_rc;
    pthread_mutex_unlock(&g.lock);
    if (!root || !inited)
        return;
    struct hmt_nvme_stats st;
    hmt_nvme_get_stats(&st);
    cJSON_AddNumberToObject(root, "nvme_write_gbps", st.write_gbps);
    cJSON_AddNumberToObject(root, "nvme_read_gbps", st.read_gbps);
    cJSON_AddNumberToObject(root, "nvme_fixed_buffer_ios", (double)st.fixed_buffer_ios);
    cJSON_AddStringToObject(root, "nvme_fallback", st.fallback);
}

/* Forgets the spill file and every slot. Called with g.lock held (or in a forked child). */
static void state_reset(void)
{
    if (g.fd >= 0)
        close(g.fd);
    if (g.fd_buffered >= 0)
        close(g.fd_buffered);
    g.fd = g.fd_buffered = -1;
    free(g.free_slots);
    g.free_slots = NULL;
    g.nfree = g.free_cap = 0;
    free(g.used);
    g.used = NULL;
    g.used_cap = 0;
    g.hwm = g.file_slots = 0;
    g.slots_used = 0;
    g.inited = 0;
    g.init_rc = 0;
    g.slot_bytes = 0;
    g.fallback = 0;
    memset(g.pieces, 0, sizeof g.pieces);
    g.npieces_hi = 0;
    g.piece_gen++;
    g.epoch++;
    atomic_store(&uring_dead, 0);
    memset(g.busy_ns, 0, sizeof g.busy_ns);
    memset(g.busy_active, 0, sizeof g.busy_active);
    g.bytes[0] = g.bytes[1] = g.errors[0] = g.errors[1] = 0;
    g.fixed_ios = 0;
}

void hmt_nvme_shutdown(void)
{
    pthread_mutex_lock(&g.lock);
    if (t_ring) {
        ring_free(t_ring);
        t_ring = NULL;
        pthread_once(&ring_key_once, ring_key_make);
        pthread_setspecific(ring_key, NULL);
    }
    pthread_mutex_lock(&g.busy_lock);
    state_reset();
    pthread_mutex_unlock(&g.busy_lock);
    pthread_mutex_unlock(&g.lock);
}

/* A forked child gets none of the parent's spill file: its slots are the parent's to reuse,
 * and an inherited descriptor (or ring holding the file) would keep the file's disk space
 * alive for as long as the child lives. The child starts over with a file of its own if it
 * calls hmt_nvme_init. Only the forking thread exists here, so locks are remade, not taken. */
static void atfork_child(void)
{
    pthread_mutex_init(&g.lock, NULL);
    pthread_mutex_init(&g.busy_lock, NULL);
    pthread_mutex_init(&rings_lock, NULL);
    for (struct nvme_ring *r = rings_all, *next; r; r = next) {
        next = r->all_next;
        io_uring_queue_exit(&r->ring);   /* the child's mapping and descriptor only */
        free(r);
    }
    rings_all = NULL;
    t_ring = NULL;
    if (ring_key_made)
        pthread_setspecific(ring_key, NULL);
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.cv, NULL);
    pool.head = pool.tail = NULL;
    pool.nthreads = 0;   /* the parent's workers do not exist here */
    state_reset();
}
