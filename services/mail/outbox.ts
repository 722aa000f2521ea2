/**
 * The mail outbox's sender: mail enqueued in SQLite (services/store/mail-outbox.ts) goes out over
 * SMTP with nodemailer, one at a time, with retries and backoff. A failure is never silent: the
 * server's last answer stays on the row (`pbxctl mail list`, `pbxctl status`) and is logged.
 *
 * A server's 5xx answer is final (the mail is `failed` at once, as an MTA bounces); a connection
 * error, timeout or 4xx is retried after 1, 2, 5, 15, 30 min, then 1, 2, 4, 8 h, then `failed`.
 * Without an SMTP server in config.json mail waits (pending, its error saying so) and goes out
 * once one is set and the pbx restarted. Delivery is at least once: a crash between the server's
 * 250 and our commit sends the mail again at the next start.
 */
import type nodemailer from 'nodemailer';
import type { MailConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { MailAttachment, MailOutboxRepository, NewMail, OutboxMail } from '../store/mail-outbox.js';

export type { MailAttachment, NewMail, OutboxMail } from '../store/mail-outbox.js';

export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [60_000, 120_000, 300_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000, 28_800_000];

export interface MailServiceOptions {
  outbox: MailOutboxRepository;
  /** null: no SMTP server configured; mail stays pending and says so. */
  smtp: MailConfig | null;
  logger: Logger;
  /** How often the outbox is read for mail enqueued by other processes or due for a retry (default 5 s). */
  pollMs?: number;
  /** Waits between attempts; after the last, the mail is `failed` (tests shorten them). */
  retryDelaysMs?: readonly number[];
  /** Seconds nodemailer waits for the server at each step (default 30). */
  timeoutSeconds?: number;
  now?: () => number;
}

/** What a sender needs to tell: the mail and how it ended. */
export type MailOutcome = { kind: 'sent'; mail: OutboxMail } | { kind: 'failed'; mail: OutboxMail; error: string; final: boolean };

export interface MailService {
  /** Stores the mail (attachments with it, one transaction) and wakes the sender. Throws StoreError('invalid') on a bad address. */
  enqueue(mail: NewMail): OutboxMail;
  /** Called after every attempt (voicemail deletes a message once its mail went out). */
  onOutcome(listener: (outcome: MailOutcome) => void): void;
  /** Sends what is due now; resolves when the outbox has nothing due (tests, shutdown). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

type Transport = ReturnType<typeof nodemailer.createTransport>;

export function createMailService(options: MailServiceOptions): MailService {
  const log = options.logger.child({ layer: 'mail' });
  const now = options.now ?? Date.now;
  const delays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const listeners: Array<(outcome: MailOutcome) => void> = [];
  let transport: Transport | null = null;
  let closed = false;
  let running: Promise<void> | null = null;
  let again = false;

  const smtp = options.smtp;
  // nodemailer (39 modules) is loaded with the first mail that goes out, not at every start of the
  // pbx: most boxes send none for days (docs/performance.md, "Footprint").
  const openTransport = async (smtp: MailConfig): Promise<Transport> => {
    const { default: mailer } = await import('nodemailer');
    const timeout = (options.timeoutSeconds ?? 30) * 1000;
    return mailer.createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: smtp.security === 'tls',
      requireTLS: smtp.security === 'starttls',
      ignoreTLS: smtp.security === 'none',
      ...(smtp.user !== null && smtp.secret !== null && { auth: { user: smtp.user, pass: smtp.secret } }),
      tls: { rejectUnauthorized: !smtp.allowInvalidCertificate },
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
    });
  };

  const tell = (outcome: MailOutcome): void => {
    for (const listener of listeners) {
      try {
        listener(outcome);
      } catch (error) {
        log.error({ err: error instanceof Error ? error.stack : String(error), mailId: outcome.mail.id }, 'mail outcome listener failed');
      }
    }
  };

  const sendOne = async (mail: OutboxMail): Promise<void> => {
    const attempt = mail.attempts + 1;
    if (smtp === null) {
      const error = 'no SMTP server configured (config.json "mail")';
      // Not counted toward giving up: the mail is fine, the appliance is not set up yet.
      options.outbox.markFailed(mail.id, error, now(), now() + (options.pollMs ?? 5000) * 12, false);
      if (mail.lastError !== error) log.warn({ mailId: mail.id, to: mail.to }, 'mail waits: no SMTP server configured');
      tell({ kind: 'failed', mail, error, final: false });
      return;
    }
    let attachments: MailAttachment[];
    try {
      attachments = options.outbox.attachments(mail.id);
    } catch (error) {
      log.error({ err: String(error), mailId: mail.id }, 'cannot read the attachments of a mail');
      return;
    }
    try {
      transport ??= await openTransport(smtp);
      if (closed) return;
      const info = await transport.sendMail({
        from: smtp?.from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        attachments: attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content })),
      });
      options.outbox.markSent(mail.id, now());
      log.info({ mailId: mail.id, to: mail.to, attempt, response: info.response, tag: mail.tag }, 'mail sent');
      tell({ kind: 'sent', mail: options.outbox.get(mail.id) ?? mail });
    } catch (error) {
      const { text, permanent } = describeSmtpError(error);
      const final = permanent || attempt > delays.length;
      const next = final ? now() : now() + (delays[attempt - 1] ?? delays[delays.length - 1] ?? 60_000);
      options.outbox.markFailed(mail.id, text, now(), next, final);
      log.warn({ mailId: mail.id, to: mail.to, attempt, error: text, final, ...(final ? {} : { retryAt: new Date(next).toISOString() }) }, final ? 'mail delivery failed: giving up' : 'mail delivery failed: will retry');
      tell({ kind: 'failed', mail: options.outbox.get(mail.id) ?? mail, error: text, final });
    }
  };

  const drain = async (): Promise<void> => {
    do {
      again = false;
      for (;;) {
        if (closed) return;
        let due: OutboxMail[];
        try {
          due = options.outbox.due(now(), 5);
        } catch (error) {
          log.error({ err: String(error) }, 'cannot read the mail outbox');
          return;
        }
        if (due.length === 0) break;
        for (const mail of due) {
          if (closed) return;
          await sendOne(mail);
        }
      }
    } while (again);
  };

  const kick = (): Promise<void> => {
    if (running !== null) {
      again = true;
      return running;
    }
    running = drain().finally(() => {
      running = null;
    });
    return running;
  };

  const timer = setInterval(() => void kick(), options.pollMs ?? 5000);
  timer.unref();
  // Mail left by the previous run (or enqueued while the pbx was down) goes now.
  setImmediate(() => void kick());

  return {
    enqueue(mail) {
      const stored = options.outbox.enqueue(mail, now());
      log.info({ mailId: stored.id, to: stored.to, attachments: stored.attachmentInfo.length, tag: stored.tag }, 'mail queued');
      void kick();
      return stored;
    },
    onOutcome(listener) {
      listeners.push(listener);
    },
    async flush() {
      await kick();
    },
    async close() {
      closed = true;
      clearInterval(timer);
      await running?.catch(() => undefined);
      transport?.close();
    },
  };
}

/** The server's answer when there is one ("550 5.7.1 relaying denied"), else the connection error. */
export function describeSmtpError(error: unknown): { text: string; permanent: boolean } {
  if (typeof error === 'object' && error !== null) {
    const e = error as { response?: unknown; responseCode?: unknown; code?: unknown; message?: unknown };
    const code = typeof e.responseCode === 'number' ? e.responseCode : null;
    const response = typeof e.response === 'string' ? e.response.trim() : null;
    const message = typeof e.message === 'string' ? e.message : String(error);
    const text = response ?? (typeof e.code === 'string' ? `${e.code}: ${message}` : message);
    // 5xx is the server's final word (RFC 5321 §4.2.1); an authentication refusal (535) too.
    return { text, permanent: code !== null && code >= 500 && code < 600 };
  }
  return { text: String(error), permanent: false };
}
