/**
 * `pbxctl voicemail list|play|delete|box|settings`: the voicemail boxes for the technician, read and
 * changed in SQLite with the same validation as the pbx. Deleting removes the row, then the audio
 * (the pbx's start-up sweep catches a file left by a crash in between), then tells the running pbx
 * (control socket) so the phones' message light follows at once.
 */
import fs from 'node:fs';
import type { Store, VoicemailMessage } from '../../services/store/index.js';
import { Failure, out, positionals, printJson, stringOption, table, UsageError, withStore, type CliValues, type CommandGroup } from './cli.js';
import { intOption } from './ring-group.js';
import type { RuntimeConfig } from '../../services/config.js';
import { WavError } from '../../services/media/wav/wav.js';
import { importVoicemailGreeting, voicemailGreetingPath } from '../../services/voicemail/greeting-upload.js';
import { announceBoxChange, deleteMessages, findMessage, GREETING_KINDS, messageAudioPath, OPERATOR_DESTINATION } from '../../services/voicemail/manage.js';

export const voicemailCommands: CommandGroup = {
  name: 'voicemail',
  usage: [
    '  voicemail list EXT [--json]           messages of a box (new first) with their files',
    '  voicemail play EXT ID [--out FILE]    copy a message\'s WAV to FILE (stdout without it)',
    '  voicemail delete EXT ID|all           delete a message (or every message) of a box',
    '  voicemail box EXT [--email ADDR|none] [--email-notify yes|no] [--delete-after-email yes|no] [--max-messages N|default]',
    '                    [--max-minutes N|default] [--operator DEST|none] [--enabled yes|no] [--json]',
    '  voicemail greeting EXT unavailable|busy|name FILE.wav|none   upload (any WAV, converted) or remove a greeting',
    '  voicemail settings [--min-seconds S] [--max-message-seconds S] [--default-max-messages N]',
    '                    [--default-max-minutes N] [--retention-days N] [--email-format wav|mp3]',
    '                    [--pin-attempts N] [--operator DEST|none] [--json]',
  ].join('\n'),
  options: {
    out: { type: 'string' },
    email: { type: 'string' },
    'email-notify': { type: 'string' },
    'delete-after-email': { type: 'string' },
    'max-messages': { type: 'string' },
    'max-minutes': { type: 'string' },
    enabled: { type: 'string' },
    'min-seconds': { type: 'string' },
    'max-message-seconds': { type: 'string' },
    'default-max-messages': { type: 'string' },
    'default-max-minutes': { type: 'string' },
    'retention-days': { type: 'string' },
    'email-format': { type: 'string' },
    'pin-attempts': { type: 'string' },
  },
  run({ config, values, json }, [sub, ...rest]) {
    switch (sub) {
      case 'list':
        return withStore(config, (store) => list(store, config.dataDir, rest, json));
      case 'play':
        return withStore(config, (store) => play(store, config.dataDir, rest, values));
      case 'delete':
        return withStore(config, (store) => remove(store, config.dataDir, rest, json)).then((box) => tellPbx(config, box));
      case 'box':
        return withStore(config, (store) => box(store, rest, values, json));
      case 'settings':
        return withStore(config, (store) => settings(store, rest, values, json));
      case 'greeting':
        return withStore(config, (store) => greeting(store, config.dataDir, rest, json));
      default:
        throw new UsageError(sub ? `unknown voicemail command: ${sub}` : 'voicemail needs a command: list, play, delete, box, greeting, settings');
    }
  },
};

async function greeting(store: Store, dataDir: string, args: string[], json: boolean): Promise<void> {
  const [ext, kind, file] = positionals(args, ['EXT', 'unavailable|busy|name', 'FILE.wav|none'], 'voicemail greeting');
  const box = boxOf(store, ext);
  if (!(GREETING_KINDS as readonly string[]).includes(kind as string)) throw new UsageError(`greeting kind must be one of ${GREETING_KINDS.join(', ')} (got ${kind})`);
  const which = kind as (typeof GREETING_KINDS)[number];
  if (file === 'none') {
    fs.rmSync(voicemailGreetingPath(dataDir, box, which), { force: true });
    if (json) printJson({ box, greeting: which, file: null });
    else out(`box ${box}: ${which} greeting removed (the default prompt plays)`);
    return;
  }
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file as string);
  } catch (error) {
    throw new Failure(`cannot read ${file}: ${(error as Error).message}`);
  }
  let result: { file: string; seconds: number };
  try {
    result = await importVoicemailGreeting(dataDir, box, which, bytes);
  } catch (error) {
    if (error instanceof WavError || error instanceof RangeError) throw new UsageError(`${file}: ${error.message}`);
    throw error;
  }
  if (json) printJson({ box, greeting: which, file: result.file, seconds: Number(result.seconds.toFixed(2)) });
  else out(`box ${box}: ${which} greeting set (${result.seconds.toFixed(1)} s, 8 kHz mono)`);
}

