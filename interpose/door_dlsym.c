/* door_dlsym.c — door 2: dlsym, for programs that dlopen libcuda.so.1 and look names up.
 *
 * Exported as dlsym@GLIBC_2.34 (what programs built on glibc >= 2.34 bind to) and as
 * dlsym@<base version> (GLIBC_2.2.5 on x86-64, GLIBC_2.17 on aarch64: older binaries),
 * see libhmt.map. The real one is libc's own, taken with dlvsym from libc.so.6 (libdl.so.2
 * on older glibc), never via RTLD_NEXT: with two copies of libhmt loaded that would chain
 * one copy into the other and run every handler twice.
 *
 * Caller-relative lookups. glibc resolves RTLD_NEXT (and the scope of RTLD_DEFAULT) from the
 * return address of the dlsym call. So every lookup we do not redirect is a *tail call* into
 * libc's dlsym: the return address it sees is the program's, and the answer, dlerror() state
 * included, is exactly what it would be without us. Only exact names of hooks.def rows
 * (binary search, never a "cu" prefix test: cudnnCreate is not a driver function) are looked
 * at, and only for three kinds of handle:
 *   - the driver's handle (what dlopen("libcuda.so.1") returns): explicit-handle lookups do
 *     not depend on the caller, so we look up, and a driver pointer becomes our wrapper;
 *   - RTLD_DEFAULT: the first global definition is our own export (we are preloaded), so we
 *     answer what the program would get without us: the next definition after libhmt; if
 *     that is the driver's, our wrapper; if there is none, NULL (with dlerror set);
 *   - RTLD_NEXT: we find the caller's object (dladdr1). If it precedes libhmt (the program,
 *     an earlier preload), we walk the objects after it in link_map order (glibc's order for
 *     objects loaded at start) to the first that defines the name itself. If it follows us,
 *     glibc's RTLD_NEXT asked from libhmt gives the first global definition after us: none
 *     means none after the caller either (NULL); one after the caller is the answer; one in
 *     between is skipped by walking from the caller (which may also see RTLD_LOCAL objects:
 *     an approximation, for these names only). If nothing is found, the tail call answers.
 * Under HMT_MODE=off nothing is redirected, and RTLD_DEFAULT / RTLD_NEXT still look past our
 * own exports, so the program sees exactly what it would without hmt.
 * A redirect happens only when the real lookup found the symbol. The path takes no lock of
 * ours and does not allocate or log (glibc's own dladdr/dlsym lock internally, as dlsym does).
 */
#define _GNU_SOURCE
#include "internal.h"

#include <dlfcn.h>
#include <link.h>
#include <stddef.h>

#if defined(__x86_64__)
#define HMT_GLIBC_BASE "GLIBC_2.2.5"
#elif defined(__aarch64__)
#define HMT_GLIBC_BASE "GLIBC_2.17"
#else
#error "libhmt: set the base glibc symbol version of dlsym for this architecture"
#endif

typedef void *(*dlsym_fn)(void *, const char *);
static dlsym_fn _Atomic libc_dlsym;

static atomic_int ctor_done;   /* dlsym_init has run */

static dlsym_fn find_libc_dlsym(void)
{
    if (!atomic_load_explicit(&ctor_done, memory_order_acquire)) {
        /* Before our constructors: a sanitizer runtime's own start-up calls dlsym while its
         * dlopen interceptor cannot forward yet, so dlopen is off limits. The definition
         * after libhmt is libc's (unless libhmt is loaded twice); not cached, the
         * constructor resolves the exact one. */
        dlsym_fn f = (dlsym_fn)dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
        return f ? f : (dlsym_fn)dlvsym(RTLD_NEXT, "dlsym", HMT_GLIBC_BASE);
    }
    static const struct { const char *lib, *ver; } where[] = {
        { "libc.so.6", "GLIBC_2.34" },          /* glibc >= 2.34: dlsym lives in libc */
        { "libdl.so.2", HMT_GLIBC_BASE },       /* older glibc */
    };
    dlsym_fn f = NULL;
    for (size_t i = 0; !f && i < sizeof where / sizeof where[0]; i++) {
        void *h = dlopen(where[i].lib, RTLD_LAZY | RTLD_NOLOAD);
        if (!h)
            continue;
        f = (dlsym_fn)dlvsym(h, "dlsym", where[i].ver);
        dlclose(h);   /* drop the reference NOLOAD took; libc is never unloaded */
    }
    if (!f)   /* last resort: whatever follows us (fine unless libhmt is loaded twice) */
        f = (dlsym_fn)dlvsym(RTLD_NEXT, "dlsym", HMT_GLIBC_BASE);
    atomic_store_explicit(&libc_dlsym, f, memory_order_release);
    return f;
}

