/**
 * The control server a process exposes on its Unix socket. Modules register their methods with
 * handle(); emit() pushes an event to every connected client.
 */
import fs from 'node:fs';
import net from 'node:net';
import type { Logger } from '../log.js';
import { CtlError, LineSplitter, requestSchema, type CtlMethod, type CtlResult } from './protocol.js';

export type CtlHandler<M extends CtlMethod> = (params: unknown) => CtlResult<M> | Promise<CtlResult<M>>;

export interface CtlServer {
  /** Registers the handler of a method. It receives the raw params and must parse them (throw CtlError('invalid-params')). */
  handle<M extends CtlMethod>(method: M, handler: CtlHandler<M>): void;
  /** Pushes {event, data} to every connected client. */
  emit(event: string, data: unknown): void;
  readonly path: string;
  readonly connections: number;
  close(): Promise<void>;
}

export async function startCtlServer(socketPath: string, log: Logger): Promise<CtlServer> {
  const handlers = new Map<string, (params: unknown) => unknown>();
  const clients = new Set<net.Socket>();

  await removeStaleSocket(socketPath);

  const server = net.createServer((socket) => {
    clients.add(socket);
    socket.setEncoding('utf8');
    const send = (message: object): void => {
      if (!socket.destroyed) socket.write(JSON.stringify(message) + '\n');
    };
    const splitter = new LineSplitter(
      (line) => void dispatch(line, send),
      () => {
        send({ id: null, error: { code: 'bad-request', message: 'line too long' } });
        socket.end();
      },
    );
    socket.on('data', (chunk: string) => splitter.push(chunk));
    socket.on('error', (error) => log.debug({ err: error }, 'ctl client socket error'));
    socket.on('close', () => clients.delete(socket));
  });

  async function dispatch(line: string, send: (message: object) => void): Promise<void> {
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      send({ id: null, error: { code: 'bad-request', message: 'not JSON' } });
      return;
    }
    const parsed = requestSchema.safeParse(json);
    if (!parsed.success) {
      const id = typeof (json as { id?: unknown } | null)?.id === 'number' ? (json as { id: number }).id : null;
      send({ id, error: { code: 'bad-request', message: 'expected {id, method, params}' } });
      return;
    }
    const { id, method, params } = parsed.data;
    const handler = handlers.get(method);
    if (!handler) {
      send({ id, error: { code: 'unknown-method', message: `unknown method ${method}` } });
      return;
    }
    try {
      const result = await handler(params);
      send({ id, result: result ?? null });
    } catch (error) {
      const code = error instanceof CtlError ? error.code : 'failed';
      const message = error instanceof Error ? error.message : String(error);
      log.warn({ method, err: error }, 'ctl handler failed');
      send({ id, error: { code, message } });
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Only this user (root on the appliance) talks to the pbx: the socket is not world-writable.
  fs.chmodSync(socketPath, 0o660);
  server.on('error', (error) => log.error({ err: error }, 'ctl server error'));
  log.info({ socket: socketPath }, 'ctl listening');

  return {
    path: socketPath,
    get connections() {
      return clients.size;
    },
    handle(method, handler) {
      if (handlers.has(method)) throw new Error(`ctl method ${method} is already handled`);
      handlers.set(method, handler);
    },
    emit(event, data) {
      const line = JSON.stringify({ event, data }) + '\n';
      for (const socket of clients) if (!socket.destroyed) socket.write(line);
    },
    close() {
      return new Promise<void>((resolve) => {
        for (const socket of clients) socket.destroy();
        server.close(() => resolve());
      });
    },
  };
}

/**
 * A socket file left by a process that died is replaced; one that still answers belongs to a
 * running process and is an error (two pbx processes on one data dir).
 */
async function removeStaleSocket(socketPath: string): Promise<void> {
  if (!fs.existsSync(socketPath)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`another process is listening on ${socketPath}`);
  fs.unlinkSync(socketPath);
}
