/**
 * The voicemail email: who called, when, how long, in the box owner's language, with the audio
 * attached as stored (WAV, byte for byte) or as MP3 (sox with libsox-fmt-mp3) if the admin chose it.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Language } from '../store/types.js';
import type { VoicemailMessage } from '../store/voicemail.js';
import type { NewMail } from '../store/mail-outbox.js';

const run = promisify(execFile);

interface Texts {
  subject(who: string): string;
  body(who: string, when: string, seconds: number, box: string): string;
  full(box: string, who: string): { subject: string; text: string };
}

const TEXTS: Record<Language, Texts> = {
  en: {
    subject: (who) => `New voicemail from ${who}`,
    body: (who, when, s, box) => `You have a new voicemail in box ${box}.\n\nFrom: ${who}\nReceived: ${when}\nLength: ${s} s\n\nThe message is attached.\n`,
    full: (box, who) => ({ subject: `Your voicemail box ${box} is full`, text: `${who} called and could not leave a message: your voicemail box ${box} is full.\nPlease delete some messages (dial *97).\n` }),
  },
  es: {
    subject: (who) => `Nuevo mensaje de voz de ${who}`,
    body: (who, when, s, box) => `Tiene un nuevo mensaje de voz en el buzón ${box}.\n\nDe: ${who}\nRecibido: ${when}\nDuración: ${s} s\n\nEl mensaje va adjunto.\n`,
    full: (box, who) => ({ subject: `Su buzón de voz ${box} está lleno`, text: `${who} llamó y no pudo dejar un mensaje: su buzón de voz ${box} está lleno.\nBorre algunos mensajes (marque *97).\n` }),
  },
  fr: {
    subject: (who) => `Nouveau message vocal de ${who}`,
    body: (who, when, s, box) => `Vous avez un nouveau message vocal dans la boîte ${box}.\n\nDe : ${who}\nReçu : ${when}\nDurée : ${s} s\n\nLe message est en pièce jointe.\n`,
    full: (box, who) => ({ subject: `Votre messagerie ${box} est pleine`, text: `${who} a appelé et n'a pas pu laisser de message : votre messagerie ${box} est pleine.\nSupprimez des messages (composez *97).\n` }),
  },
  sv: {
    subject: (who) => `Nytt röstmeddelande från ${who}`,
    body: (who, when, s, box) => `Du har ett nytt röstmeddelande i brevlåda ${box}.\n\nFrån: ${who}\nMottaget: ${when}\nLängd: ${s} s\n\nMeddelandet är bifogat.\n`,
    full: (box, who) => ({ subject: `Din röstbrevlåda ${box} är full`, text: `${who} ringde och kunde inte lämna något meddelande: din röstbrevlåda ${box} är full.\nRadera några meddelanden (ring *97).\n` }),
  },
};

const LOCALE: Record<Language, string> = { en: 'en-US', es: 'es-MX', fr: 'fr-FR', sv: 'sv-SE' };

export function callerText(caller: string, callerName: string): string {
  const name = callerName.trim();
  return name.length > 0 && name !== caller ? `${name} <${caller}>` : caller;
}

export function whenText(at: number, language: Language, timeZone?: string): string {
  return new Intl.DateTimeFormat(LOCALE[language], { dateStyle: 'full', timeStyle: 'short', ...(timeZone !== undefined && { timeZone }) }).format(new Date(at));
}

/** The email of a new message (attachment read from `audioFile`, converted to MP3 when asked). */
export async function voicemailMail(message: VoicemailMessage, options: { to: string; language: Language; audioFile: string; format: 'wav' | 'mp3'; timeZone?: string }): Promise<NewMail> {
  const t = TEXTS[options.language];
  const who = callerText(message.caller, message.callerName);
  const seconds = Math.max(1, Math.round(message.durationMs / 1000));
  const stamp = new Date(message.receivedAt).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const base = `voicemail-${message.box}-${stamp}`;
  const content = options.format === 'mp3' ? await toMp3(options.audioFile) : await fs.readFile(options.audioFile);
  return {
    to: options.to,
    subject: t.subject(who),
    text: t.body(who, whenText(message.receivedAt, options.language, options.timeZone), seconds, message.box),
    attachments: [{ filename: `${base}.${options.format}`, contentType: options.format === 'mp3' ? 'audio/mpeg' : 'audio/wav', content }],
    tag: `voicemail:${message.id}`,
  };
}

export function mailboxFullMail(box: string, caller: string, options: { to: string; language: Language }): NewMail {
  const m = TEXTS[options.language].full(box, caller);
  return { to: options.to, subject: m.subject, text: m.text, tag: `voicemail-full:${box}` };
}

/** WAV → MP3 (32 kbit/s mono, plenty for 8 kHz speech) with sox; throws when libsox-fmt-mp3 is missing. */
export async function toMp3(wavFile: string): Promise<Buffer> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vm-mp3-'));
  const out = path.join(dir, 'message.mp3');
  try {
    await run('sox', [wavFile, '-C', '32', out], { timeout: 60_000 });
    return await fs.readFile(out);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
