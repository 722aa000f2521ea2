/**
 * The SIP stack: transports + transaction layer + the checks every new request passes before a
 * transaction user sees it (RFC 3261 §8.2 validation, overload shedding). The registrar and the
 * B2BUA get `stack.transactions` and never see a malformed, unsupported or shed request.
 */
import { createResponse, newTag } from './build.js';
import { tagOf, type SipRequest } from './message.js';
import { createOverloadGuard, type OverloadGuard, type OverloadOptions } from './overload.js';
import { serializeMessage } from './serializer.js';
import { SipTransactionLayer } from './transaction/layer.js';
import type { TimerSettings } from './transaction/timers.js';
import { createTransportLayer, responseDestination, type SipTapListener, type TransportLayer, type TransportOptions, type TransportPorts } from './transport/index.js';
import type { Endpoint, ServerTransaction, TransactionLayer, TransportKind } from './types.js';
import { validateRequest, type ValidateOptions } from './validate.js';

export type { ValidateOptions };

/** The transports' options (listeners, TLS, message size, idle streams), plus what the stack adds. */
export interface SipStackOptions extends TransportOptions {
  timers?: Partial<TimerSettings>;
  validate: ValidateOptions;
  /**
   * Requests it refuses are dropped before any transaction exists, without an answer: the access
   * policy (blocked source and extension; see registrar/index.ts `admissionOf`).
   */
  admit?: (request: SipRequest, source: Endpoint) => boolean;
  overload?: OverloadOptions;
}

export interface SipStack {
  readonly transactions: TransactionLayer;
  ports(): TransportPorts;
  localEndpoint(transport: TransportKind): { address: string; port: number };
  /** Sets (or with null removes) the listener of every SIP message in and out (the SIP trace). */
  tap(listener: SipTapListener | null): void;
  /** In-flight transactions, event-loop lag and shed requests (for `pbxctl status` and logs). */
  stats(): { serverTransactions: number; completedTransactions: number; clientTransactions: number; unanswered: number; lagMs: number; shed: number; connections: number; watchdog: number };
  close(): Promise<void>;
}

/** To tags of stateless 503s start with this, so their ACKs are recognised and dropped. */
const STATELESS_TAG_PREFIX = 'sl-';

export async function createSipStack(options: SipStackOptions): Promise<SipStack> {
  const log = options.logger;
  // The stack's options are the transports' plus its own, which the transports ignore.
  const transport: TransportLayer = await createTransportLayer({ ...options, logger: log });
  const layer = new SipTransactionLayer({ transport, logger: log, ...(options.timers !== undefined && { timers: options.timers }) });
  const overload: OverloadGuard = createOverloadGuard(
    {
      onCompacted: (r) => log.info({ event: 'memory-compacted', rssBeforeMb: Math.round(r.rssBefore / 1048576), rssAfterMb: Math.round(r.rssAfter / 1048576), gc: r.collected, trimmed: r.trimmed }, 'load ended: memory handed back'),
      ...options.overload,
    },
    () => layer.counts().unanswered,
  );
  const userHandlers: Array<(transaction: ServerTransaction) => void> = [];

  /** §21.5.4 503 + Retry-After, sent without a transaction: shedding must cost almost nothing. */
  const shed = (request: SipRequest, source: Endpoint, reason: string): void => {
    const via = request.via[0];
    const destination = via === undefined ? null : responseDestination(via, source);
    log.debug({ event: 'overload-shed', reason, method: request.method, callId: request.callId, transport: source.transport, source: `${source.address}:${source.port}` }, 'request shed');
    if (destination === null) return;
    const response = createResponse(request, 503, {
      toTag: STATELESS_TAG_PREFIX + newTag(),
      headers: [{ name: 'Retry-After', value: String(overload.retryAfterSeconds) }],
    });
    transport.send(serializeMessage(response), destination);
  };

  let sheddingLogged = 0;
  transport.onMessage((message, source) => {
    // A blocked source gets nothing, and costs nothing: not even a transaction (no enumeration,
    // no memory growth under a scanner's flood).
    if (message.kind === 'request' && options.admit !== undefined && !options.admit(message, source)) return;
    if (message.kind === 'response') {
      layer.receive(message, source);
      return;
    }
    if (message.method === 'ACK') {
      // The ACK of a stateless 503 has nothing to acknowledge.
      if (tagOf(message.to)?.startsWith(STATELESS_TAG_PREFIX) && !layer.hasServerTransaction(message)) return;
      layer.receive(message, source);
      return;
    }
    if (!layer.hasServerTransaction(message)) {
      const reason = overload.check(message, source);
      if (reason !== null) {
        const now = Date.now();
        if (now - sheddingLogged > 5000) {
          sheddingLogged = now;
          log.warn({ event: 'overload', reason, lagMs: Math.round(overload.lagMs()), ...layer.counts(), shed: overload.shedCount() }, 'shedding new requests with 503');
        }
        shed(message, source, reason);
        return;
      }
    }
    layer.receive(message, source);
  });

  // §8.2: every new request is validated before the TU sees it; rejections are answered here,
  // through the server transaction, so retransmissions of a rejected request are absorbed too.
  layer.onRequest((transaction) => {
    const request = transaction.request;
    let rejection;
    try {
      rejection = validateRequest(request, options.validate);
    } catch (error) {
      log.error({ event: 'validator-threw', callId: request.callId, err: error }, 'request validation threw');
      transaction.respond(500);
      return;
    }
    if (rejection) {
      log.debug({ event: 'rejected', status: rejection.status, method: request.method, callId: request.callId, transport: transaction.source.transport, source: `${transaction.source.address}:${transaction.source.port}` }, rejection.reason);
      transaction.respond(rejection.status, { reason: rejection.reason, headers: rejection.headers });
      return;
    }
    if (userHandlers.length === 0) {
      transaction.respond(503, { headers: [{ name: 'Retry-After', value: '5' }] });
      return;
    }
    for (const handler of userHandlers) {
      try {
        handler(transaction);
      } catch (error) {
        // Answered 500 and freed here (the layer's watchdog covers a handler that never answers).
        log.error({ event: 'handler-threw', callId: request.callId, err: error }, 'request handler threw');
        layer.answerIfUnanswered(transaction, 500);
      }
    }
  });

  const transactions: TransactionLayer = {
    onRequest: (handler) => void userHandlers.push(handler),
    onAck: (handler) => layer.onAck(handler),
    sendRequest: (request, destination, handlers) => layer.sendRequest(request, destination, handlers),
    sendStateless: (message, destination) => layer.sendStateless(message, destination),
  };

  let closed = false;
  return {
    transactions,
    ports: () => transport.ports(),
    localEndpoint: (kind) => transport.localEndpoint(kind),
    tap: (listener) => transport.tap(listener),
    stats() {
      const counts = layer.counts();
      return {
        serverTransactions: counts.server,
        completedTransactions: counts.completed,
        clientTransactions: counts.client,
        unanswered: counts.unanswered,
        lagMs: overload.lagMs(),
        shed: overload.shedCount(),
        connections: transport.connectionCount(),
        watchdog: counts.watchdog,
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      overload.close();
      layer.close();
      await transport.close();
    },
  };
}
