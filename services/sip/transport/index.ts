/**
 * The transport layer (RFC 3261 §18): listeners for UDP, TCP, TLS, WS and WSS, the receive path
 * (parse at the edge, §18.2.1 `received`/`rport` stamping, response Via check §18.1.2), and sending
 * bytes to an Endpoint over the right socket or connection. Above it sits the transaction layer,
 * which only sees parsed messages and Endpoints.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import type tls from 'node:tls';
import type { WebSocketServer } from 'ws';
import type { Logger } from '../../log.js';
import type { SipMessage, Via } from '../message.js';
import { parseMessage } from '../parser.js';
import type { Endpoint, TransportKind } from '../types.js';
import { defaultPort, isForbiddenDestination, stampReceived, stripBrackets, transportOf } from './address.js';
import type { Connection } from './connection.js';
import { attachStream, type StreamHandlers } from './stream.js';
import { boundPort, connectTcp, listen, listenTcp } from './tcp.js';
import { connectTls, listenTls, type TlsCredentials } from './tls.js';
import { listenUdp, type UdpListener } from './udp.js';

export { responseDestination, isForbiddenDestination, stripBrackets, defaultPort, transportOf, isReliable } from './address.js';
export type { TlsCredentials } from './tls.js';

export interface TransportOptions {
  /** Address the listeners bind to (IPv4 or IPv6 literal; 0.0.0.0 / :: for all). */
  bind: string;
  /** Address written into Via/Contact; defaults to `bind`, or 127.0.0.1 for a wildcard bind. */
  advertise?: string;
  /** A listener starts only when its port is given; 0 picks an ephemeral port. */
  udpPort?: number;
  tcpPort?: number;
  tlsPort?: number;
  wsPort?: number;
  wssPort?: number;
  /** Needed for TLS and WSS. */
  tls?: TlsCredentials;
  /** Largest message accepted (bytes); larger ones are rejected (513) or reset the stream. */
  maxMessageSize?: number;
  /** Stream connections without traffic for this long are closed (default 600 s). */
  idleTimeoutMs?: number;
  /** Verify certificates of peers we connect to over TLS (default true). */
  tlsRejectUnauthorized?: boolean;
  logger: Logger;
}

export interface TransportPorts {
  udp: number | null;
  tcp: number | null;
  tls: number | null;
  ws: number | null;
  wss: number | null;
}

export interface TransportLayer {
  /** Parsed, Via-stamped messages: requests, and responses whose top Via is ours. */
  onMessage(handler: (message: SipMessage, source: Endpoint) => void): void;
  /**
   * Sends bytes. Stream transports use `destination.connectionId` while that connection is open,
   * else any open connection to address:port, else (TCP/TLS) a new one. Errors come to `onError`
   * asynchronously, never as exceptions.
   */
  send(data: Buffer, destination: Endpoint, onError?: (error: Error) => void): void;
  ports(): TransportPorts;
  /** Address and port to put in a Via or Contact for this transport. */
  localEndpoint(transport: TransportKind): { address: string; port: number };
  /** §18.1.2: does this Via's sent-by name one of our listeners? */
  isLocalVia(via: Via): boolean;
  /** Open stream connections (diagnostics). */
  connectionCount(): number;
  /**
   * Every datagram or framed message in and out, as bytes, while a listener is set (the SIP trace of
   * the web UI's diagnostics); null removes it. Costs one null check per message otherwise.
   */
  tap(listener: SipTapListener | null): void;
  close(): Promise<void>;
}

export type SipTapListener = (direction: 'in' | 'out', data: Buffer, peer: Endpoint) => void;

export const DEFAULT_MAX_MESSAGE_SIZE = 65535;
export const DEFAULT_IDLE_TIMEOUT_MS = 600_000;

function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

/** Bytes that are only CR/LF/whitespace: a UDP keepalive (RFC 5626 §4.4.1 sends CRLFCRLF). */
function isBlank(data: Buffer): boolean {
  for (const byte of data) {
    if (byte !== 0x0d && byte !== 0x0a && byte !== 0x20 && byte !== 0x09) return false;
  }
  return true;
}

