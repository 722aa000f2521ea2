/**
 * SIP over WebSocket (RFC 7118): the `sip` subprotocol is required at the handshake (§4), and each
 * WebSocket message carries exactly one SIP message (§5), so no stream framing is needed. Frames
 * go out as text frames, which browser softphones expect.
 */
import type http from 'node:http';
import type https from 'node:https';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import type { TransportKind } from '../types.js';
import { allocateConnectionId, normalizeAddress, type Connection } from './connection.js';
import type { StreamHandlers } from './stream.js';

export const SIP_SUBPROTOCOL = 'sip';

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export function attachWebSocketServer(
  server: http.Server | https.Server,
  transport: Extract<TransportKind, 'WS' | 'WSS'>,
  options: { maxMessageSize: number; idleTimeoutMs: number },
  handlers: StreamHandlers & { onOpen(connection: Connection): void },
): WebSocketServer {
  const wss = new WebSocketServer({
    server,
    maxPayload: options.maxMessageSize,
    // RFC 7118 §4: refuse a handshake that does not offer `sip`.
    handleProtocols: (protocols) => (protocols.has(SIP_SUBPROTOCOL) ? SIP_SUBPROTOCOL : false),
  });
  wss.on('connection', (socket: WebSocket, request) => {
    if (socket.protocol !== SIP_SUBPROTOCOL) {
      socket.close(1002, 'SIP subprotocol required');
      return;
    }
    let open = true;
    let closeReason = 'closed by peer';
    let idle: NodeJS.Timeout | undefined;
    const connection: Connection = {
      id: allocateConnectionId(),
      transport,
      remoteAddress: normalizeAddress(request.socket.remoteAddress),
      remotePort: request.socket.remotePort ?? 0,
      isOpen: () => open && socket.readyState === socket.OPEN,
      write(data, onError) {
        if (!connection.isOpen()) {
          onError(new Error(`${transport} connection ${connection.id} is closed`));
          return;
        }
        socket.send(data, { binary: false }, (error) => {
          if (error) onError(error);
        });
      },
      close(reason) {
        if (!open) return;
        closeReason = reason;
        socket.terminate();
      },
    };
    const touch = (): void => {
      if (idle) clearTimeout(idle);
      idle = setTimeout(() => connection.close('idle'), options.idleTimeoutMs);
    };
    touch();
    socket.on('message', (data) => {
      touch();
      const bytes = toBuffer(data);
      // A message of only CR/LF is a keepalive some clients send; it carries no SIP message.
      if (bytes.every((b) => b === 0x0d || b === 0x0a)) return;
      handlers.onMessage(bytes, connection);
    });
    socket.on('error', (error) => {
      closeReason = `error: ${error.message}`;
      handlers.onProblem(connection, closeReason);
    });
    socket.on('close', () => {
      if (idle) clearTimeout(idle);
      if (!open) return;
      open = false;
      handlers.onClose(connection, closeReason);
    });
    handlers.onOpen(connection);
  });
  return wss;
}
