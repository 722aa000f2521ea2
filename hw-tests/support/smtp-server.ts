/**
 * A real SMTP server on loopback for mail tests: Debian's python3-aiosmtpd driven by
 * `smtp_server.py` (beside this file in the source tree). Accepted mail is parsed by Python's email
 * package (not by us) and its attachments written out decoded; `refuse(reply)` makes it refuse
 * every recipient with that reply until `accept()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SCRIPT = path.join(REPO_ROOT, 'hw-tests', 'support', 'smtp_server.py');
/** Debian's python3 (python3-aiosmtpd lives there), not a pyenv shim earlier in PATH. */
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export interface ReceivedMail {
  mailFrom: string;
  rcptTos: string[];
  subject: string;
  text: string;
  attachments: Array<{ filename: string | null; contentType: string; bytes: number; content: Buffer }>;
}

export class SmtpServer {
  readonly port: number;
  readonly dir: string;
  readonly #child: ChildProcess;

  private constructor(port: number, dir: string, child: ChildProcess) {
    this.port = port;
    this.dir = dir;
    this.#child = child;
  }

  static async start(): Promise<SmtpServer> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-'));
    const child = spawn(PYTHON, [SCRIPT, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`aiosmtpd did not start: ${stderr}`)), 10_000);
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening (\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`aiosmtpd exited (${code}): ${stderr}`));
      });
    });
    return new SmtpServer(port, dir, child);
  }

  /** Refuses every recipient with `reply` (e.g. "550 5.7.1 Relaying denied") until accept(). */
  refuse(reply: string): void {
    fs.writeFileSync(path.join(this.dir, 'REFUSE'), reply);
  }

  accept(): void {
    fs.rmSync(path.join(this.dir, 'REFUSE'), { force: true });
  }

  received(): ReceivedMail[] {
    const files = fs.readdirSync(this.dir).filter((f) => /^\d+\.json$/.test(f)).sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
    return files.map((f) => {
      const meta = JSON.parse(fs.readFileSync(path.join(this.dir, f), 'utf8')) as Omit<ReceivedMail, 'attachments'> & {
        attachments: Array<{ filename: string | null; contentType: string; bytes: number; file: string }>;
      };
      return { ...meta, attachments: meta.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, bytes: a.bytes, content: fs.readFileSync(a.file) })) };
    });
  }

  async waitFor(count: number, timeoutMs = 15_000): Promise<ReceivedMail[]> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const mails = this.received();
      if (mails.length >= count) return mails;
      if (Date.now() > end) throw new Error(`expected ${count} mail(s), the SMTP server got ${mails.length}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode === null) {
      const exited = new Promise((r) => this.#child.once('exit', r));
      this.#child.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
