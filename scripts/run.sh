#!/usr/bin/env bash
# `make run`: the appliance in the foreground under pm2-runtime (simulation mode by default).
# Ctrl-C (SIGINT) stops pm2-runtime, which stops every app with SIGINT and waits for it.
set -euo pipefail
cd "$(dirname "$0")/.."

export PBX_DATA_DIR="$(realpath -m "${PBX_DATA_DIR:-./var}")"
mkdir -p "$PBX_DATA_DIR/logs"
# pm2 keeps its own state (pid files, logs, the daemon socket) here, never in ~/.pm2.
export PM2_HOME="$PBX_DATA_DIR/pm2"

# The resolved configuration (defaults < config.json < PBX_*), checked before pm2 starts: a bad
# value is one clear message now rather than ten crash-restarts under pm2. One node process prints
# the banner and, on its last line, whether simulation mode brings the virtual analog board
# (image/ecosystem.config.cjs, app board-sim): every node start costs ~0.1-0.2 s of CPU on the
# start path (docs/performance.md, "Start-up").
banner="$(node --input-type=module -e '
  const { loadConfig } = await import("./dist/services/config.js");
  let c;
  try { c = loadConfig(); } catch (e) { console.error("configuration error: " + e.message); process.exit(2); }
  console.log([
    `Starting the PBX appliance (simulation: ${c.simulation ? "yes" : "no"})`,
    `  data dir   ${c.dataDir}   (pm2 home: ${process.env.PM2_HOME})`,
    `  SIP        udp/tcp ${c.bind}:${c.sip.port}  tls ${c.bind}:${c.sip.tlsPort}  ws ${c.bind}:${c.sip.wsPort}  wss ${c.bind}:${c.sip.wssPort}`,
    `  web UI     https://${c.bind === "0.0.0.0" ? "<the box address>" : c.bind}:${c.httpPort}/  (log in as admin with the password printed below at first start)`,
    "Ctrl-C stops everything.",
    c.simulation ? "1" : "0",
  ].join("\n"));
')" || exit 2
PBX_SIM_BOARD="${banner##*$'\n'}"
printf '%s\n' "${banner%$'\n'*}"
export PBX_SIM_BOARD
if [ "$PBX_SIM_BOARD" = 1 ]; then
  echo "  analog     virtual board on $PBX_DATA_DIR/sim/ttyACM0 (pbxctl sim status)"
fi

# exec: the supervisor (pm2-runtime, run lean by image/supervisor.cjs) receives the terminal's
# SIGINT directly (npx would leave orphans).
# --no-auto-exit: pm2-runtime would otherwise exit when no app has been online for 6 s, which is
# exactly what a crash loop under backoff looks like (image/ecosystem.config.cjs).
exec image/supervisor.cjs start --no-auto-exit image/ecosystem.config.cjs
