#!/usr/bin/env bash
# Media engine native part, built from source (no prebuilt downloads):
#  - services/media/native -> build/Release/media_relay.node (N-API addon: the RTP relay thread)
#  - bench/media/loadgen.c -> build/media/loadgen (the benchmark's RTP load generator)
#  - services/media/native/fuzz_core.c + relay_core.c -> build/media/relay-fuzz (libFuzzer + ASan/UBSan
#    harness of the relay core, run bounded by services/media/native/fuzz.test.ts)
# Idempotent: rebuilds only when a source is newer than its output.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
addon=services/media/native/build/Release/media_relay.node
if [ ! -f "$addon" ] || [ -n "$(find services/media/native -maxdepth 1 \( -name '*.c' -o -name '*.h' -o -name binding.gyp \) -newer "$addon")" ]; then
  # The Debian nodejs ships its headers in /usr/include/node: point node-gyp there instead of downloading.
  nodedir=$(dirname "$(dirname "$(command -v node)")")
  [ -f "$nodedir/include/node/node_api.h" ] || nodedir=/usr
  (cd services/media/native && "$root/node_modules/.bin/node-gyp" rebuild --nodedir="$nodedir" --loglevel=warn >/dev/null)
  echo "built $addon"
fi
mkdir -p build/media
gen=build/media/loadgen
if [ ! -x "$gen" ] || [ bench/media/loadgen.c -nt "$gen" ]; then
  cc -O2 -Wall -Wextra -o "$gen" bench/media/loadgen.c -lm
  echo "built $gen"
fi
fuzz=build/media/relay-fuzz
if [ ! -x "$fuzz" ] || [ -n "$(find services/media/native -maxdepth 1 \( -name '*.c' -o -name '*.h' \) -newer "$fuzz")" ]; then
  # clang's libFuzzer (Debian: clang + libclang-rt-14-dev); the relay core alone, no N-API in it.
  cc_fuzz=$(command -v clang || command -v clang-14 || true)
  [ -n "$cc_fuzz" ] || { echo "clang not found: apt-get install clang libclang-rt-14-dev (make deps)" >&2; exit 1; }
  "$cc_fuzz" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Wall -Wextra \
    -Wno-unused-parameter -Wno-missing-field-initializers -o "$fuzz" \
    services/media/native/fuzz_core.c services/media/native/relay_core.c -lpthread
  echo "built $fuzz"
fi
