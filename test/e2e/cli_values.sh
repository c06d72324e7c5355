# e2e_cli_values: `hmt run` refuses a bad value with one line and exit 2 before running
# anything (libhmt would warn and use its default: the job would run under other settings),
# takes every form libhmt's grammar takes, and checks a {rank} hints path after replacing
# {rank} as libhmt does ($RANK, else $LOCAL_RANK, else 0).
. "$(dirname "$0")/common.sh"
touch "$T/file"
mkdir "$T/ro" && chmod 500 "$T/ro"
refused() {   # refused OPTION VALUE: exit 2, one line naming the option, CMD not run
    rm -f "$T/ran"
    "$E2E_HMT" run --device sim "$1" "$2" -- touch "$T/ran" >"$T/out" 2>"$T/err"
    rc=$?
    [ "$rc" -eq 2 ] || fail "$1 '$2': exit $rc, expected 2 ($(cat "$T/err"))"
    [ ! -e "$T/ran" ] || fail "$1 '$2': the command ran"
    [ "$(wc -l <"$T/err")" -eq 1 ] || fail "$1 '$2': not one line: $(cat "$T/err")"
    grep -q -- "$1" "$T/err" || fail "$1 '$2': message does not name the option: $(cat "$T/err")"
}
taken() {     # taken OPTION VALUE [ENV=V...]: CMD runs
    _o=$1 _v=$2; shift 2
    rm -f "$T/ran"
    env "$@" "$E2E_HMT" run --device sim "$_o" "$_v" -- touch "$T/ran" 2>"$T/err" ||
        fail "$_o '$_v' refused: $(cat "$T/err")"
    [ -e "$T/ran" ] || fail "$_o '$_v': the command did not run"
}
for v in banana 200% 0% -5M 5X 1e3 "" 12M5 %; do refused --hbm-limit "$v"; done
for v in 0 1 4096 512M 1.5G 2GiB 64kb .5M 100% 12.5%; do taken --hbm-limit "$v"; done
for v in banana CPU=5us CPU=5us:0GB/s =5us:6GB/s CPU=5us:64MB/s CPU=-1us:5GB/s ","; do
    refused --tier-spec "$v"
done
for v in CPU=5us:64GB/s CPU=5us:64GB/s,CXL=2us:400GB/s CPU=5:64 SSD=30us:10GBps; do
    taken --tier-spec "$v"
done
refused --nvme-dir /nonexistent/dir
refused --nvme-dir "$T/file"
taken --nvme-dir "$T"
refused --stats /nonexistent/x.json
refused --stats "$T"
taken --stats "$T/stats.json"
taken --stats -
refused --emulate banana
refused --hints "$T/nothere.json"
if [ "$(id -u)" -ne 0 ]; then refused --stats "$T/ro/x.json"; fi

# {rank}: the file of this process's rank must exist; the path reaches libhmt unreplaced.
echo '{}' >"$T/r3.json"
echo '{}' >"$T/r0.json"
taken --hints "$T/r{rank}.json" RANK=3
taken --hints "$T/r{rank}.json" RANK= LOCAL_RANK=3
taken --hints "$T/r{rank}.json" RANK= LOCAL_RANK=
RANK=5 "$E2E_HMT" run --device sim --hints "$T/r{rank}.json" -- true 2>"$T/err" &&
    fail "--hints r{rank}.json with no r5.json was taken"
grep -q "r5.json" "$T/err" || fail "the {rank} message does not name r5.json: $(cat "$T/err")"
got=$(cd "$T" && RANK=3 "$E2E_HMT" run --device sim --hints 'r{rank}.json' -- \
      sh -c 'echo "$HMT_HINTS"' 2>/dev/null) || fail "relative {rank} hints path refused"
[ "$got" = "$T/r{rank}.json" ] || fail "HMT_HINTS is '$got', expected '$T/r{rank}.json'"
exit 0
