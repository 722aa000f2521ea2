#!/usr/bin/env bash
# The whole test suite: node's test runner over the compiled *.test.js files whose TypeScript source
# still exists (a test deleted or moved in the sources leaves its old compiled copy in dist/ until
# `make clean`; it must not run).
set -euo pipefail
cd "$(dirname "$0")/.."
files=()
while IFS= read -r compiled; do
  source="${compiled#dist/}"
  [ -f "${source%.js}.ts" ] && files+=("$compiled")
done < <(find dist -name '*.test.js' -not -path '*/node_modules/*' | sort)
if [ ${#files[@]} -eq 0 ]; then echo "no test files found" >&2; exit 1; fi
exec node --test --test-concurrency=2 --test-timeout=600000 --test-force-exit "${files[@]}"
