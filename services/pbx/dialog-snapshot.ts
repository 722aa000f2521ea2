/**
 * A dialog as text and back: what is persisted while a call is up so that, after a crash, the next
 * pbx can still send a BYE the phone accepts (same Call-ID and tags, the next CSeq, the remote
 * target and route set, RFC 3261 §12.2.1.1).
 */
import { Dialog } from '../sip/dialog.js';
import { formatNameAddr, formatUri, parseNameAddr, parseUri } from '../sip/uri.js';
import type { Endpoint, TransportKind } from '../sip/types.js';
import type { PersistedDialog } from '../store/cdr.js';

const TRANSPORTS: readonly TransportKind[] = ['UDP', 'TCP', 'TLS', 'WS', 'WSS'];

export function snapshotDialog(dialog: Dialog): PersistedDialog {
  return {
    callId: dialog.callId,
    localTag: dialog.localTag,
    remoteTag: dialog.remoteTag,
    localUri: formatNameAddr(dialog.localUri),
    remoteUri: formatNameAddr(dialog.remoteUri),
    localSeq: dialog.localSeq,
    remoteSeq: dialog.remoteSeq,
    remoteTarget: formatUri(dialog.remoteTarget),
    routeSet: dialog.routeSet.map(formatNameAddr),
    destination: { transport: dialog.destination.transport, address: dialog.destination.address, port: dialog.destination.port },
    contact: formatNameAddr(dialog.contact),
  };
}

/**
 * The dialog back, with `role` uac (we send the request). A stream connection died with the old
 * process, so the destination names no connection: the transport opens a new one (TCP, TLS) where
 * it can. Throws when a stored field no longer parses.
 */
export function restoreDialog(saved: PersistedDialog): Dialog {
  const nameAddr = (text: string, what: string): NonNullable<ReturnType<typeof parseNameAddr>> => {
    const parsed = parseNameAddr(text);
    if (parsed === null) throw new Error(`stored dialog ${saved.callId}: ${what} does not parse`);
    return parsed;
  };
  const remoteTarget = parseUri(saved.remoteTarget);
  if (remoteTarget === null) throw new Error(`stored dialog ${saved.callId}: remote target does not parse`);
  const transport = TRANSPORTS.find((t) => t === saved.destination.transport);
  if (transport === undefined) throw new Error(`stored dialog ${saved.callId}: unknown transport ${saved.destination.transport}`);
  const destination: Endpoint = { transport, address: saved.destination.address, port: saved.destination.port, connectionId: null };
  return new Dialog({
    role: 'uac',
    callId: saved.callId,
    localTag: saved.localTag,
    remoteTag: saved.remoteTag,
    localUri: nameAddr(saved.localUri, 'local URI'),
    remoteUri: nameAddr(saved.remoteUri, 'remote URI'),
    localSeq: saved.localSeq,
    remoteSeq: saved.remoteSeq,
    remoteTarget,
    routeSet: saved.routeSet.map((r) => nameAddr(r, 'route')),
    destination,
    contact: nameAddr(saved.contact, 'contact'),
  });
}
