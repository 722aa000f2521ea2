/**
 * The admin is told by mail when a carrier trunk stops carrying calls (outside calls, emergency
 * calls first, go out on the landline) and when it is back: one mail per administrator with an
 * address, in their language, through the mail outbox (retried, and a failed delivery shows in
 * `pbxctl status`). At most one mail per trunk and state an hour, so a flapping carrier does not
 * flood the admin's inbox; the log and `pbxctl status` still show every change.
 */
import type { Logger } from 'pino';
import type { MailService } from '../../mail/outbox.js';
import type { Language, UserRepository } from '../../store/types.js';
import type { FailoverEvent } from './trunks.js';

const TEXT: Record<Language, { down: (t: string, r: string) => [string, string]; up: (t: string) => [string, string] }> = {
  en: {
    down: (t, r) => [`Carrier trunk ${t} is down: calls go out on the landline`, `The carrier trunk ${t} stopped carrying calls (${r}). Outside calls, emergency calls first, now go out on the landline. You will get another mail when it is back.`],
    up: (t) => [`Carrier trunk ${t} is back`, `The carrier trunk ${t} carries calls again; outside calls use it again.`],
  },
  es: {
    down: (t, r) => [`La troncal ${t} está caída: las llamadas salen por la línea fija`, `La troncal del operador ${t} dejó de cursar llamadas (${r}). Las llamadas externas, primero las de emergencia, salen ahora por la línea fija. Recibirás otro correo cuando se recupere.`],
    up: (t) => [`La troncal ${t} se recuperó`, `La troncal del operador ${t} vuelve a cursar llamadas; las llamadas externas la usan de nuevo.`],
  },
  fr: {
    down: (t, r) => [`La ligne opérateur ${t} est en panne : les appels passent par la ligne fixe`, `La ligne opérateur ${t} ne transmet plus d'appels (${r}). Les appels sortants, d'urgence en premier, passent maintenant par la ligne fixe. Vous recevrez un autre e-mail à son retour.`],
    up: (t) => [`La ligne opérateur ${t} est rétablie`, `La ligne opérateur ${t} transmet de nouveau les appels ; les appels sortants l'utilisent de nouveau.`],
  },
  sv: {
    down: (t, r) => [`Operatörslinjen ${t} är nere: samtal går ut via fasta linjen`, `Operatörslinjen ${t} slutade förmedla samtal (${r}). Utgående samtal, nödsamtal först, går nu ut via den fasta linjen. Du får ett nytt mejl när den är tillbaka.`],
    up: (t) => [`Operatörslinjen ${t} är tillbaka`, `Operatörslinjen ${t} förmedlar samtal igen; utgående samtal använder den igen.`],
  },
};

export const FAILOVER_MAIL_INTERVAL_MS = 3600_000;

export function failoverNotifier(deps: {
  users: Pick<UserRepository, 'list'>;
  mail: Pick<MailService, 'enqueue'>;
  logger: Logger;
  now?: () => number;
  minIntervalMs?: number;
}): (event: FailoverEvent) => void {
  const last = new Map<string, number>();
  const now = deps.now ?? Date.now;
  return (event) => {
    const key = `${event.trunk}:${event.state}`;
    const at = now();
    const previous = last.get(key);
    if (previous !== undefined && at - previous < (deps.minIntervalMs ?? FAILOVER_MAIL_INTERVAL_MS)) return;
    last.set(key, at);
    const admins = deps.users.list().filter((u) => u.role === 'admin' && u.email !== null);
    if (admins.length === 0) {
      deps.logger.warn({ trunk: event.trunk, state: event.state }, 'no administrator has an email address: failover told in the log and status only');
      return;
    }
    for (const admin of admins) {
      const text = TEXT[admin.language] ?? TEXT.en;
      const [subject, body] = event.state === 'down' ? text.down(event.trunk, event.reason) : text.up(event.trunk);
      try {
        deps.mail.enqueue({ to: admin.email as string, subject, text: body, tag: `failover:${event.trunk}` });
      } catch (error) {
        deps.logger.error({ err: error, trunk: event.trunk, admin: admin.username }, 'failover mail could not be queued');
      }
    }
    deps.logger.info({ trunk: event.trunk, state: event.state, admins: admins.length }, 'failover mailed to the administrators');
  };
}
