/**
 * Test support: baresip 1.0 (Debian) as a phone nobody here wrote, run headless. Its own config
 * directory (`baresip -f DIR`), everything on loopback (`net_interface 127.0.0.1`), commanded over
 * its `ctrl_tcp` module (netstring JSON commands, events back), its audio from files:
 * - what it sends: the `aufile` module plays a WAV (8 kHz mono S16) into the call;
 * - what it hears: the `sndfile` module dumps the decoded audio of each call to
 *   `<dir>/dump/dump-<peer>-dec.wav` (and what it sent to `-enc.wav`), closed when the call ends.
 * The account is written the way a user types it (AOR, password, nothing else), so the phone's
 * default settings meet the pbx: digest, UDP, PCMU/PCMA, no auto-answer unless asked.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './sipp.js';

export interface BaresipOptions {
  user: string;
  password: string;
  pbx: { address: string; port: number };
  /** WAV (8 kHz, mono, S16) the phone sends as its microphone; silence when omitted. */
  sourceWav?: string;
  /** Answer incoming calls by itself (account parameter answermode=auto); off by default. */
  autoAnswer?: boolean;
}

/** One event of ctrl_tcp ({"event":true,"type":"CALL_ESTABLISHED",...}). */
export interface BaresipEvent {
  type: string;
  class?: string;
  param?: string;
  peeruri?: string;
  [key: string]: unknown;
}

interface Response {
  ok: boolean;
  data: string;
  token?: string;
}

/** Encodes one netstring (`<length>:<bytes>,`), ctrl_tcp's framing. */
export function netstring(text: string): Buffer {
  const body = Buffer.from(text);
  return Buffer.concat([Buffer.from(`${body.length}:`), body, Buffer.from(',')]);
}

/** Splits complete netstrings off `buffer`; returns them and the incomplete rest. */
export function parseNetstrings(buffer: Buffer): { messages: string[]; rest: Buffer } {
  const messages: string[] = [];
  let rest = buffer;
  for (;;) {
    const colon = rest.indexOf(0x3a);
    if (colon < 0) break;
    const length = Number(rest.subarray(0, colon).toString());
    if (!Number.isInteger(length) || length < 0) throw new Error(`bad netstring length ${rest.subarray(0, colon).toString()}`);
    if (rest.length < colon + 1 + length + 1) break;
    messages.push(rest.subarray(colon + 1, colon + 1 + length).toString());
    rest = rest.subarray(colon + 1 + length + 1);
  }
  return { messages, rest };
}

export class Baresip {
  readonly dir: string;
  readonly dumpDir: string;
  readonly sipPort: number;
  readonly events: BaresipEvent[] = [];
  readonly #child: ChildProcess;
  readonly #socket: net.Socket;
  #output = '';
  #pending: Buffer = Buffer.alloc(0);
  #token = 0;
  readonly #responses = new Map<string, (r: Response) => void>();
  #waiters: Array<() => void> = [];

