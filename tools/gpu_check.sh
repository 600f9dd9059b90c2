#!/usr/bin/env bash
# The checks that need a GPU, as one short script for a machine with an NVIDIA device (sized
# for a few minutes on one H200): installs what is missing, builds with CUDA (sm_90 unless
# CUDA_ARCH says otherwise), runs the gpu-labelled tests and the GPU benchmark, prints a summary.
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
echo "gpu_check: $([ "$status" = 0 ] && echo PASSED || echo "FAILED ($status)")"
exit "$status"
