/* probe.h — which NVMe-tier fallbacks this machine forces by itself: no io_uring (ENOSYS,
 * EPERM: some containers) and no O_DIRECT in the spill folder's file system. Tests that expect
 * a given fallback combine it with these, so they test the same thing everywhere instead of
 * failing where the kernel already decided. Bits: 1 threads, 2 buffered. */
#ifndef HMT_TEST_NVME_PROBE_H
#define HMT_TEST_NVME_PROBE_H

#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { PROBE_THREADS = 1, PROBE_BUFFERED = 2 };

static inline int probe_fallbacks(const char *dir)
{
    int bits = 0;
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    int fd = (int)syscall(__NR_io_uring_setup, 2, &p);
    if (fd < 0)
        bits |= PROBE_THREADS;
    else
        close(fd);
    fd = open(dir, O_TMPFILE | O_RDWR | O_DIRECT, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
        char path[4200];
        snprintf(path, sizeof path, "%s/.hmt-probe-XXXXXX", dir);
        fd = mkostemp(path, O_DIRECT);
        if (fd >= 0)
            unlink(path);
    }
    if (fd < 0 && errno == EINVAL)
        bits |= PROBE_BUFFERED;
    if (fd >= 0)
        close(fd);
    return bits;
}

/* The nvme_fallback name for bits, as nvme.c spells it. */
static inline const char *probe_name(int bits)
{
    static const char *names[] = { "none", "threads", "buffered", "threads+buffered" };
    return names[bits & 3];
}

static inline int probe_bits(const char *name)
{
    return (strstr(name, "threads") ? PROBE_THREADS : 0) | (strstr(name, "buffered") ? PROBE_BUFFERED : 0);
}

#endif
