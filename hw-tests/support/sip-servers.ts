/**
 * The SIP servers a benchmark (or a test) runs against, behind one shape: where to send
 * (`target`), which processes to charge CPU to, how to stop. Kamailio 5.6 is the reference; ours
 * is `node dist/services/pbx/main.js` (process title `pbx-sip`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { freePortBoth, portIsFree } from './sipp.js';
import { pbxListenEnv } from './pbx-env.js';
import { processTree } from './proc.js';

export interface BenchUser {
  readonly user: string;
  readonly password: string;
}

export interface SipServerUnderTest {
  readonly name: string;
  /** 'host:port' for SIPp. */
  readonly target: string;
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  /** The server's processes now (a Kamailio main process and its children; our node process). */
  pids(): number[];
  /** stdout + stderr tail, for diagnosis. */
  output(): string;
  /** Whether the main process is still running. */
  alive(): boolean;
  stop(): Promise<void>;
}

export interface ServerOptions {
  readonly users: readonly BenchUser[];
  readonly workDir: string;
  readonly host?: string;
  readonly port?: number;
  readonly realm?: string;
}

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const KAMAILIO_CFG = path.join(REPO_ROOT, 'hw-tests', 'support', 'kamailio.cfg');
const KAMAILIO_SQL = '/usr/share/kamailio/db_sqlite';
const KAMAILIO_MODULES = '/usr/lib/x86_64-linux-gnu/kamailio/modules';

/** Users '1001', '1002'... with passwords 'secret-<user>' (8+ characters, as the store requires). */
export function makeUsers(count: number, first = 1001): BenchUser[] {
  return Array.from({ length: count }, (_, i) => ({ user: String(first + i), password: `secret-${first + i}` }));
}

function md5(s: string): string {
  return crypto.createHash('md5').update(s).digest('hex');
}

function attachOutput(child: ChildProcess): () => string {
  let out = '';
  const add = (d: Buffer): void => {
    out = (out + d.toString('utf8')).slice(-64 * 1024);
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  return () => out;
}

async function waitListening(child: ChildProcess, host: string, port: number, output: () => string, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (await portIsFree('udp', port, host)) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what} exited at start (${child.exitCode ?? child.signalCode}):\n${output().slice(-4000)}`);
    }
    if (Date.now() > deadline) {
      killTree(child);
      throw new Error(`${what} did not listen on ${host}:${port} within 20 s:\n${output().slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function killTree(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (child.pid === undefined) return;
  for (const pid of processTree(child.pid).reverse()) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone
    }
  }
}

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => killTree(child), graceMs);
  await closed;
  clearTimeout(timer);
}

/** Kamailio's subscriber table, built from its own SQL, holding the same users as ours. */
export function createKamailioDb(file: string, users: readonly BenchUser[], realm: string): void {
  fs.rmSync(file, { force: true });
  const db = new Database(file);
  try {
    db.exec(fs.readFileSync(path.join(KAMAILIO_SQL, 'standard-create.sql'), 'utf8'));
    db.exec(fs.readFileSync(path.join(KAMAILIO_SQL, 'auth_db-create.sql'), 'utf8'));
    const insert = db.prepare('INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES (?, ?, ?, ?, ?)');
    db.transaction(() => {
      for (const u of users) {
        insert.run(u.user, realm, u.password, md5(`${u.user}:${realm}:${u.password}`), md5(`${u.user}@${realm}:${realm}:${u.password}`));
      }
    })();
  } finally {
    db.close();
  }
}

export interface KamailioOptions extends ServerOptions {
  /** UDP worker processes (children=); 4 by default. */
  readonly children?: number;
}

