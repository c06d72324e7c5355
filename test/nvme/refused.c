/* refused.c — the fallbacks taken when the kernel refuses, not when a test switch asks:
 * a seccomp filter makes io_uring_setup fail with EPERM (as container runtimes do) or makes
 * every open with O_DIRECT fail with EINVAL (as file systems without direct I/O do). The
 * tier must announce the fallback, report it in stats, and still round-trip chunks.
 *
 * usage: nvme_refused nouring | nodirect     (skips where seccomp filters cannot be set) */
#include "helpers.h"
#include "internal.h"
#include "nvme.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#endif

enum { SLOT = 128 << 10, N = 64 };

static int install(int nouring)
{
#ifndef ARCH
    (void)nouring;
    return -1;
#else
    struct sock_filter uring[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    /* openat(dirfd, path, flags, mode): flags is args[2]; O_DIRECT -> EINVAL. */
    struct sock_filter direct[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, O_DIRECT, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = nouring
        ? (struct sock_fprog){ sizeof uring / sizeof uring[0], uring }
        : (struct sock_fprog){ sizeof direct / sizeof direct[0], direct };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
#endif
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "nouring";
    int nouring = !strcmp(mode, "nouring");
    char *dir = spill_dir_make();
    if (install(nouring) != 0) {
        fprintf(stderr, "skip: cannot install a seccomp filter (%s)\n", strerror(errno));
        rmdir(dir);
        return T_SKIP;
    }
    /* The filter works: the refusal is real. */
    if (nouring)
        CHECK(syscall(__NR_io_uring_setup, 4, NULL) == -1 && errno == EPERM, "filter inactive");
    else
        CHECK(open(dir, O_RDONLY | O_DIRECT) == -1 && errno == EINVAL, "filter inactive");

    hmt_opt.nvme_dir = dir;
    CHECK(hmt_nvme_init(SLOT) == 0, "init");
    void *bufs[N];
    int64_t slots[N];
    int errs[N];
    for (int round = 0; round < 20; round++) {
        for (unsigned i = 0; i < N; i++) {
            if (!round)
                bufs[i] = chunk_alloc(SLOT);
            pattern_fill(bufs[i], SLOT, round * 1000 + i);
        }
        CHECK(hmt_nvme_write(N, bufs, SLOT, slots, errs, NULL, NULL) == 0, "write");
        for (unsigned i = 0; i < N; i++)
            memset(bufs[i], 0, SLOT);
        CHECK(hmt_nvme_read(N, bufs, SLOT, slots, errs, NULL, NULL) == 0, "read");
        for (unsigned i = 0; i < N; i++) {
            CHECK(pattern_check(bufs[i], SLOT, round * 1000 + i) < 0, "chunk %u differs", i);
            hmt_nvme_free_slot(slots[i]);
        }
    }
    struct hmt_nvme_stats st;
    hmt_nvme_get_stats(&st);
    const char *want = nouring ? "threads" : "buffered";
    CHECK(!strcmp(st.fallback, want), "fallback %s, expected %s", st.fallback, want);
    hmt_nvme_shutdown();
    for (unsigned i = 0; i < N; i++)
        free(bufs[i]);
    CHECK(dir_entries(dir) == 0, "spill folder not empty");
    rmdir(dir);
    return T_PASS;
}
