/**
 * The relay core under libFuzzer with AddressSanitizer and UBSan (build/media/relay-fuzz, built
 * from source by scripts/build.d/10-media-native.sh): malformed RTP and RTCP, truncated and
 * oversize datagrams, SDP and route changes in any order. A bounded run from the committed seed
 * corpus (services/media/native/fuzz-corpus); any crash, leak or undefined behaviour fails it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = (() => {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) d = dirname(d);
  return d;
})();
const FUZZER = join(ROOT, 'build/media/relay-fuzz');
const SEEDS = join(ROOT, 'services/media/native/fuzz-corpus');
/** Seconds of fuzzing: bounded so the suite stays small; PBX_FUZZ_SECONDS for a longer run. */
const SECONDS = Math.max(1, Math.min(3600, Number(process.env.PBX_FUZZ_SECONDS ?? 20)));

test('relay core: libFuzzer + ASan over malformed RTP/RTCP finds no crash', () => {
  assert.ok(existsSync(FUZZER), `${FUZZER} missing: scripts/build.d/10-media-native.sh builds it (clang, libclang-rt-14-dev)`);
  const seeds = readdirSync(SEEDS);
  assert.ok(seeds.length >= 5, 'the seed corpus is committed');
  const work = mkdtempSync(join(tmpdir(), 'relay-fuzz-'));
  try {
    const corpus = join(work, 'corpus');
    cpSync(SEEDS, corpus, { recursive: true });
    const r = spawnSync(
      FUZZER,
      [`-max_total_time=${SECONDS}`, '-timeout=10', '-rss_limit_mb=1024', '-print_final_stats=1', `-artifact_prefix=${work}/`, corpus],
      { encoding: 'utf8', timeout: (SECONDS + 60) * 1000, env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0' } },
    );
    const out = `${r.stdout}\n${r.stderr}`;
    const runs = /stat::number_of_executed_units:\s*(\d+)/.exec(out);
    const crashes = readdirSync(work).filter((f) => /^(crash|leak|timeout|oom)-/.test(f));
    assert.deepEqual(crashes, [], `fuzzer artifacts: ${crashes.join(', ')}\n${out.slice(-3000)}`);
    assert.equal(r.status, 0, `fuzzer exit ${r.status} ${r.signal ?? ''}\n${out.slice(-3000)}`);
    assert.ok(runs && Number(runs[1]) > seeds.length, `the fuzzer ran beyond its seeds: ${runs?.[1]}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
