/** Every environment variable is validated and named in its error (issue 21 item 6). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from './config.js';

const dir = '/nonexistent-pbx-config-test';

test('each bad environment value is a ConfigError naming its variable', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['PBX_LOG_LEVEL', 'loud', /PBX_LOG_LEVEL="loud": must be one of fatal, error, warn, info, debug, trace, silent/],
    ['PBX_LOG_STDOUT', 'yes', /PBX_LOG_STDOUT="yes": must be 0 or 1/],
    ['PBX_SIMULATION', 'maybe', /PBX_SIMULATION="maybe": must be 0 or 1/],
    ['PBX_MEDIA_ANCHOR', 'off', /PBX_MEDIA_ANCHOR="off": must be 0 or 1/],
    ['PBX_BIND', 'localhost', /PBX_BIND="localhost": must be an IPv4 or IPv6 address/],
    ['PBX_SIP_PORT', '70000', /PBX_SIP_PORT="70000": must be a port number/],
    ['PBX_SIP_TLS_PORT', 'x', /PBX_SIP_TLS_PORT/],
    ['PBX_SIP_WS_PORT', '-1', /PBX_SIP_WS_PORT/],
    ['PBX_SIP_WSS_PORT', '1.5', /PBX_SIP_WSS_PORT/],
    ['PBX_HTTP_PORT', 'http', /PBX_HTTP_PORT/],
    ['PBX_RTP_PORT_MIN', 'low', /PBX_RTP_PORT_MIN/],
    ['PBX_RTP_PORT_MAX', 'high', /PBX_RTP_PORT_MAX/],
    ['PBX_SIP_DIGEST_ALGORITHMS', 'SHA-1', /PBX_SIP_DIGEST_ALGORITHMS/],
    ['PBX_PROMPTS_DIR', '/no/such/prompts', /PBX_PROMPTS_DIR="\/no\/such\/prompts": no such directory/],
  ];
  for (const [name, value, pattern] of cases) {
    assert.throws(() => loadConfig({ PBX_DATA_DIR: dir, [name]: value }), (e: unknown) => e instanceof ConfigError && pattern.test(e.message), `${name}=${value}`);
  }
});

test('good values pass, and the log settings are part of the configuration', () => {
  const c = loadConfig({ PBX_DATA_DIR: dir, PBX_LOG_LEVEL: 'warn', PBX_LOG_STDOUT: '0', PBX_BIND: '::1', PBX_MEDIA_ANCHOR: '0' });
  assert.deepEqual(c.log, { level: 'warn', stdout: false, dir: `${dir}/logs` });
  assert.equal(c.bind, '::1');
  assert.deepEqual(loadConfig({ PBX_DATA_DIR: dir }).log, { level: 'info', stdout: true, dir: `${dir}/logs` });
});

test('with PBX_SIP_PORT=0 every SIP listener port defaults to 0 (the OS picks free ones)', () => {
  const c = loadConfig({ PBX_DATA_DIR: dir, PBX_SIP_PORT: '0' });
  assert.deepEqual([c.sip.port, c.sip.tlsPort, c.sip.wsPort, c.sip.wssPort], [0, 0, 0, 0]);
  const moved = loadConfig({ PBX_DATA_DIR: dir, PBX_SIP_PORT: '5070' });
  assert.deepEqual([moved.sip.tlsPort, moved.sip.wsPort, moved.sip.wssPort], [5071, 8088, 8089]);
  assert.equal(loadConfig({ PBX_DATA_DIR: dir, PBX_SIP_PORT: '0', PBX_SIP_WS_PORT: '9000' }).sip.wsPort, 9000);
});
