/**
 * Runtime configuration: defaults, then `<dataDir>/config.json`, then environment variables
 * (env wins). Parsed once at start into a typed, validated RuntimeConfig; a bad value is a
 * ConfigError naming the variable or the field, never a silent default.
 */
import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { z } from 'zod';
import { isLogLevel, LOG_LEVELS, type LogLevel } from './log.js';
import { LANGUAGES, type Language } from './store/types.js';

export interface RuntimeConfig {
  /** Absolute path of the data directory (SQLite, audio, certificates, pm2 home). */
  dataDir: string;
  /** Simulation mode (virtual board, loopback): true unless PBX_SIMULATION=0. */
  simulation: boolean;
  /** Address every listener binds to. */
  bind: string;
  sip: {
    /** UDP and TCP. 0 = let the OS choose (tests). */
    port: number;
    tlsPort: number;
    wsPort: number;
    wssPort: number;
    /**
     * Digest algorithms offered in challenges, in order (RFC 8760 §2.4). Both are always accepted.
     * Default MD5 alone, as Kamailio and Asterisk: baresip 1.0 fails when offered MD5 then SHA-256,
     * SIPp answers only the first. A request already using SHA-256 is challenged with SHA-256.
     */
    digestAlgorithms: Array<'MD5' | 'SHA-256'>;
  };
  httpPort: number;
  /**
   * RTP port range, and the SCHED_RR priority of the media relay thread (0: normal scheduling).
   * The appliance runs it real-time (10) so a busy box does not add jitter; simulation does not.
   * relayNice: when SCHED_RR is refused, the relay threads' own nice (appliance -15; null: the process's).
   * relayThreads: 0 = the relay's default (one per CPU under SCHED_RR; without it 1 on up to 2 CPUs, else CPUs - 1; at most 4).
   */
  rtp: { portMin: number; portMax: number; realtimePriority: number; relayNice: number | null; relayThreads: number };
  /** Digest realm: fixed by the box, never taken from a request. */
  realm: string;
  /** ISO 3166 country: ring cadences, tones, number formats. */
  country: string;
  defaultLanguage: Language;
  /** RFC 3261 §10.3 Expires bounds, seconds. */
  registrar: { minExpires: number; maxExpires: number; defaultExpires: number };
  /** Access policy: maxFailures wrong guesses within windowSeconds block (source, extension) for blockSeconds (docs/security.md). */
  auth: { maxFailures: number; windowSeconds: number; blockSeconds: number };
  calls: { noAnswerSeconds: number };
  /** Unix socket of the control API of the pbx process. */
  ctlSocket: string;
  /** SMTP server the mail outbox sends through (voicemail, fax); null: mail waits in the outbox. */
  mail: MailConfig | null;
  /** PBX_LOG_LEVEL; PBX_LOG_STDOUT=0 keeps log lines out of stdout (they still go to <dataDir>/logs). */
  log: { level: LogLevel; stdout: boolean; dir: string };
}

