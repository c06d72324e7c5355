/* paths.c — finding libhmt.so, the simulated libcuda.so.1, hmt-analyze, hmt-gpt2 and the
 * shipped checkpoint from wherever this `hmt` runs: the build tree it was built in, or an
 * installed prefix (cmake --install). The build tree's locations are baked in at configure
 * time (build_paths.h); installed ones are relative to bin/, so a prefix can move. The sim
 * is never installed into a folder the loader searches by default: on a GPU machine it must
 * not shadow the NVIDIA driver.
 */
#define _GNU_SOURCE
#include "hmt.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build_paths.h"

static int exists(const char *p) { return access(p, R_OK) == 0; }

/* Bounded copy (paths longer than the buffers are cut; they then fail to open, clearly). */
static void scopy(char *dst, size_t n, const char *src)
{
    size_t l = strnlen(src, n - 1);
    memcpy(dst, src, l);
    dst[l] = 0;
}

/* Copies the first existing of base + rel[i] into out; "" if none. */
static void first_of(char *out, size_t outlen, const char *base, const char *const *rel)
{
    out[0] = 0;
    for (; *rel; rel++) {
        char buf[PATH_MAX * 2];
        if (snprintf(buf, sizeof(buf), "%s%s", base, *rel) >= (int)sizeof(buf))
            continue;
        if (exists(buf)) {
            char real[PATH_MAX];
            scopy(out, outlen, realpath(buf, real) ? real : buf);
            return;
        }
    }
}

static void dir_of(char *out, size_t outlen, const char *file)
{
    scopy(out, outlen, file);
    char *s = strrchr(out, '/');
    if (s)
        *s = 0;
}

void hmt_paths_find(struct hmt_paths *p)
{
    memset(p, 0, sizeof(*p));
    char exe[PATH_MAX] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = 0;
    char bindir[PATH_MAX];
    dir_of(bindir, sizeof(bindir), exe);

    if (strcmp(bindir, HMT_BUILD_TOOLS_DIR) == 0) {
        /* Running from the build tree. */
        static const char *const lib[] = {"/interpose/libhmt.so", NULL};
        static const char *const sim[] = {"/sim/libcuda.so.1", NULL};
        static const char *const ana[] = {"/analyzer/hmt-analyze", NULL};
        static const char *const gpt[] = {"/bench/gpt2/hmt-gpt2", NULL};
        static const char *const ck[] = {"/test/data/nanogpt-small/ckpt.pt", NULL};
        first_of(p->libhmt, sizeof(p->libhmt), HMT_BUILD_DIR, lib);
        char simlib[PATH_MAX];
        first_of(simlib, sizeof(simlib), HMT_BUILD_DIR, sim);
        if (simlib[0])
            dir_of(p->sim_dir, sizeof(p->sim_dir), simlib);
        first_of(p->analyze, sizeof(p->analyze), HMT_BUILD_DIR, ana);
        first_of(p->gpt2, sizeof(p->gpt2), HMT_BUILD_DIR, gpt);
        first_of(p->ckpt, sizeof(p->ckpt), HMT_SOURCE_DIR, ck);
        return;
    }
    /* Installed: <prefix>/bin/hmt. */
    static const char *const lib[] = {"/../" HMT_INSTALL_LIBDIR "/libhmt.so",
                                      "/../" HMT_INSTALL_LIBDIR "/hmt/libhmt.so", NULL};
    static const char *const sim[] = {"/../" HMT_INSTALL_LIBDIR "/hmt/sim/libcuda.so.1", NULL};
    static const char *const ana[] = {"/hmt-analyze", NULL};
    static const char *const gpt[] = {"/hmt-gpt2", NULL};
    static const char *const ck[] = {"/../" HMT_INSTALL_DATADIR "/hmt/nanogpt-small/ckpt.pt",
                                     NULL};
    first_of(p->libhmt, sizeof(p->libhmt), bindir, lib);
    char simlib[PATH_MAX];
    first_of(simlib, sizeof(simlib), bindir, sim);
    if (simlib[0])
        dir_of(p->sim_dir, sizeof(p->sim_dir), simlib);
    first_of(p->analyze, sizeof(p->analyze), bindir, ana);
    first_of(p->gpt2, sizeof(p->gpt2), bindir, gpt);
    first_of(p->ckpt, sizeof(p->ckpt), bindir, ck);
}
