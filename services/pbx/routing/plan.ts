/**
 * The routing steps of the dial plan:
 *   - before extensions: emergency numbers (always out, whatever the permissions);
 *   - inbound from a trunk: the called number (Request-URI user, else To) → E.164 → number map →
 *     Destination → DestinationRouter;
 *   - after extensions: one of the office's own numbers (routed inside), else an outside number →
 *     per-country dial plan → permission check → a trunk, with the user's caller ID.
 * Numbers and permissions are read from SQLite at each call: re-pointing needs no restart.
 */
import type { Logger } from '../../log.js';
import { isPromptLanguage, type PromptLanguage } from '../../media/prompts/catalog.js';
import type { CallRecordTags, CalleeContact, Caller, RingStage, RouteDecision } from '../../sip/b2bua/types.js';
import type { RawHeader, SipRequest, Uri } from '../../sip/message.js';
import type { Store } from '../../store/types.js';
import type { DestinationRouter } from './destination-router.js';
import { mainNumber } from './main-number.js';
import { classifyOutbound, needsInternationalPermission, type OutboundCall } from './outbound.js';
import { toE164, type CountryCode } from './phone-numbers.js';
import type { RefusalFactory } from './refusal.js';
import { isLandline, type TrunkDirectory, type TrunkRoute } from './trunks.js';

export interface RoutingPlanDeps {
  store: Pick<Store, 'numbers' | 'extensionRouting' | 'settings' | 'extensions'>;
  country: CountryCode;
  trunks: TrunkDirectory;
  router: DestinationRouter;
  /** Plays a prompt before failing a refused call; without it the refusal is a bare 403. */
  refusal?: RefusalFactory;
  defaultLanguage: PromptLanguage;
  logger: Logger;
  /** The number (E.164, or the emergency number as dialled) and trunk of a call, for its record (CDR). */
  tag?: (callId: string, tags: CallRecordTags) => void;
  /** Reachable registered contacts of an extension, for the destination routers. */
  contactsOf(extension: string): CalleeContact[];
  /** Ringing time of each trunk in a failover (config calls.noAnswerSeconds). */
  noAnswerMs?: number;
}

/** What a dead, unreachable or refusing carrier answers: timeout, 5xx, 403 (never busy or no answer). */
function carrierDown(status: number): boolean {
  return status === 408 || status === 403 || (status >= 500 && status < 600 && status !== 600);
}

export interface RoutingPlan {
  /** Emergency numbers: asked before applications and extensions, so nothing can shadow them. */
  beforeExtensions(dialled: string, request: SipRequest, caller: Caller): RouteDecision | null;
  /** A call that came in through a trunk. */
  inbound(request: SipRequest, caller: Caller): RouteDecision;
  /** A dialled string that is no extension: an office number, or an outside call. */
  afterExtensions(dialled: string, request: SipRequest, caller: Caller): RouteDecision | null;
  /**
   * A user's forward to an outside number: the original caller's ID, a Diversion header naming the
   * user, the user's international permission. Null when the number cannot be called.
   */
  forwardOutside(dialled: string, request: SipRequest, caller: Caller, forwarded: ForwardedCall): RouteDecision | null;
}

