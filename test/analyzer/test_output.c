/* test_output.c — where `hmt analyze -o PATH` writes. A new-user trial ran `-o /dev/null`
 * as root and the old writer (PATH.tmp, then rename over PATH) replaced /dev/null with a
 * regular file. Each kind of PATH is checked for what it must still be afterwards and for
 * the hints landing where the user meant:
 *   new path, existing regular file (atomically replaced, mode kept), symlink (written
 *   through, link kept), dangling symlink (target created), FIFO (written into, with a
 *   reader), character device (mknod'd in the temp dir; only as root, else that part is
 *   skipped), "-" (stdout, table on stderr), and an unwritable path (error names it).
 * usage: test_output HMT_ANALYZE CHECKPOINT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include "test_util.h"

static const char *tool, *ckpt;
static char tmp[256];

static char *tpath(const char *name)
{
    static char bufs[8][512];
    static int k;
    char *p = bufs[k++ % 8];
    snprintf(p, 512, "%s/%s", tmp, name);
    return p;
}

/* Up to 1 MiB of path, NUL-terminated: read to EOF rather than sized with ftell (test_util.h
 * slurp), since the outputs checked here include FIFOs and devices. */
static char *slurp_stream(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *b = calloc(1, 1 << 20);
    size_t n = b ? fread(b, 1, (1 << 20) - 1, f) : 0;
    (void)n;
    fclose(f);
    return b;
}