/** Kamailio 5.6 in the foreground (-DD -E -m 512 -M 16) on a free loopback port. */
export async function startKamailio(opts: KamailioOptions): Promise<SipServerUnderTest> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await freePortBoth(host));
  const realm = opts.realm ?? 'pbx.local';
  fs.mkdirSync(opts.workDir, { recursive: true });
  const dbFile = path.join(opts.workDir, 'kamailio.sqlite');
  createKamailioDb(dbFile, opts.users, realm);
  const cfg = fs
    .readFileSync(KAMAILIO_CFG, 'utf8')
    .replaceAll('__DEBUG__', '0')
    .replaceAll('__CHILDREN__', String(opts.children ?? 4))
    .replaceAll('__REALM__', realm)
    .replaceAll('__HOST__', host)
    .replaceAll('__PORT__', String(port))
    .replaceAll('__MPATH__', KAMAILIO_MODULES)
    .replaceAll('__DBFILE__', dbFile);
  const cfgFile = path.join(opts.workDir, 'kamailio.cfg');
  fs.writeFileSync(cfgFile, cfg);
  const child = spawn(
    'kamailio',
    ['-f', cfgFile, '-DD', '-E', '-m', '512', '-M', '16', '-P', path.join(opts.workDir, 'kamailio.pid'), '-Y', opts.workDir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return serverUnderTest('kamailio', child, host, port, 'kamailio');
}

/** Waits until the server answers on host:port, then describes it to the bench and tests. */
async function serverUnderTest(name: string, child: ChildProcess, host: string, port: number, label: string): Promise<SipServerUnderTest> {
  const output = attachOutput(child);
  await waitListening(child, host, port, output, label);
  const pid = child.pid ?? -1;
  return {
    name,
    target: `${host}:${port}`,
    host,
    port,
    pid,
    pids: () => processTree(pid),
    output,
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: () => stopChild(child, 5000),
  };
}

/** The slice of our store the benchmark needs (imported at run time from dist/services/store). */
interface ExtensionStore {
  readonly extensions: { add(input: { number: string; displayName: string; secret: string }): unknown };
  readonly voicemail?: { setBox(extension: string, patch: { enabled: boolean }): unknown };
  transaction<T>(fn: () => T): T;
  close(): void;
}

function isExtensionStore(v: unknown): v is ExtensionStore {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  const ext = s.extensions as Record<string, unknown> | undefined;
  return typeof ext?.add === 'function' && typeof s.transaction === 'function' && typeof s.close === 'function';
}

export const PBX_MAIN = path.join(REPO_ROOT, 'dist', 'services', 'pbx', 'main.js');
export const PBX_STORE = path.join(REPO_ROOT, 'dist', 'services', 'store', 'index.js');

/** Whether our server has been built (dist/services/pbx/main.js exists). */
export function pbxAvailable(): boolean {
  return fs.existsSync(PBX_MAIN) && fs.existsSync(PBX_STORE);
}

/**
 * Create the users as extensions in a fresh data dir, through the store's own repository. Their
 * voicemail boxes are off: the server under test answers as a SIP server (busy is 486, no phone is
 * 480), the way Kamailio does beside it; voicemail has its own tests (hw-tests/voicemail/).
 */
export async function createPbxExtensions(dataDir: string, users: readonly BenchUser[]): Promise<void> {
  const mod: unknown = await import(pathToFileURL(PBX_STORE).href);
  const openStore = (mod as { openStore?: unknown }).openStore;
  if (typeof openStore !== 'function') throw new Error(`${PBX_STORE} exports no openStore`);
  const store: unknown = openStore(dataDir);
  if (!isExtensionStore(store)) throw new Error('openStore() did not return a store with extensions.add');
  try {
    store.transaction(() => {
      for (const u of users) {
        store.extensions.add({ number: u.user, displayName: `U${u.user}`, secret: u.password });
        store.voicemail?.setBox(u.user, { enabled: false });
      }
    });
  } finally {
    store.close();
  }
}

export interface PbxOptions extends ServerOptions {
  readonly env?: Readonly<Record<string, string>>;
  /** Node flags before the script (the appliance's come from image/ecosystem.config.cjs). */
  readonly nodeArgs?: readonly string[];
}

/** Our SIP server: `node dist/services/pbx/main.js` with PBX_DATA_DIR / PBX_SIP_PORT / PBX_BIND. */
export async function startPbx(opts: PbxOptions): Promise<SipServerUnderTest> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await freePortBoth(host));
  const dataDir = path.join(opts.workDir, 'pbx-data');
  fs.mkdirSync(dataDir, { recursive: true });
  await createPbxExtensions(dataDir, opts.users);
  // The realm is a setting of config.json (no environment variable), as on the appliance.
  if (opts.realm !== undefined) fs.writeFileSync(path.join(dataDir, 'config.json'), JSON.stringify({ realm: opts.realm }));
  // Every other listener on a port the kernel picks: tests run in parallel, never on fixed ports.
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), PBX_MAIN], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      ...pbxListenEnv(dataDir, port),
      PBX_BIND: host,
      PBX_LOG_LEVEL: 'warn',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return serverUnderTest('ours (pbx-sip)', child, host, port, 'pbx-sip');
}