static inline dlsym_fn get_libc_dlsym(void)
{
    dlsym_fn f = atomic_load_explicit(&libc_dlsym, memory_order_acquire);
    return HMT_LIKELY(f != NULL) ? f : find_libc_dlsym();
}

void *hmt_libc_dlsym(void *handle, const char *name)
{
    return get_libc_dlsym()(handle, name);
}

__attribute__((constructor(101))) static void dlsym_init(void)
{
    atomic_store_explicit(&ctor_done, 1, memory_order_release);
    get_libc_dlsym();
}

/* "Let libc answer": the entry points tail-call libc's dlsym. */
static char pass_marker;
#define PASS ((void *)&pass_marker)

/* off: HMT_MODE=off (or a second copy of libhmt): hide our exports, redirect nothing. */
static void *redirected(void *p, int off)
{
    /* The table of driver pointers exists once the driver is resolved; a program that has
     * not loaded libcuda cannot have found a driver function. */
    if (!p || off || hmt_driver_init_if_loaded() != 0)
        return p;
    void *w = hmt_wrapper_for(p);
    if (!w)
        return p;
    HMT_STAT_ADD(door_dlsym_redirects, 1);
    return w;
}

static struct link_map *map_of(const void *addr)
{
    Dl_info info;
    struct link_map *lm = NULL;
    if (!addr || !dladdr1(addr, &info, (void **)&lm, RTLD_DL_LINKMAP))
        return NULL;
    return lm;
}

/* 1 when `later` comes after `m` in load (link_map) order. */
static int after(const struct link_map *m, const struct link_map *later)
{
    for (const struct link_map *l = m ? m->l_next : NULL; l; l = l->l_next)
        if (l == later)
            return 1;
    return 0;
}

/* The first object after `from` that defines `name` itself; its definition or NULL.
 * A raw link map is not a dlsym handle for objects loaded at start (glibc gives them no
 * search list until someone dlopens them: dlsym on one crashes), so each is looked up
 * through a real handle, dlopen(RTLD_NOLOAD) of its own name. That takes the loader's lock;
 * it happens only for RTLD_NEXT lookups of driver names. */
static void *walk_from(struct link_map *from, const char *name)
{
    for (struct link_map *m = from->l_next; m; m = m->l_next) {
        void *h = dlopen(m->l_name && *m->l_name ? m->l_name : NULL, RTLD_LAZY | RTLD_NOLOAD);
        if (!h)
            continue;                        /* e.g. the vDSO: never a driver */
        void *p = hmt_libc_dlsym(h, name);   /* m and its dependencies ... */
        dlclose(h);                          /* drop the reference NOLOAD took */
        if (p && map_of(p) == m)             /* ... but only m's own definition counts */
            return p;
    }
    return NULL;
}