/** config.json `mail`: the SMTP relay (services/mail/). */
export interface MailConfig {
  host: string;
  port: number;
  /** starttls: plain then STARTTLS, required (587); tls: TLS from the first byte (465); none: plain (a local relay). */
  security: 'starttls' | 'tls' | 'none';
  user: string | null;
  secret: string | null;
  /** From address of every mail. */
  from: string;
  /** Accept a server certificate that does not verify (a relay with a self-signed certificate). */
  allowInvalidCertificate: boolean;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const CONFIG_FILE = 'config.json';

const port = z.number().int().min(0).max(65535);
const positive = z.number().int().positive();
const digestAlgorithms = z.array(z.enum(['MD5', 'SHA-256'])).min(1).max(2).refine((list) => new Set(list).size === list.length, 'must not repeat an algorithm');

/** What config.json may hold: every field optional, unknown fields refused (typos are errors). */
const fileSchema = z
  .object({
    simulation: z.boolean(),
    bind: z.string().refine((v) => net.isIP(v) !== 0, 'must be an IPv4 or IPv6 address'),
    sip: z.object({ port, tlsPort: port, wsPort: port, wssPort: port, digestAlgorithms: digestAlgorithms }).partial().strict(),
    httpPort: port,
    rtp: z.object({ portMin: port, portMax: port, realtimePriority: z.number().int().min(0).max(99), relayNice: z.number().int().min(-20).max(19).nullable(), relayThreads: z.number().int().min(0).max(8) }).partial().strict(),
    realm: z.string().regex(/^[a-zA-Z0-9.-]{1,253}$/, 'must be a host name'),
    country: z.string().regex(/^[A-Z]{2}$/, 'must be a two-letter ISO country code'),
    defaultLanguage: z.enum(LANGUAGES),
    registrar: z.object({ minExpires: positive, maxExpires: positive, defaultExpires: positive }).partial().strict(),
    auth: z.object({ maxFailures: positive, windowSeconds: positive, blockSeconds: positive }).partial().strict(),
    calls: z.object({ noAnswerSeconds: positive }).partial().strict(),
    ctlSocket: z.string().min(1),
    mail: z
      .object({
        host: z.string().regex(/^[A-Za-z0-9.:[\]-]{1,253}$/, 'must be a host name or address'),
        port: z.number().int().min(1).max(65535).optional(),
        security: z.enum(['starttls', 'tls', 'none']).optional(),
        user: z.string().min(1).max(256).optional(),
        secret: z.string().min(1).max(256).optional(),
        from: z.string().regex(/^[^\s@<>]+@[^\s@<>]+$/, 'must be an email address'),
        allowInvalidCertificate: z.boolean().optional(),
      })
      .strict()
      .refine((m) => (m.user === undefined) === (m.secret === undefined), 'user and secret go together'),
  })
  .partial()
  .strict();

type FileConfig = z.infer<typeof fileSchema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  if (env.PBX_DATA_DIR !== undefined && env.PBX_DATA_DIR.includes('\0')) throw new ConfigError('PBX_DATA_DIR: must be a path');
  const dataDir = path.resolve(env.PBX_DATA_DIR || './var');
  const file = readConfigFile(path.join(dataDir, CONFIG_FILE));

  const simulation = env.PBX_SIMULATION !== undefined ? envFlag(env, 'PBX_SIMULATION') : (file.simulation ?? true);
  const sipPort = envPort(env, 'PBX_SIP_PORT') ?? file.sip?.port ?? 5060;
  // The TLS port follows the SIP port unless set, so a test that moves one moves both; with the SIP
  // port at 0 (tests, a second box on one machine) the WebSocket ports are chosen by the OS too.
  const tlsDefault = sipPort === 0 ? 0 : sipPort + 1;
  const wsDefault = sipPort === 0 ? 0 : 8088;
  const wssDefault = sipPort === 0 ? 0 : 8089;
  for (const name of ['PBX_MEDIA_ANCHOR', 'PBX_LOG_STDOUT']) if (env[name] !== undefined && env[name] !== '') envFlag(env, name);
  if (env.PBX_PROMPTS_DIR !== undefined && env.PBX_PROMPTS_DIR !== '' && !fs.existsSync(env.PBX_PROMPTS_DIR)) {
    throw new ConfigError(`PBX_PROMPTS_DIR=${JSON.stringify(env.PBX_PROMPTS_DIR)}: no such directory`);
  }

  const config: RuntimeConfig = {
    dataDir,
    simulation,
    bind: envAddress(env, 'PBX_BIND') ?? file.bind ?? (simulation ? '127.0.0.1' : '0.0.0.0'),
    sip: {
      port: sipPort,
      tlsPort: envPort(env, 'PBX_SIP_TLS_PORT') ?? file.sip?.tlsPort ?? tlsDefault,
      wsPort: envPort(env, 'PBX_SIP_WS_PORT') ?? file.sip?.wsPort ?? wsDefault,
      wssPort: envPort(env, 'PBX_SIP_WSS_PORT') ?? file.sip?.wssPort ?? wssDefault,
      digestAlgorithms: envAlgorithms(env) ?? file.sip?.digestAlgorithms ?? ['MD5'],
    },
    httpPort: envPort(env, 'PBX_HTTP_PORT') ?? file.httpPort ?? 8080,
    rtp: {
      portMin: envPort(env, 'PBX_RTP_PORT_MIN') ?? file.rtp?.portMin ?? 10000,
      portMax: envPort(env, 'PBX_RTP_PORT_MAX') ?? file.rtp?.portMax ?? 20000,
      realtimePriority: file.rtp?.realtimePriority ?? (simulation ? 0 : 10),
      // the fallback when SCHED_RR is refused (a unit with LimitNICE= but no LimitRTPRIO=)
      relayNice: file.rtp?.relayNice === undefined ? (simulation ? null : -15) : file.rtp.relayNice,
      relayThreads: file.rtp?.relayThreads ?? 0,
    },
    realm: file.realm ?? 'pbx.local',
    country: file.country ?? 'US',
    defaultLanguage: file.defaultLanguage ?? 'en',
    registrar: { minExpires: 60, maxExpires: 3600, defaultExpires: 3600, ...file.registrar },
    auth: { maxFailures: 5, windowSeconds: 60, blockSeconds: 600, ...file.auth },
    calls: { noAnswerSeconds: 30, ...file.calls },
    ctlSocket: path.resolve(dataDir, env.PBX_CTL_SOCKET || file.ctlSocket || 'pbx.sock'),
    mail: file.mail === undefined ? null : mailConfig(file.mail),
    log: {
      level: envLogLevel(env) ?? 'info',
      stdout: env.PBX_LOG_STDOUT === undefined || env.PBX_LOG_STDOUT === '' ? true : envFlag(env, 'PBX_LOG_STDOUT'),
      dir: path.join(dataDir, 'logs'),
    },
  };
  checkConsistency(config);
  return config;
}

