#!/usr/bin/env bash
# `make bench`: the SIP benchmark (REGISTER with auth and call setup, ours vs Kamailio), then the
# media benchmark when it is built. Each writes its section of docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
node dist/bench/sip/run.js "$@"
if [ -f dist/bench/media/run.js ]; then
  node dist/bench/media/run.js
fi
