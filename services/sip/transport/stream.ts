/**
 * TCP and TLS connections (RFC 3261 §18.3): bytes are framed into messages by Content-Length
 * (`framing.ts`), CRLF keepalives are answered (RFC 5626 §4.4.1: a CRLFCRLF ping gets a CRLF pong),
 * idle connections are closed, and a malformed stream resets that connection only.
 */
import type net from 'node:net';
import { frameStream } from '../framing.js';
import type { TransportKind } from '../types.js';
import { allocateConnectionId, normalizeAddress, type Connection } from './connection.js';

export interface StreamHandlers {
  onMessage(data: Buffer, connection: Connection): void;
  onClose(connection: Connection, reason: string): void;
  /** A framing error or a socket error: logged by the layer. */
  onProblem(connection: Connection, reason: string): void;
}

const PONG = Buffer.from('\r\n');

export function attachStream(
  socket: net.Socket,
  transport: Extract<TransportKind, 'TCP' | 'TLS'>,
  options: { maxMessageSize: number; idleTimeoutMs: number; remoteAddress?: string; remotePort?: number },
  handlers: StreamHandlers,
): Connection {
  let buffered: Buffer = Buffer.alloc(0);
  let open = true;
  let closeReason = 'closed by peer';
  const connection: Connection = {
    id: allocateConnectionId(),
    transport,
    remoteAddress: normalizeAddress(socket.remoteAddress ?? options.remoteAddress),
    remotePort: socket.remotePort ?? options.remotePort ?? 0,
    isOpen: () => open && !socket.destroyed,
    write(data, onError) {
      if (!open || socket.destroyed) {
        onError(new Error(`${transport} connection ${connection.id} is closed`));
        return;
      }
      socket.write(data, (error) => {
        if (error) onError(error);
      });
    },
    close(reason) {
      if (!open) return;
      closeReason = reason;
      socket.destroy();
    },
  };

  socket.setNoDelay(true);
  socket.setTimeout(options.idleTimeoutMs, () => connection.close('idle'));
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    // Frame every complete message in the buffer; keep the incomplete tail for the next chunk.
    for (;;) {
      if (!open || buffered.length === 0) return;
      let frame: ReturnType<typeof frameStream>;
      try {
        frame = frameStream(buffered, options.maxMessageSize);
      } catch (error) {
        // A framer bug must cost this connection, never the process.
        frame = { kind: 'error', reason: `framer threw: ${(error as Error).message}` };
      }
      if (frame.kind === 'incomplete') {
        if (buffered.length > options.maxMessageSize * 2) {
          handlers.onProblem(connection, 'stream buffer over limit');
          connection.close('framing error');
        }
        return;
      }
      if (frame.kind === 'error') {
        handlers.onProblem(connection, `framing: ${frame.reason}`);
        connection.close('framing error');
        return;
      }
      const bytes = buffered.subarray(0, frame.length);
      buffered = buffered.subarray(frame.length);
      if (frame.kind === 'keepalive') {
        if (bytes.includes('\r\n\r\n')) socket.write(PONG);
        continue;
      }
      // Copy: the parser may keep slices (the body) beyond this chunk's lifetime.
      handlers.onMessage(Buffer.from(bytes), connection);
    }
  });
  socket.on('error', (error) => {
    closeReason = `error: ${error.message}`;
    handlers.onProblem(connection, closeReason);
  });
  socket.on('close', () => {
    if (!open) return;
    open = false;
    handlers.onClose(connection, closeReason);
  });
  return connection;
}
