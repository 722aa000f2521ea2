/**
 * Typed client of the control API: request() resolves with the result or rejects with a CtlError
 * (the server's error, a timeout, or 'closed' for everything pending when the connection ends).
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import {
  CtlError,
  LineSplitter,
  serverMessageSchema,
  type CtlErrorCode,
  type CtlMethod,
  type CtlParams,
  type CtlResult,
} from './protocol.js';

export const DEFAULT_TIMEOUT_MS = 5000;

interface Pending {
  resolve(result: unknown): void;
  reject(error: CtlError): void;
  timer: NodeJS.Timeout;
}

export interface CtlClientOptions {
  /** Default timeout of each request. */
  timeoutMs?: number;
  /** How long connecting may take. */
  connectTimeoutMs?: number;
}

export class CtlClient {
  readonly #socket: net.Socket;
  readonly #pending = new Map<number, Pending>();
  readonly #events = new EventEmitter();
  readonly #timeoutMs: number;
  #nextId = 1;
  #closed = false;

  private constructor(socket: net.Socket, timeoutMs: number) {
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    socket.setEncoding('utf8');
    const splitter = new LineSplitter(
      (line) => this.#receive(line),
      () => this.#shutdown('closed', 'server sent a line that is too long'),
    );
    socket.on('data', (chunk: string) => splitter.push(chunk));
    socket.on('error', () => {
      /* reported through 'close' */
    });
    socket.on('close', () => this.#shutdown('closed', 'control connection closed'));
  }

  static connect(socketPath: string, options: CtlClientOptions = {}): Promise<CtlClient> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const socket = net.connect(socketPath);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new CtlError('timeout', `connecting to ${socketPath} timed out`));
      }, options.connectTimeoutMs ?? timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new CtlClient(socket, timeoutMs));
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const absent = error.code === 'ENOENT' || error.code === 'ECONNREFUSED';
        reject(new CtlError(absent ? 'unavailable' : 'closed', `${socketPath}: ${error.message}`));
      });
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  request<M extends CtlMethod>(
    method: M,
    ...args: CtlParams<M> extends void ? [params?: undefined, options?: { timeoutMs?: number }] : [params: CtlParams<M>, options?: { timeoutMs?: number }]
  ): Promise<CtlResult<M>> {
    const [params, options] = args;
    if (this.#closed) return Promise.reject(new CtlError('closed', 'control connection closed'));
    const id = this.#nextId++;
    const timeoutMs = options?.timeoutMs ?? this.#timeoutMs;
    return new Promise<CtlResult<M>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new CtlError('timeout', `${method}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (result: unknown) => void, reject, timer });
      this.#socket.write(JSON.stringify({ id, method, params }) + '\n');
    });
  }

  /** Listens to an event pushed by the server. */
  on(event: string, listener: (data: unknown) => void): this {
    this.#events.on(event, listener);
    return this;
  }

  off(event: string, listener: (data: unknown) => void): this {
    this.#events.off(event, listener);
    return this;
  }

  close(): void {
    this.#shutdown('closed', 'control connection closed');
  }

  #receive(line: string): void {
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      return; // A server never sends this; ignore rather than kill the connection.
    }
    const parsed = serverMessageSchema.safeParse(json);
    if (!parsed.success) return;
    const message = parsed.data;
    if ('event' in message) {
      this.#events.emit(message.event, message.data);
      return;
    }
    if (message.id === null) return;
    const pending = this.#pending.get(message.id);
    if (!pending) return; // Answer to a request that already timed out.
    this.#pending.delete(message.id);
    clearTimeout(pending.timer);
    if ('error' in message) pending.reject(new CtlError(errorCode(message.error.code), message.error.message));
    else pending.resolve(message.result);
  }

  #shutdown(code: CtlErrorCode, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const [id, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(new CtlError(code, reason));
      this.#pending.delete(id);
    }
    this.#socket.destroy();
    this.#events.emit('close');
  }
}

const SERVER_CODES: readonly CtlErrorCode[] = ['bad-request', 'unknown-method', 'invalid-params', 'failed'];

/** A code this client does not know (a newer server) is reported as 'failed', with its message. */
function errorCode(code: string): CtlErrorCode {
  return (SERVER_CODES as readonly string[]).includes(code) ? (code as CtlErrorCode) : 'failed';
}
