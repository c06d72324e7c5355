/* kill9.c — the spill file holds model weights: no one else may read it, and nothing of it is
 * left after the process dies, even by kill -9. A child opens the tier, stores chunks and
 * waits; while it runs, the spill folder must list nothing and the file must be 0600 with no
 * links (and opened O_DIRECT unless buffered I/O was asked for); after kill -9 the folder
 * must be empty. Run for O_TMPFILE and for the create-and-unlink fallback.
 *
 * usage: nvme_kill9 tmpfile | notmpfile | buffered */
#include "helpers.h"
#include "internal.h"
#include "nvme.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

enum { SLOT = 256 << 10, N = 8 };

static void child(const char *dir, int ready_fd)
{
    hmt_opt.nvme_dir = dir;
    if (hmt_nvme_init(SLOT) != 0)
        _exit(3);
    void *bufs[N];
    int64_t slots[N];
    int errs[N];
    for (unsigned i = 0; i < N; i++) {
        bufs[i] = chunk_alloc(SLOT);
        pattern_fill(bufs[i], SLOT, i);
    }
    if (hmt_nvme_write(N, bufs, SLOT, slots, errs, NULL, NULL) != 0)
        _exit(4);
    if (write(ready_fd, "k", 1) != 1)
        _exit(5);
    for (;;)
        pause();
}

/* Finds the child's descriptor of a file in dir (by /proc/PID/fd link) and checks it. */
static void check_open_file(pid_t pid, const char *dir, int want_direct)
{
    char path[512], link[4096];
    int found = 0;
    for (int fd = 0; fd < 1024 && !found; fd++) {
        snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, fd);
        ssize_t n = readlink(path, link, sizeof link - 1);
        if (n <= 0)
            continue;
        link[n] = 0;
        if (strncmp(link, dir, strlen(dir)) != 0)
            continue;
        found = 1;
        struct stat st;
        CHECK(stat(path, &st) == 0, "stat %s", path);
        CHECK((st.st_mode & 0777) == 0600, "spill file mode %o, expected 0600", st.st_mode & 0777);
        CHECK(st.st_nlink == 0, "spill file has %lu links", (unsigned long)st.st_nlink);
        CHECK(st.st_size >= (off_t)N * SLOT, "spill file is %lld bytes", (long long)st.st_size);
        snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", (int)pid, fd);
        FILE *f = fopen(path, "r");
        CHECK(f, "open %s", path);
        unsigned long flags = 0;
        char line[256];
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "flags: %lo", &flags) == 1)
                break;
        fclose(f);
        CHECK(!!(flags & O_DIRECT) == want_direct, "spill file O_DIRECT is %d, expected %d",
              !!(flags & O_DIRECT), want_direct);
    }
    CHECK(found, "no open spill file of the child in %s", dir);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "tmpfile";
    if (!strcmp(mode, "notmpfile")) hmt_opt.test_nvme_fallback = "notmpfile";
    else if (!strcmp(mode, "buffered")) hmt_opt.test_nvme_fallback = "buffered";
    char *dir = spill_dir_make();
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        close(p[0]);
        child(dir, p[1]);
    }
    close(p[1]);
    char c;
    ssize_t n = read(p[0], &c, 1);
    if (n != 1) {
        int st;
        waitpid(pid, &st, 0);
        CHECK(0, "child failed before storing chunks (exit %d)", WEXITSTATUS(st));
    }
    CHECK(dir_entries(dir) == 0, "spill folder lists %d entries while the child runs",
          dir_entries(dir));
    check_open_file(pid, dir, strcmp(mode, "buffered") != 0);
    CHECK(kill(pid, SIGKILL) == 0, "kill");
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st), "child did not die by SIGKILL");
    CHECK(dir_entries(dir) == 0, "spill folder %s not empty after kill -9", dir);
    CHECK(rmdir(dir) == 0, "rmdir %s: %s", dir, strerror(errno));
    return T_PASS;
}
