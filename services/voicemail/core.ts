/**
 * The voicemail boxes as the applications see them: settings, owners, quotas, saving and deleting
 * messages, and who hears about a change (message waiting; the email of a new message).
 */
import type { Logger } from '../log.js';
import type { MailService } from '../mail/outbox.js';
import type { MediaEngine } from '../media/engine.js';
import type { WavRecorder } from '../media/recorder/recorder.js';
import type { Caller } from '../sip/b2bua/types.js';
import type { Language, Store } from '../store/index.js';
import type { VoicemailFolder, VoicemailMessage, VoicemailReason } from '../store/voicemail.js';
import type { VoicemailSettings } from '../store/voicemail-schema.js';
import type { MediaClock } from '../pbx/features/media-clock.js';
import { mailboxFullMail, voicemailMail } from './email.js';
import type { VoicemailStorage } from './storage.js';

/** A caller told "mailbox full" tells the user at most this often (per box). */
const FULL_NOTICE_INTERVAL_MS = 3_600_000;

export interface VoicemailCoreDeps {
  store: Pick<Store, 'extensions' | 'voicemail'>;
  storage: VoicemailStorage;
  engine: MediaEngine;
  clock: MediaClock;
  logger: Logger;
  /** The outbox (absent: no email). */
  mail?: MailService;
}

export class VoicemailCore {
  readonly engine: MediaEngine;
  readonly clock: MediaClock;
  readonly logger: Logger;
  readonly storage: VoicemailStorage;
  readonly #store: VoicemailCoreDeps['store'];
  readonly #mail: MailService | undefined;
  readonly #listeners: Array<(extension: string) => void> = [];
  readonly #fullNoticeAt = new Map<string, number>();

  constructor(deps: VoicemailCoreDeps) {
    this.engine = deps.engine;
    this.clock = deps.clock;
    this.logger = deps.logger.child({ layer: 'voicemail' });
    this.storage = deps.storage;
    this.#store = deps.store;
    this.#mail = deps.mail;
    this.#mail?.onOutcome((outcome) => {
      if (outcome.kind !== 'sent') return;
      const m = /^voicemail:(\d+)$/.exec(outcome.mail.tag ?? '');
      if (m) void this.#deleteAfterEmail(Number(m[1]));
    });
  }

  settings(): VoicemailSettings {
    return this.#store.voicemail.settings();
  }

  /** Has a box: an extension whose box is enabled. */
  hasBox(extension: string): boolean {
    return this.#store.voicemail.box(extension)?.enabled === true;
  }

  owner(extension: string): { language: Language; displayName: string; pin: string | null } {
    const e = this.#store.extensions.get(extension);
    return { language: e?.language ?? 'en', displayName: e?.displayName ?? extension, pin: e?.voicemailPin ?? null };
  }

  setPin(extension: string, pin: string): void {
    this.#store.extensions.update(extension, { voicemailPin: pin });
  }

  operatorOf(extension: string): string | null {
    return this.#store.voicemail.box(extension)?.operator ?? this.settings().operator;
  }

  /** Quota reached (messages or minutes; the box's own limits or the appliance's). */
  isFull(extension: string): boolean {
    const box = this.#store.voicemail.box(extension);
    if (box === null) return true;
    const s = this.settings();
    const c = this.#store.voicemail.counts(extension);
    return c.new + c.old >= (box.maxMessages ?? s.maxMessages) || c.totalMs >= (box.maxMinutes ?? s.maxMinutes) * 60_000;
  }

  messages(extension: string): VoicemailMessage[] {
    return this.#store.voicemail.list(extension);
  }

  counts(extension: string) {
    return this.#store.voicemail.counts(extension);
  }

  onChange(listener: (extension: string) => void): void {
    this.#listeners.push(listener);
  }

  changed(extension: string): void {
    for (const listener of this.#listeners) {
      try {
        listener(extension);
      } catch (error) {
        this.logger.error({ err: String(error), box: extension }, 'voicemail change listener failed');
      }
    }
  }

  /** Keeps the recording as a message (durable file, then row), or discards it when too short. */
  async saveMessage(extension: string, recorder: WavRecorder, meta: { caller: Caller; reason: VoicemailReason }): Promise<VoicemailMessage | null> {
    const s = this.settings();
    if (recorder.samples < s.minSeconds * 8000) {
      await recorder.abort();
      return null;
    }
    const message = await this.storage.commit(recorder, {
      box: extension,
      caller: meta.caller.extension,
      callerName: meta.caller.displayName,
      receivedAt: Date.now(),
      reason: meta.reason,
    });
    this.logger.info({ box: extension, id: message.id, durationMs: message.durationMs, caller: message.caller }, 'new voicemail');
    this.changed(extension);
    await this.#email(message);
    return message;
  }

  async #email(message: VoicemailMessage): Promise<void> {
    if (this.#mail === undefined || !this.#emailOn(message.box)) return;
    const to = this.#store.voicemail.emailOf(message.box);
    if (to === null) return;
    try {
      const mail = await voicemailMail(message, { to, language: this.owner(message.box).language, audioFile: this.storage.audioPath(message), format: this.settings().emailFormat });
      this.#mail.enqueue(mail);
    } catch (error) {
      // Never silent: the message is safe in the box, the log says why no mail was queued.
      this.logger.error({ err: String(error), box: message.box, id: message.id }, 'voicemail email could not be queued');
    }
  }

  /** The user turned voicemail emails off (web UI, `pbxctl voicemail box --email-notify no`). */
  #emailOn(extension: string): boolean {
    return this.#store.voicemail.box(extension)?.emailEnabled !== false;
  }

  async #deleteAfterEmail(id: number): Promise<void> {
    const message = this.#store.voicemail.get(id);
    if (message === null || this.#store.voicemail.box(message.box)?.emailDelete !== true) return;
    await this.deleteMessage(id);
    this.logger.info({ box: message.box, id }, 'message deleted after its email went out');
  }

  async deleteMessage(id: number): Promise<VoicemailMessage | null> {
    const removed = await this.storage.remove(id);
    if (removed !== null) this.changed(removed.box);
    return removed;
  }

  setFolder(message: VoicemailMessage, folder: VoicemailFolder): void {
    if (message.folder === folder) return;
    if (this.#store.voicemail.setFolder(message.id, folder)) {
      message.folder = folder;
      this.changed(message.box);
    }
  }

  /** A caller could not leave a message: the user hears it at login and gets an email (at most hourly). */
  boxFull(extension: string, caller: Caller): void {
    const last = this.#fullNoticeAt.get(extension) ?? 0;
    if (Date.now() - last < FULL_NOTICE_INTERVAL_MS || this.#mail === undefined || !this.#emailOn(extension)) return;
    const to = this.#store.voicemail.emailOf(extension);
    if (to === null) return;
    this.#fullNoticeAt.set(extension, Date.now());
    try {
      this.#mail.enqueue(mailboxFullMail(extension, caller.extension, { to, language: this.owner(extension).language }));
    } catch (error) {
      this.logger.error({ err: String(error), box: extension }, 'mailbox-full email could not be queued');
    }
  }

  /** Messages of boxes that email and delete, whose mail went out while we were down. */
  deleteDelivered(sentTags: Iterable<string>): void {
    for (const tag of sentTags) {
      const m = /^voicemail:(\d+)$/.exec(tag);
      if (m) void this.#deleteAfterEmail(Number(m[1]));
    }
  }
}
