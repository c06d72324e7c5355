# e2e_run_hints: the analyzer's hints for the real checkpoint, given to `hmt run` in real
# mode with the weights sub-allocated from 20 MiB segments (PyTorch's caching allocator)
# under a 24 MiB budget: same text and hash as without hmt, tensors named by the hints,
# and evictions happened. (Without tags, every launch touching the segment needs all of its 20 MiB.)
# Then again with the weights cast to bf16 on the host before upload (hints carry bf16
# fingerprints for that).
. "$(dirname "$0")/common.sh"
"$E2E_HMT" analyze -o "$T/hints.json" "$E2E_CKPT" >"$T/analyze" 2>&1 ||
    fail "hmt analyze failed: $(tail -n 3 "$T/analyze")"
baseline --tokens 24 --segments >"$T/base" || fail "baseline failed"
hmtrun --hints "$T/hints.json" --hbm-limit 24M --stats "$T/stats.json" -- --tokens 24 \
    --segments >"$T/hmt" 2>"$T/err" ||
    fail "hmt run failed: $(tail -n 5 "$T/err") $(tail -n 3 "$T/hmt")"
same_output "$T/base" "$T/hmt" "real mode, hints, segments, 24M budget"
gt "$(stat_of "$T/stats.json" tagged_tensors)" 0 || fail "no tensor tagged by the hints"
gt "$(stat_of "$T/stats.json" evictions)" 0 || fail "no evictions under a 24M budget"

baseline --tokens 24 --segments --dtype bf16 >"$T/base16" || fail "bf16 baseline failed"
hmtrun --hints "$T/hints.json" --hbm-limit 24M --stats "$T/stats16.json" -- --tokens 24 \
    --segments --dtype bf16 >"$T/hmt16" 2>"$T/err" ||
    fail "bf16 hmt run failed: $(tail -n 5 "$T/err") $(tail -n 3 "$T/hmt16")"
same_output "$T/base16" "$T/hmt16" "bf16 weights, hints, segments, 24M budget"
gt "$(stat_of "$T/stats16.json" tagged_tensors)" 0 || fail "no bf16 tensor tagged by the hints"
exit 0
