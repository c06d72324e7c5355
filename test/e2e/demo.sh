# e2e_demo: `hmt demo` (analyze, then the four runs) finishes, prints the A/B table with a
# verdict per configuration (a difference within the run-to-run spread called noise),
# finds text and logits hash identical across the real runs and the emulated one, and
# keeps the hints in --dir.
. "$(dirname "$0")/common.sh"
"$E2E_HMT" demo --tokens 16 --runs 2 --dir "$T/demo" --json "$T/demo.json" >"$T/out" 2>&1 ||
    fail "hmt demo failed: $(tail -n 20 "$T/out")"
grep -q 'across the real runs (1, 3, 4): IDENTICAL' "$T/out" || fail "real runs not identical"
grep -q 'emulated run (2) against run 1: identical' "$T/out" || fail "emulated run differs"
[ "$(grep -c -e 'within noise (generations vary' -e 'run-to-run spread)$' "$T/out")" -eq 3 ] ||
    fail "expected a verdict with the spread for runs 2-4: $(grep against "$T/out")"
grep -q "hints kept in $T/demo/tier_hints.json" "$T/out" || fail "--dir: hints location not said"
[ -s "$T/demo/tier_hints.json" ] || fail "--dir: hints not kept"
"$E2E_JSON" bench "$T/demo.json" || fail "demo JSON numbers do not add up"
exit 0
