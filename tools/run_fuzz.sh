#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for SECONDS (default 30)
# from its seed corpus in tests/fuzz/<target>/; new inputs go to build-fuzz/corpus/<target>.
# A crash stops the script with the failing input saved by libFuzzer (crash-*). Longer runs:
#   tools/run_fuzz.sh 3600            or   build-fuzz/tests/fuzz/fuzz_npy build-fuzz/corpus/fuzz_npy
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
CXX=clang++ CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRA_FUZZ=ON -DRA_CUDA=OFF \
      -DRA_BUILD_TESTS=OFF -DRA_BUILD_BENCH=OFF >/dev/null
targets=(fuzz_npy fuzz_fbin fuzz_ibin fuzz_selector fuzz_index_load)
# ra_attention too: the fuzz build is also this project's clang build.
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}" ra_attention
mkdir -p build-fuzz/artifacts
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$t"
  echo "== $t: ${seconds} s"
  log="build-fuzz/$t.log"
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      OMP_NUM_THREADS=1 "build-fuzz/tests/fuzz/$t" -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=10 \
      -artifact_prefix=build-fuzz/artifacts/ -print_final_stats=1 \
      "build-fuzz/corpus/$t" "tests/fuzz/$t" >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "$t found a failure: the input is in build-fuzz/artifacts/"
    exit 1
  fi
  grep -E "DONE|stat::number_of_executed_units" "$log" || true
done
echo "fuzz: every target ran ${seconds} s without a failure"
