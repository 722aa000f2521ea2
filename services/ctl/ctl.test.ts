import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { silentLogger } from '../log.js';
import { CtlClient } from './client.js';
import { CtlError, MAX_LINE_BYTES } from './protocol.js';
import { startCtlServer, type CtlServer } from './server.js';

declare module './protocol.js' {
  interface CtlMethods {
    'test.echo': { params: { text: string }; result: { text: string } };
    'test.never': { params: void; result: null };
    'test.fail': { params: void; result: null };
  }
}

/** Sends raw lines on a plain socket and collects the reply lines. */
async function rawExchange(socketPath: string, payload: string, expectLines: number): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let buffer = '';
    const lines: unknown[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`got ${lines.length} of ${expectLines} lines: ${buffer}`));
    }, 5000);
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      let i: number;
      while ((i = buffer.indexOf('\n')) >= 0) {
        lines.push(JSON.parse(buffer.slice(0, i)));
        buffer = buffer.slice(i + 1);
      }
      if (lines.length >= expectLines) {
        clearTimeout(timer);
        socket.destroy();
        resolve(lines);
      }
    });
    socket.on('error', () => undefined);
    socket.write(payload);
  });
}

describe('ctl server and client', () => {
  let dir: string;
  let socketPath: string;
  let server: CtlServer;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbx-ctl-'));
    socketPath = path.join(dir, 'ctl.sock');
    server = await startCtlServer(socketPath, silentLogger());
    server.handle('test.echo', (params) => {
      const p = params as { text?: unknown } | undefined;
      if (typeof p?.text !== 'string') throw new CtlError('invalid-params', 'text must be a string');
      return { text: p.text };
    });
    server.handle('test.never', () => new Promise<null>(() => undefined));
    server.handle('test.fail', async () => {
      throw new Error('disk on fire');
    });
  });
  afterEach(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('request and response, many in flight', async () => {
    const client = await CtlClient.connect(socketPath);
    try {
      const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => client.request('test.echo', { text: `m${i}` })));
      assert.deepEqual(replies.map((r) => r.text), Array.from({ length: 200 }, (_, i) => `m${i}`));
    } finally {
      client.close();
    }
  });

  test('errors: invalid params, handler failure, unknown method', async () => {
    const client = await CtlClient.connect(socketPath);
    try {
      await assert.rejects(client.request('test.echo', { text: 5 as unknown as string }), (e: unknown) => e instanceof CtlError && e.code === 'invalid-params');
      await assert.rejects(client.request('test.fail'), (e: unknown) => e instanceof CtlError && e.code === 'failed' && /disk on fire/.test(e.message));
      await assert.rejects(
        client.request('nope' as 'test.fail'),
        (e: unknown) => e instanceof CtlError && e.code === 'unknown-method',
      );
      assert.deepEqual(await client.request('test.echo', { text: 'still fine' }), { text: 'still fine' });
    } finally {
      client.close();
    }
  });

  test('events reach every connected client', async () => {
    const a = await CtlClient.connect(socketPath);
    const b = await CtlClient.connect(socketPath);
    try {
      // A round trip guarantees the server has registered both connections.
      await a.request('test.echo', { text: 'x' });
      await b.request('test.echo', { text: 'x' });
      const got = Promise.all([a, b].map((c) => new Promise<unknown>((resolve) => c.on('registration', resolve))));
      server.emit('registration', { aor: '101' });
      assert.deepEqual(await got, [{ aor: '101' }, { aor: '101' }]);
    } finally {
      a.close();
      b.close();
    }
  });

  test('a request without an answer times out; later requests still work', async () => {
    const client = await CtlClient.connect(socketPath, { timeoutMs: 150 });
    try {
      await assert.rejects(client.request('test.never'), (e: unknown) => e instanceof CtlError && e.code === 'timeout');
      assert.deepEqual(await client.request('test.echo', { text: 'after' }), { text: 'after' });
    } finally {
      client.close();
    }
  });

  test('closing rejects what is pending', async () => {
    const client = await CtlClient.connect(socketPath, { timeoutMs: 10_000 });
    const pending = client.request('test.never');
    client.close();
    await assert.rejects(pending, (e: unknown) => e instanceof CtlError && e.code === 'closed');
    await assert.rejects(client.request('test.never'), (e: unknown) => e instanceof CtlError && e.code === 'closed');
  });

  test('the server going away rejects what is pending', async () => {
    const client = await CtlClient.connect(socketPath, { timeoutMs: 10_000 });
    const pending = client.request('test.never');
    await new Promise((r) => setTimeout(r, 50));
    await server.close();
    await assert.rejects(pending, (e: unknown) => e instanceof CtlError && e.code === 'closed');
    server = await startCtlServer(socketPath, silentLogger());
  });

  test('garbage lines get an error reply and the server keeps serving', async () => {
    const replies = await rawExchange(
      socketPath,
      'this is not json\n{"id":"x","method":"test.echo"}\n[1,2]\n{"id":7}\n{"id":8,"method":"test.echo","params":{"text":"ok"}}\n',
      5,
    );
    assert.deepEqual(replies[0], { id: null, error: { code: 'bad-request', message: 'not JSON' } });
    assert.equal((replies[1] as { error: { code: string } }).error.code, 'bad-request');
    assert.equal((replies[2] as { error: { code: string } }).error.code, 'bad-request');
    assert.deepEqual(replies[3], { id: 7, error: { code: 'bad-request', message: 'expected {id, method, params}' } });
    assert.deepEqual(replies[4], { id: 8, result: { text: 'ok' } });
  });

  test('an endless line is refused without eating memory', async () => {
    const replies = await rawExchange(socketPath, 'x'.repeat(MAX_LINE_BYTES + 10), 1);
    assert.deepEqual(replies[0], { id: null, error: { code: 'bad-request', message: 'line too long' } });
    const client = await CtlClient.connect(socketPath);
    assert.deepEqual(await client.request('test.echo', { text: 'alive' }), { text: 'alive' });
    client.close();
  });

  test('nothing listening: connect fails with unavailable', async () => {
    await assert.rejects(CtlClient.connect(path.join(dir, 'absent.sock')), (e: unknown) => e instanceof CtlError && e.code === 'unavailable');
  });

  test('a stale socket file is replaced; a live one is refused', async () => {
    const stalePath = path.join(dir, 'stale.sock');
    // A socket file whose process died: a child listens on it and is killed with SIGKILL.
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(process.argv[1], () => console.log('up'))`, stalePath], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const died = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await died;
    assert.ok(fs.existsSync(stalePath), 'the killed process left its socket file');
    await assert.rejects(CtlClient.connect(stalePath), (e: unknown) => e instanceof CtlError && e.code === 'unavailable');
    const fresh = await startCtlServer(stalePath, silentLogger());
    fresh.handle('test.echo', (p) => ({ text: (p as { text: string }).text }));
    const client = await CtlClient.connect(stalePath);
    assert.deepEqual(await client.request('test.echo', { text: 'new' }), { text: 'new' });
    client.close();
    await assert.rejects(startCtlServer(stalePath, silentLogger()), /another process is listening/);
    await fresh.close();
  });

  test('a method can only be handled once', () => {
    assert.throws(() => server.handle('test.echo', () => ({ text: '' })), /already handled/);
  });
});
