import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detectTones } from '../../media/dsp/goertzel.js';
import { powerToDbm0 } from '../../media/dsp/levels.js';
import { loadPrompt } from '../../media/prompts/prompts.js';
import { mixInto, Player } from './player.js';

function render(player: Player, maxFrames = 1000): Int16Array {
  const frames: Int16Array[] = [];
  const f = new Int16Array(160);
  while (frames.length < maxFrames && player.nextFrame(f)) frames.push(f.slice());
  const out = new Int16Array(frames.length * 160);
  frames.forEach((x, i) => out.set(x, i * 160));
  return out;
}

test('plays prompt, silence and a cadenced tone in order, then is idle', async () => {
  const player = new Player();
  const prompt = loadPrompt('conf.muted', 'fr');
  player.play({ kind: 'prompt', id: 'conf.muted', language: 'fr' }, { kind: 'silence', ms: 200 }, { kind: 'tone', country: 'GB', tone: 'busy', ms: 1500 });
  const idle = player.whenIdle();
  const pcm = render(player);
  await idle;
  assert.ok(player.idle);
  const promptFrames = Math.ceil(prompt.length / 160);
  assert.equal(pcm.length, (promptFrames + 10 + 75) * 160);
  assert.deepEqual(pcm.subarray(0, prompt.length), prompt, 'the prompt sample for sample');
  const silenceAt = promptFrames * 160;
  assert.ok(pcm.subarray(silenceAt, silenceAt + 1600).every((v) => v === 0), 'silence');
  // GB busy: 400 Hz, 375 ms on / 375 ms off.
  const tone = pcm.subarray(silenceAt + 1600);
  const on = powerToDbm0(detectTones(tone.subarray(200, 2800), [400])[0] as number);
  const off = powerToDbm0(detectTones(tone.subarray(3200, 5800), [400])[0] as number);
  assert.ok(on > -20, `busy tone on: ${on.toFixed(1)} dBm0`);
  assert.ok(off < -60, `busy tone off: ${off.toFixed(1)} dBm0`);
});

test('clear() stops at once; an unknown prompt id throws before queueing', () => {
  const player = new Player();
  player.play({ kind: 'silence', ms: 1000 });
  player.clear();
  assert.equal(player.nextFrame(new Int16Array(160)), false);
  assert.throws(() => player.play({ kind: 'prompt', id: 'nope' as 'conf.muted', language: 'en' }));
  assert.ok(player.idle);
});

test('mixInto saturates', () => {
  const a = Int16Array.from([30000, -30000, 5]);
  mixInto(a, Int16Array.from([10000, -10000, 5]));
  assert.deepEqual([...a], [32767, -32768, 10]);
});