/* Runs hmt-analyze -q -o OUT CKPT with stdout and stderr to files; returns the exit status. */
static int run(const char *out, bool quiet)
{
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(tpath("stdout.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(tpath("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(126);
        if (quiet)
            execl(tool, tool, "-q", "-o", out, ckpt, (char *)NULL);
        else
            execl(tool, tool, "-o", out, ckpt, (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static bool is_hints(const char *txt)
{
    return txt && txt[0] == '{' && strstr(txt, "\"hmt-tier-hints\"") && txt[strlen(txt) - 1] == '\n';
}

/* No temporary file (NAME.XXXXXX or NAME.tmp) left in the temp dir. */
static void no_leftovers(const char *what)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "ls '%s' | grep -q -E '\\.(tmp|[A-Za-z0-9]{6})$'", tmp);
    CHECK(system(cmd) != 0, "%s: a temporary file was left behind", what);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s HMT_ANALYZE CHECKPOINT\n", argv[0]);
        return 1;
    }
    tool = argv[1];
    ckpt = argv[2];
    snprintf(tmp, sizeof(tmp), "%s/hmt-output-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    struct stat st, st2;
    char *t;

    /* a new path: created, mode from the umask */
    mode_t um = umask(022);
    CHECK(run(tpath("new.json"), true) == 0, "new path");
    t = slurp_stream(tpath("new.json"));
    CHECK(is_hints(t), "new path: no hints written");
    free(t);
    CHECK(stat(tpath("new.json"), &st) == 0 && (st.st_mode & 0777) == 0644, "new path: mode %o",
          st.st_mode & 0777);

    /* an existing regular file: replaced by rename (new inode), its mode kept */
    FILE *f = fopen(tpath("old.json"), "w");
    fputs("old\n", f);
    fclose(f);
    chmod(tpath("old.json"), 0640);
    stat(tpath("old.json"), &st);
    CHECK(run(tpath("old.json"), true) == 0, "regular file");
    t = slurp_stream(tpath("old.json"));
    CHECK(is_hints(t), "regular file: not replaced by the hints");
    free(t);
    CHECK(stat(tpath("old.json"), &st2) == 0 && S_ISREG(st2.st_mode) && (st2.st_mode & 0777) == 0640,
          "regular file: mode %o, want 640", st2.st_mode & 0777);
    CHECK(st2.st_ino != st.st_ino, "regular file: not replaced atomically (same inode)");
    /* as root, a user's file stays the user's */
    if (geteuid() == 0 && chown(tpath("old.json"), 1234, 1235) == 0) {
        CHECK(run(tpath("old.json"), true) == 0, "regular file owned by another user");
        CHECK(stat(tpath("old.json"), &st2) == 0 && st2.st_uid == 1234 && st2.st_gid == 1235,
              "regular file: owner %u:%u, want 1234:1235", (unsigned)st2.st_uid, (unsigned)st2.st_gid);
    }

    /* a symlink: the link stays, its target gets the hints */
    f = fopen(tpath("target.json"), "w");
    fclose(f);
    symlink("target.json", tpath("link.json"));
    CHECK(run(tpath("link.json"), true) == 0, "symlink");
    CHECK(lstat(tpath("link.json"), &st) == 0 && S_ISLNK(st.st_mode), "symlink: link replaced");
    t = slurp_stream(tpath("target.json"));
    CHECK(is_hints(t), "symlink: target lacks the hints");
    free(t);
    /* ... also when the target does not exist yet */
    symlink("sub-target.json", tpath("dangling.json"));
    CHECK(run(tpath("dangling.json"), true) == 0, "dangling symlink");
    CHECK(lstat(tpath("dangling.json"), &st) == 0 && S_ISLNK(st.st_mode), "dangling symlink: link replaced");
    t = slurp_stream(tpath("sub-target.json"));
    CHECK(is_hints(t), "dangling symlink: target not created");
    free(t);

    /* a FIFO with a reader: written into, still a FIFO */
    if (mkfifo(tpath("fifo"), 0644) == 0) {
        int pfd[2];
        if (pipe(pfd) != 0)
            return 1;
        pid_t rd = fork();
        if (rd == 0) {
            /* a writer that renames over the FIFO never opens it: do not wait forever */
            alarm(10);
            close(pfd[0]);
            int fd = open(tpath("fifo"), O_RDONLY);
            char buf[4096];
            ssize_t n;
            while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
                if (write(pfd[1], buf, (size_t)n) != n)
                    _exit(1);
            _exit(0);
        }
        close(pfd[1]);
        CHECK(run(tpath("fifo"), true) == 0, "fifo");
        bool still = lstat(tpath("fifo"), &st) == 0 && S_ISFIFO(st.st_mode);
        CHECK(still, "fifo: replaced by a regular file");
        if (!still)
            kill(rd, SIGKILL);   /* blocked opening the unlinked FIFO */
        char *got = calloc(1, 1 << 20);
        size_t len = 0;
        ssize_t n;
        while ((n = read(pfd[0], got + len, (1 << 20) - 1 - len)) > 0)
            len += (size_t)n;
        close(pfd[0]);
        waitpid(rd, NULL, 0);
        CHECK(is_hints(got), "fifo: reader did not get the hints (%zu bytes)", len);
        free(got);
    } else {
        CHECK(0, "mkfifo: %s", strerror(errno));
    }

    /* a character device (the /dev/null case): only root may mknod */
    if (geteuid() == 0 && mknod(tpath("null"), S_IFCHR | 0666, makedev(1, 3)) == 0) {
        CHECK(run(tpath("null"), true) == 0, "device: %s", slurp_stream(tpath("stderr.txt")));
        CHECK(lstat(tpath("null"), &st) == 0 && S_ISCHR(st.st_mode), "device: replaced by a regular file");
    } else {
        printf("skip: device node part (needs root and mknod)\n");
    }
    no_leftovers("after the writes");

    /* "-": the hints on stdout, the table on stderr */
    CHECK(run("-", false) == 0, "stdout");
    t = slurp_stream(tpath("stdout.txt"));
    CHECK(is_hints(t), "-o -: stdout is not the hints");
    free(t);
    t = slurp_stream(tpath("stderr.txt"));
    CHECK(t && strstr(t, "tier  tensors") && strstr(t, "wrote stdout"), "-o -: table not on stderr: %s", t);
    free(t);
    CHECK(access(tpath("-"), F_OK) != 0, "-o -: a file named '-' was written");

    /* unwritable: one line naming the user's path, not a temporary name */
    CHECK(run(tpath("no-dir/h.json"), true) == 1, "unwritable path: exit status");
    t = slurp_stream(tpath("stderr.txt"));
    CHECK(t && strstr(t, tpath("no-dir/h.json")) && !strstr(t, ".tmp") && !strstr(t, "XXXXXX") &&
              strchr(t, '\n') == t + strlen(t) - 1,
          "unwritable path: %s", t);
    free(t);

    umask(um);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", tmp);
    if (failures) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    printf("ok: new, regular, symlink, dangling symlink, fifo, device, stdout and unwritable outputs\n");
    return 0;
}