export function createRoutingPlan(deps: RoutingPlanDeps): RoutingPlan {
  const { store, country, logger } = deps;

  /** Who the carrier is told calls: the user's direct number, else the main number (null: none of our own). */
  const ownNumber = (extension: string): string | null => store.extensionRouting.get(extension)?.directNumber ?? mainNumber(store.settings);

  const outside = (call: Exclude<OutboundCall, { kind: 'invalid' }>, request: SipRequest, caller: Caller, forwarded?: ForwardedCall): RouteDecision => {
    const user = call.kind === 'emergency' ? call.dial : call.e164;
    const picked = deps.trunks.pick();
    if (picked.kind === 'none') {
      const log = call.kind === 'emergency' ? logger.error.bind(logger) : logger.warn.bind(logger);
      log({ callId: request.callId, extension: caller.extension, dialled: user, kind: call.kind, reason: picked.reason }, 'outside call: no trunk can take it');
      // Asterisk's CONGESTION: 503 lets the phone say "all circuits busy".
      return { kind: 'reject', status: 503, reason: picked.reason === 'all busy' ? 'All Trunks Busy' : 'No Trunk Available' };
    }
    const route = picked.route;
    const host = route.host.toLowerCase();
    // A forwarded call keeps its original caller's ID: the carrier's caller as it came in, or the inside caller's own number.
    const callerId = caller.trunk !== undefined ? caller.extension : ownNumber(caller.extension);
    logger.info({ callId: request.callId, extension: caller.extension, dialled: user, kind: call.kind, trunk: route.name, callerId, ...(forwarded && { forwardedBy: forwarded.by }) }, forwarded ? 'outside call (forwarded)' : isLandline(route.name) ? 'outside call on the landline (failover)' : 'outside call');
    deps.tag?.(request.callId, { number: user, trunk: route.name });
    // No number of our own: the extension goes out as it is and the carrier puts its default.
    const identity = { user: callerId ?? caller.extension, displayName: caller.displayName, host };
    const headers = [
      ...(forwarded ? [diversionHeader(forwarded, ownNumber(forwarded.by) ?? forwarded.by, host)] : []),
      // Emergency calls always carry the caller's identity, whatever was asked (services/pbx/routing/emergency.ts).
      ...(caller.hideIdentity === true && call.kind !== 'emergency' ? privacyHeaders(identity) : []),
    ];
    const contactOf = (r: TrunkRoute): CalleeContact => ({ uri: deps.trunks.uriFor(r, user), destination: r.destination, ...(r.credentials && { credentials: r.credentials }) });
    const primary = contactOf(route);
    // Landline failover (docs/analog.md): when the carrier fails the call as a dead carrier does, the
    // same call goes out on the landline; an emergency call after any failure of the carrier.
    const landline = deps.trunks.landlineAfter?.(route.name) ?? null;
    const ringMs = deps.noAnswerMs ?? 30_000;
    const stages: RingStage[] | undefined =
      landline === null
        ? undefined
        : [
            { contacts: [primary], ringMs },
            {
              contacts: [contactOf(landline)],
              ringMs,
              onlyIf: (failures) => {
                const dead = failures.every((status) => carrierDown(status) || (call.kind === 'emergency' && status !== 487));
                if (!dead) return false;
                deps.trunks.carrierFailed?.(route.name, failures[0] ?? 0);
                logger.warn({ callId: request.callId, extension: caller.extension, dialled: user, kind: call.kind, carrier: route.name, status: failures[0], landline: landline.name }, 'carrier failed the call: trying the landline');
                deps.tag?.(request.callId, { number: user, trunk: landline.name });
                return true;
              },
            },
          ];
    return {
      kind: 'ring',
      target: user,
      displayName: '',
      trunk: route.name,
      from: caller.hideIdentity === true && call.kind !== 'emergency' ? ANONYMOUS_FROM : identity,
      contacts: [primary],
      ...(stages !== undefined && { stages }),
      ...(headers.length > 0 && { headers }),
    };
  };

  const languageOf = (extension: string): PromptLanguage => {
    const language = store.extensions.get(extension)?.language;
    return language !== undefined && isPromptLanguage(language) ? language : deps.defaultLanguage;
  };

  return {
    beforeExtensions(dialled, request, caller) {
      if (caller.trunk !== undefined) return null;
      const call = classifyOutbound(dialled, country);
      if (call.kind !== 'emergency') return null;
      logger.warn({ callId: request.callId, extension: caller.extension, dialled }, 'emergency call');
      return outside(call, request, caller);
    },

    inbound(request, caller) {
      const candidates = [userOf(request.uri), userOf(request.to.uri)];
      for (const candidate of candidates) {
        if (candidate === null) continue;
        const e164 = toE164(candidate, country);
        if (e164 === null) continue;
        const number = store.numbers.get(e164);
        if (number === null) continue;
        logger.info({ callId: request.callId, trunk: caller.trunk, from: caller.extension, number: e164 }, 'inbound call');
        deps.tag?.(request.callId, { number: e164, ...(caller.trunk !== undefined && { trunk: caller.trunk }) });
        return deps.router.route(number.destination, { request, caller, calledNumber: e164, contactsOf: deps.contactsOf });
      }
      logger.warn({ callId: request.callId, trunk: caller.trunk, requestUri: userOf(request.uri), to: userOf(request.to.uri) }, 'inbound call to a number that is not ours');
      return { kind: 'reject', status: 404, reason: 'Not Found' };
    },

    afterExtensions(dialled, request, caller) {
      if (caller.trunk !== undefined) return null;
      // A call to one of our own numbers stays inside (no trip through the carrier).
      const own = toE164(dialled, country);
      const number = own === null ? null : store.numbers.get(own);
      if (number !== null && own !== null) return deps.router.route(number.destination, { request, caller, calledNumber: own, contactsOf: deps.contactsOf });
      const call = classifyOutbound(dialled, country);
      if (call.kind === 'invalid') return null;
      if (needsInternationalPermission(call) && store.extensionRouting.get(caller.extension)?.international !== true) {
        logger.warn({ callId: request.callId, extension: caller.extension, dialled: call.e164, kind: call.kind }, 'outside call refused: no international/premium permission');
        // The record keeps the number tried: refused attempts are what a toll-fraud audit looks for.
        deps.tag?.(request.callId, { number: call.e164 });
        const final = { status: 403, reason: 'International Calls Not Permitted' };
        return deps.refusal?.('route.not_permitted', languageOf(caller.extension), final) ?? { kind: 'reject', ...final };
      }
      return outside(call, request, caller);
    },

    forwardOutside(dialled, request, caller, forwarded) {
      const call = classifyOutbound(dialled, country);
      if (call.kind === 'invalid') {
        logger.warn({ callId: request.callId, forwardedBy: forwarded.by, dialled }, 'forward target is not a valid number');
        return null;
      }
      // The forwarding user pays for the call: their permission decides (toll fraud through forwarding).
      if (needsInternationalPermission(call) && store.extensionRouting.get(forwarded.by)?.international !== true) {
        logger.warn({ callId: request.callId, forwardedBy: forwarded.by, dialled: call.e164, kind: call.kind }, 'forward refused: no international/premium permission');
        return null;
      }
      return outside(call, request, caller, forwarded);
    },
  };
}

