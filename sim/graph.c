/* sim/graph.c — graphs and stream capture (first cut: capture is refused). */
#include "internal.h"

CUresult sim_capture_add(struct CUstream_st *s, sim_work *w)
{
    (void)s, (void)w;
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}
CUresult sim_capture_invalidate_locked(struct CUstream_st *s)
{
    (void)s;
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}
CUresult sim_capture_record_locked(struct CUstream_st *s, struct CUevent_st *e)
{
    (void)s, (void)e;
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}
CUresult sim_capture_wait_locked(struct CUstream_st *s, struct CUevent_st *e)
{
    (void)s, (void)e;
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}
void sim_exec_run(struct sim_exec *x, struct CUstream_st *s) { (void)x, (void)s; }
void sim_exec_unref(struct sim_exec *x) { (void)x; }
