/* res_fork — a forked child gets the driver's own answers from hmt, never a hang.
 *
 * The parent's CUDA context is unusable in a child of fork() (the driver, and the sim, answer
 * CUDA_ERROR_NOT_INITIALIZED), and a lock another parent thread held at the fork stays held
 * in the child forever. Threads keep evicting (budget far below their working set) while the
 * main thread forks; each child calls alloc, copy, memset, meminfo and free on a managed
 * pointer under alarm(10) and must get CUDA_ERROR_NOT_INITIALIZED from every one. Before
 * the fix the children hung on hmt_move_lock (alarm) and, without threads, cuMemFree of a
 * managed pointer answered 0. Mode "one": one fork, no threads (the free case alone).
 */
#include "res_common.h"

#include <pthread.h>
#include <signal.h>

static CUcontext ctx;
static CUfunction axpy;
static volatile int stop;

static void *churn(void *arg)
{
    long id = (long)arg;
    CK(cuCtxSetCurrent(ctx));
    CUstream s;
    CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    CUdeviceptr x;
    CK(cuMemAlloc(&x, 4 * MIB));
    CK(cuMemsetD8(x, 0, 4 * MIB));
    while (!stop) {
        res_axpy(axpy, s, x, x, 1.0f, (int)(4 * MIB / sizeof(float)));
        CUdeviceptr t;
        if (cuMemAlloc(&t, 2 * MIB + (size_t)id) == CUDA_SUCCESS) {
            cuMemsetD8Async(t, 1, 2 * MIB, s);
            cuStreamSynchronize(s);
            cuMemFree(t);
        }
    }
    cuStreamSynchronize(s);
    return NULL;
}

static int fork_and_check(CUdeviceptr a)
{
    fflush(NULL);
    pid_t p = fork();
    if (p < 0) FAIL("fork");
    if (p == 0) {
        alarm(10);
        CUdeviceptr t;
        unsigned char b[16];
        size_t f, tot;
        CUresult r[5] = { cuMemAlloc(&t, 2 * MIB), cuMemcpyDtoH(b, a, 16), cuMemsetD8(a, 1, 16),
                          cuMemGetInfo(&f, &tot), cuMemFree(a) };
        for (int i = 0; i < 5; i++)
            if (r[i] != CUDA_ERROR_NOT_INITIALIZED) {
                fprintf(stderr, "child: call %d answered %d, the driver says %d\n", i, (int)r[i],
                        (int)CUDA_ERROR_NOT_INITIALIZED);
                _exit(1);
            }
        _exit(0);
    }
    int st;
    waitpid(p, &st, 0);
    if (WIFSIGNALED(st)) {
        fprintf(stderr, "child killed by signal %d%s\n", WTERMSIG(st),
                WTERMSIG(st) == SIGALRM ? " (hung for 10 s)" : "");
        return 1;
    }
    return WEXITSTATUS(st) != 0;
}

static int run(int nthreads, int forks)
{
    ctx = res_init();
    axpy = res_func(res_module(), "axpy");
    pthread_t t[4];
    for (long i = 0; i < nthreads; i++) pthread_create(&t[i], NULL, churn, (void *)i);
    CUdeviceptr a;
    CK(cuMemAlloc(&a, 2 * MIB));
    CK(cuMemsetD8(a, 9, 2 * MIB));
    int bad = 0;
    for (int k = 0; k < forks && !bad; k++) {
        usleep(5000);
        bad += fork_and_check(a);
    }
    stop = 1;
    for (int i = 0; i < nthreads; i++) pthread_join(t[i], NULL);
    unsigned char h[16];
    CK(cuMemcpyDtoH(h, a, sizeof h));   /* the parent still works after its children */
    for (size_t i = 0; i < sizeof h; i++)
        if (h[i] != 9) FAIL("parent's buffer changed by a child");
    if (bad) FAIL("a forked child did not get the driver's answers");
    return 0;
}

static int body_threads(void) { return run(4, 20); }
static int body_one(void) { return run(0, 1); }

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "child"))
        return !strcmp(argv[2], "one") ? body_one() : body_threads();
    const char *mode = argc >= 2 ? argv[1] : "threads";
    const char *env[] = { "HMT_HBM_LIMIT=8M", NULL };
    static char out[8192];
    int rc = res_run_child(argv[0], mode, 1, env, out, sizeof out);
    fputs(out, stdout);
    if (rc == 0) printf("forked children got CUDA_ERROR_NOT_INITIALIZED (%s): ok\n", mode);
    return rc;
}
