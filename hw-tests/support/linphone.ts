/**
 * Test support: Linphone 5.1 (Debian linphone-cli) as a phone nobody here wrote, run headless as
 * `linphone-daemon` (the package's scripted front end; `linphonec` needs a terminal) with its own
 * config and HOME, commanded over its unix socket (`--pipe`: one text command per line, answers of
 * `Status: Ok|Error` blocks, events fetched with `pop-event`). It plays a WAV into a call with
 * `incall-player-start`. It has no recorder: what it receives is read from its own RTP statistics
 * in its log ("Bandwidth usage ... RTP : [d=<kbit/s down>,u=<up>]").
 *
 * Trap: without a writable `$HOME/.local/share/linphone` its core never starts (the account stays
 * in LinphoneRegistrationNone, nothing is sent): HOME is a temp dir made for it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './sipp.js';

export interface LinphoneOptions {
  /** Answer incoming calls by itself (--auto-answer). */
  autoAnswer?: boolean;
}

export interface LinphoneEvent {
  type: string;
  event: string;
  fields: Record<string, string>;
}

export class Linphone {
  readonly dir: string;
  readonly sipPort: number;
  readonly logFile: string;
  readonly #child: ChildProcess;
  readonly #socketPath: string;
  #socket: net.Socket | null = null;
  #text = '';
  #output = '';

  private constructor(dir: string, sipPort: number, child: ChildProcess, socketPath: string) {
    this.dir = dir;
    this.sipPort = sipPort;
    this.logFile = path.join(dir, 'linphone.log');
    this.#child = child;
    this.#socketPath = socketPath;
    const add = (d: Buffer): void => {
      this.#output = (this.#output + d.toString()).slice(-64 * 1024);
    };
    child.stdout?.on('data', add);
    child.stderr?.on('data', add);
  }

  static async start(options: LinphoneOptions = {}): Promise<Linphone> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'linphone-'));
    fs.mkdirSync(path.join(dir, 'home', '.local', 'share', 'linphone'), { recursive: true });
    const sipPort = await freePort('udp');
    const rtpBase = 45000 + 20 * Math.floor(Math.random() * 250);
    fs.writeFileSync(
      path.join(dir, 'linphonerc'),
      [
        '[sip]',
        `sip_port=${sipPort}`,
        'sip_tcp_port=-1',
        'sip_tls_port=-1',
        '[rtp]',
        `audio_rtp_port=${rtpBase}-${rtpBase + 19}`,
        '[sound]',
        'echocancellation=0',
        '',
      ].join('\n'),
    );
    const pipe = `linphone-test-${randomBytes(6).toString('hex')}`;
    const socketPath = path.join('/tmp', pipe); // linphone-daemon puts --pipe sockets in /tmp
    const args = ['--config', path.join(dir, 'linphonerc'), '--pipe', pipe, '--log', path.join(dir, 'linphone.log'), ...(options.autoAnswer ? ['--auto-answer'] : [])];
    const child = spawn('linphone-daemon', args, { env: { ...process.env, HOME: path.join(dir, 'home') }, stdio: ['ignore', 'pipe', 'pipe'] });
    const lp = new Linphone(dir, sipPort, child, socketPath);
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`linphone-daemon exited at start (${child.exitCode ?? child.signalCode}): ${lp.#output}`);
      const socket = fs.existsSync(socketPath)
        ? await new Promise<net.Socket | null>((resolve) => {
            const s = net.connect(socketPath);
            s.once('connect', () => resolve(s));
            s.once('error', () => resolve(null));
          })
        : null;
      if (socket !== null) {
        lp.#socket = socket;
        socket.on('data', (d: Buffer) => (lp.#text += d.toString()));
        socket.on('error', () => undefined);
        return lp;
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`linphone-daemon did not open ${socketPath}: ${lp.#output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Sends one command and returns its answer: the text from its `Status:` line until the socket
   * has been quiet for 200 ms (the protocol has no terminator). Throws on `Status: Error`.
   */
  async command(line: string, timeoutMs = 5000): Promise<string> {
    const socket = this.#socket;
    if (socket === null) throw new Error('linphone-daemon not connected');
    this.#text = '';
    socket.write(`${line}\n`);
    const deadline = Date.now() + timeoutMs;
    let seen = '';
    let quietSince = Date.now();
    for (;;) {
      await new Promise((r) => setTimeout(r, 50));
      if (this.#text !== seen) {
        seen = this.#text;
        quietSince = Date.now();
      }
      if (seen.includes('Status:') && Date.now() - quietSince >= 200) break;
      if (Date.now() > deadline) throw new Error(`linphone-daemon: no answer to "${line}" (${this.#child.exitCode ?? this.#child.signalCode ?? 'running'})`);
    }
    const answer = seen.slice(seen.indexOf('Status:'));
    if (/^Status: Error/.test(answer)) throw new Error(`linphone-daemon: "${line}" failed: ${answer.trim()}`);
    return answer;
  }

  /** Registers `user` at the pbx (its `register` command: identity, proxy, password). */
  async register(user: string, password: string, pbx: { address: string; port: number }, timeoutMs = 10_000): Promise<void> {
    await this.command(`register sip:${user}@${pbx.address}:${pbx.port} sip:${pbx.address}:${pbx.port} ${password}`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.command('register-status ALL');
      if (/State: LinphoneRegistrationOk/.test(status)) return;
      if (/State: LinphoneRegistrationFailed/.test(status) || Date.now() > deadline) {
        throw new Error(`linphone did not register: ${status.trim()}\n${this.logTail()}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Pops queued events until one with `event` (e.g. LinphoneCallStreamsRunning) arrives. */
  async waitEvent(event: string, timeoutMs = 10_000): Promise<LinphoneEvent> {
    const deadline = Date.now() + timeoutMs;
    const seen: string[] = [];
    for (;;) {
      const text = await this.command('pop-event');
      const fields: Record<string, string> = {};
      for (const m of text.matchAll(/^([\w-]+): (.*)$/gm)) fields[m[1] as string] = (m[2] as string).trim();
      if (fields.Event !== undefined) {
        seen.push(fields.Event);
        if (fields.Event === event) return { type: fields['Event-type'] ?? '', event: fields.Event, fields };
        continue;
      }
      if (Date.now() > deadline) throw new Error(`linphone: no ${event} within ${timeoutMs} ms (events: ${seen.join(', ')})\n${this.logTail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Download rates (kbit/s of RTP received) from its periodic bandwidth log lines. */
  rtpDownloadKbps(): number[] {
    const log = fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, 'utf8') : '';
    return [...log.matchAll(/Stream #0 \(audio\).*RTP : \[d=([\d.]+),u=([\d.]+)\]/g)].map((m) => Number(m[1]));
  }

  logTail(chars = 3000): string {
    const log = fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, 'utf8') : '';
    return log.slice(-chars);
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
      this.#socket?.write('quit\n');
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    this.#socket?.destroy();
    fs.rmSync(this.#socketPath, { force: true });
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
