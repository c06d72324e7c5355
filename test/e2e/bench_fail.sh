# e2e_bench_fail: `hmt bench` stops at the first run that fails or prints no @token line,
# with one line and the command's last stderr lines, exit 1, and no table of NaNs; and it
# refuses an unwritable --json before running anything (exit 2).
. "$(dirname "$0")/common.sh"
stops() {   # stops WHAT PATTERN hmt-bench-args...: exit 1 after one run, PATTERN said
    _what=$1 _pat=$2; shift 2
    "$E2E_HMT" bench --device sim --warmup 2 --iterations 3 "$@" >"$T/out" 2>"$T/err"
    rc=$?
    [ "$rc" -eq 1 ] || fail "$_what: exit $rc, expected 1 ($(tail -n 3 "$T/err"))"
    grep -q "stopping" "$T/err" || fail "$_what: no stop line: $(tail -n 5 "$T/err")"
    grep -q -- "$_pat" "$T/err" || fail "$_what: '$_pat' not said: $(cat "$T/err")"
    ! grep -qi nan "$T/out" || fail "$_what: printed a table: $(cat "$T/out")"
}
stops "false" "exited with status 1" -- false
[ "$(grep -c '^hmt bench: .* run ' "$T/err")" -eq 1 ] || fail "false: more than one run started"
stops "echo" "no '@token" -- /bin/echo hi
stops "a command that is not there" "could not be started" -- "$T/nothere"
# A run under a budget too small for the job: out of memory on the sim (with hmt only),
# its last stderr line is shown.
stops "1M budget" "CUDA_ERROR_OUT_OF_MEMORY" --hbm-limit 1M -- "$E2E_GPT2" "$E2E_CKPT" --tokens 4
grep -q "(hmt real budget 1M)" "$T/err" || fail "OOM stop does not name the configuration"

rm -f "$T/ran"
"$E2E_HMT" bench --device sim --json /nonexistent/dir/b.json -- touch "$T/ran" 2>"$T/err"
rc=$?
[ "$rc" -eq 2 ] || fail "unwritable --json: exit $rc, expected 2"
[ ! -e "$T/ran" ] || fail "unwritable --json: the command ran first"
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "unwritable --json: not one line: $(cat "$T/err")"
exit 0
