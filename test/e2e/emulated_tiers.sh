# e2e_emulated_tiers: where emulated mode's tier speeds come from. A hints file's "tiers"
# array replaces the seed's defaults (here CPU 100 µs + 2 GB/s: each 2 MiB chunk costs
# 100000 + 2097152 / 2 = 1148576 ns); HMT_TIER_SPEC replaces both (CPU=50us:4GB/s: 574288 ns
# per chunk); a malformed HMT_TIER_SPEC entry is said once and ignored (the rest applies).
# Checked on the arithmetic hmt reports (emulated_delay_ns = transfers x cost), not on time.
. "$(dirname "$0")/common.sh"
cat >"$T/hints.json" <<'JSON'
{"format": "hmt-tier-hints", "version": 1,
 "tiers": [{"name": "HBM", "setup_us": 1, "bandwidth_gbps": 800},
           {"name": "CPU", "setup_us": 100, "bandwidth_gbps": 2},
           {"name": "SSD", "setup_us": 30, "bandwidth_gbps": 10}],
 "tensors": []}
JSON
check() {   # check STATS PER_TRANSFER_NS WHAT
    n=$(stat_of "$1" emulated_transfers)
    m=$(stat_of "$1" emulated_delay_ns)
    awk -v n="$n" -v m="$m" -v c="$2" 'BEGIN { exit !(n > 0 && m == n * c) }' ||
        fail "$3: $m ns modeled for $n transfers, expected $n x $2"
}
hmtrun --mode emulated --hints "$T/hints.json" --hbm-limit 16M --stats "$T/a.json" -- \
    --tokens 4 >"$T/a" 2>"$T/a.err" || fail "run with hints tiers failed: $(tail -n 3 "$T/a.err")"
check "$T/a.json" 1148576 "tiers from the hints file"
HMT_TIER_SPEC="CPU=50us:4GB/s,bogus" hmtrun --mode emulated --hints "$T/hints.json" \
    --hbm-limit 16M --stats "$T/b.json" -- --tokens 4 >"$T/b" 2>"$T/b.err" ||
    fail "run with HMT_TIER_SPEC failed: $(tail -n 3 "$T/b.err")"
check "$T/b.json" 574288 "HMT_TIER_SPEC over the hints file"
[ "$(grep -c 'HMT_TIER_SPEC entry "bogus"' "$T/b.err")" = 1 ] ||
    fail "the malformed HMT_TIER_SPEC entry was not reported once: $(cat "$T/b.err")"
exit 0
