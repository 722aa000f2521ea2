/**
 * A voicemail message put in a box the way the pbx stores one (services/voicemail/storage.ts: the
 * recorder's temporary file, fsync, rename, then the row), with a generated tone as its audio: for
 * tests of what reads boxes (the web UI, pbxctl) without a call.
 */
import { createLogger } from '../../services/log.js';
import type { Store } from '../../services/store/index.js';
import type { VoicemailMessage } from '../../services/store/voicemail.js';
import { VoicemailStorage } from '../../services/voicemail/storage.js';

export interface ToneMessage {
  seconds?: number;
  /** Hz of the tone (default 1000). */
  freq?: number;
  caller?: string;
  callerName?: string;
  receivedAt?: number;
}

export async function leaveToneMessage(dataDir: string, store: Pick<Store, 'voicemail'>, box: string, m: ToneMessage = {}): Promise<VoicemailMessage> {
  const storage = new VoicemailStorage(dataDir, store.voicemail, createLogger('test-voicemail', 'silent'));
  const seconds = m.seconds ?? 2;
  const freq = m.freq ?? 1000;
  const recorder = await storage.startMessage(box, seconds + 1);
  const frame = new Int16Array(160);
  for (let n = 0; n < seconds * 50; n++) {
    for (let i = 0; i < frame.length; i++) frame[i] = Math.round(8000 * Math.sin((2 * Math.PI * freq * (n * 160 + i)) / 8000));
    recorder.write(frame);
  }
  return storage.commit(recorder, {
    box,
    caller: m.caller ?? '102',
    callerName: m.callerName ?? 'Bob',
    receivedAt: m.receivedAt ?? Date.now(),
    reason: 'unavailable',
  });
}
