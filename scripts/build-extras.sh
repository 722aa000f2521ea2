#!/usr/bin/env bash
# Build steps after `tsc`: each subsystem that needs one adds an executable script to
# scripts/build.d/ (native addon, prompts ...). They run in name order and must be idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
for step in scripts/build.d/*.sh; do
  bash "$step"
done