/* RTLD_NEXT for a hooks.def name, on behalf of the object containing `caller`. */
static void *next_after(const void *caller, const char *name, int id, int off)
{
    struct link_map *x = map_of(caller), *self = map_of(&pass_marker);
    if (!x || !self)
        return PASS;
    void *p;
    if (after(x, self)) {
        /* The caller precedes us (the program, an earlier preload): objects loaded at start,
         * in search order, so the walk is glibc's order; it reaches our wrapper at latest. */
        p = walk_from(x, name);
    } else {
        /* The caller follows us. glibc, asked from here, gives the first global definition
         * after libhmt; if none, there is none after the caller either. */
        p = hmt_libc_dlsym(RTLD_NEXT, name);
        if (!p)
            return NULL;                     /* dlerror() says "undefined symbol" */
        if (!after(x, map_of(p)))
            p = walk_from(x, name);          /* defined between us and the caller */
    }
    if (!p)
        return PASS;
    if (p == hmt_wrappers[id]) {
        /* We are next. Without us the walk would go on: if nothing follows (no driver
         * loaded, or only RTLD_LOCAL), the program must see NULL, not a driver it lacks. */
        void *q = hmt_libc_dlsym(RTLD_NEXT, name);
        if (!q)
            return NULL;
        if (off)
            p = q;
    }
    dlerror();                               /* our failed probes must not leak into dlerror() */
    return p == hmt_wrappers[id] ? p : redirected(p, off);
}

__attribute__((always_inline)) static inline void *decide(void *handle, const char *name,
                                                          const void *caller)
{
    int special = handle == RTLD_DEFAULT || handle == RTLD_NEXT;
    if (!special && atomic_load_explicit(&hmt_driver_ready, memory_order_acquire) &&
        handle != hmt_driver_handle)
        return PASS;                   /* the common case: someone else's library */
    /* Every hooks.def name starts with "cu": a cheap prefilter only (the decision is the
     * exact lookup below), which also keeps the sanitizer runtimes' own start-up lookups
     * (dlsym(RTLD_NEXT, "mmap"), before their shadow memory exists) out of instrumented
     * code in other files. This file itself is never instrumented (CMakeLists.txt). */
    if (!name || name[0] != 'c' || name[1] != 'u')
        return PASS;
    int id = hmt_hook_find(name);
    if (id < 0)
        return PASS;
    int off = hmt_passthrough();
    if (handle == RTLD_NEXT)
        return next_after(caller, name, id, off);
    if (handle == RTLD_DEFAULT) {
        void *p = hmt_libc_dlsym(RTLD_DEFAULT, name);
        if (!p)
            return PASS;
        if (p == hmt_wrappers[id]) {
            /* Our export shadows the rest: answer what the program sees without us (NULL
             * when libcuda is not loaded, or loaded RTLD_LOCAL). */
            p = hmt_libc_dlsym(RTLD_NEXT, name);
            if (!p)
                return NULL;
        }
        return redirected(p, off);
    }
    /* Probing for cuInit must not load the driver: only an already loaded one is looked at. */
    if (off || hmt_driver_init_if_loaded() != 0 || handle != hmt_driver_handle)
        return PASS;
    void *p = hmt_libc_dlsym(handle, name);
    return p ? redirected(p, off) : NULL;
}

/* The two exported entry points. Each must end in a real tail call (jmp) so that libc sees
 * the program's return address; test interpose_dlsym_next checks it. gcc: optimize("O2")
 * keeps the sibling call in -O0 builds; clang: musttail guarantees it at every level. */
#if defined(__clang__)
#define HMT_DLSYM_ATTRS __attribute__((visibility("default")))
#define HMT_MUSTTAIL __attribute__((musttail))
#else
#define HMT_DLSYM_ATTRS __attribute__((visibility("default"), optimize("O2", "omit-frame-pointer")))
#define HMT_MUSTTAIL
#endif
#define HMT_DLSYM_ENTRY(fn)                                                                 \
    HMT_DLSYM_ATTRS void *fn(void *handle, const char *name);                               \
    void *fn(void *handle, const char *name)                                                \
    {                                                                                       \
        void *r = decide(handle, name, __builtin_return_address(0));                        \
        if (r != PASS)                                                                      \
            return r;                                                                       \
        HMT_MUSTTAIL return get_libc_dlsym()(handle, name);                                 \
    }
HMT_DLSYM_ENTRY(hmt_dlsym_base)
HMT_DLSYM_ENTRY(hmt_dlsym_234)
__asm__(".symver hmt_dlsym_base, dlsym@" HMT_GLIBC_BASE);
__asm__(".symver hmt_dlsym_234, dlsym@@GLIBC_2.34");
