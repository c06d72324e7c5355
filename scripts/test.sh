#!/usr/bin/env bash
# The README's test command: install what is missing, build everything, run every test.
#  1. clang build into build-clang/ (the project must build warning-free with both
#     compilers) with the libFuzzer targets on, and a short fuzz run of each parser;
#  2. gcc build into build/ and the whole ctest suite (its summary closes the output).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)

CC=clang CXX=clang++ cmake -S . -B build-clang -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DHMT_FUZZ=ON
cmake --build build-clang -j"$jobs"
ctest --test-dir build-clang --output-on-failure -R fuzz --timeout 300

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs" --timeout 300
