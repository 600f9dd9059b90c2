#!/usr/bin/env bash
# Installs what is missing, checks that git sees every source file, builds (Release, CUDA when
# nvcc is found) and runs every test; then builds again with AddressSanitizer +
# UndefinedBehaviorSanitizer and runs the fast tests.
# GPU tests skip when no device is present.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
tools/check_tree.sh
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
ctest --test-dir build -j"$jobs" --output-on-failure

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRA_SANITIZE=ON -DRA_CUDA=OFF \
      -DRA_BUILD_BENCH=OFF
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan -j"$jobs" --output-on-failure -L fast
