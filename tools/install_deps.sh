#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages the build needs, only those that are missing.
# The CUDA toolkit (nvcc, cuBLAS) is optional: when present, gpu/ is built too. hnswlib and
# faiss are the MIPS benchmark's peers, OpenBLAS the kernel benchmark's reference; clang with
# its runtimes builds the fuzz targets.
set -euo pipefail
packages=(cmake make g++ libxsimd-dev libtbb-dev libgtest-dev libbenchmark-dev
          nlohmann-json3-dev libcli11-dev libhnswlib-dev libfaiss-dev libopenblas-dev
          clang libclang-rt-14-dev libomp-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing: ${missing[*]}" >&2
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
