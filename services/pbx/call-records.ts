/**
 * The B2BUA's call events → call detail records and persisted dialogs (services/store/cdr.ts).
 *
 * An answered call is written at once with its dialogs (so a crash leaves enough to hang it up at
 * the next start, recovery.ts); its record is closed when it ends, with the RTP quality of each leg
 * read just before its media is released. A call that never was answered is written once, when it
 * ends. A failing write is logged and never disturbs the call.
 */
import type { Logger } from '../log.js';
import type { CallEvents, CallFacts, CallMedia, CallMediaFactory, CallRecordTags, CallSide } from '../sip/b2bua/types.js';
import type { Dialog } from '../sip/dialog.js';
import type { CdrLeg, Disposition, LegQuality, Store } from '../store/index.js';
import { snapshotDialog } from './dialog-snapshot.js';

/** Where the quality of an anchored call's legs is read (the anchoring media policy). */
export type QualitySource = (callId: string) => { caller: LegQuality; callee: LegQuality } | undefined;

export interface CallRecorder extends CallEvents {
  /** Wraps the call media policy so each call's RTP figures are read before its media closes. */
  wrapMedia(factory: CallMediaFactory): CallMediaFactory;
  /** Calls counted by disposition since start (shown by `status`). */
  counts(): Record<Disposition, number>;
}

interface Open {
  id: number;
  legs: CdrLeg[];
}

/**
 * Asterisk's mapping of a final SIP status to a CDR disposition, in our words: busy for 486/600/603,
 * no answer for timeouts and 480, cancelled when the caller gave up (487), failed for the rest.
 */
export function dispositionOf(end: { answered: boolean; status: number | null; reason: string }): Disposition {
  if (end.answered) return 'answered';
  if (end.reason === 'no answer') return 'no-answer';
  switch (end.status) {
    case 486:
    case 600:
    case 603:
      return 'busy';
    case 408:
    case 480:
      return end.reason === 'rejected by dial plan' ? 'failed' : 'no-answer';
    case 487:
      return 'cancelled';
    default:
      return 'failed';
  }
}

export function createCallRecorder(store: Store, logger: Logger, quality: QualitySource = () => undefined): CallRecorder {
  const open = new Map<string, Open>();
  const tags = new Map<string, CallRecordTags>();
  const finalQuality = new Map<string, { caller: LegQuality; callee: LegQuality }>();
  const counts: Record<Disposition, number> = { answered: 0, busy: 0, 'no-answer': 0, cancelled: 0, failed: 0, 'ended-by-restart': 0 };

  const safely = (what: string, callId: string, fn: () => void): void => {
    try {
      fn();
    } catch (error) {
      logger.error({ err: error instanceof Error ? error.message : String(error), callId, what }, 'call record not written');
    }
  };
  const legOf = (side: CallSide, party: string, dialog: Dialog): CdrLeg => ({
    side,
    party,
    callId: dialog.callId,
    address: `${dialog.destination.transport.toLowerCase()}:${dialog.destination.address}:${dialog.destination.port}`,
    quality: null,
  });

  return {
    answered(call: CallFacts, dialogs: Array<{ side: CallSide; dialog: Dialog }>) {
      safely('answered', call.callId, () => {
        const legs = dialogs.map(({ side, dialog }) => legOf(side, side === 'caller' ? call.caller : call.callee, dialog));
        const tagged = tags.get(call.callId);
        const id = store.cdr.open(
          { ...call, dialled: tagged?.number ?? null, trunk: tagged?.trunk ?? null, legs },
          dialogs.map(({ side, dialog }) => ({ side, dialog: snapshotDialog(dialog) })),
        );
        open.set(call.callId, { id, legs });
      });
    },
    dialogChanged(callId, side, dialog) {
      const record = open.get(callId);
      if (record === undefined) return;
      safely('dialog', callId, () => store.cdr.updateDialog(record.id, side, snapshotDialog(dialog)));
    },
    ended(call, end) {
      const disposition = dispositionOf(end);
      counts[disposition]++;
      const measured = finalQuality.get(call.callId);
      finalQuality.delete(call.callId);
      const tagged = tags.get(call.callId);
      tags.delete(call.callId);
      const record = open.get(call.callId);
      open.delete(call.callId);
      safely('ended', call.callId, () => {
        const now = Date.now();
        if (record !== undefined) {
          const legs = record.legs.map((leg) => ({ ...leg, quality: measured?.[leg.side] ?? null }));
          store.cdr.close(record.id, { endedAt: now, disposition, status: end.status, reason: end.reason, legs });
          return;
        }
        store.cdr.add({
          ...call,
          dialled: tagged?.number ?? null,
          trunk: tagged?.trunk ?? null,
          legs: [{ side: 'caller', party: call.caller, callId: call.callId, address: null, quality: null }],
          endedAt: now,
          disposition,
          status: end.status,
          reason: end.reason,
        });
      });
    },
    tag(callId, more) {
      // A route that tags and then throws never ends its call: keep the map from growing with those.
      if (tags.size >= 4096 && !tags.has(callId)) tags.delete(tags.keys().next().value as string);
      tags.set(callId, { ...tags.get(callId), ...more });
    },
    wrapMedia(factory) {
      return {
        create(callId): CallMedia {
          const media = factory.create(callId);
          return {
            offerToCallee: (offer) => media.offerToCallee(offer),
            answerToCaller: (answer) => media.answerToCaller(answer),
            reoffer: (from, offer) => media.reoffer(from, offer),
            reanswer: (from, answer) => media.reanswer(from, answer),
            connected: () => media.connected(),
            close: () => {
              try {
                const figures = quality(callId);
                if (figures !== undefined && open.has(callId)) finalQuality.set(callId, figures);
              } catch (error) {
                logger.debug({ err: String(error), callId }, 'RTP figures unavailable at call end');
              }
              media.close();
            },
          };
        },
      };
    },
    counts: () => ({ ...counts }),
  };
}
