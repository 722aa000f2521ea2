#!/usr/bin/env bash
# The whole test suite: node's test runner over the compiled *.test.js files.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find dist -name '*.test.js' -not -path '*/node_modules/*' | sort)
if [ ${#files[@]} -eq 0 ]; then echo "no test files found" >&2; exit 1; fi
exec node --test --test-concurrency=2 --test-timeout=600000 "${files[@]}"
