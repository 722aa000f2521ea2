/**
 * A test that cannot run here skips on a developer's machine and fails under CI: proven by running
 * a real test file that calls skipOrFail in a child `node --test`, with and without CI=true.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const environment = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), 'environment.js')).href;

function runChild(ci: string | undefined): { status: number | null; output: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'env-test-'));
  try {
    const file = path.join(dir, 'child.test.mjs');
    fs.writeFileSync(
      file,
      `import { test } from 'node:test';\nimport { skipOrFail } from ${JSON.stringify(environment)};\n` +
        `test('needs a thing', (t) => { skipOrFail(t, 'no such thing here'); });\n`,
    );
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.CI;
    delete env.NODE_TEST_CONTEXT; // else the child thinks it runs inside this test runner
    if (ci !== undefined) env.CI = ci;
    const r = spawnSync(process.execPath, ['--test', file], { env, encoding: 'utf8', timeout: 30_000 });
    return { status: r.status, output: r.stdout + r.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('outside CI a missing prerequisite skips the test', () => {
  const r = runChild(undefined);
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /# skipped 1/);
});

test('under CI=true the same test fails loudly, naming what is missing', () => {
  const r = runChild('true');
  assert.notEqual(r.status, 0, r.output);
  assert.match(r.output, /# fail 1/);
  assert.match(r.output, /forbids skipping: no such thing here/);
});
