# e2e_run_negative: the negative control for e2e_run_real_budget. With residency's test-only
# switch that skips fault-in, the same run must die on the sim with
# CUDA_ERROR_ILLEGAL_ADDRESS — proof that the budget test's kernels really read evicted
# memory and that an hmt mistake would show.
. "$(dirname "$0")/common.sh"
if HMT_TEST_SKIP_FAULTIN=1 hmtrun --hbm-limit 16M -- --tokens 24 >"$T/out" 2>&1; then
    fail "run without fault-in succeeded (output: $(tail -n 3 "$T/out"))"
fi
grep -q CUDA_ERROR_ILLEGAL_ADDRESS "$T/out" ||
    fail "run without fault-in failed, but not with an illegal address: $(tail -n 3 "$T/out")"
exit 0
