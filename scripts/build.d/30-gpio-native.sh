#!/usr/bin/env bash
# GPIO character device addon (device/gpio/native -> build/Release/gpio_chardev.node), built from
# source with node-gyp against the local Node headers. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
addon=device/gpio/native/build/Release/gpio_chardev.node
if [ ! -f "$addon" ] || [ -n "$(find device/gpio/native -maxdepth 1 \( -name '*.c' -o -name binding.gyp \) -newer "$addon")" ]; then
  nodedir=$(dirname "$(dirname "$(command -v node)")")
  [ -f "$nodedir/include/node/node_api.h" ] || nodedir=/usr
  (cd device/gpio/native && "$root/node_modules/.bin/node-gyp" rebuild --nodedir="$nodedir" --loglevel=warn >/dev/null)
  echo "built $addon"
fi
