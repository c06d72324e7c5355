# e2e_bench_noise: the A/B verdict says "within noise" when the difference is inside the
# generations' run-to-run spread, and states a difference beyond it. A scripted workload
# speaks the @token protocol with fixed latencies (it knows it runs with hmt by HMT_MODE):
# baseline generations of 1.0 and 1.3 ms (a 26% spread); with hmt 1.1 and 1.25 ms (+2%),
# then 3.0 ms (+161%).
. "$(dirname "$0")/common.sh"
cat >"$T/work.sh" <<'W'
if [ -z "${HMT_MODE:-}" ]; then a=1.0 b=1.3; else a=$W_A b=$W_B; fi
echo "@token iter=0 n=0 id=1 wall_ms=$a"
echo "@token iter=1 n=0 id=1 wall_ms=$b"
echo "text: same"
echo "logits_xxh64: 0123"
W
W_A=1.1 W_B=1.25 "$E2E_HMT" bench --device sim --mode real --warmup 0 --iterations 1 \
    -- sh "$T/work.sh" >"$T/out" 2>"$T/err" || fail "bench failed: $(cat "$T/err")"
grep -q 'within noise' "$T/out" || fail "+2% inside a 26% spread not called noise: $(cat "$T/out")"
W_A=3.0 W_B=3.0 "$E2E_HMT" bench --device sim --mode real --warmup 0 --iterations 1 \
    -- sh "$T/work.sh" >"$T/out" 2>"$T/err" || fail "bench failed: $(cat "$T/err")"
grep -q 'latency higher by .*beyond the' "$T/out" ||
    fail "+161% beyond a 26% spread not stated: $(cat "$T/out")"
! grep -q 'within noise' "$T/out" || fail "+161% called noise: $(cat "$T/out")"
exit 0
