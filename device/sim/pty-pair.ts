/**
 * The "cable" of the virtual board: a socat pseudo-terminal pair. The host end (`hostPath`, a
 * symlink like /dev/ttyACM0) is what the driver opens; the board end is what the virtual board
 * opens. unplug() kills socat, so both ttys vanish as a USB-ACM device does when its cable is
 * pulled; plug() starts a new pair under the same paths.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

export class PtyPair {
  #child: ChildProcess | null = null;
  #plugged = false;
  /** Called when socat ended without unplug() (it is restarted by the board). */
  onExit: (() => void) | null = null;

  constructor(
    readonly hostPath: string,
    readonly boardPath: string,
  ) {}

  get plugged(): boolean {
    return this.#plugged;
  }

  async plug(): Promise<void> {
    if (this.#child !== null) return;
    for (const p of [this.hostPath, this.boardPath]) fs.rmSync(p, { force: true });
    const child = spawn('socat', [`pty,raw,echo=0,link=${this.hostPath}`, `pty,raw,echo=0,link=${this.boardPath}`], { stdio: 'ignore' });
    this.#child = child;
    child.on('error', () => {});
    child.on('exit', () => {
      if (this.#child !== child) return;
      this.#child = null;
      this.#plugged = false;
      this.onExit?.();
    });
    const deadline = Date.now() + 5000;
    while (!(fs.existsSync(this.hostPath) && fs.existsSync(this.boardPath))) {
      if (this.#child !== child) throw new Error('socat exited before creating the pty pair');
      if (Date.now() > deadline) throw new Error('socat did not create the pty pair within 5 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    this.#plugged = true;
  }

  async unplug(): Promise<void> {
    const child = this.#child;
    this.#child = null;
    this.#plugged = false;
    if (child === null) return;
    await new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
    for (const p of [this.hostPath, this.boardPath]) fs.rmSync(p, { force: true });
  }
}
