# e2e_emulated_time: emulated mode (HMT_MODE=emulated) under a 32 MiB budget, weights in
# 20 MiB segments, with slow modeled tiers (HMT_TIER_SPEC: 10 ms + 1 GB/s, so the modeled time
# dwarfs hmt's own bookkeeping):
#  - makes the same residency decisions as real mode (equal evictions and faults),
#  - moves no bytes yet produces the same text and logits hash as a run without hmt,
#  - models each 2 MiB chunk transfer as exactly 10 ms + 2097152 B / 1 GB/s, and
#  - adds, in wall time, the modeled time it reports within 10%.
. "$(dirname "$0")/common.sh"
now_ns() { date +%s%N; }
spec="CPU=10000us:1GB/s,SSD=10000us:1GB/s"

t0=$(now_ns)
baseline --tokens 8 --segments >"$T/base" || fail "baseline failed"
t1=$(now_ns)
HMT_TIER_SPEC=$spec hmtrun --mode emulated --hbm-limit 32M --stats "$T/emu.json" -- \
    --tokens 8 --segments >"$T/emu" 2>"$T/err" || fail "emulated run failed: $(tail -n 5 "$T/err")"
t2=$(now_ns)
hmtrun --mode real --hbm-limit 32M --stats "$T/real.json" -- --tokens 8 --segments \
    >"$T/real" 2>"$T/err" || fail "real run failed: $(tail -n 5 "$T/err")"

same_output "$T/base" "$T/emu" "emulated mode"
same_output "$T/base" "$T/real" "real mode"
ev=$(stat_of "$T/emu.json" evictions)
gt "$ev" 0 || fail "emulated mode evicted nothing under a 32M budget"
[ "$ev" = "$(stat_of "$T/real.json" evictions)" ] ||
    fail "evictions differ: emulated $ev, real $(stat_of "$T/real.json" evictions)"
[ "$(stat_of "$T/emu.json" faults)" = "$(stat_of "$T/real.json" faults)" ] ||
    fail "faults differ: emulated $(stat_of "$T/emu.json" faults), real $(stat_of "$T/real.json" faults)"
[ "$(stat_of "$T/real.json" emulated_transfers)" = 0 ] || fail "real mode reports emulated transfers"

n=$(stat_of "$T/emu.json" emulated_transfers)
modeled=$(stat_of "$T/emu.json" emulated_delay_ns)
awk -v n="$n" -v m="$modeled" 'BEGIN { exit !(n > 0 && m == n * 12097152) }' ||
    fail "modeled $modeled ns for $n transfers; expected $n x 12097152 (10 ms + 2 MiB at 1 GB/s)"
added=$(( (t2 - t1) - (t1 - t0) ))
awk -v a="$added" -v m="$modeled" 'BEGIN { d = a - m; if (d < 0) d = -d; exit !(d <= 0.1 * m) }' ||
    fail "emulated mode added $added ns of wall time; it reports $modeled ns modeled (off by more than 10%)"
echo "emulated: $n transfers, modeled $modeled ns, added $added ns"
exit 0
