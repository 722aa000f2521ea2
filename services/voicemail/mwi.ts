/**
 * Message waiting (RFC 3842): the `message-summary` event package, and who hears about a change.
 *
 * Every phone of a user gets the counts: phones that SUBSCRIBE through their subscription (the
 * event server), the others by an unsolicited NOTIFY to their registered contact (Asterisk's
 * `unsolicited_mwi`). NOTIFYs go at every change of the box, after every REGISTER (new or
 * refreshed) of a phone without a subscription, after every SUBSCRIBE and refresh (the event
 * server does), and for every box at start (`announceAll`).
 */
import type { Logger } from '../log.js';
import type { EventPackage, EventServer } from '../sip/events/server.js';
import type { Binding } from '../sip/registrar/index.js';
import type { Uri } from '../sip/message.js';
import type { Endpoint } from '../sip/types.js';
import type { VoicemailCounts } from '../store/voicemail.js';

export const MWI_EVENT = 'message-summary';
export const MWI_CONTENT_TYPE = 'application/simple-message-summary';

/** RFC 3842 §5.2 body: `Messages-Waiting`, `Message-Account`, `Voice-Message: new/old (urgent new/urgent old)`. */
export function messageSummary(counts: VoicemailCounts, account: string): string {
  return [
    `Messages-Waiting: ${counts.new > 0 ? 'yes' : 'no'}`,
    `Message-Account: ${account}`,
    `Voice-Message: ${counts.new}/${counts.old} (${counts.urgentNew}/${counts.urgentOld})`,
    '',
  ].join('\r\n');
}

export function mwiPackage(deps: { counts(extension: string): VoicemailCounts | null; realm: string }): EventPackage {
  return {
    name: MWI_EVENT,
    contentType: MWI_CONTENT_TYPE,
    // Only the box's owner: another user's message counts are theirs (403).
    authorize: (subscriber, resource) => subscriber === resource && deps.counts(resource) !== null,
    body: (resource) => Buffer.from(messageSummary(deps.counts(resource) ?? { new: 0, old: 0, urgentNew: 0, urgentOld: 0, totalMs: 0 }, `sip:${resource}@${deps.realm}`)),
  };
}

export interface MwiDeps {
  events: EventServer;
  /** Registered contacts of an extension. */
  bindingsOf(extension: string): Binding[];
  /** Every extension with a registered phone (start-up announcement). */
  registeredExtensions(): string[];
  logger: Logger;
}

export interface Mwi {
  /** The box changed: NOTIFY every phone of its user. */
  changed(extension: string): void;
  /** A phone registered or refreshed its registration. */
  registered(binding: Binding): void;
  /** Every box with a registered phone (after start). */
  announceAll(): void;
}

export function createMwi(deps: MwiDeps): Mwi {
  const log = deps.logger.child({ module: 'mwi' });

  /** A binding is covered when one of the extension's subscriptions comes from it. */
  const subscribed = (extension: string, binding: Binding): boolean =>
    deps.events.subscriptions(MWI_EVENT, extension).some((s) => sameEndpoint(s.destination, binding.endpoint) || sameUri(s.contact, binding.contact));

  const unsolicited = (extension: string, binding: Binding): void => {
    void deps.events.unsolicited(MWI_EVENT, extension, { uri: binding.contact, destination: binding.endpoint }).then((answer) => {
      log.debug({ extension, contact: binding.contactText, answer }, 'unsolicited NOTIFY answered');
    });
  };

  return {
    changed(extension) {
      const n = deps.events.notify(MWI_EVENT, extension);
      let u = 0;
      for (const binding of deps.bindingsOf(extension)) {
        if (subscribed(extension, binding)) continue;
        unsolicited(extension, binding);
        u++;
      }
      log.info({ extension, subscriptions: n, unsolicited: u }, 'message waiting sent');
    },
    registered(binding) {
      if (subscribed(binding.aor, binding)) return;
      unsolicited(binding.aor, binding);
    },
    announceAll() {
      for (const extension of deps.registeredExtensions()) this.changed(extension);
    },
  };
}

function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.transport === b.transport && a.address === b.address && a.port === b.port;
}

function sameUri(a: Uri, b: Uri): boolean {
  return a.kind === 'sip' && b.kind === 'sip' && a.user === b.user && a.host === b.host && (a.port ?? 5060) === (b.port ?? 5060);
}