  private constructor(dir: string, sipPort: number, child: ChildProcess, socket: net.Socket, output: () => string) {
    this.dir = dir;
    this.dumpDir = path.join(dir, 'dump');
    this.sipPort = sipPort;
    this.#child = child;
    this.#socket = socket;
    this.output = output;
    socket.on('data', (chunk: Buffer) => {
      const { messages, rest } = parseNetstrings(Buffer.concat([this.#pending, chunk]));
      this.#pending = rest;
      for (const text of messages) {
        const msg = JSON.parse(text) as Record<string, unknown>;
        if (msg.event === true) this.events.push(msg as unknown as BaresipEvent);
        else if (msg.response === true && typeof msg.token === 'string') this.#responses.get(msg.token)?.(msg as unknown as Response);
      }
      for (const wake of this.#waiters.splice(0)) wake();
    });
    socket.on('error', () => undefined);
  }

  /** stdout + stderr of baresip (its log), for assertion messages. */
  readonly output: () => string;

  static async start(options: BaresipOptions): Promise<Baresip> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baresip-'));
    fs.mkdirSync(path.join(dir, 'dump'));
    const sipPort = await freePort('udp');
    // libre also listens on the SIP port + 1 (TLS): keep the control port off it.
    let ctrlPort = await freePort('tcp');
    while (ctrlPort === sipPort + 1) ctrlPort = await freePort('tcp');
    const rtpBase = 40000 + 20 * Math.floor(Math.random() * 250);
    const config = [
      'poll_method epoll',
      'net_interface 127.0.0.1',
      `sip_listen 127.0.0.1:${sipPort}`,
      'sip_transports udp',
      `rtp_ports ${rtpBase}-${rtpBase + 19}`,
      options.sourceWav === undefined ? 'audio_source aubridge,silence' : `audio_source aufile,${options.sourceWav}`,
      // No sound card here: the player is a bridge to nowhere; what is heard is dumped by sndfile.
      'audio_player aubridge,nowhere',
      'audio_alert aubridge,nowhere',
      'ausrc_srate 8000',
      'auplay_srate 8000',
      'ausrc_channels 1',
      'auplay_channels 1',
      'module_path /usr/lib/baresip/modules',
      'module g711.so',
      'module aufile.so',
      'module aubridge.so',
      'module sndfile.so',
      'module_app account.so',
      // menu holds the commands (dial, hangup, quit ...); ctrl_tcp only carries them.
      'module_app menu.so',
      'module_app ctrl_tcp.so',
      `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`,
      `snd_path ${path.join(dir, 'dump')}`,
      '',
    ].join('\n');
    fs.writeFileSync(path.join(dir, 'config'), config);
    const params = [`auth_pass=${options.password}`, ...(options.autoAnswer ? ['answermode=auto'] : [])];
    fs.writeFileSync(path.join(dir, 'accounts'), `<sip:${options.user}@${options.pbx.address}:${options.pbx.port};transport=udp>;${params.join(';')}\n`);
    const child = spawn('baresip', ['-f', dir, '-v'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const add = (d: Buffer): void => {
      output = (output + d.toString()).slice(-256 * 1024);
    };
    child.stdout?.on('data', add);
    child.stderr?.on('data', add);
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`baresip exited at start (${child.exitCode}):\n${output}`);
      const socket = await new Promise<net.Socket | null>((resolve) => {
        const s = net.connect(ctrlPort, '127.0.0.1');
        s.once('connect', () => resolve(s));
        s.once('error', () => resolve(null));
      });
      if (socket !== null) return new Baresip(dir, sipPort, child, socket, () => output);
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`baresip's ctrl_tcp did not listen on ${ctrlPort}:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Sends a ctrl_tcp command ("dial", "hangup", "reginfo", "quit" ...) and waits for its response. */
  command(command: string, params = '', timeoutMs = 5000): Promise<Response> {
    const token = `t${++this.#token}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#responses.delete(token);
        reject(new Error(`baresip: no response to ${command} ${params}`));
      }, timeoutMs);
      this.#responses.set(token, (r) => {
        clearTimeout(timer);
        this.#responses.delete(token);
        resolve(r);
      });
      this.#socket.write(netstring(JSON.stringify({ command, params, token })));
    });
  }

  /** Waits for an event of `type` (after the first `skip` of them); fails after `timeoutMs`. */
  async event(type: string, timeoutMs = 10_000, skip = 0): Promise<BaresipEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.filter((e) => e.type === type)[skip];
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`baresip: no ${type} event within ${timeoutMs} ms; events ${this.events.map((e) => e.type).join(', ')}\n${this.output().slice(-3000)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /**
   * Waits until the account is registered: its REGISTER_OK event, or, as that may be sent before
   * the control connection exists, the log line of the 200 (`user@host: {0/UDP/v4} 200 OK`).
   */
  async registered(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.events.some((e) => e.type === 'REGISTER_OK') || /\{\d+\/UDP\/v4\} 200 OK/.test(this.output())) return;
      const failed = this.events.find((e) => e.type === 'REGISTER_FAIL');
      if (failed !== undefined) throw new Error(`baresip could not register: ${failed.param ?? ''}\n${this.output().slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`baresip did not register within ${timeoutMs} ms\n${this.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The WAV of what it heard in its calls (sndfile's decoded dump), once the call has ended. */
  heardWavs(): string[] {
    return fs
      .readdirSync(this.dumpDir)
      .filter((f) => f.endsWith('-dec.wav'))
      .map((f) => path.join(this.dumpDir, f));
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
      await this.command('quit', '', 1000).catch(() => undefined);
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    this.#socket.destroy();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
