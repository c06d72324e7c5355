# e2e_gpt2_golden: hmt-gpt2 on the sim with the real checkpoint generates what an
# independent float64 Python forward pass of the same weights generates (greedy, 12 tokens
# from "def "), and repeats itself bit for bit: again in one process, and with weights
# sub-allocated from 20 MiB segments.
. "$(dirname "$0")/common.sh"
baseline --tokens 12 >"$T/a" || fail "hmt-gpt2 failed: $(cat "$T/a")"
[ "$(field text "$T/a")" = '"def trerererrere"' ] ||
    fail "text $(field text "$T/a"), the float64 reference gives \"def trerererrere\""
baseline --tokens 12 --iterations 2 --warmup 1 >"$T/b" || fail "iterations run failed"
same_output "$T/a" "$T/b" "repeat in one process"
baseline --tokens 12 --segments >"$T/c" || fail "--segments run failed"
same_output "$T/a" "$T/c" "--segments"
grep -q '(20 MiB segments)' "$T/c" || fail "--segments did not say it used segments"
exit 0
