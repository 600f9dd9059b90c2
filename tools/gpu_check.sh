#!/usr/bin/env bash
# The checks that need a GPU, as one short script for a machine with an NVIDIA device (sized
# for a few minutes on one H200): installs what is missing, builds with CUDA (sm_90 unless
# CUDA_ARCH says otherwise), runs the gpu-labelled tests, the GPU benchmark, the index build with the
# GPU kNN and a 128K decode with the static set on the GPU, each against its CPU counterpart.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
arch=${CUDA_ARCH:-90}
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DRA_CUDA=ON -DRA_BUILD_BENCH=ON \
      -DRA_PYTHON=OFF -DCMAKE_CUDA_ARCHITECTURES="$arch" > build-gpu.log
cmake --build build-gpu -j"$(nproc)" --target ra gpu_test bench_dense_decode >> build-gpu.log
build-gpu/tools/ra info
status=0
ctest --test-dir build-gpu -L gpu --output-on-failure || status=$?
build-gpu/bench/bench_dense_decode || status=$?
# The index build at 131072 keys x 128 with the GPU kNN against the CPU one, same data, same run.
data=build-gpu/knn_data
[ -f "$data/gt.ibin" ] || build-gpu/tools/ra gen --n 131072 --train-queries 131072 --out "$data" > /dev/null
for knn in gpu exact; do
  echo "== ra build --knn $knn"
  build-gpu/tools/ra build --keys "$data/keys.fbin" --train-queries "$data/train_queries.fbin" \
    --out "$data/$knn.ra" --knn "$knn" 2> /dev/null | grep -E '^build|self-tuning' || status=$?
  build-gpu/tools/ra query --index "$data/$knn.ra" --queries "$data/queries.fbin" --gt "$data/gt.ibin" \
    --k 100 --beam 150 300 2> /dev/null | tail -2 || status=$?
done
# An end-to-end decode step at 128K: the static set on the GPU (CUDA backend) against the CPU one,
# retrieval on the CPU in both, the same generated layer (4 KV x 4 query heads, f16).
for dense in gpu cpu; do
  echo "== ra demo --tokens 131072 --decode 64 --dense $dense"
  build-gpu/tools/ra demo --tokens 131072 --decode 64 --dense "$dense" 2> /dev/null | grep -E '^ *(method|retrieval|static)' \
    || status=$?
done
echo "gpu_check: $([ "$status" = 0 ] && echo PASSED || echo "FAILED ($status)")"
exit "$status"
