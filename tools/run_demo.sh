#!/usr/bin/env bash
# Installs what is missing, builds `ra` and runs the demo; arguments go to `ra demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target ra >/dev/null
exec build/tools/ra demo "$@"
