/**
 * Live diagnostics for the admin: the SIP trace streamed to the browser (Server-Sent Events),
 * filtered by extension or number; the port test (is each SIP listener of the pbx answering?);
 * one-way audio and SIP ALG findings with their fix.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import express from 'express';
import type { SipTraceEvent } from '../../ctl/trace.js';
import { algFindings, audioFindings } from '../../diagnostics/network.js';
import { requireAdmin, route } from '../auth.js';
import { HttpError } from '../http-error.js';
import type { WebDeps } from '../server.js';

/** An extension (2–6 digits) or a number (+ and digits), as the filter field takes it. */
const FILTER = /^\+?\d{2,15}$/;

/** Whether a message names the extension or number in its request line or an identity header. */
export function traceMatches(text: string, filter: string): boolean {
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text.slice(0, 4096) : text.slice(0, end);
  const needle = filter.replace(/^\+/, '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`(?:sips?|tel):\\+?${needle}(?:@|[;>\\s]|$)`, 'i');
  return head.split('\r\n').some((line, i) => (i === 0 || /^(From|f|To|t|Contact|m|P-Asserted-Identity|Diversion|Refer-To|Referred-By)\s*:/i.test(line)) && pattern.test(line));
}

/** Sends an OPTIONS to one of the pbx's own listeners and waits for any SIP answer. */
function probeUdp(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('message', (msg) => done(msg.subarray(0, 8).toString() === 'SIP/2.0 '));
    socket.on('error', () => done(false));
    socket.bind(0, host, () => {
      const { port: local } = socket.address();
      const branch = `z9hG4bK-porttest-${Date.now()}`;
      const text = [
        `OPTIONS sip:${host}:${port} SIP/2.0`,
        `Via: SIP/2.0/UDP ${host}:${local};branch=${branch};rport`,
        'Max-Forwards: 70',
        `From: <sip:porttest@${host}>;tag=pt${local}`,
        `To: <sip:${host}:${port}>`,
        `Call-ID: porttest-${branch}@${host}`,
        'CSeq: 1 OPTIONS',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      socket.send(text, port, host);
    });
  });
}

function probeTcp(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.end();
      resolve(true);
    });
    socket.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

export function diagnosticsRoutes(deps: WebDeps): express.Router {
  const r = express.Router();
  r.use(requireAdmin);

  r.get('/diagnostics/trace', route(async (req, res) => {
    const filter = typeof req.query['filter'] === 'string' ? req.query['filter'].trim() : '';
    if (filter !== '' && !FILTER.test(filter)) throw new HttpError(400, 'invalid', 'filter is an extension or a number', { filter: 'format' });
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(': SIP trace\n\n');
    const stop = await deps.live.sipTrace((event: SipTraceEvent) => {
      if (filter !== '' && !traceMatches(event.text, filter)) return;
      res.write(`data: ${JSON.stringify(event)}\n\n`);
    });
    if (stop === null) {
      res.write('event: unavailable\ndata: {}\n\n');
      res.end();
      return;
    }
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    req.on('close', () => {
      clearInterval(keepAlive);
      stop();
    });
  }));

  r.get('/diagnostics/ports', route(async (_req, res) => {
    const status = await deps.live.status();
    if (status === null) {
      res.json({ pbx: false, checks: [] });
      return;
    }
    const host = status.bind === '0.0.0.0' ? '127.0.0.1' : status.bind === '::' ? '::1' : status.bind;
    const checks = await Promise.all([
      probeUdp(host, status.sip.udp, 1500).then((ok) => ({ name: 'sip-udp', port: status.sip.udp, ok })),
      probeTcp(host, status.sip.tcp, 1500).then((ok) => ({ name: 'sip-tcp', port: status.sip.tcp, ok })),
      probeTcp(host, status.sip.tls, 1500).then((ok) => ({ name: 'sip-tls', port: status.sip.tls, ok })),
      probeTcp(host, status.sip.ws, 1500).then((ok) => ({ name: 'sip-ws', port: status.sip.ws, ok })),
      probeTcp(host, status.sip.wss, 1500).then((ok) => ({ name: 'sip-wss', port: status.sip.wss, ok })),
    ]);
    res.json({ pbx: true, checks });
  }));

  r.get('/diagnostics/network', route((_req, res) => {
    const since = Date.now() - 7 * 24 * 3600_000;
    const audio = audioFindings(deps.store.cdr.list({ since, limit: 500, latest: true }));
    const alg = algFindings(deps.store.registrations.all().filter((b) => b.expiresAt > Date.now()));
    res.json({ findings: [...alg, ...audio].sort((a, b) => b.at - a.at) });
  }));
  return r;
}
