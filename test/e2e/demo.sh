# e2e_demo: `hmt demo` (analyze, then the four runs) finishes, prints the A/B table and
# finds text and logits hash identical across the real runs and the emulated one.
. "$(dirname "$0")/common.sh"
"$E2E_HMT" demo --tokens 16 --dir "$T/demo" --json "$T/demo.json" >"$T/out" 2>&1 ||
    fail "hmt demo failed: $(tail -n 20 "$T/out")"
grep -q 'across the real runs (1, 3, 4): IDENTICAL' "$T/out" || fail "real runs not identical"
grep -q 'emulated run (2) against run 1: identical' "$T/out" || fail "emulated run differs"
"$E2E_JSON" bench "$T/demo.json" || fail "demo JSON numbers do not add up"
exit 0