/** RFC 5389 STUN keepalives (RFC 5626 §4.4.2) start with two zero bits; SIP starts with a letter. */
function isStun(data: Buffer): boolean {
  return data.length >= 20 && (data[0] ?? 0xff) < 0x04;
}

export async function createTransportLayer(options: TransportOptions): Promise<TransportLayer> {
  const log = options.logger;
  const maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const advertise = options.advertise ?? (isWildcard(options.bind) ? '127.0.0.1' : options.bind);
  const handlers: Array<(message: SipMessage, source: Endpoint) => void> = [];
  const connections = new Map<number, Connection>();
  /** transport|address|port → connection id, for reuse when no id is given. */
  const byPeer = new Map<string, number>();
  const peerKey = (transport: TransportKind, address: string, port: number): string => `${transport}|${address}|${port}`;

  const localHosts = new Set<string>([advertise.toLowerCase(), stripBrackets(advertise).toLowerCase(), options.bind.toLowerCase()]);
  if (isWildcard(options.bind)) {
    for (const list of Object.values(os.networkInterfaces())) {
      for (const info of list ?? []) localHosts.add(info.address.toLowerCase());
    }
  }

  let tapListener: SipTapListener | null = null;
  const tapped = (direction: 'in' | 'out', data: Buffer, peer: Endpoint): void => {
    try {
      tapListener?.(direction, data, peer);
    } catch (error) {
      log.warn({ event: 'tap-threw', err: error }, 'SIP trace listener threw: trace stopped');
      tapListener = null;
    }
  };
  const receive = (data: Buffer, source: Endpoint, reply: (bytes: Buffer) => void): void => {
    if (tapListener !== null) tapped('in', data, source);
    if (source.transport === 'UDP' && (isBlank(data) || isStun(data))) return;
    let result;
    try {
      result = parseMessage(data, { maxSize: maxMessageSize });
    } catch (error) {
      // The parser must not throw; if it does, the message is dropped and the process lives.
      log.error({ event: 'parser-threw', transport: source.transport, source: `${source.address}:${source.port}`, err: error }, 'parser threw');
      return;
    }
    if (!result.ok) {
      log.debug(
        { event: 'parse-error', reason: result.error.reason, transport: source.transport, source: `${source.address}:${source.port}`, answered: result.error.errorResponse !== null },
        'unparseable message',
      );
      // §18.2.1 / RFC 4475: an error response goes back to the packet's source, never a Via host.
      if (result.error.errorResponse !== null && !isForbiddenDestination(source.address)) reply(result.error.errorResponse);
      return;
    }
    const message = result.message;
    const topVia = message.via[0];
    if (topVia === undefined) {
      log.debug({ event: 'drop', reason: 'no Via', callId: message.callId, transport: source.transport, source: `${source.address}:${source.port}` }, 'message without Via dropped');
      return;
    }
    if (message.kind === 'request') {
      stampReceived(topVia, source);
    } else if (!layer.isLocalVia(topVia)) {
      // §18.1.2: a response whose top Via is not ours is silently discarded.
      log.debug({ event: 'drop', reason: 'foreign Via', callId: message.callId, transport: source.transport, source: `${source.address}:${source.port}` }, 'response for another host dropped');
      return;
    }
    for (const handler of handlers) {
      try {
        handler(message, source);
      } catch (error) {
        log.error({ event: 'handler-threw', callId: message.callId, transport: source.transport, err: error }, 'message handler threw');
      }
    }
  };

  const streamHandlers: StreamHandlers = {
    onMessage(data, connection) {
      const source: Endpoint = { transport: connection.transport, address: connection.remoteAddress, port: connection.remotePort, connectionId: connection.id };
      receive(data, source, (bytes) => connection.write(bytes, () => undefined));
    },
    onClose(connection, reason) {
      connections.delete(connection.id);
      const key = peerKey(connection.transport, connection.remoteAddress, connection.remotePort);
      if (byPeer.get(key) === connection.id) byPeer.delete(key);
      log.debug({ event: 'connection-closed', transport: connection.transport, connectionId: connection.id, source: `${connection.remoteAddress}:${connection.remotePort}`, reason }, 'connection closed');
    },
    onProblem(connection, reason) {
      log.info({ event: 'connection-problem', transport: connection.transport, connectionId: connection.id, source: `${connection.remoteAddress}:${connection.remotePort}`, reason }, 'connection problem');
    },
  };
  const register = (connection: Connection): Connection => {
    connections.set(connection.id, connection);
    byPeer.set(peerKey(connection.transport, connection.remoteAddress, connection.remotePort), connection.id);
    log.debug({ event: 'connection-opened', transport: connection.transport, connectionId: connection.id, source: `${connection.remoteAddress}:${connection.remotePort}` }, 'connection opened');
    return connection;
  };
  const streamOptions = { maxMessageSize, idleTimeoutMs };

  let udp: UdpListener | null = null;
  let tcpServer: net.Server | null = null;
  let tlsServer: tls.Server | null = null;
  let wsHttp: http.Server | null = null;
  let wssHttps: https.Server | null = null;
  const wsServers: WebSocketServer[] = [];

  try {
    if (options.udpPort !== undefined) {
      udp = await listenUdp(
        options.bind,
        options.udpPort,
        (data, source) => receive(data, source, (bytes) => udp?.send(bytes, source.address, source.port, () => undefined)),
        (error) => log.warn({ event: 'udp-error', transport: 'UDP', err: error }, 'UDP socket error'),
      );
    }
    if (options.tcpPort !== undefined) {
      tcpServer = await listenTcp(options.bind, options.tcpPort, (socket) => {
        register(attachStream(socket, 'TCP', streamOptions, streamHandlers));
      });
    }
    if (options.tlsPort !== undefined || options.wssPort !== undefined) {
      if (!options.tls) throw new Error('TLS and WSS listeners need tls {key, cert}');
    }
    if (options.tlsPort !== undefined && options.tls) {
      tlsServer = await listenTls(options.bind, options.tlsPort, options.tls, (socket) => {
        register(attachStream(socket, 'TLS', streamOptions, streamHandlers));
      });
    }
    const wsHandlers = { ...streamHandlers, onOpen: (connection: Connection) => void register(connection) };
    // The WebSocket library is loaded only where a WS or WSS listener is asked for: ~1.3 MB of heap
    // that a stack listening on UDP alone (the analog gateway's) would otherwise keep for nothing.
    const ws = options.wsPort !== undefined || options.wssPort !== undefined ? await import('./ws.js') : null;
    if (options.wsPort !== undefined && ws) {
      wsHttp = http.createServer((_request, response) => response.writeHead(426).end());
      wsServers.push(ws.attachWebSocketServer(wsHttp, 'WS', streamOptions, wsHandlers));
      await listen(wsHttp, options.bind, options.wsPort);
    }
    if (options.wssPort !== undefined && options.tls && ws) {
      wssHttps = https.createServer({ key: options.tls.key, cert: options.tls.cert }, (_request, response) => response.writeHead(426).end());
      wsServers.push(ws.attachWebSocketServer(wssHttps, 'WSS', streamOptions, wsHandlers));
      await listen(wssHttps, options.bind, options.wssPort);
    }
  } catch (error) {
    await Promise.allSettled([
      udp?.close(),
      ...[tcpServer, tlsServer, wsHttp, wssHttps].map((server) => (server ? new Promise((done) => server.close(done)) : undefined)),
    ]);
    throw error;
  }

  const ports: TransportPorts = {
    udp: udp?.port ?? null,
    tcp: tcpServer ? boundPort(tcpServer) : null,
    tls: tlsServer ? boundPort(tlsServer) : null,
    ws: wsHttp ? boundPort(wsHttp) : null,
    wss: wssHttps ? boundPort(wssHttps) : null,
  };
  const portOf = (transport: TransportKind): number | null =>
    ({ UDP: ports.udp, TCP: ports.tcp, TLS: ports.tls, WS: ports.ws, WSS: ports.wss })[transport];

  const openConnection = (transport: 'TCP' | 'TLS', address: string, port: number, onError: (error: Error) => void): Connection => {
    const socket = transport === 'TCP' ? connectTcp(address, port) : connectTls(address, port, options.tlsRejectUnauthorized ?? true);
    let connected = false;
    const pending: Array<(error: Error) => void> = [onError];
    socket.once(transport === 'TCP' ? 'connect' : 'secureConnect', () => {
      connected = true;
      pending.length = 0;
    });
    socket.once('error', (error) => {
      if (!connected) for (const fail of pending.splice(0)) fail(error);
    });
    const connection = attachStream(socket, transport, { ...streamOptions, remoteAddress: address, remotePort: port }, streamHandlers);
    register(connection);
    const write = connection.write;
    return {
      ...connection,
      isOpen: connection.isOpen,
      close: connection.close,
      write(data, fail) {
        if (!connected) pending.push(fail);
        write(data, fail);
      },
    };
  };

  let closed = false;
  const layer: TransportLayer = {
    onMessage(handler) {
      handlers.push(handler);
    },
    tap(listener) {
      tapListener = listener;
    },
    send(data, destination, onError = () => undefined) {
      if (closed) {
        queueMicrotask(() => onError(new Error('transport layer closed')));
        return;
      }
      const address = stripBrackets(destination.address);
      if (isForbiddenDestination(address)) {
        log.warn({ event: 'drop', reason: 'forbidden destination', transport: destination.transport, destination: `${address}:${destination.port}` }, 'refused to send to a broadcast/multicast/unresolved address');
        queueMicrotask(() => onError(new Error(`forbidden destination ${address}`)));
        return;
      }
      if (tapListener !== null) tapped('out', data, destination);
      if (destination.transport === 'UDP') {
        if (!udp) {
          queueMicrotask(() => onError(new Error('no UDP listener')));
          return;
        }
        udp.send(data, address, destination.port, onError);
        return;
      }
      let connection = destination.connectionId !== null ? connections.get(destination.connectionId) : undefined;
      if (!connection?.isOpen()) {
        const reuse = byPeer.get(peerKey(destination.transport, address, destination.port));
        connection = reuse !== undefined ? connections.get(reuse) : undefined;
      }
      if (connection?.isOpen()) {
        connection.write(data, onError);
        return;
      }
      if (destination.transport === 'TCP' || destination.transport === 'TLS') {
        openConnection(destination.transport, address, destination.port, onError).write(data, onError);
        return;
      }
      // WS/WSS: we are the server side (RFC 7118); without the browser's connection there is no way back.
      queueMicrotask(() => onError(new Error(`no open ${destination.transport} connection to ${address}:${destination.port}`)));
    },
    ports: () => ({ ...ports }),
    localEndpoint(transport) {
      const port = portOf(transport);
      return { address: advertise, port: port ?? defaultPort(transport) };
    },
    isLocalVia(via) {
      if (!localHosts.has(stripBrackets(via.host).toLowerCase()) && !localHosts.has(via.host.toLowerCase())) return false;
      const transport = transportOf(via.transport);
      const port = via.port ?? (transport ? defaultPort(transport) : 5060);
      return Object.values(ports).includes(port);
    },
    connectionCount: () => connections.size,
    async close() {
      if (closed) return;
      closed = true;
      for (const connection of connections.values()) connection.close('shutdown');
      connections.clear();
      for (const wss of wsServers) {
        for (const client of wss.clients) client.terminate();
        wss.close();
      }
      wsHttp?.closeAllConnections();
      wssHttps?.closeAllConnections();
      await Promise.allSettled([
        udp?.close(),
        ...[tcpServer, tlsServer, wsHttp, wssHttps].map((server) =>
          server ? new Promise<void>((done) => server.close(() => done())) : undefined,
        ),
      ]);
    },
  };
  return layer;
}
