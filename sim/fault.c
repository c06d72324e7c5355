/* sim/fault.c — turns a touch of unmapped or inaccessible device memory into an aborted
 * operation instead of a crash, as a GPU turns it into CUDA_ERROR_ILLEGAL_ADDRESS.
 *
 * Work that may touch device memory (kernels, copies, memsets) runs through sim_guarded()
 * on a stream's worker thread. A SIGSEGV/SIGBUS whose address lies inside the device range
 * while a guard is active on the faulting thread jumps back out of the operation
 * (siglongjmp). Any other fault is handed to the handler that was installed before ours,
 * or to the default action, so a genuine crash stays a crash.
 *
 * Under AddressSanitizer run with ASAN_OPTIONS=allow_user_segv_handler=1 (the default in
 * current compilers) so our handler is installed; ASan's own report still happens for
 * faults that are not ours because we chain to it.
 */
#include "internal.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>

static struct sigaction g_old_segv, g_old_bus;
static __thread sigjmp_buf *tl_jmp;
static __thread volatile uintptr_t tl_addr;

static void chain(int sig, siginfo_t *si, void *uc)
{
    struct sigaction *old = sig == SIGSEGV ? &g_old_segv : &g_old_bus;
    if (old->sa_flags & SA_SIGINFO) {
        if (old->sa_sigaction) {
            old->sa_sigaction(sig, si, uc);
            return;
        }
    } else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
        old->sa_handler(sig);
        return;
    }
    /* Default action: reinstall it and return; the faulting instruction re-executes and
     * the process dies with the original signal and a core dump as it would have. */
    signal(sig, SIG_DFL);
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    uintptr_t a = (uintptr_t)si->si_addr;
    if (tl_jmp && sim_in_device_range(a, 1)) {
        tl_addr = a;
        siglongjmp(*tl_jmp, 1);
    }
    chain(sig, si, uc);
}

void sim_fault_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &g_old_segv);
    sigaction(SIGBUS, &sa, &g_old_bus);
}

int sim_guarded(void (*fn)(void *), void *arg, uintptr_t *addr)
{
    sigjmp_buf jb;
    if (sigsetjmp(jb, 1)) {
        tl_jmp = NULL;
        if (addr) *addr = tl_addr;
        return -EFAULT;
    }
    tl_jmp = &jb;
    fn(arg);
    tl_jmp = NULL;
    return 0;
}