/** A call forwarded by a user toward the trunk (RFC 5806 Diversion). */
export interface ForwardedCall {
  /** the forwarding user's extension */
  by: string;
  reason: DiversionReason;
  /** diversions the call already went through (the incoming Diversion counters) + 1 */
  counter: number;
}

export type DiversionReason = 'unconditional' | 'user-busy' | 'no-answer' | 'unavailable' | 'do-not-disturb';

/** RFC 5806 §4: `Diversion: <sip:+E164@carrier>;reason=...;counter=N;privacy=off`. */
function diversionHeader(forwarded: ForwardedCall, number: string, host: string): RawHeader {
  return { name: 'Diversion', value: `<sip:${number}@${host}>;reason=${forwarded.reason};counter=${forwarded.counter};privacy=off` };
}

/** RFC 3323 §4.2 anonymous From; the real identity goes in P-Asserted-Identity (RFC 3325) for the carrier. */
const ANONYMOUS_FROM = { user: 'anonymous', displayName: 'Anonymous', host: 'anonymous.invalid' };

function privacyHeaders(identity: { user: string; displayName: string; host: string }): RawHeader[] {
  const name = identity.displayName.replace(/["\\\r\n]/g, '');
  return [
    { name: 'P-Asserted-Identity', value: `${name ? `"${name}" ` : ''}<sip:${identity.user}@${identity.host}>` },
    { name: 'Privacy', value: 'id' },
  ];
}

/** The user part of a sip URI, %-decoded; null for other URIs. */
function userOf(uri: Uri): string | null {
  if (uri.kind !== 'sip' || uri.user === null) return null;
  try {
    return decodeURIComponent(uri.user);
  } catch {
    return null;
  }
}
