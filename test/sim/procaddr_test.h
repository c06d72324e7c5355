/* test/sim/procaddr_test.h — shared helpers of the sim_procaddr_* tests.
 *
 * The tests link against the sim (libcuda.so.1) and call its cuGetProcAddress directly.
 * "Which function came back" is answered by looking the expected exported name up in the
 * sim's own object with the C library's dlsym (a test may interpose dlsym itself), never
 * through the global scope, where the executable could shadow the sim.
 */
#ifndef HMT_TEST_PROCADDR_TEST_H
#define HMT_TEST_PROCADDR_TEST_H

#define _GNU_SOURCE
#define __CUDA_API_VERSION_INTERNAL 1 /* declares the 4-argument cuGetProcAddress */
#include <cuda.h>
#include <cudaTypedefs.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int pt_failures;

#define PT_CHECK(cond, ...)                                                   \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);              \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
            pt_failures++;                                                    \
        }                                                                     \
    } while (0)

typedef void *(*pt_dlsym_fn)(void *, const char *);

/* glibc's dlsym, even when the test executable defines its own. */
static pt_dlsym_fn pt_real_dlsym(void)
{
    static const char *const vers[] = {"GLIBC_2.34", "GLIBC_2.2.5", "GLIBC_2.17"};
    for (size_t j = 0; j < sizeof vers / sizeof *vers; j++) {
        void *f = dlvsym(RTLD_NEXT, "dlsym", vers[j]);
        if (f) {
            pt_dlsym_fn fn;
            memcpy(&fn, &f, sizeof fn);
            return fn;
        }
    }
    return dlsym;
}

/* Handle of the sim this test is linked against; exits 1 if it is not loaded. */
static void *pt_sim_handle(void)
{
    void *h = dlopen("libcuda.so.1", RTLD_NOLOAD | RTLD_LAZY);
    if (!h) {
        fprintf(stderr, "FAIL: libcuda.so.1 (the sim) is not loaded: %s\n", dlerror());
        exit(1);
    }
    return h;
}

/* The sim's own definition of an exported name, or NULL. */
static void *pt_sim_sym(const char *name)
{
    static void *h;
    static pt_dlsym_fn real;
    if (!h) {
        h = pt_sim_handle();
        real = pt_real_dlsym();
    }
    return real(h, name);
}

/* Asks cuGetProcAddress_v2 and checks result, status and which export came back
 * (want == NULL: expect a NULL pointer with want_status). */
static void pt_expect(const char *sym, int ver, cuuint64_t flags, const char *want,
                      CUdriverProcAddressQueryResult want_status)
{
    void *p = (void *)1;
    CUdriverProcAddressQueryResult st = (CUdriverProcAddressQueryResult)-1;
    CUresult rc = cuGetProcAddress_v2(sym, &p, ver, flags, &st);
    PT_CHECK(rc == CUDA_SUCCESS, "(%s, %d, %llu): rc %d", sym, ver, (unsigned long long)flags, rc);
    PT_CHECK(st == want_status, "(%s, %d, %llu): status %d, want %d", sym, ver,
             (unsigned long long)flags, (int)st, (int)want_status);
    if (!want) {
        PT_CHECK(p == NULL, "(%s, %d, %llu): pointer %p, want NULL", sym, ver,
                 (unsigned long long)flags, p);
        return;
    }
    void *exp = pt_sim_sym(want);
    PT_CHECK(exp != NULL, "the sim does not export %s", want);
    PT_CHECK(p == exp, "(%s, %d, %llu): got %p, want %s = %p", sym, ver,
             (unsigned long long)flags, p, want, exp);
}

#endif /* HMT_TEST_PROCADDR_TEST_H */
