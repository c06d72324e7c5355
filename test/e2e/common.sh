# common.sh — sourced by the e2e shell tests. CMake passes the pieces in the environment:
#   E2E_HMT (hmt), E2E_GPT2 (hmt-gpt2), E2E_SIMDIR (folder of the sim's libcuda.so.1),
#   E2E_CKPT (the real nanogpt-small checkpoint), E2E_JSON (e2e_json helper).
# Every run is on the simulated device, so results are the host kernels' (golden below).
set -u
: "${E2E_HMT:?} ${E2E_GPT2:?} ${E2E_SIMDIR:?} ${E2E_CKPT:?} ${E2E_JSON:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/hmt-e2e-XXXXXX")
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# hmt-gpt2 on the sim with no hmt at all (nothing preloaded): the reference run.
baseline() { env -u LD_PRELOAD LD_LIBRARY_PATH="$E2E_SIMDIR" "$E2E_GPT2" "$E2E_CKPT" "$@"; }

# hmt-gpt2 under `hmt run` on the sim: hmtrun [hmt run options] -- [hmt-gpt2 options]
hmtrun() {
    _opts=""
    while [ $# -gt 0 ] && [ "$1" != -- ]; do _opts="$_opts $1"; shift; done
    [ $# -gt 0 ] && shift
    # shellcheck disable=SC2086
    "$E2E_HMT" run --device sim $_opts -- "$E2E_GPT2" "$E2E_CKPT" "$@"
}

# The value of "key: value" in an output file.
field() { sed -n "s/^$1: //p" "$2" | head -n 1; }

# A number from an HMT_STATS / HMT_SIM_STATS JSON file; fails the test if absent.
stat_of() {
    "$E2E_JSON" get "$1" "$2" || fail "$2 missing from $1 ($(head -c 300 "$1"))"
}

# Integer comparison of a JSON number (may print as 1.0e+06 style: use awk).
gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

same_output() {   # same_output A B what
    [ "$(field text "$1")" = "$(field text "$2")" ] ||
        fail "$3: text differs: $(field text "$1") vs $(field text "$2")"
    [ -n "$(field logits_xxh64 "$1")" ] || fail "$3: no logits hash in $1"
    [ "$(field logits_xxh64 "$1")" = "$(field logits_xxh64 "$2")" ] ||
        fail "$3: logits hash differs: $(field logits_xxh64 "$1") vs $(field logits_xxh64 "$2")"
}
