#!/usr/bin/env bash
# services/fax/native -> build/Release/fax_modem.node (N-API addon over spandsp 0.0.6: T.30 over audio
# and T.38 terminal, TIFF-F pages), built from source like the media relay (Debian libspandsp-dev,
# libtiff-dev; node headers from the Debian nodejs, no download).
# Idempotent: rebuilds only when a source is newer than its output.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
addon=services/fax/native/build/Release/fax_modem.node
if [ ! -f "$addon" ] || [ -n "$(find services/fax/native -maxdepth 1 \( -name '*.c' -o -name binding.gyp \) -newer "$addon")" ]; then
  [ -f /usr/include/spandsp/fax.h ] || { echo "spandsp headers not found: apt-get install libspandsp-dev (make deps)" >&2; exit 1; }
  nodedir=$(dirname "$(dirname "$(command -v node)")")
  [ -f "$nodedir/include/node/node_api.h" ] || nodedir=/usr
  (cd services/fax/native && "$root/node_modules/.bin/node-gyp" rebuild --nodedir="$nodedir" --loglevel=warn >/dev/null)
  echo "built $addon"
fi