function boxOf(store: Store, ext: string | undefined): string {
  if (ext === undefined || !/^\d{2,6}$/.test(ext)) throw new UsageError(`EXT must be an extension number (got ${ext ?? 'nothing'})`);
  if (store.extensions.get(ext) === null) throw new Failure(`no extension ${ext}`);
  return ext;
}

const audioPath = messageAudioPath;

function list(store: Store, dataDir: string, args: string[], json: boolean): void {
  const ext = boxOf(store, positionals(args, ['EXT'], 'voicemail list')[0]);
  const messages = store.voicemail.list(ext);
  const counts = store.voicemail.counts(ext);
  if (json) {
    printJson({ box: ext, counts, messages: messages.map((m) => ({ ...m, path: audioPath(dataDir, m) })) });
    return;
  }
  out(`box ${ext}: ${counts.new} new, ${counts.old} old (${Math.round(counts.totalMs / 1000)} s in all)`);
  if (messages.length === 0) return;
  out(
    table(
      ['ID', 'FOLDER', 'RECEIVED', 'FROM', 'SECONDS', 'FILE'],
      messages.map((m) => [String(m.id), m.folder, new Date(m.receivedAt).toISOString().replace(/\.\d{3}Z$/, 'Z'), m.callerName && m.callerName !== m.caller ? `${m.callerName} <${m.caller}>` : m.caller, (m.durationMs / 1000).toFixed(1), audioPath(dataDir, m)]),
    ),
  );
}

function messageOf(store: Store, ext: string, idText: string | undefined): VoicemailMessage {
  if (idText === undefined || !/^\d{1,12}$/.test(idText)) throw new UsageError(`ID must be a message number (got ${idText ?? 'nothing'})`);
  const m = findMessage(store, ext, Number(idText));
  // Another box's message is not found through this one.
  if (m === null) throw new Failure(`no message ${idText} in box ${ext}`);
  return m;
}

function play(store: Store, dataDir: string, args: string[], values: CliValues): void {
  const [extText, idText] = positionals(args, ['EXT', 'ID'], 'voicemail play');
  const m = messageOf(store, boxOf(store, extText), idText);
  const file = stringOption(values, 'out');
  let audio: Buffer;
  try {
    audio = fs.readFileSync(audioPath(dataDir, m));
  } catch (error) {
    throw new Failure(`cannot read ${audioPath(dataDir, m)}: ${(error as Error).message}`);
  }
  if (file === undefined) {
    process.stdout.write(audio);
    return;
  }
  try {
    fs.writeFileSync(file, audio);
  } catch (error) {
    throw new Failure(`cannot write ${file}: ${(error as Error).message}`);
  }
  out(`message ${m.id} (${(m.durationMs / 1000).toFixed(1)} s from ${m.caller}) written to ${file}`);
}

/** Best effort: without a running pbx there is no phone to tell (it announces every box at start). */
async function tellPbx(config: RuntimeConfig, box: string): Promise<void> {
  await announceBoxChange(config.ctlSocket, box);
}

function remove(store: Store, dataDir: string, args: string[], json: boolean): string {
  const [extText, idText] = positionals(args, ['EXT', 'ID'], 'voicemail delete');
  const ext = boxOf(store, extText);
  const targets = idText === 'all' ? store.voicemail.list(ext) : [messageOf(store, ext, idText)];
  deleteMessages(store, dataDir, targets);
  if (json) printJson({ box: ext, deleted: targets.map((m) => m.id) });
  else out(`${targets.length} message(s) deleted from box ${ext}`);
  return ext;
}

const yesNo = (values: CliValues, name: string): boolean | undefined => {
  const v = stringOption(values, name);
  if (v === undefined) return undefined;
  if (v !== 'yes' && v !== 'no') throw new UsageError(`--${name} must be yes or no (got ${v})`);
  return v === 'yes';
};

function limitOption(values: CliValues, name: string): number | null | undefined {
  const v = stringOption(values, name);
  if (v === undefined) return undefined;
  if (v === 'default') return null;
  return intOption(values, name);
}

