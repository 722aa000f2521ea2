/**
 * `pbxctl mail list|show|retry|delete|test`: the mail outbox (services/mail/), read and changed in
 * SQLite. The running pbx sends what is pending within a few seconds (it polls the outbox).
 */
import type { OutboxMail, OutboxSummary, Store } from '../../services/store/index.js';
import { Failure, out, positionals, printJson, stringOption, table, UsageError, withStore, type CliValues, type CommandGroup } from './cli.js';
import { intOption } from './ring-group.js';

export const mailCommands: CommandGroup = {
  name: 'mail',
  usage: [
    '  mail list [--state pending|sent|failed] [--limit N] [--json]',
    '                           the outbox, newest first, with the server\'s last answer',
    '  mail show ID [--json]    one mail',
    '  mail retry ID            send a failed mail again',
    '  mail delete ID           remove a mail from the outbox',
    '  mail test ADDRESS        queue a test mail (the pbx sends it with the SMTP settings of config.json)',
  ].join('\n'),
  options: {
    state: { type: 'string' },
  },
  run({ config, values, json }, [sub, ...rest]) {
    switch (sub) {
      case 'list':
        return withStore(config, (store) => list(store, rest, values, json));
      case 'show':
        return withStore(config, (store) => {
          const mail = store.mail.get(idOf(positionals(rest, ['ID'], 'mail show')[0]));
          if (mail === null) throw new Failure(`no mail ${rest[0]} in the outbox`);
          if (json) printJson(mail);
          else printMail(mail);
        });
      case 'retry':
        return withStore(config, (store) => {
          const id = idOf(positionals(rest, ['ID'], 'mail retry')[0]);
          if (!store.mail.retry(id, Date.now())) throw new Failure(`mail ${id} is not a failed mail in the outbox`);
          out(`mail ${id}: queued again`);
        });
      case 'delete':
        return withStore(config, (store) => {
          const id = idOf(positionals(rest, ['ID'], 'mail delete')[0]);
          if (!store.mail.remove(id)) throw new Failure(`no mail ${id} in the outbox`);
          out(`mail ${id} deleted`);
        });
      case 'test':
        return withStore(config, (store) => {
          const [to] = positionals(rest, ['ADDRESS'], 'mail test');
          const mail = store.mail.enqueue({ to: to as string, subject: 'PBX test mail', text: 'This test mail was queued by pbxctl mail test.\n', tag: 'test' });
          if (json) printJson(mail);
          else out(`mail ${mail.id} queued for ${mail.to}: see pbxctl mail show ${mail.id}`);
        });
      default:
        throw new UsageError(sub ? `unknown mail command: ${sub}` : 'mail needs a command: list, show, retry, delete, test');
    }
  },
};

function idOf(text: string | undefined): number {
  if (text === undefined || !/^\d{1,12}$/.test(text)) throw new UsageError(`mail ID must be a number (got ${text ?? 'nothing'})`);
  return Number(text);
}

function list(store: Store, args: string[], values: CliValues, json: boolean): void {
  positionals(args, [], 'mail list');
  const state = stringOption(values, 'state');
  if (state !== undefined && state !== 'pending' && state !== 'sent' && state !== 'failed') throw new UsageError(`--state must be pending, sent or failed (got ${state})`);
  const limit = intOption(values, 'limit');
  const mails = store.mail.list({ ...(state !== undefined && { status: state }), ...(limit !== undefined && { limit }) });
  if (json) {
    printJson({ summary: store.mail.summary(), mails });
    return;
  }
  out(summaryLine(store.mail.summary()));
  if (mails.length === 0) return;
  out(
    table(
      ['ID', 'QUEUED', 'TO', 'STATE', 'TRIES', 'SUBJECT', 'LAST ANSWER'],
      mails.map((m) => [String(m.id), iso(m.createdAt), m.to, stateOf(m), String(m.attempts), m.subject.slice(0, 40), m.lastError ?? (m.status === 'sent' ? 'accepted' : '-')]),
    ),
  );
}

function stateOf(m: OutboxMail): string {
  if (m.status === 'pending' && m.lastError !== null) return `retry ${iso(m.nextAttemptAt)}`;
  return m.status;
}

function printMail(m: OutboxMail): void {
  out(`mail ${m.id} to ${m.to}: ${stateOf(m)} after ${m.attempts} attempt(s)`);
  out(`  queued      ${iso(m.createdAt)}`);
  if (m.sentAt !== null) out(`  sent        ${iso(m.sentAt)}`);
  if (m.lastError !== null) out(`  last answer ${m.lastError}${m.lastAttemptAt === null ? '' : ` (${iso(m.lastAttemptAt)})`}`);
  out(`  subject     ${m.subject}`);
  for (const a of m.attachmentInfo) out(`  attachment  ${a.filename} (${a.contentType}, ${a.bytes} bytes)`);
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** One line for `pbxctl status` and `mail list`: failures first, never hidden. */
export function summaryLine(s: OutboxSummary): string {
  const parts = [`${s.pending} waiting`, `${s.failed} failed`, `${s.sent} sent`];
  let line = `mail outbox: ${parts.join(', ')}`;
  if (s.retrying > 0) line += ` (${s.retrying} waiting to retry)`;
  if (s.lastFailure !== null) {
    const f = s.lastFailure;
    line += `\n  ${f.status === 'failed' ? 'DELIVERY FAILED' : 'delivery problem'}: mail ${f.id} to ${f.to}, ${f.attempts} attempt(s), last ${iso(f.at)}: ${f.error}`;
  }
  return line;
}
