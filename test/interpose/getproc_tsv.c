/* getproc_tsv.c — interpose_getproc_tsv: every cuGetProcAddress_v2 request the CUDA 13
 * runtime makes (test/data/cudart13-getprocaddress.tsv), through hmt, against the sim.
 *
 * For each (symbol, cudaVersion, flags) row, the driver's own cuGetProcAddress_v2 and hmt's
 * are called with the same arguments: the CUresult and symbolStatus must be identical; a
 * pointer the driver gave for a function hmt wraps (one of libhmt's exports is defined in the
 * driver at that address) must come back as libhmt's export of that same name, so it
 * forwards to exactly that pointer; every other pointer must come back unchanged.
 * With argv[2] = "off" (run under HMT_MODE=off) every pointer must come back unchanged.
 */
#include "ih.h"

static const char *const hooked[] = {
#define HMT_HOOK(name, handler, params, args) #name,
#include "hooks.def"
#undef HMT_HOOK
};
#define NHOOKED (sizeof hooked / sizeof hooked[0])

typedef CUresult (*gpa2_fn)(const char *, void **, int, cuuint64_t, CUdriverProcAddressQueryResult *);

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s cudart13-getprocaddress.tsv [off]\n", argv[0]);
        return 1;
    }
    int off = argc > 2 && !strcmp(argv[2], "off");
    ih_hmt();
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        fprintf(stderr, "FAIL: cannot open %s\n", argv[1]);
        return 1;
    }
    /* The driver's address of every function hmt wraps. */
    const void *raw_of[NHOOKED];
    for (size_t i = 0; i < NHOOKED; i++)
        raw_of[i] = ih_raw(hooked[i]);
    gpa2_fn raw = (gpa2_fn)ih_raw("cuGetProcAddress_v2");

    char line[512];
    int rows = 0, wrapped = 0, found = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        char sym[256] = "";
        int ver = 0;
        unsigned long long flags = 0;
        char *t1 = strchr(line, '\t');
        if (!t1 || sscanf(t1 + 1, "%d\t%llu", &ver, &flags) != 2) {
            fprintf(stderr, "FAIL: bad row: %s", line);
            return 1;
        }
        snprintf(sym, sizeof sym, "%.*s", (int)(t1 - line), line);
        rows++;
        void *pr = NULL, *ph = NULL;
        CUdriverProcAddressQueryResult sr = 77, sh = 77;
        CUresult rr = raw(sym, &pr, ver, flags, &sr);
        CUresult rh = cuGetProcAddress_v2(sym, &ph, ver, flags, &sh);
        CHECK(rr == rh && sr == sh, "'%s'@%d/%llu: hmt (%d, status %d), driver (%d, status %d)",
              sym, ver, flags, rh, sh, rr, sr);
        if (pr)
            found++;
        const char *as = NULL;
        for (size_t i = 0; pr && i < NHOOKED; i++)
            if (raw_of[i] == pr)
                as = hooked[i];
        if (as && !off) {
            wrapped++;
            /* libhmt's export `n` forwards to the driver's `n`; any name at that address. */
            int ok = ih_in(ph, ih_hmt()) && ih_raw(ih_name_of(ph)) == pr &&
                     ph == ih_libc_dlsym(ih_hmt(), ih_name_of(ph));
            CHECK(ok, "'%s'@%d/%llu: driver gave %s, hmt gave %s (%p), not its wrapper", sym, ver,
                  flags, as, ih_name_of(ph), ph);
        } else {
            CHECK(ph == pr, "'%s'@%d/%llu: driver gave %p (%s), hmt gave %p (%s)", sym, ver, flags,
                  pr, ih_name_of(pr), ph, ih_name_of(ph));
        }
    }
    fclose(f);
    printf("%d rows: %d found by the driver, %d answered with an hmt wrapper\n", rows, found,
           wrapped);
    CHECK(rows > 400, "only %d rows read", rows);
    CHECK(off ? wrapped == 0 : wrapped > 20, "%d rows wrapped", wrapped);
    return IH_DONE();
}
