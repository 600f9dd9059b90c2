#!/usr/bin/env bash
# The checks that need a GPU, as one short script for a machine with an NVIDIA device (sized
# for a few minutes on one H200): the gpu tests, the dense kernel's bandwidth, the kNN against
# cuBLAS's GEMM, the index build with the GPU kNN against the CPU one, and a 128K decode with
# the static set on the GPU against the CPU one; prints one summary line at the end.
# Programs: build-gpu/carry from tools/gpu_prepare.sh when it is there (the device image has
# no Debian packages of this project and no network), else built here (sm_90 unless CUDA_ARCH
# says otherwise, after tools/install_deps.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -x build-gpu/carry/bin/ra ]; then
  bin=build-gpu/carry/bin
  ra=$bin/ra gpu_test=$bin/gpu_test bench_dense=$bin/bench_dense_decode bench_knn=$bin/bench_gpu_knn
  # The carried libraries only where the image has none of that name; all of them if the
  # programs do not start so (an older libstdc++ there).
  libs=$(mktemp -d)
  for f in build-gpu/carry/lib/*; do
    ldconfig -p | grep -q -F "$(basename "$f") (" || cp "$f" "$libs/"
  done
  export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  "$ra" info > /dev/null 2>&1 || export LD_LIBRARY_PATH="$PWD/build-gpu/carry/lib:$LD_LIBRARY_PATH"
else
  set -e
  tools/install_deps.sh
  mkdir -p build-gpu
  cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DRA_CUDA=ON -DRA_BUILD_BENCH=ON -DRA_PYTHON=OFF \
        -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90}" > build-gpu/build.log
  cmake --build build-gpu -j"$(nproc)" --target ra gpu_test bench_dense_decode bench_gpu_knn >> build-gpu/build.log
  set +e
  ra=build-gpu/tools/ra gpu_test=build-gpu/tests/gpu_test
  bench_dense=build-gpu/bench/bench_dense_decode bench_knn=build-gpu/bench/bench_gpu_knn
fi
status=0
"$ra" info || status=$?
"$gpu_test" || status=$?
"$bench_dense" || status=$?
"$bench_knn" || status=$?
# The index build at 131072 keys x 128 with the GPU kNN against the CPU one, same data, same run.
data=$(mktemp -d)
"$ra" gen --n 131072 --train-queries 131072 --out "$data" > /dev/null || status=$?
for knn in gpu exact; do
  echo "== ra build --knn $knn"
  "$ra" build --keys "$data/keys.fbin" --train-queries "$data/train_queries.fbin" \
    --out "$data/$knn.ra" --knn "$knn" 2> /dev/null | grep -E '^build|self-tuning' || status=$?
  "$ra" query --index "$data/$knn.ra" --queries "$data/queries.fbin" --gt "$data/gt.ibin" \
    --k 100 --beam 150 300 2> /dev/null | tail -2 || status=$?
done
# An end-to-end decode step at 128K: the static set on the GPU (CUDA backend) against the CPU
# one, retrieval on the CPU in both, the same generated layer (4 KV x 4 query heads, f16).
for dense in gpu cpu; do
  echo "== ra demo --tokens 131072 --decode 64 --dense $dense"
  "$ra" demo --tokens 131072 --decode 64 --dense "$dense" 2> /dev/null | grep -E '^(Indexes| *method| *retrieval| *static)' \
    || status=$?
done
echo "gpu_check: $([ "$status" = 0 ] && echo PASSED || echo "FAILED ($status)")"
exit "$status"
