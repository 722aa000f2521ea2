// pm2 process model of the appliance (`pm2-runtime image/ecosystem.config.cjs`, started by
// scripts/run.sh in simulation and by the systemd unit on the image). One app per process of
// docs/architecture.md; each reads its settings from the environment (PBX_*) and the data dir.
// pm2 hands the apps its own environment, so PBX_* set by the caller reach them unchanged.
'use strict';
const path = require('node:path');

const root = path.resolve(__dirname, '..');
// The same data dir the apps read (scripts/run.sh and the systemd unit export it).
const dataDir = path.resolve(process.env.PBX_DATA_DIR || path.join(root, 'var'));
const logs = path.join(dataDir, 'logs');

// The supervisor never gives up (docs/operations.md): a crashing app is restarted forever, after a
// delay that grows from 200 ms by 1.5x per quick crash up to pm2's cap of 15 s, and falls back to
// 200 ms once the app has stayed up 30 s. pm2 stops restarting after `max_restarts` crashes that
// each lived less than `min_uptime`: set out of reach. pm2-runtime itself must run with
// --no-auto-exit, or it exits when no app is online for 6 s, which a 15 s backoff always is.
const supervision = {
  autorestart: true,
  min_uptime: 10000,
  max_restarts: 1e9,
  exp_backoff_restart_delay: 200,
};

// What every Node app of the appliance shares (a new app spreads `...nodeApp` and adds its own
// node_args/env; measured in docs/performance.md "Footprint", chosen in docs/decisions.md):
// - pmx: false: pm2 otherwise loads its monitoring agent (@pm2/io's bpm module) into every app;
// - disable_source_map_support: pm2 otherwise turns source maps on in every app, and Node then reads
//   and keeps the .js.map of each module it loads (~2 MB of heap in the pbx); stack traces name the
//   dist/*.js line, which the .map beside it translates when needed;
// - glibc: two malloc arenas instead of 8 per core, a fixed trim threshold (freed heap tops go back
//   at once) and large blocks mmap'ed, so freed memory leaves the process.
const glibc = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_TRIM_THRESHOLD_: '131072',
  MALLOC_MMAP_THRESHOLD_: '131072',
};
const nodeApp = {
  cwd: root,
  exec_mode: 'fork',
  instances: 1,
  pmx: false,
  disable_source_map_support: true,
  ...supervision,
};
// Node flags for an app that carries no flood (web, analog, sync): a 1 MB young generation (16 MB by
// default) and a 64 MB old generation, and no V8 worker threads (--single-threaded: their GC helpers
// and compiler jobs run on the main thread; 2-3 MB less each, no measurable CPU cost at these heap
// sizes, docs/performance.md "Footprint"). The pbx sizes its own for floods (below).
const smallNodeArgs = ['--max-semi-space-size=1', '--max-old-space-size=64', '--single-threaded'];
// The web UI also runs without the optimizing compilers (--lite-mode): its JS is a small part of a
// request (TLS and HTTP parsing are native: ~1 ms of CPU a request either way, measured) and it
// saves 4-10 MB. Not for the analog gateway: its in-call DSP (G.711, DTMF, fax and call-progress
// tones) costs 8-10x more CPU interpreted (40 -> 330-425 us a 20 ms frame).
const webNodeArgs = [...smallNodeArgs, '--lite-mode'];

// Apps that carry no flood (web, the device side, later sync): the shared settings, small node
// flags, their own rotated log in <dataDir>/logs (written by the app), stderr kept in a file.
function smallApp(name, script, extra) {
  return {
    name,
    script: path.join(root, script),
    ...nodeApp,
    kill_timeout: 3000,
    out_file: '/dev/null',
    error_file: path.join(logs, `${name}.stderr.log`),
    merge_logs: true,
    time: false,
    node_args: smallNodeArgs,
    env: { NODE_ENV: 'production', ...glibc },
    ...extra,
  };
}

// In simulation (scripts/run.sh sets PBX_SIM_BOARD=1) the virtual analog board stands in for the
// hardware: a socat pty pair at <dataDir>/sim/ttyACM0, a phone on each FXS port, a central office on
// FXO (docs/serial-protocol.md, pbxctl sim). The front panel runs everywhere (GPIO or its simulated chip),
// inside the analog app.
const simBoard = process.env.PBX_SIM_BOARD === '1';

module.exports = {
  // For the apps other files add (they require this file): the shared parts above.
  nodeApp,
  smallNodeArgs,
  glibc,
  apps: [
    {
      name: 'pbx',
      script: path.join(root, 'dist/app/pbx/main.js'),
      ...nodeApp,
      // Time between SIGINT and SIGKILL on stop: enough to close sockets and the database.
      kill_timeout: 5000,
      // The supervisor starts the apps one at a time (image/supervisor.cjs) and the next only once
      // the pbx says it answers SIP (process.send('ready')), or after listen_timeout: on two cores
      // the other apps' start would otherwise take half the CPU from the pbx's (docs/performance.md
      // "Start-up").
      wait_ready: true,
      listen_timeout: 15000,
      // The app writes its own rotated JSON log (<dataDir>/logs/pbx.log) and, unless PBX_LOG_STDOUT=0,
      // the same lines to stdout, which pm2-runtime forwards (terminal, journal): a third copy would
      // only wear the flash. stderr is kept in a file: what bypasses the logger (a V8 fatal error, a
      // native abort) lands there; the pbx trims it at start (services/pbx/stderr-file.ts).
      out_file: '/dev/null',
      error_file: path.join(logs, 'pbx.stderr.log'),
      merge_logs: true,
      time: false,
      // Memory sized for the box (docs/decisions.md, measured in docs/performance.md "Memory soak"):
      // a 4 MB young generation (16 MB by default) and a 128 MB old generation keep a flood's garbage
      // small; --expose-gc lets the pbx collect once when a flood ends (services/memory/compact.ts).
      node_args: ['--max-semi-space-size=4', '--max-old-space-size=128', '--expose-gc'],
      env: {
        NODE_ENV: 'production',
        ...glibc,
      },
    },
    // The admin and end-user portals and the REST API (services/web/, docs/web-ui.md). It holds no
    // call: restarting it drops nothing; it reaches the pbx through SQLite and the control socket.
    smallApp('web', 'dist/app/web/main.js', { node_args: webNodeArgs }),
    ...(simBoard ? [smallApp('board-sim', 'dist/device/sim/main.js')] : []),
    // The analog gateway (device/gateway/main.ts): FXS ports as SIP phones, FXO as a trunk. Its own
    // process, so its crash or restart drops no call between desk phones. The front panel (LEDs,
    // reset button) runs inside it: a Node process costs ~40 MB of RSS before it does anything, the
    // panel itself ~1 MB there (docs/decisions.md); device/gpio/main.ts runs it alone if needed.
    smallApp('analog', 'dist/app/analog/main.js'),
  ],
};
