# e2e_run_real_budget: `hmt run` in real mode under a 16 MiB budget (the model and its
# activations take ~80 MiB of 2 MiB chunks, one allocation per tensor) gives the same text
# and logits hash as a run without hmt, and hmt really evicted and faulted in (so the
# equality is not a pass-through's) without exceeding the budget.
. "$(dirname "$0")/common.sh"
baseline --tokens 24 >"$T/base" || fail "baseline failed"
hmtrun --hbm-limit 16M --stats "$T/stats.json" -- --tokens 24 >"$T/hmt" 2>"$T/err" ||
    fail "hmt run failed: $(tail -n 5 "$T/err") $(tail -n 3 "$T/hmt")"
same_output "$T/base" "$T/hmt" "real mode, 16M budget"
gt "$(stat_of "$T/stats.json" evictions)" 0 || fail "no evictions under a 16M budget"
gt "$(stat_of "$T/stats.json" faults)" 0 || fail "no faults under a 16M budget"
le "$(stat_of "$T/stats.json" peak_resident_bytes)" 16777216 ||
    fail "peak_resident_bytes above the 16M budget"
exit 0
