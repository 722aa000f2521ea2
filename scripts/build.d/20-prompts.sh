#!/usr/bin/env bash
# Voice prompts (voicemail, virtual receptionist, conferences) in en/es/fr/sv, spoken by espeak-ng and
# converted by sox to 8 kHz mono 16-bit WAV under services/media/prompts/generated/ (gitignored).
# Idempotent: prompts whose text, voice and pipeline are unchanged are skipped (see generate.ts).
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in espeak-ng sox; do
  command -v "$tool" >/dev/null || { echo "20-prompts: $tool is missing (apt-get install $tool)" >&2; exit 1; }
done
exec node dist/services/media/prompts/generate.js --out services/media/prompts/generated "$@"
