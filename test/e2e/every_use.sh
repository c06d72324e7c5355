# e2e_emulated_every_use: HMT_EMULATE=every-use, the seed's model, with the analyzer's hints:
# every launch that touches a tensor hinted CPU or SSD pays that tensor's transfer (here
# 25 ms + bytes at 1 GB/s, so the modeled time, about 3 s, dwarfs process start-up noise),
# nothing is cached (no evictions, no faults), the output is unchanged, and the wall time
# added is the modeled time it reports within 10%.
. "$(dirname "$0")/common.sh"
"$E2E_HMT" analyze -o "$T/hints.json" "$E2E_CKPT" >"$T/analyze" 2>&1 ||
    fail "hmt analyze failed: $(tail -n 3 "$T/analyze")"
now_ns() { date +%s%N; }
t0=$(now_ns)
baseline --tokens 8 >"$T/base" || fail "baseline failed"
t1=$(now_ns)
HMT_TIER_SPEC="CPU=25000us:1GB/s,SSD=25000us:1GB/s" hmtrun --mode emulated --emulate every-use \
    --hints "$T/hints.json" --stats "$T/emu.json" -- --tokens 8 >"$T/emu" 2>"$T/err" ||
    fail "every-use run failed: $(tail -n 5 "$T/err")"
t2=$(now_ns)
same_output "$T/base" "$T/emu" "every-use emulation"
n=$(stat_of "$T/emu.json" emulated_transfers)
modeled=$(stat_of "$T/emu.json" emulated_delay_ns)
gt "$n" 0 || fail "no transfers modeled for CPU/SSD-hinted tensors"
[ "$(stat_of "$T/emu.json" faults)" = 0 ] || fail "every-use faulted chunks in"
added=$(( (t2 - t1) - (t1 - t0) ))
awk -v a="$added" -v m="$modeled" 'BEGIN { d = a - m; if (d < 0) d = -d; exit !(d <= 0.1 * m) }' ||
    fail "every-use added $added ns of wall time; it reports $modeled ns modeled (off by more than 10%)"
echo "every-use: $n transfers, modeled $modeled ns, added $added ns"
exit 0
