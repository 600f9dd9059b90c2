#!/usr/bin/env bash
# Builds, on this machine, what tools/gpu_check.sh runs on a lent GPU machine, whose image has
# CUDA but not this project's Debian packages and no network: Release, CUDA for sm_90 (the
# H200; CUDA_ARCH overrides), without faiss, into build-gpu/carry/{bin,lib}: the programs and
# the shared libraries they need that are not CUDA's or the C library's (6.7 MiB here). Carry
# build-gpu/carry to the device machine; gpu_check.sh finds it there and builds nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${CUDA_ARCH:-90}
mkdir -p build-gpu
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DRA_CUDA=ON -DRA_BUILD_BENCH=ON -DRA_PYTHON=OFF \
      -DCMAKE_CUDA_ARCHITECTURES="$arch" -DCMAKE_DISABLE_FIND_PACKAGE_faiss=ON > build-gpu/build.log
cmake --build build-gpu -j"$(nproc)" --target ra gpu_test bench_dense_decode bench_gpu_knn >> build-gpu/build.log
carry=build-gpu/carry
rm -rf "$carry" && mkdir -p "$carry/bin" "$carry/lib"
programs=(build-gpu/tools/ra build-gpu/tests/gpu_test build-gpu/bench/bench_dense_decode build-gpu/bench/bench_gpu_knn)
cp "${programs[@]}" "$carry/bin/"
# CUDA's own libraries and the C library are the device image's; everything else travels.
ldd "${programs[@]}" | awk '/=> \// {print $3}' | sort -u |
  grep -v -E '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*|libcuda|libcudart|libcublas|libcublasLt)\.so' |
  while read -r lib; do cp -L "$lib" "$carry/lib/"; done
du -sh "$carry"
ls "$carry/lib"
