#!/usr/bin/env bash
# services/memory/native -> build/Release/malloc_trim.node (N-API addon: malloc_trim(3)), built from
# source like the media relay. Idempotent: rebuilds only when a source is newer than its output.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
addon=services/memory/native/build/Release/malloc_trim.node
if [ ! -f "$addon" ] || [ -n "$(find services/memory/native -maxdepth 1 \( -name "*.c" -o -name "*.cc" -o -name binding.gyp \) -newer "$addon")" ]; then
  nodedir=$(dirname "$(dirname "$(command -v node)")")
  [ -f "$nodedir/include/node/node_api.h" ] || nodedir=/usr
  (cd services/memory/native && "$root/node_modules/.bin/node-gyp" rebuild --nodedir="$nodedir" --loglevel=warn >/dev/null)
  echo "built $addon"
fi
