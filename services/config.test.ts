import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-config-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const writeFile = (value: unknown): void =>
    fs.writeFileSync(path.join(dir, 'config.json'), typeof value === 'string' ? value : JSON.stringify(value));

  test('defaults', () => {
    const c = loadConfig({ PBX_DATA_DIR: dir });
    assert.equal(c.dataDir, dir);
    assert.equal(c.simulation, true);
    assert.equal(c.bind, '127.0.0.1');
    assert.deepEqual(c.sip, { port: 5060, tlsPort: 5061, wsPort: 8088, wssPort: 8089, digestAlgorithms: ['MD5'] });
    assert.equal(c.httpPort, 8080);
    assert.deepEqual(c.rtp, { portMin: 10000, portMax: 20000, realtimePriority: 0, relayNice: null, relayThreads: 0 });
    assert.equal(c.realm, 'pbx.local');
    assert.equal(c.country, 'US');
    assert.equal(c.defaultLanguage, 'en');
    assert.deepEqual(c.registrar, { minExpires: 60, maxExpires: 3600, defaultExpires: 3600 });
    assert.deepEqual(c.auth, { maxFailures: 5, windowSeconds: 60, blockSeconds: 600 });
    assert.deepEqual(c.calls, { noAnswerSeconds: 30 });
    assert.equal(c.ctlSocket, path.join(dir, 'pbx.sock'));
  });

  test('the data dir defaults to ./var, made absolute', () => {
    const c = loadConfig({});
    assert.equal(c.dataDir, path.resolve('var'));
    assert.ok(path.isAbsolute(c.dataDir));
    assert.equal(loadConfig({ PBX_DATA_DIR: 'rel/dir' }).dataDir, path.resolve('rel/dir'));
  });

  test('environment variables', () => {
    const c = loadConfig({
      PBX_DATA_DIR: dir,
      PBX_SIP_PORT: '15060',
      PBX_HTTP_PORT: '18080',
      PBX_BIND: '127.0.0.2',
      PBX_SIP_WS_PORT: '18088',
      PBX_SIP_WSS_PORT: '18089',
      PBX_SIP_DIGEST_ALGORITHMS: 'SHA-256, MD5',
      PBX_RTP_PORT_MIN: '30000',
      PBX_RTP_PORT_MAX: '30100',
    });
    assert.deepEqual(c.sip, { port: 15060, tlsPort: 15061, wsPort: 18088, wssPort: 18089, digestAlgorithms: ['SHA-256', 'MD5'] });
    assert.equal(c.httpPort, 18080);
    assert.equal(c.bind, '127.0.0.2');
    assert.deepEqual(c.rtp, { portMin: 30000, portMax: 30100, realtimePriority: 0, relayNice: null, relayThreads: 0 });
    assert.equal(loadConfig({ PBX_DATA_DIR: dir, PBX_SIP_PORT: '0' }).sip.tlsPort, 0);
    assert.equal(loadConfig({ PBX_DATA_DIR: dir, PBX_SIP_TLS_PORT: '5999' }).sip.tlsPort, 5999);
  });

  test('simulation off binds to every address unless PBX_BIND says otherwise', () => {
    assert.equal(loadConfig({ PBX_DATA_DIR: dir, PBX_SIMULATION: '0' }).simulation, false);
    assert.equal(loadConfig({ PBX_DATA_DIR: dir, PBX_SIMULATION: '0' }).bind, '0.0.0.0');
    assert.equal(loadConfig({ PBX_DATA_DIR: dir, PBX_SIMULATION: '0', PBX_BIND: '10.1.1.1' }).bind, '10.1.1.1');
  });

  test('bad environment values name the variable', () => {
    assert.throws(() => loadConfig({ PBX_DATA_DIR: dir, PBX_SIP_PORT: 'abc' }), (e: unknown) => e instanceof ConfigError && /PBX_SIP_PORT/.test(e.message));
    assert.throws(() => loadConfig({ PBX_DATA_DIR: dir, PBX_HTTP_PORT: '70000' }), /PBX_HTTP_PORT/);
    assert.throws(() => loadConfig({ PBX_DATA_DIR: dir, PBX_SIMULATION: 'maybe' }), /PBX_SIMULATION/);
    assert.throws(() => loadConfig({ PBX_DATA_DIR: dir, PBX_RTP_PORT_MIN: '20001' }), /rtp.portMin/);
    assert.throws(() => loadConfig({ PBX_DATA_DIR: dir, PBX_SIP_DIGEST_ALGORITHMS: 'MD5,SHA-1' }), /PBX_SIP_DIGEST_ALGORITHMS/);
  });

  test('config.json in the data dir, with the environment overriding it', () => {
    writeFile({
      sip: { port: 7060, wsPort: 7088 },
      httpPort: 7080,
      realm: 'office.example',
      country: 'SE',
      defaultLanguage: 'sv',
      registrar: { minExpires: 120 },
      auth: { blockSeconds: 60 },
      calls: { noAnswerSeconds: 20 },
    });
    const c = loadConfig({ PBX_DATA_DIR: dir });
    assert.equal(c.sip.port, 7060);
    assert.equal(c.sip.tlsPort, 7061);
    assert.equal(c.sip.wsPort, 7088);
    assert.equal(c.httpPort, 7080);
    assert.equal(c.realm, 'office.example');
    assert.equal(c.country, 'SE');
    assert.equal(c.defaultLanguage, 'sv');
    assert.deepEqual(c.registrar, { minExpires: 120, maxExpires: 3600, defaultExpires: 3600 });
    assert.deepEqual(c.auth, { maxFailures: 5, windowSeconds: 60, blockSeconds: 60 });
    assert.equal(c.calls.noAnswerSeconds, 20);
    const overridden = loadConfig({ PBX_DATA_DIR: dir, PBX_SIP_PORT: '9060', PBX_HTTP_PORT: '9080' });
    assert.equal(overridden.sip.port, 9060);
    assert.equal(overridden.sip.tlsPort, 9061);
    assert.equal(overridden.httpPort, 9080);
    assert.equal(overridden.realm, 'office.example');
  });

  test('a bad config file is a clear error naming the field', () => {
    writeFile({ sip: { port: 'five' } });
    assert.throws(() => loadConfig({ PBX_DATA_DIR: dir }), (e: unknown) => e instanceof ConfigError && /config\.json: field sip\.port/.test(e.message));
    writeFile({ registrar: { minExpires: -1 } });
    assert.throws(() => loadConfig({ PBX_DATA_DIR: dir }), /field registrar\.minExpires/);
    writeFile({ realm: 'a b' });
    assert.throws(() => loadConfig({ PBX_DATA_DIR: dir }), /field realm: must be a host name/);
    writeFile({ defaultLanguage: 'de' });
    assert.throws(() => loadConfig({ PBX_DATA_DIR: dir }), /field defaultLanguage/);
    writeFile({ sipPort: 5060 });
    assert.throws(() => loadConfig({ PBX_DATA_DIR: dir }), /sipPort/);
    writeFile({ registrar: { minExpires: 4000 } });
    assert.throws(() => loadConfig({ PBX_DATA_DIR: dir }), /minExpires <= defaultExpires/);
    writeFile({ rtp: { relayNice: -21 } });
    assert.throws(() => loadConfig({ PBX_DATA_DIR: dir }), /field rtp\.relayNice/);
    writeFile({ rtp: { relayNice: -10 } });
    assert.equal(loadConfig({ PBX_DATA_DIR: dir }).rtp.relayNice, -10);
    writeFile('{ not json');
    assert.throws(() => loadConfig({ PBX_DATA_DIR: dir }), /not valid JSON/);
  });
});
