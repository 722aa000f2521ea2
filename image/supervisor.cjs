#!/usr/bin/env -S node --jitless --no-expose-wasm --max-semi-space-size=1 --single-threaded
// The appliance's supervisor: pm2-runtime (pm2's daemon in-process, no CLI client, no agent), run
// lean. `make run` (scripts/run.sh) and the systemd unit (image/pbx.service) both start this file,
// with the same arguments as pm2-runtime: `image/supervisor.cjs start --no-auto-exit <ecosystem>`.
//
// Why (docs/decisions.md, figures in docs/performance.md "Footprint"): the supervisor idles at
// ~57 MB RSS as plain pm2-runtime. The node flags of the first line take ~8 MB off: the daemon
// never needs an optimizing compiler (--jitless: bytecode only, no executable heap pages; it has no
// WebAssembly either, said explicitly so V8 does not warn), a 1 MB
// young generation is plenty for its few objects, and --single-threaded drops V8's worker threads.
// Below, modules pm2 loads at start but uses only for features the appliance does not use (file
// watching, YAML config files, `pm2 update`'s version check, PM2 Plus/Docker/module commands) are
// loaded on first use instead: 244 → ~130 modules, ~2 MB of heap.
'use strict';
const Module = require('node:module');

// The apps start one after the other (pm2 starts 2 at once by default): with the pbx first and its
// wait_ready (image/ecosystem.config.cjs), it answers SIP before the others take the CPU. Also one
// at a time on `pm2 restart all` (the panel's reset button). Read by pm2's constants.js, below.
if (!process.env.PM2_CONCURRENT_ACTIONS) process.env.PM2_CONCURRENT_ACTIONS = '1';
const path = require('node:path');

// Each entry is the exact request string in pm2's source (pm2 7.0.x, pinned in package-lock.json).
// A module is still loaded, transparently, the moment pm2 touches it: deferring can cost time, never
// a feature.
const DEFERRED = new Set([
  'chokidar', // lib/Watcher.js: only with `watch: true`
  'js-yaml', // lib/Common.js: only for .yml ecosystem files
  'semver', // lib/VersionCheck.js and module commands
  '@pm2/pm2-version-check', // lib/VersionCheck.js: `pm2 update` hints
  'croner', // lib/Worker.js, lib/Common.js: only with `cron_restart`
  'cli-tableau', // lib/API/UX: the `pm2 list` table
  '../modules/vizion', // lib/God.js: git metadata of an app, on demand
  './VersionCheck.js', // lib/Client.js
  './API/ExtraMgmt/Docker.js', // lib/API.js: `pm2 ecosystem`/docker commands
  './tools/treeify.js', // lib/API.js: `pm2 report`
  './API/UX', // lib/API.js: CLI tables
]);

const pm2Dir = path.dirname(require.resolve('pm2/package.json'));
const load = Module._load;

/** A stand-in that loads the real module on the first access, call or `new`. */
function deferred(load_) {
  let real;
  const get = () => {
    if (real === undefined) real = load_();
    return real;
  };
  return new Proxy(function deferredModule() {}, {
    get: (_, key) => Reflect.get(get(), key),
    set: (_, key, value) => Reflect.set(get(), key, value),
    has: (_, key) => Reflect.has(get(), key),
    apply: (_, self, args) => Reflect.apply(get(), self, args),
    construct: (_, args) => Reflect.construct(get(), args),
  });
}

Module._load = function (request, parent, isMain) {
  if (parent && typeof parent.filename === 'string' && parent.filename.startsWith(pm2Dir + path.sep) && DEFERRED.has(request)) {
    return deferred(() => load.call(this, request, parent, isMain));
  }
  return load.call(this, request, parent, isMain);
};

require(path.join(pm2Dir, 'bin', 'pm2-runtime'));
