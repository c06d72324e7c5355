/* check.c — checking the values `hmt run`, `hmt bench` and `hmt demo` pass on to libhmt, in
 * hmt's option parsing, so that a mistyped value stops the command with one line instead
 * of libhmt warning "using the default" and the job running under other settings.
 *
 * The grammars are libhmt's own (interpose/options.c hmt_parse_size and HMT_SIZE_PCT,
 * interpose/emulate.c HMT_TIER_SPEC, interpose/hints.c {rank}); hmt does not link libhmt,
 * so they are restated here and must follow those files, except the size units, which both
 * take from interpose/size_parse.h. Where hmt is stricter it says so:
 * a percentage must be above 0 (0% of the device is no budget anyone means; a plain 0 is
 * the legal zero budget), numbers are plain decimals (libhmt's strtod would also take an
 * exponent, hex or "inf"), and tier names hold no blanks (" CXL" would name no tier).
 */
#define _GNU_SOURCE
#include "hmt.h"
#include "../interpose/size_parse.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* A plain decimal number at s ("12", "1.5", ".5"); its end, or NULL. */
static const char *decimal(const char *s, double *v)
{
    if (!isdigit((unsigned char)s[0]) && !(s[0] == '.' && isdigit((unsigned char)s[1])))
        return NULL;
    const char *p = s;
    while (isdigit((unsigned char)*p))
        p++;
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p))
            p++;
    }
    char buf[64];
    if ((size_t)(p - s) >= sizeof(buf))
        return NULL;
    memcpy(buf, s, (size_t)(p - s));
    buf[p - s] = 0;
    *v = strtod(buf, NULL);
    return p;
}

int hmt_check_size(const char *s, int allow_pct, unsigned long long *bytes)
{
    double v;
    const char *end = decimal(s, &v);
    if (!end)
        return -1;
    if (allow_pct && end[0] == '%' && end[1] == 0) {
        if (!(v > 0 && v <= 100))
            return -1;
        if (bytes)
            *bytes = 0;
        return 1;
    }
    double mul;
    uint64_t n;
    end = hmt_size_unit(end, &mul);
    if (*end || hmt_size_bytes(v, mul, &n))
        return -1;
    if (bytes)
        *bytes = n;
    return 0;
}

int hmt_check_tier_spec(const char *s)
{
    if (!*s)
        return -1;
    char *copy = strdup(s), *save = NULL;
    if (!copy)
        return -1;
    int bad = 0, n = 0;
    /* strtok_r would skip empty entries ("CPU=5us:64GB/s,,"); libhmt does too, and so
     * does this, but a spec of only commas names nothing. */
    for (char *e = strtok_r(copy, ",", &save); e && !bad; e = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(e, '=');
        double setup, gbps;
        /* NAME: 1-15 characters (libhmt's buffer), no spaces */
        if (!eq || eq == e || eq - e >= 16 || strpbrk(e, " \t")) {
            bad = 1;
            break;
        }
        const char *p = decimal(eq + 1, &setup);
        if (!p) {
            bad = 1;
            break;
        }
        if (!strncasecmp(p, "us", 2))
            p += 2;
        if (*p != ':' || !(p = decimal(p + 1, &gbps)) || !(gbps > 0) ||
            (*p && strcasecmp(p, "GB/s") && strcasecmp(p, "GBps")))
            bad = 1;
        n++;
    }
    free(copy);
    return bad || !n ? -1 : 0;
}

int hmt_check_dir(const char *path, const char **why)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        *why = strerror(errno);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        *why = "not a directory";
        return -1;
    }
    if (access(path, W_OK | X_OK) != 0) {
        *why = "not writable";
        return -1;
    }
    return 0;
}

int hmt_check_out_file(const char *path, const char **why)
{
    struct stat st;
    if (!*path) {
        *why = "empty path";
        return -1;
    }
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            *why = "is a directory";
            return -1;
        }
        if (access(path, W_OK) != 0) {
            *why = "not writable";
            return -1;
        }
        return 0;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == dir)
        dir[1] = 0;
    else
        *slash = 0;
    if (hmt_check_dir(dir, why) != 0) {
        static char msg[PATH_MAX + 64];
        snprintf(msg, sizeof(msg), "folder %s: %s", dir, *why);
        *why = msg;
        return -1;
    }
    return 0;
}

char *hmt_expand_rank(const char *path)
{
    const char *rank = getenv("RANK");
    if (!rank || !*rank)
        rank = getenv("LOCAL_RANK");
    if (!rank || !*rank)
        rank = "0";
    size_t cap = strlen(path) + 1;
    for (const char *p = path; (p = strstr(p, "{rank}")); p += 6)
        cap += strlen(rank);
    char *out = malloc(cap), *o = out;
    if (!out)
        return NULL;
    for (const char *p = path; *p;) {
        if (!strncmp(p, "{rank}", 6)) {
            o = stpcpy(o, rank);
            p += 6;
        } else {
            *o++ = *p++;
        }
    }
    *o = 0;
    return out;
}