function box(store: Store, args: string[], values: CliValues, json: boolean): void {
  const ext = boxOf(store, positionals(args, ['EXT'], 'voicemail box')[0]);
  const email = stringOption(values, 'email');
  const operator = stringOption(values, 'operator');
  const enabled = yesNo(values, 'enabled');
  const emailDelete = yesNo(values, 'delete-after-email');
  const emailEnabled = yesNo(values, 'email-notify');
  const maxMessages = limitOption(values, 'max-messages');
  const maxMinutes = limitOption(values, 'max-minutes');
  const patch = {
    ...(email !== undefined && { email: email === 'none' ? null : email }),
    ...(operator !== undefined && { operator: operator === 'none' ? null : operator }),
    ...(enabled !== undefined && { enabled }),
    ...(emailDelete !== undefined && { emailDelete }),
    ...(emailEnabled !== undefined && { emailEnabled }),
    ...(maxMessages !== undefined && { maxMessages }),
    ...(maxMinutes !== undefined && { maxMinutes }),
  };
  if (patch.operator !== undefined && patch.operator !== null) checkDestination(patch.operator);
  const result = Object.keys(patch).length === 0 ? store.voicemail.box(ext) : store.voicemail.setBox(ext, patch);
  if (result === null) throw new Failure(`no extension ${ext}`);
  const s = store.voicemail.settings();
  const view = { ...result, emailTo: store.voicemail.emailOf(ext), effectiveMaxMessages: result.maxMessages ?? s.maxMessages, effectiveMaxMinutes: result.maxMinutes ?? s.maxMinutes };
  if (json) {
    printJson(view);
    return;
  }
  out(`box ${ext}: ${result.enabled ? 'enabled' : 'disabled'}`);
  out(`  email        ${view.emailTo ?? 'none'}${result.email === null && view.emailTo !== null ? ' (the user\'s)' : ''}${result.emailEnabled ? '' : ', notification off'}${result.emailDelete ? ', message deleted once sent' : ''}`);
  out(`  quota        ${view.effectiveMaxMessages} messages, ${view.effectiveMaxMinutes} minutes${result.maxMessages === null && result.maxMinutes === null ? ' (defaults)' : ''}`);
  out(`  operator (0) ${result.operator ?? s.operator ?? 'none'}`);
}

function checkDestination(text: string): void {
  if (!OPERATOR_DESTINATION.test(text)) throw new UsageError(`--operator must be extension:N, ring-group:NAME or receptionist:NAME (got ${text})`);
}

function settings(store: Store, args: string[], values: CliValues, json: boolean): void {
  positionals(args, [], 'voicemail settings');
  const num = (name: string): number | undefined => {
    const v = stringOption(values, name);
    if (v === undefined) return undefined;
    if (!/^\d+(\.\d+)?$/.test(v)) throw new UsageError(`--${name} must be a number (got ${v})`);
    return Number(v);
  };
  const format = stringOption(values, 'email-format');
  if (format !== undefined && format !== 'wav' && format !== 'mp3') throw new UsageError(`--email-format must be wav or mp3 (got ${format})`);
  const operator = stringOption(values, 'operator');
  if (operator !== undefined && operator !== 'none') checkDestination(operator);
  const patch = Object.fromEntries(
    Object.entries({
      minSeconds: num('min-seconds'),
      maxMessageSeconds: num('max-message-seconds'),
      maxMessages: num('default-max-messages'),
      maxMinutes: num('default-max-minutes'),
      retentionDays: num('retention-days'),
      maxPinAttempts: num('pin-attempts'),
      emailFormat: format,
      operator: operator === undefined ? undefined : operator === 'none' ? null : operator,
    }).filter(([, v]) => v !== undefined),
  );
  const now = Object.keys(patch).length === 0 ? store.voicemail.settings() : store.voicemail.setSettings(patch);
  if (json) {
    printJson(now);
    return;
  }
  out(`messages shorter than ${now.minSeconds} s are discarded; at most ${now.maxMessageSeconds} s each`);
  out(`default quota per box: ${now.maxMessages} messages, ${now.maxMinutes} minutes`);
  out(`retention: ${now.retentionDays === 0 ? 'messages are kept until deleted' : `${now.retentionDays} days`}`);
  out(`email attachment: ${now.emailFormat}; wrong PINs per call: ${now.maxPinAttempts}; operator (0): ${now.operator ?? 'none'}`);
}
