/**
 * Bundles each long-running app of the appliance (pbx, web, analog) into one tree of ES modules
 * under dist/app/<name>/, which image/ecosystem.config.cjs starts.
 *
 * Why: V8 keeps the source text of every module it loads (lazy functions are compiled from it when
 * first called), and each module costs a record, a URL and its resolution. Loaded one compiled file
 * at a time, the pbx, web and analog apps kept 28.0, 21.6 and 26.3 MB anonymous; bundled, 21.9,
 * 17.9 and 22.4 MB (docs/performance.md, "Footprint: the fourth pass"). Whitespace and syntax are
 * minified, names kept; a linked .map beside each file leads back to the TypeScript.
 * dist/app/<name>/inputs.json lists the files that went in.
 *
 * The bundles sit three levels below the install root, as the compiled entry files do
 * (dist/services/web/main.js): code that finds the root relative to its own file finds the same.
 * Packages that load a native addon from their own directory (better-sqlite3, serialport) stay in
 * node_modules. Dynamic imports (ws for WebSocket listeners, nodemailer) become chunks loaded on
 * first use, as before.
 *
 * Run by scripts/build.d/40-bundle.sh after tsc; a no-op when the bundles are newer than the
 * compile and the installed modules.
 */
import { build, type BuildOptions } from 'esbuild';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface App {
  name: string;
  entry: string;
}

export const APPS: readonly App[] = [
  { name: 'pbx', entry: 'dist/services/pbx/main.js' },
  { name: 'web', entry: 'dist/services/web/main.js' },
  { name: 'analog', entry: 'dist/device/gateway/main.js' },
];

/** Packages that find their native addon next to their own files. */
const EXTERNAL = ['better-sqlite3', 'serialport', '@serialport/*', 'pm2'];

/** The Worker script wav.ts starts beside itself (`new URL('./decode-worker.js', import.meta.url)`). */
const WORKERS = { 'decode-worker': 'dist/services/media/wav/decode-worker.js' };

/** CommonJS packages inside an ES bundle call require() for Node's modules. */
const REQUIRE_SHIM = "import { createRequire as __pbxCreateRequire } from 'node:module'; const require = __pbxCreateRequire(import.meta.url);";

function mtime(file: string): number {
  return existsSync(file) ? statSync(file).mtimeMs : Number.POSITIVE_INFINITY;
}

export async function bundleApps(root: string, opts: { force?: boolean } = {}): Promise<string[]> {
  const outRoot = path.join(root, 'dist/app');
  const stamp = path.join(outRoot, '.stamp');
  const inputs = [path.join(root, 'dist/.tsc-stamp'), path.join(root, 'package-lock.json')];
  if (!opts.force && existsSync(stamp) && inputs.every((f) => mtime(f) <= statSync(stamp).mtimeMs)) return [];
  const built: string[] = [];
  for (const app of APPS) {
    const outdir = path.join(outRoot, app.name);
    // Overwritten, not emptied first: an app still running from the previous build (make run, then
    // make test) imports its lazy chunks (nodemailer, selfsigned, ws) by their old hashed names.
    mkdirSync(outdir, { recursive: true });
    const options: BuildOptions = {
      absWorkingDir: root,
      entryPoints: { main: app.entry, ...WORKERS },
      outdir,
      bundle: true,
      splitting: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      minifyWhitespace: true,
      minifySyntax: true,
      legalComments: 'external',
      // beside each file, not loaded (pm2 turns source maps off): through tsc's maps, which esbuild
      // follows, a technician maps a logged stack back to the .ts line
      sourcemap: 'linked',
      metafile: true,
      external: EXTERNAL,
      banner: { js: REQUIRE_SHIM },
      logLevel: 'warning',
    };
    const result = await build(options);
    // what went in, for image/no-test-code.test.ts: the bundle must hold no test or bench code
    writeFileSync(path.join(outdir, 'inputs.json'), `${JSON.stringify(Object.keys(result.metafile?.inputs ?? {}).sort(), null, 1)}\n`);
    built.push(path.relative(root, path.join(outdir, 'main.js')));
  }
  writeFileSync(stamp, '');
  return built;
}

const self = fileURLToPath(import.meta.url);
if (process.argv[1] && path.resolve(process.argv[1]) === self) {
  const root = path.resolve(path.dirname(self), '../..');
  try {
    const built = await bundleApps(root, { force: process.argv.includes('--force') });
    console.log(built.length ? `bundled ${built.join(', ')}` : 'bundles up to date');
  } catch (err) {
    console.error(`bundle: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
