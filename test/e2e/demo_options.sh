# e2e_demo_options: `hmt demo` checks its options before running anything (one line, exit
# 2), and a demo without --dir leaves no work folder behind.
. "$(dirname "$0")/common.sh"
mkdir "$T/tmp"
refused() {
    TMPDIR="$T/tmp" "$E2E_HMT" demo "$@" >"$T/out" 2>"$T/err"
    rc=$?
    [ "$rc" -eq 2 ] || fail "demo $*: exit $rc, expected 2 ($(tail -n 3 "$T/err"))"
    [ "$(wc -l <"$T/err")" -eq 1 ] || fail "demo $*: not one line: $(cat "$T/err")"
    [ ! -s "$T/out" ] || fail "demo $*: it started: $(head -n 3 "$T/out")"
}
refused --tokens 0
refused --tokens 100000
refused --tokens 126
refused --tokens x
refused --hbm-limit 1
refused --hbm-limit banana
refused --hbm-limit 200%
refused --runs 0
refused --json /nonexistent/dir/d.json
refused --bogus 1
[ -z "$(ls -A "$T/tmp")" ] || fail "refused demos left files: $(ls "$T/tmp")"

# The smallest whole demo: its temporary work folder is gone afterwards.
TMPDIR="$T/tmp" "$E2E_HMT" demo --tokens 4 --runs 1 >"$T/out" 2>&1 ||
    fail "hmt demo --tokens 4 --runs 1 failed: $(tail -n 10 "$T/out")"
grep -q 'removed at the end' "$T/out" || fail "demo does not say its folder is removed"
[ -z "$(ls -A "$T/tmp")" ] || fail "demo left its work folder: $(ls "$T/tmp")"

# A run that fails (a budget of 0.01% of the device: out of memory) stops the demo with one
# line and its stderr tail, exit 1; the work folder is removed all the same.
TMPDIR="$T/tmp" "$E2E_HMT" demo --tokens 4 --runs 1 --hbm-limit 0.01% >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" -eq 1 ] || fail "demo with a 0.01% budget: exit $rc, expected 1"
grep -q 'stopping' "$T/err" || fail "failed demo: no stop line: $(tail -n 5 "$T/err")"
grep -q 'CUDA_ERROR_OUT_OF_MEMORY' "$T/err" || fail "failed demo: stderr tail missing"
[ -z "$(ls -A "$T/tmp")" ] || fail "failed demo left its work folder: $(ls "$T/tmp")"
exit 0
