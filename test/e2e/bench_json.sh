# e2e_bench_json: `hmt bench --json` on the GPT-2 workload (2 measured runs per
# configuration, 8 tokens each) writes JSON that parses, whose summary numbers are what its
# raw latencies give (e2e_json bench recomputes them), with 16 tokens per configuration and
# the same output with and without hmt.
. "$(dirname "$0")/common.sh"
"$E2E_HMT" bench --iterations 2 --warmup 0 --json "$T/bench.json" --device sim \
    --hbm-limit 16M -- "$E2E_GPT2" "$E2E_CKPT" --tokens 8 >"$T/out" 2>"$T/err" ||
    fail "hmt bench failed: $(tail -n 5 "$T/err")"
"$E2E_JSON" bench "$T/bench.json" || fail "bench JSON numbers do not add up"
grep -q '"same_output_as_baseline":[[:space:]]*true' "$T/bench.json" ||
    fail "bench says the output differed with hmt"
[ "$(grep -c '"tokens":[[:space:]]*16' "$T/bench.json")" -eq 2 ] ||
    fail "expected 16 tokens in each configuration"
grep -q 'throughput' "$T/out" || fail "no A/B table printed"
exit 0
