#!/bin/sh
# launch_overhead.sh [BUILD_DIR] [iters] [batches] — runs bench/launch_overhead without hmt
# (every way is the driver's: the "added" column is the noise floor) and with libhmt.so
# preloaded (doors 1-3 go through hmt's wrappers), on the sim. Goal: added <= 50 ns per launch.
set -eu
B=${1:-build}
shift || true
BIN=$B/bench/launch_overhead/launch_overhead
K=$B/bench/launch_overhead/liblaunch_overhead_kernels.so
echo "== without hmt"
env -u LD_PRELOAD "$BIN" "$K" "$@"
echo "== with LD_PRELOAD=libhmt.so"
LD_PRELOAD=$B/interpose/libhmt.so "$BIN" "$K" "$@"
