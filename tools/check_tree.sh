#!/usr/bin/env bash
# Fails when a file under a source folder is hidden from git by an ignore rule: a clean clone
# (CI, a user) would lack it, and tools that read the tree would skip it as generated.
set -euo pipefail
cd "$(dirname "$0")/.."
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || { echo "check_tree: not a git checkout, skipped"; exit 0; }
folders=(simd index attention gpu tools bench tests cmake .ci)
hidden=$( { git ls-files --others --ignored --exclude-standard -- "${folders[@]}";
            git ls-files --cached --ignored --exclude-standard -- "${folders[@]}"; } | sort -u)
if [ -n "$hidden" ]; then
  echo "check_tree: files under source folders match an ignore rule (a clean clone lacks them):" >&2
  echo "$hidden" >&2
  exit 1
fi
echo "check_tree: no source file is hidden by an ignore rule"
