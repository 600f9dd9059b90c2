#!/usr/bin/env bash
# Installs what is missing, checks that git sees every source file, builds (Release, CUDA when
# nvcc is found) and runs every test; then builds again with AddressSanitizer +
# UndefinedBehaviorSanitizer and runs the fast tests, with ThreadSanitizer and runs the
# concurrent paths (label tsan), and with clang + libFuzzer and fuzzes every file reader and the
# index loader for FUZZ_SECONDS each (default 20); last, installs the Python package
# (pip install .) and runs its tests against the ra program built first.
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

cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRA_SANITIZE=thread -DRA_CUDA=OFF \
      -DRA_BUILD_BENCH=OFF
cmake --build build-tsan -j"$jobs" --target concurrency_test
TSAN_OPTIONS="halt_on_error=1 suppressions=$PWD/tests/tsan.supp" \
  ctest --test-dir build-tsan -j1 --output-on-failure -L tsan

tools/run_fuzz.sh "${FUZZ_SECONDS:-20}"

python3 -m pip install -q --disable-pip-version-check pytest numpy
python3 -m pip install -q --disable-pip-version-check .
RA_BIN="$PWD/build/tools/ra" python3 -m pytest -q tests/python
