// pm2 process model of the appliance (`pm2-runtime image/ecosystem.config.cjs`, started by
// scripts/run.sh in simulation and by the systemd unit on the image). One app per process of
// docs/architecture.md; each reads its settings from the environment (PBX_*) and the data dir.
// pm2 hands the apps its own environment, so PBX_* set by the caller reach them unchanged.
'use strict';
const path = require('node:path');

const root = path.resolve(__dirname, '..');

module.exports = {
  apps: [
    {
      name: 'pbx',
      script: path.join(root, 'dist/services/pbx/main.js'),
      cwd: root,
      exec_mode: 'fork',
      instances: 1,
      autorestart: true,
      // A crash loop (bad config) stops after 10 quick restarts instead of spinning forever.
      min_uptime: 5000,
      max_restarts: 10,
      restart_delay: 1000,
      // Time between SIGINT and SIGKILL on stop: enough to close sockets and the database.
      kill_timeout: 5000,
      // pm2-runtime streams the app's output to its own stdout (the terminal under `make run`, the
      // journal under systemd); a second copy in files would only wear the flash and fill the disk.
      out_file: '/dev/null',
      error_file: '/dev/null',
      merge_logs: true,
      time: false,
      // Memory sized for the box (docs/decisions.md, measured in docs/performance.md "Memory soak"):
      // a 4 MB young generation (16 MB by default) and a 128 MB old generation keep a flood's garbage
      // small; --expose-gc lets the pbx collect once when a flood ends (services/memory/compact.ts).
      node_args: ['--max-semi-space-size=4', '--max-old-space-size=128', '--expose-gc'],
      env: {
        NODE_ENV: 'production',
        // glibc: two malloc arenas instead of 8 per core, a fixed trim threshold (freed heap tops
        // go back at once) and large blocks mmap'ed, so freed memory leaves the process.
        MALLOC_ARENA_MAX: '2',
        MALLOC_TRIM_THRESHOLD_: '131072',
        MALLOC_MMAP_THRESHOLD_: '131072',
      },
    },
  ],
};