function mailConfig(m: NonNullable<FileConfig['mail']>): MailConfig {
  const security = m.security ?? 'starttls';
  return {
    host: m.host,
    port: m.port ?? (security === 'tls' ? 465 : security === 'starttls' ? 587 : 25),
    security,
    user: m.user ?? null,
    secret: m.secret ?? null,
    from: m.from,
    allowInvalidCertificate: m.allowInvalidCertificate ?? false,
  };
}

function readConfigFile(file: string): FileConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ConfigError(`${file}: cannot read (${(error as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${file}: not valid JSON (${(error as Error).message})`);
  }
  const result = fileSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue?.path.join('.') || '(top level)';
    throw new ConfigError(`${file}: field ${field}: ${issue?.message ?? 'invalid'}`);
  }
  return result.data;
}

function envAlgorithms(env: NodeJS.ProcessEnv): Array<'MD5' | 'SHA-256'> | undefined {
  const raw = env.PBX_SIP_DIGEST_ALGORITHMS;
  if (raw === undefined || raw === '') return undefined;
  const parsed = digestAlgorithms.safeParse(raw.split(',').map((a) => a.trim()));
  if (!parsed.success) throw new ConfigError(`PBX_SIP_DIGEST_ALGORITHMS=${JSON.stringify(raw)}: must list MD5 and/or SHA-256, comma-separated`);
  return parsed.data;
}

function envPort(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)}: must be a port number 0-65535`);
  }
  return Number(raw);
}

function envLogLevel(env: NodeJS.ProcessEnv): LogLevel | undefined {
  const raw = env.PBX_LOG_LEVEL;
  if (raw === undefined || raw === '') return undefined;
  if (!isLogLevel(raw)) throw new ConfigError(`PBX_LOG_LEVEL=${JSON.stringify(raw)}: must be one of ${LOG_LEVELS.join(', ')}`);
  return raw;
}

function envAddress(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (net.isIP(raw) === 0) throw new ConfigError(`${name}=${JSON.stringify(raw)}: must be an IPv4 or IPv6 address`);
  return raw;
}

function envFlag(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = env[name];
  if (raw === '1' || raw === 'true') return true;
  if (raw === '0' || raw === 'false') return false;
  throw new ConfigError(`${name}=${JSON.stringify(raw)}: must be 0 or 1`);
}

function checkConsistency(config: RuntimeConfig): void {
  if (config.rtp.portMin > config.rtp.portMax) {
    throw new ConfigError(`rtp.portMin (${config.rtp.portMin}) must not exceed rtp.portMax (${config.rtp.portMax})`);
  }
  const r = config.registrar;
  if (!(r.minExpires <= r.defaultExpires && r.defaultExpires <= r.maxExpires)) {
    throw new ConfigError(
      `registrar: need minExpires <= defaultExpires <= maxExpires (got ${r.minExpires}, ${r.defaultExpires}, ${r.maxExpires})`,
    );
  }
  // sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
  if (Buffer.byteLength(config.ctlSocket) > 107) {
    throw new ConfigError(`ctlSocket path is too long for a Unix socket (${config.ctlSocket}); set PBX_CTL_SOCKET`);
  }
}
