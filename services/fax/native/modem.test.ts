/**
 * The addon's two modems back to back in one process (no sockets): a 3-page TIFF made by
 * ghostscript goes from a sending to a receiving spandsp instance over T.30 audio and over T.38,
 * in simulated time (fast). Bad arguments throw typed errors, never crash.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { FaxModem, T38Gateway } from './modem.js';

let dir: string;
let tiff: string;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fax-modem-'));
  const ps = path.join(dir, 'doc.ps');
  fs.writeFileSync(ps, '/Helvetica findfont 30 scalefont setfont\n1 1 3 { /n exch def 72 600 moveto (Page ) show n 3 string cvs show showpage } for\n');
  tiff = path.join(dir, 'doc.tif');
  execFileSync('gs', ['-q', '-dNOPAUSE', '-dBATCH', '-dSAFER', '-sDEVICE=tiffg4', '-r204x196', '-g1728x2156', `-sOutputFile=${tiff}`, ps]);
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

for (const transport of ['audio', 't38'] as const) {
  test(`3 pages from one modem to the other over ${transport === 'audio' ? 'T.30 audio' : 'T.38 IFP'}`, () => {
    const out = path.join(dir, `rx-${transport}.tif`);
    const tx = new FaxModem({ transport, callingParty: true, direction: 'send', file: tiff, ident: '+1 555 0100' });
    const rx = new FaxModem({ transport, callingParty: false, direction: 'receive', file: out, ident: '+1 555 0200' });
    const a = new Int16Array(160);
    const b = new Int16Array(160);
    let seqA = 0;
    let seqB = 0;
    let ticks = 0;
    // 10 simulated minutes at most.
    while (!(tx.status().done && rx.status().done) && ticks++ < 30_000) {
      if (transport === 'audio') {
        tx.transmitAudio(a);
        rx.transmitAudio(b);
        rx.receiveAudio(a);
        tx.receiveAudio(b);
      } else {
        for (const p of tx.tick(160)) rx.receiveIfp(p.data, seqA++ & 0xffff);
        for (const p of rx.tick(160)) tx.receiveIfp(p.data, seqB++ & 0xffff);
      }
    }
    const sent = tx.status();
    const got = rx.status();
    tx.close();
    rx.close();
    assert.equal(sent.resultText, 'OK');
    assert.equal(got.resultText, 'OK');
    assert.equal(sent.pagesTx, 3);
    assert.equal(got.pagesRx, 3);
    assert.equal(got.remoteIdent, '+1 555 0100', 'the TSI reaches the receiver');
    assert.equal(sent.remoteIdent, '+1 555 0200', 'the CSI reaches the sender');
  });
}

test('3 pages from an audio modem through the T.38 gateway to a T.38 terminal (an ATA relaying a fax machine)', () => {
  const out = path.join(dir, 'rx-gateway.tif');
  const machine = new FaxModem({ transport: 'audio', callingParty: true, direction: 'send', file: tiff, ident: '+1 555 0300' });
  const gateway = new T38Gateway();
  const server = new FaxModem({ transport: 't38', callingParty: false, direction: 'receive', file: out, ident: '+1 555 0400' });
  const toGateway = new Int16Array(160);
  const toMachine = new Int16Array(160);
  let seqIn = 0;
  let seqOut = 0;
  let ticks = 0;
  while (!(machine.status().done && server.status().done) && ticks++ < 30_000) {
    machine.transmitAudio(toGateway);
    gateway.receiveAudio(toGateway);
    gateway.transmitAudio(toMachine);
    machine.receiveAudio(toMachine);
    for (const p of gateway.takeIfp()) server.receiveIfp(p.data, seqIn++ & 0xffff);
    for (const p of server.tick(160)) gateway.receiveIfp(p.data, seqOut++ & 0xffff);
  }
  const relayed = gateway.stats();
  const sent = machine.status();
  const got = server.status();
  machine.close();
  gateway.close();
  server.close();
  assert.equal(sent.resultText, 'OK');
  assert.equal(got.resultText, 'OK');
  assert.equal(got.pagesRx, 3);
  assert.equal(got.remoteIdent, '+1 555 0300', "the machine's TSI crosses the gateway");
  assert.ok(relayed.bitRate >= 9600, `the gateway relayed at ${relayed.bitRate} bit/s`);
  assert.deepEqual(gateway.stats(), { pages: 0, bitRate: 0, ecm: false }, 'a closed gateway is inert');
  assert.equal(gateway.receiveIfp(Buffer.from([0, 1]), 1), false);
});

test('bad arguments are typed errors; a closed modem is inert', () => {
  const m = new FaxModem({ transport: 'audio', callingParty: false, direction: 'receive', file: path.join(dir, 'x.tif'), ident: 'x' });
  assert.throws(() => m.receiveIfp(Buffer.alloc(3), 1), { code: 'ERR_FAX_MODE' });
  assert.throws(() => m.receiveAudio(new Int16Array(9000)), { code: 'ERR_FAX_ARG' });
  assert.throws(() => m.receiveAudio(new Uint8Array(10) as unknown as Int16Array), { code: 'ERR_FAX_ARG' });
  m.close();
  assert.equal(m.transmitAudio(new Int16Array(160)), 0);
  assert.throws(() => new FaxModem({ transport: 'audio', callingParty: false, direction: 'receive', file: '', ident: 'x' }), { code: 'ERR_FAX_ARG' });
  const t = new FaxModem({ transport: 't38', callingParty: true, direction: 'receive', file: path.join(dir, 'y.tif'), ident: 'y' });
  // Garbage IFP packets from the network: refused or ignored, never a crash.
  for (let i = 0; i < 200; i++) t.receiveIfp(Buffer.from(Array.from({ length: (i % 40) + 1 }, (_, k) => (i * 31 + k * 17) & 0xff)), i);
  t.tick(160);
  t.close();
});
