/**
 * The TLS certificate of the SIP listeners (TLS, WSS): generated self-signed on first start into
 * `<dataDir>/tls/sip.key` and `sip.crt`, reused afterwards. An admin replaces it by overwriting
 * both files (PEM) and restarting; files that do not load are an error, never silently replaced.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface CertificateFiles {
  key: string;
  cert: string;
}

export interface CertificateOptions {
  /** Subject CN (default: the host name). */
  commonName?: string;
  /** Extra DNS names / IP addresses in subjectAltName (localhost, 127.0.0.1 and ::1 are always in). */
  altNames?: string[];
  /** Validity in days (default 3650: an appliance certificate must not expire under a customer). */
  days?: number;
}

export function certificatePaths(dataDir: string): { dir: string; key: string; cert: string } {
  const dir = path.join(dataDir, 'tls');
  return { dir, key: path.join(dir, 'sip.key'), cert: path.join(dir, 'sip.crt') };
}

function writeAtomic(file: string, content: string, mode: number): void {
  const temp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(temp, 'w', mode);
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temp, file);
}

/** Throws a clear error when the pair does not load or does not belong together. */
function checkPair(files: CertificateFiles, where: string): void {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(files.cert);
  } catch (error) {
    throw new Error(`${where}: sip.crt is not a PEM certificate (${(error as Error).message})`);
  }
  try {
    if (!certificate.checkPrivateKey(createPrivateKey(files.key))) throw new Error('key does not match the certificate');
  } catch (error) {
    throw new Error(`${where}: sip.key does not load or does not match sip.crt (${(error as Error).message})`);
  }
}

export async function ensureCertificate(dataDir: string, options: CertificateOptions = {}): Promise<CertificateFiles> {
  const paths = certificatePaths(dataDir);
  const haveKey = fs.existsSync(paths.key);
  const haveCert = fs.existsSync(paths.cert);
  if (haveKey && haveCert) {
    const files = { key: fs.readFileSync(paths.key, 'utf8'), cert: fs.readFileSync(paths.cert, 'utf8') };
    checkPair(files, paths.dir);
    return files;
  }
  if (haveKey !== haveCert) {
    throw new Error(`${paths.dir}: only one of sip.key / sip.crt exists; put both back or remove both to regenerate`);
  }
  fs.mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  const commonName = options.commonName ?? os.hostname();
  const names = new Set(['localhost', '127.0.0.1', '::1', commonName, ...(options.altNames ?? [])]);
  const altNames = [...names].map((name) => (/^[\d.]+$|:/.test(name) ? { type: 7 as const, ip: name } : { type: 2 as const, value: name }));
  const now = new Date();
  // Loaded only here: selfsigned and its X.509/ASN.1 libraries hold ~3 MB of heap, needed once per box.
  // A CommonJS package: its exports object is `default` both in Node and in the bundled app's chunk
  // (where named exports of a dynamically imported CommonJS module are not kept).
  const { default: selfsigned } = await import('selfsigned');
  const { generate } = selfsigned;
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + (options.days ?? 3650) * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  const files = { key: pems.private, cert: pems.cert };
  writeAtomic(paths.key, files.key, 0o600);
  writeAtomic(paths.cert, files.cert, 0o644);
  return files;
}
