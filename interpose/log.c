/* log.c — the one logging path of libhmt: "hmt: [tid] message" lines on stderr, or appended
 * to HMT_LOG_FILE. The level (HMT_LOG) is tested by the HMT_WARN/INFO/DEBUG macros before any
 * formatting; hmt_log() itself always writes (HMT_VERBOSE uses it directly).
 *
 * Each line is formatted on the stack and written with one write(2): no lock (so a fork
 * while another thread logs cannot leave a lock held in the child), no allocation, and lines
 * from threads do not interleave (O_APPEND files, and pipes up to PIPE_BUF).
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int hmt_log_level = HMT_LOG_WARN;
static int log_fd = STDERR_FILENO;

void hmt_log_init(void)
{
    if (!hmt_opt.log_file || !*hmt_opt.log_file)
        return;
    int fd = open(hmt_opt.log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        hmt_log(HMT_LOG_ERROR, "cannot open HMT_LOG_FILE=%s (%s); logging to stderr",
                hmt_opt.log_file, strerror(errno));
        return;
    }
    log_fd = fd;
}

void hmt_log(int level, const char *fmt, ...)
{
    (void)level;
    char buf[1024];
    int saved = errno;   /* logging must not change what the program sees in errno */
    int n = snprintf(buf, sizeof buf, "hmt: [%ld] ", (long)syscall(SYS_gettid));
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof buf - 2)
        len = sizeof buf - 2;   /* truncated line */
    buf[len++] = '\n';
    ssize_t w;
    do
        w = write(log_fd, buf, len);
    while (w < 0 && errno == EINTR);
    errno = saved;
}
