#!/usr/bin/env bash
# The appliance's long-running apps (pbx, web, analog) bundled into dist/app/<name>/ (image/bundle.ts:
# why, and what stays outside); image/ecosystem.config.cjs starts these. Skipped when up to date.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec node dist/image/bundle.js
