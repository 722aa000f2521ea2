/**
 * What a crash left: calls that were up when the previous pbx process died. Each of their phones
 * still believes in the call, so each persisted dialog gets a BYE (RFC 3261 §15.1.1: any UA may end
 * a dialog; the phone checks Call-ID, tags and that the CSeq is higher than the last, §12.2.2), and
 * the call's record is closed with the disposition `ended-by-restart`.
 */
import type { Logger } from '../log.js';
import type { LocalAddressing } from '../sip/b2bua/types.js';
import type { TransactionLayer } from '../sip/types.js';
import type { Store } from '../store/index.js';
import { restoreDialog } from './dialog-snapshot.js';

export interface RecoveryResult {
  calls: number;
  byes: number;
}

export function endLeftoverCalls(
  store: Store,
  sip: { transactions: TransactionLayer; addressing: LocalAddressing },
  logger: Logger,
  /** When the previous process was last known alive (its exit, or its last heartbeat); default now. */
  diedAt: number = Date.now(),
): RecoveryResult {
  const leftovers = store.cdr.leftovers();
  let byes = 0;
  for (const { record, dialogs, unreadable } of leftovers) {
    const log = logger.child({ callId: record.callId, caller: record.caller, callee: record.callee });
    for (const { side, dialog: saved } of dialogs) {
      try {
        const dialog = restoreDialog(saved);
        const bye = dialog.createRequest('BYE', sip.addressing.via(dialog.destination.transport), {
          headers: [{ name: 'Reason', value: 'SIP;cause=500;text="PBX restarted"' }],
        });
        sip.transactions.sendRequest(bye, dialog.destination, {
          onFinal: (response) => log.info({ side, legCallId: saved.callId, status: response.status }, 'BYE after restart answered'),
          onTimeout: (kind) => log.info({ side, legCallId: saved.callId, kind }, 'BYE after restart not answered'),
        });
        byes++;
      } catch (error) {
        log.warn({ side, legCallId: saved.callId, err: error instanceof Error ? error.message : String(error) }, 'could not send BYE to a phone left in a call');
      }
    }
    // The audio stopped when the process died, not now: a box that was off for hours must not bill them.
    const endedAt = Math.min(Date.now(), Math.max(diedAt, record.answeredAt ?? record.startedAt));
    const closed = store.cdr.close(record.id, {
      endedAt,
      disposition: 'ended-by-restart',
      reason: 'the pbx stopped while the call was up',
    });
    log.warn(
      { answeredAt: new Date(record.answeredAt ?? record.startedAt).toISOString(), phones: dialogs.length, unreadable, closed },
      'call lost in a pbx restart: phones sent BYE',
    );
  }
  return { calls: leftovers.length, byes };
}
