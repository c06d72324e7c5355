/* fork.c — what hmt is in a forked child: a pure pass-through.
 *
 * A child of fork() has only the forking thread; any lock another thread of the parent held
 * at that instant (hmt_move_lock during an eviction, hmt_map_lock, ...) stays locked forever
 * there, and the parent's CUDA context cannot be used in the child at all (the driver answers
 * CUDA_ERROR_NOT_INITIALIZED to every call; the sim does too). So the child handler turns the
 * engine off: with hmt_engaged 0 every handler forwards at its first line, takes no lock of
 * the residency engine, and the program sees the driver's own answers. Nothing of the
 * parent's state is freed or reset: the child cannot release the parent's driver objects,
 * and its memory image is discarded at exec or exit anyway. The HMT_STATS report of a child is
 * stats.c's business (written only when the path has "%p").
 */
#include "internal.h"

#include <pthread.h>

static void hmt_fork_child(void)
{
    hmt_engaged = 0;
}

/* Registered once at load, before the program can fork with our handlers in use. */
__attribute__((constructor(104))) static void fork_ctor(void)
{
    pthread_atfork(NULL, NULL, hmt_fork_child);
}
