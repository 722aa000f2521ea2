/**
 * A voicemail box managed from outside the pbx process (`pbxctl voicemail`, the web UI): finding a
 * box's message, deleting (row first, then the audio: a crash in between leaves an orphan file the
 * pbx's start-up sweep removes), moving between new and old, the box's settings as users change
 * them, and telling the running pbx so the phones' message lamp follows at once (control socket,
 * `voicemail.changed`; the pbx NOTIFYs every phone of the box, RFC 3842).
 */
import fs from 'node:fs';
import path from 'node:path';
import { CtlClient } from '../ctl/client.js';
import type { Store } from '../store/index.js';
import { StoreError } from '../store/types.js';
import type { VoicemailBox, VoicemailFolder, VoicemailMessage } from '../store/voicemail.js';
import type { GreetingKind } from './storage.js';
import { voicemailGreetingPath } from './greeting-upload.js';

export const GREETING_KINDS: readonly GreetingKind[] = ['unavailable', 'busy', 'name'];

export function messageAudioPath(dataDir: string, message: Pick<VoicemailMessage, 'box' | 'file'>): string {
  if (!/^\d{2,6}$/.test(message.box) || path.basename(message.file) !== message.file) throw new RangeError(`bad message location ${message.box}/${message.file}`);
  return path.join(dataDir, 'voicemail', message.box, message.file);
}

/** The message `id` of `box`; another box's message is not found through this one. */
export function findMessage(store: Pick<Store, 'voicemail'>, box: string, id: number): VoicemailMessage | null {
  const message = store.voicemail.get(id);
  return message === null || message.box !== box ? null : message;
}

/** Row first, then the audio. */
export function deleteMessages(store: Pick<Store, 'voicemail'>, dataDir: string, messages: readonly VoicemailMessage[]): number[] {
  const deleted: number[] = [];
  for (const m of messages) {
    if (!store.voicemail.remove(m.id)) continue;
    fs.rmSync(messageAudioPath(dataDir, m), { force: true });
    deleted.push(m.id);
  }
  return deleted;
}

/** New ↔ old (Asterisk's INBOX and Old folders; the web UI says "saved"). True when it changed. */
export function setMessageFolder(store: Pick<Store, 'voicemail'>, message: VoicemailMessage, folder: VoicemailFolder): boolean {
  if (message.folder === folder) return false;
  return store.voicemail.setFolder(message.id, folder);
}

export interface GreetingState {
  unavailable: boolean;
  busy: boolean;
  name: boolean;
}

export function greetingState(dataDir: string, box: string): GreetingState {
  const has = (kind: GreetingKind): boolean => fs.existsSync(voicemailGreetingPath(dataDir, box, kind));
  return { unavailable: has('unavailable'), busy: has('busy'), name: has('name') };
}

/**
 * Where `0` takes a caller leaving a message: an extension, a ring group or a receptionist (the
 * rule of `pbxctl voicemail box|settings --operator`).
 */
export const OPERATOR_DESTINATION = /^(extension|ring-group|receptionist):[A-Za-z0-9_-]{1,32}$/;

/** What may change of a box (PIN on the extension, the rest on the box): its owner the first three, an admin all. */
export interface MailboxChange {
  pin?: string | null;
  email?: string | null;
  emailEnabled?: boolean;
  enabled?: boolean;
  emailDelete?: boolean;
  maxMessages?: number | null;
  maxMinutes?: number | null;
  operator?: string | null;
}

/**
 * One transaction: the store's own checks (PIN 4-10 digits, an email address) refuse the whole
 * change, so a bad address never leaves a half-applied PIN.
 */
export function changeMailbox(store: Store, box: string, change: MailboxChange): VoicemailBox {
  return store.transaction(() => {
    if (change.pin !== undefined) store.extensions.update(box, { voicemailPin: change.pin });
    const patch = {
      ...(change.email !== undefined && { email: change.email }),
      ...(change.emailEnabled !== undefined && { emailEnabled: change.emailEnabled }),
      ...(change.enabled !== undefined && { enabled: change.enabled }),
      ...(change.emailDelete !== undefined && { emailDelete: change.emailDelete }),
      ...(change.maxMessages !== undefined && { maxMessages: change.maxMessages }),
      ...(change.maxMinutes !== undefined && { maxMinutes: change.maxMinutes }),
      ...(change.operator !== undefined && { operator: change.operator }),
    };
    if (typeof patch.operator === 'string' && !OPERATOR_DESTINATION.test(patch.operator)) {
      throw new StoreError('invalid', `operator must be extension:N, ring-group:NAME or receptionist:NAME (got ${patch.operator})`);
    }
    const current = store.voicemail.box(box);
    if (current === null) throw new RangeError(`no extension ${box}`);
    return Object.keys(patch).length === 0 ? current : store.voicemail.setBox(box, patch);
  });
}

/**
 * Tells the running pbx that `box` changed (its phones get a NOTIFY). Best effort: without a running
 * pbx there is no phone to tell, and the pbx announces every box when it starts. True when told.
 */
export async function announceBoxChange(ctlSocket: string, box: string, timeoutMs = 3000): Promise<boolean> {
  try {
    const client = await CtlClient.connect(ctlSocket, { timeoutMs });
    try {
      await client.request('voicemail.changed', { box });
      return true;
    } finally {
      client.close();
    }
  } catch {
    return false;
  }
}
