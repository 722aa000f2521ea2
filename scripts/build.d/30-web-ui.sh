#!/usr/bin/env bash
# web-ui/app (the browser app, TypeScript with the DOM) -> dist/web-ui/app (ES modules served as
# they are: the UI ships prebuilt, no bundler, no build on the box). Rebuilt when a source is newer.
set -euo pipefail
cd "$(dirname "$0")/../.."
stamp=dist/web-ui/.stamp
if [ ! -f "$stamp" ] || [ -n "$(find web-ui/app web-ui/tsconfig.json -newer "$stamp" -print -quit)" ]; then
  node_modules/.bin/tsc -p web-ui/tsconfig.json
  touch "$stamp"
  echo "built dist/web-ui/app"
fi
