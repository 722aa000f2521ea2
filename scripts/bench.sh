#!/usr/bin/env bash
# `make bench`: the SIP benchmark (REGISTER with auth and call setup, ours vs Kamailio), then the
# media relay against rtpengine, then the conference mixer. Each writes its section of docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
node dist/bench/sip/run.js "$@"
node dist/bench/media/run.js
# 10 conference rooms of 10 participants: the mixer's CPU per 20 ms tick.
PERF_DOC=docs/performance.md node dist/bench/conference.js
# Memory: RSS over a 2-minute flood of authenticated REGISTERs and after it (ours and Kamailio, an
# SVG in docs/soak-rss.svg); then the appliance as shipped (every process) under a steady load of
# 100,000 refreshes and 20,000 calls with RTP through the relay.
node dist/bench/soak/run.js --no-steady
node dist/bench/soak/steady.js
# Footprint: the whole appliance idle (every process of the pm2 tree) and the time `make run` takes to be ready.
node dist/bench/footprint/run.js
