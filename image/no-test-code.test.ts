/**
 * The product carries no test code (issue 15, "the house"): no product source imports hw-tests/,
 * bench/ or a *.test file, none uses node:test, and what the appliance image runs (the pm2 apps of
 * image/ecosystem.config.cjs and the package's bin) reaches, through its compiled imports, no test
 * support, no benchmark and no development-only package.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { APPS } from './bundle.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PRODUCT_DIRS = ['services', 'bin', 'device', 'web-ui', 'firmware'];
const TEST_CODE_DIRS = ['hw-tests', 'bench'];

/** Every module specifier of a TS/JS source: static imports and re-exports, import(), require(). */
export function specifiers(source: string): string[] {
  const out: string[] = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?(?:[\w*${}\s,]+?\s+from\s+)?['"]([^'"]+)['"]/g,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) out.push(m[1] as string);
  return out;
}

function walk(dir: string, keep: (file: string) => boolean, out: string[] = []): string[] {
  if (!fs.existsSync(dir)) return out;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'build' || entry.name === 'generated') continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, keep, out);
    else if (keep(full)) out.push(full);
  }
  return out;
}

const isTestFile = (file: string): boolean => /\.test\.(?:ts|js|cjs|mjs)$/.test(file);

/** Why `spec` (imported by `from`) is test code, or null. */
function testCodeReason(from: string, spec: string): string | null {
  if (spec === 'node:test') return 'uses node:test';
  if (!spec.startsWith('.')) return null;
  const target = path.relative(ROOT, path.resolve(path.dirname(from), spec));
  if (TEST_CODE_DIRS.includes(target.split(path.sep)[0] ?? '')) return `imports ${target}`;
  if (/\.test(?:\.[cm]?[jt]s)?$/.test(spec)) return `imports the test file ${target}`;
  return null;
}

test('no product source imports hw-tests/, bench/, a *.test file or node:test', () => {
  const sources = PRODUCT_DIRS.flatMap((d) => walk(path.join(ROOT, d), (f) => /\.(?:ts|js|cjs|mjs)$/.test(f) && !f.endsWith('.d.ts') && !isTestFile(f)));
  assert.ok(sources.length > 50, `found only ${sources.length} product sources under ${PRODUCT_DIRS.join(', ')}`);
  const offences: string[] = [];
  for (const file of sources) {
    for (const spec of specifiers(fs.readFileSync(file, 'utf8'))) {
      const reason = testCodeReason(file, spec);
      if (reason !== null) offences.push(`${path.relative(ROOT, file)} ${reason}`);
    }
  }
  assert.deepEqual(offences, []);
});

test('the checker itself sees an offending import (it can fail)', () => {
  const fake = path.join(ROOT, 'services', 'sip', 'x.ts');
  assert.equal(testCodeReason(fake, '../../hw-tests/support/sip-peer.js'), 'imports hw-tests/support/sip-peer.js');
  assert.equal(testCodeReason(fake, '../../bench/sip/run.js'), 'imports bench/sip/run.js');
  assert.match(testCodeReason(fake, './parser.test.js') ?? '', /test file/);
  assert.equal(testCodeReason(fake, 'node:test'), 'uses node:test');
  assert.equal(testCodeReason(fake, './parser.js'), null);
  assert.deepEqual(specifiers("import { a } from './a.js';\nimport type { B } from \"../b.js\";\nexport * from './c.js';\nconst d = await import('./d.js');\nimport './e.js';"), [
    './a.js',
    '../b.js',
    './c.js',
    './e.js',
    './d.js',
  ]);
});

test('what the appliance image runs (pm2 apps, package bin) reaches no test code and no dev-only package', () => {
  const require = createRequire(import.meta.url);
  const ecosystem = require(path.join(ROOT, 'image', 'ecosystem.config.cjs')) as { apps: { name: string; script: string }[] };
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    bin?: Record<string, string>;
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  const devOnly = Object.keys(pkg.devDependencies ?? {}).filter((d) => !(d in (pkg.dependencies ?? {})));
  const offences: string[] = [];
  // A bundled app (image/bundle.ts): what esbuild put in it, and the compiled tree it was made from.
  const scripts = ecosystem.apps.map((a) => {
    const bundled = APPS.find((b) => a.script === path.join(ROOT, 'dist/app', b.name, 'main.js'));
    if (bundled === undefined) return a.script;
    const inputs = JSON.parse(fs.readFileSync(path.join(ROOT, 'dist/app', bundled.name, 'inputs.json'), 'utf8')) as string[];
    assert.ok(inputs.includes(bundled.entry), `${bundled.name}: ${bundled.entry} is not in its bundle`);
    for (const input of inputs) {
      const parts = input.split('/');
      if (TEST_CODE_DIRS.includes(parts[1] ?? '') || isTestFile(input)) offences.push(`bundle ${bundled.name} holds ${input}`);
      const inPackage = parts[0] === 'node_modules' ? (parts[1]?.startsWith('@') ? `${parts[1]}/${parts[2]}` : parts[1]) : undefined;
      if (inPackage !== undefined && devOnly.includes(inPackage)) offences.push(`bundle ${bundled.name} holds the development package ${input}`);
    }
    return path.join(ROOT, bundled.entry);
  });
  const entries = [...scripts, ...Object.values(pkg.bin ?? {}).map((b) => path.join(ROOT, b))];
  assert.ok(entries.length >= 2);
  const seen = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    assert.ok(fs.existsSync(file), `${path.relative(ROOT, file)} is not built`);
    const rel = path.relative(ROOT, file);
    if (TEST_CODE_DIRS.some((d) => rel.startsWith(`dist${path.sep}${d}${path.sep}`)) || isTestFile(file)) offences.push(`reaches ${rel}`);
    for (const spec of specifiers(fs.readFileSync(file, 'utf8'))) {
      if (spec === 'node:test') offences.push(`${rel} uses node:test`);
      const pkgName = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      if (pkgName !== undefined && devOnly.includes(pkgName)) offences.push(`${rel} imports the development package ${spec}`);
      if (spec.startsWith('.')) queue.push(path.resolve(path.dirname(file), spec));
    }
  }
  // The walk went through the product (the pbx process and pbxctl reach dozens of modules).
  assert.ok(seen.size > 50, `only ${seen.size} modules reached from ${entries.join(', ')}`);
  assert.deepEqual(offences, []);
});
