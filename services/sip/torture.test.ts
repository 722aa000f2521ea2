/**
 * RFC 4475 torture corpus: every one of the 49 messages, with the outcome INDEX.md expects, through
 * parseMessage and (for requests that parse) validateRequest with the PBX's configuration.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import path from 'node:path';
import { branchOf, getHeader, tagOf, type SipMessage, type SipRequest, type SipResponse } from './message.js';
import { parseMessage } from './parser.js';
import { validateRequest, type ValidateOptions } from './validate.js';

// the corpus lives beside the repository (../shared), as the issue names it; RFC4475_DIR overrides
const CORPUS = process.env.RFC4475_DIR ?? fileURLToPath(new URL('../../../../shared/conformance/rfc4475', import.meta.url));

const OPTIONS: ValidateOptions = {
  supportedExtensions: ['path', 'outbound', 'replaces', 'timer'],
  acceptedContentTypes: ['application/sdp', 'application/dtmf-relay'],
  isProxyOrB2bua: true,
};

type Expectation =
  /** parses; validateRequest (requests only) returns null, or the given status */
  | { outcome: 'parse'; validate?: number; check?: (m: SipMessage) => void }
  /** a request rejected by the parser with this status in errorResponse */
  | { outcome: 'reject'; status: number }
  /** dropped silently: no errorResponse */
  | { outcome: 'drop' };

function req(m: SipMessage): SipRequest {
  assert.equal(m.kind, 'request');
  return m as SipRequest;
}
function res(m: SipMessage): SipResponse {
  assert.equal(m.kind, 'response');
  return m as SipResponse;
}
function sipUser(m: NonNullable<SipMessage['to']>['uri']): string | null {
  assert.equal(m.kind, 'sip');
  return m.kind === 'sip' ? m.user : null;
}

const TABLE: Record<string, Expectation> = {
  // 3.1.1 valid
  'wsinv.dat': {
    outcome: 'parse',
    check: (m) => {
      const r = req(m);
      assert.equal(r.method, 'INVITE');
      assert.equal(r.callId, 'wsinv.ndaksdj@192.0.2.1');
      assert.deepEqual(r.cseq, { seq: 9, method: 'INVITE' });
      assert.equal(r.via.length, 3);
      assert.deepEqual(r.via.map((v) => v.transport), ['UDP', 'TCP', 'UDP']);
      assert.equal(branchOf(r.via[2]), 'z9hG4bK30239');
      assert.equal(r.maxForwards, 68);
      assert.equal(tagOf(r.to), '1918181833n');
      assert.equal(tagOf(r.from), '98asjd8');
      assert.equal(r.from.displayName, 'J Rosenberg \\"');
      assert.ok(r.contact !== '*' && r.contact.length === 1);
      const contact = r.contact[0]!;
      assert.equal(contact.params.get('q'), '0.33');
      assert.equal(contact.params.get('newparam'), 'newvalue');
      assert.equal(contact.displayName, 'Quoted string ""');
      assert.equal(r.route.length, 1);
      assert.equal(getHeader(r, 'subject'), '');
      assert.equal(getHeader(r, 'newfangledheader'), 'newfangled value continued newfangled value');
      assert.equal(r.body.length, 150);
    },
  },
  'intmeth.dat': {
    outcome: 'parse',
    check: (m) => {
      const r = req(m);
      assert.equal(r.method, "!interesting-Method0123456789_*+`.%indeed'~");
      assert.equal(r.cseq.method, r.method);
      assert.equal(r.uri.kind === 'sip' && r.uri.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
      assert.equal(r.uri.kind === 'sip' && r.uri.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
      assert.equal(r.to.displayName, 'BEL:\x07 NUL:\x00 DEL:\x7f');
      assert.equal(r.callId, 'intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{');
      assert.equal(tagOf(r.from), "_token~1'+`*%!-.");
      assert.equal(getHeader(r, "extensionheader-!.%*+_`'~"), '\ufeff大停電');
    },
  },
  'esc01.dat': {
    outcome: 'parse',
    check: (m) => {
      const r = req(m);
      assert.equal(r.uri.kind === 'sip' && r.uri.user, 'sips%3Auser%40example.com');
      assert.equal(sipUser(r.from.uri), 'I%20have%20spaces');
      assert.equal(r.contentType, 'application/sdp');
    },
  },
  'escnull.dat': {
    outcome: 'parse',
    check: (m) => {
      const r = req(m);
      assert.equal(sipUser(r.to.uri), 'null-%00-null');
      assert.ok(r.contact !== '*' && r.contact.length === 2);
    },
  },
  'esc02.dat': {
    outcome: 'parse',
    check: (m) => {
      const r = req(m);
      assert.equal(r.method, 'RE%47IST%45R');
      assert.equal(r.to.displayName, '%Z%45');
      assert.ok(r.contact !== '*' && r.contact.length === 2); // C%6Fntact is another header
      assert.equal(getHeader(r, 'C%6Fntact'), '<sip:alias2@host2.example.com>');
    },
  },
  'lwsdisp.dat': { outcome: 'parse', check: (m) => assert.equal(req(m).from.displayName, 'caller') },
  'longreq.dat': {
    outcome: 'parse',
    check: (m) => {
      const r = req(m);
      assert.equal(r.via.length, 34);
      assert.equal(r.via[0]!.host, 'sip33.example.com');
      assert.equal(r.via[33]!.params.get('received'), '192.0.2.5');
      assert.equal(r.to.uri.kind === 'sip' && r.to.uri.port, 6000);
      assert.ok(r.callId.startsWith('longreq.onereallyreally'));
      assert.equal(r.body.length, 150);
    },
  },
  'dblreq.dat': {
    outcome: 'parse',
    check: (m) => {
      const r = req(m);
      assert.equal(r.method, 'REGISTER');
      assert.equal(r.callId, 'dblreq.0ha0isndaksdj99sdfafnl3lk233412');
      assert.equal(r.body.length, 0);
    },
  },
  'semiuri.dat': {
    outcome: 'parse',
    check: (m) => {
      const r = req(m);
      assert.equal(r.uri.kind === 'sip' && r.uri.user, 'user;par=u%40example.net');
      assert.equal(r.uri.kind === 'sip' && r.uri.host, 'example.com');
    },
  },
  'transports.dat': {
    outcome: 'parse',
    check: (m) => assert.deepEqual(req(m).via.map((v) => v.transport), ['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP']),
  },
  'mpart01.dat': {
    outcome: 'parse',
    check: (m) => {
      const r = req(m);
      assert.equal(r.body.length, 553);
      assert.equal(r.contentType, 'multipart/mixed;boundary=7a9cbec02ceef655');
    },
  },
  'unreason.dat': {
    outcome: 'parse',
    check: (m) => {
      const r = res(m);
      assert.equal(r.status, 200);
      assert.ok(r.reason.startsWith('= 2**3 * 5**2 но сто'));
      assert.equal(r.body.length, 154);
    },
  },
  'noreason.dat': {
    outcome: 'parse',
    check: (m) => {
      const r = res(m);
      assert.equal(r.status, 100);
      assert.equal(r.reason, '');
    },
  },
  // 3.1.2 invalid
  'badinv01.dat': { outcome: 'reject', status: 400 },
  'clerr.dat': { outcome: 'reject', status: 400 },
  'ncl.dat': { outcome: 'reject', status: 400 },
  'scalar02.dat': { outcome: 'reject', status: 400 },
  'scalarlg.dat': { outcome: 'drop' },
  'quotbal.dat': { outcome: 'reject', status: 400 },
  'ltgtruri.dat': { outcome: 'reject', status: 400 },
  'lwsruri.dat': { outcome: 'reject', status: 400 },
  'lwsstart.dat': { outcome: 'reject', status: 400 },
  'trws.dat': { outcome: 'reject', status: 400 },
  'escruri.dat': { outcome: 'reject', status: 400 },
  // the RFC allows ignoring Date: it is a raw header we never interpret
  'baddate.dat': { outcome: 'parse', check: (m) => assert.equal(getHeader(m, 'date'), 'Fri, 01 Jan 2010 16:00:00 EST') },
  'regbadct.dat': { outcome: 'reject', status: 400 },
  'badaspec.dat': { outcome: 'reject', status: 400 },
  'baddn.dat': { outcome: 'reject', status: 400 },
  'badvers.dat': { outcome: 'reject', status: 505 },
  'mismatch01.dat': { outcome: 'reject', status: 400 },
  'mismatch02.dat': { outcome: 'reject', status: 400 },
  'bigcode.dat': { outcome: 'drop' },
  // 3.2 transaction: a branch of only the cookie parses; the transaction layer treats it as pre-3261
  'badbranch.dat': { outcome: 'parse', check: (m) => assert.equal(branchOf(m.via[0]), 'z9hG4bK') },
  // 3.3 application
  'insuf.dat': { outcome: 'reject', status: 400 },
  'unkscm.dat': { outcome: 'parse', validate: 416 },
  'novelsc.dat': { outcome: 'parse', validate: 416 },
  'unksm2.dat': {
    outcome: 'parse',
    check: (m) => {
      const r = req(m);
      assert.deepEqual(r.to.uri, { kind: 'absolute', scheme: 'isbn', raw: 'isbn:2983792873' });
      assert.equal(r.from.uri.kind === 'absolute' && r.from.uri.scheme, 'http');
      assert.ok(r.contact !== '*' && r.contact[0]!.uri.kind === 'absolute' && r.contact[0]!.uri.scheme === 'name');
    },
  },
  'bext01.dat': { outcome: 'parse', validate: 420 },
  'invut.dat': { outcome: 'parse', validate: 415 },
  'regaut01.dat': {
    outcome: 'parse',
    check: (m) => assert.equal(getHeader(m, 'authorization'), 'NoOneKnowsThisScheme opaque-data=here'),
  },
  'multi01.dat': { outcome: 'reject', status: 400 },
  'mcl01.dat': { outcome: 'reject', status: 400 },
  // a response: parses; the transport never sends to a broadcast Via (it answers the source)
  'bcast.dat': { outcome: 'parse', check: (m) => assert.equal(res(m).via[1]!.host, '255.255.255.255') },
  'zeromf.dat': { outcome: 'parse', validate: 483 },
  'cparam01.dat': {
    outcome: 'parse',
    check: (m) => {
      const r = req(m);
      assert.ok(r.contact !== '*');
      const c = r.contact[0]!;
      assert.ok(c.params.has('unknownparam'));
      assert.equal(c.uri.kind === 'sip' && c.uri.params.size, 0);
    },
  },
  'cparam02.dat': {
    outcome: 'parse',
    check: (m) => {
      const r = req(m);
      assert.ok(r.contact !== '*');
      const c = r.contact[0]!;
      assert.equal(c.params.size, 0);
      assert.ok(c.uri.kind === 'sip' && c.uri.params.has('unknownparam'));
    },
  },
  'regescrt.dat': {
    outcome: 'parse',
    check: (m) => {
      const r = req(m);
      assert.ok(r.contact !== '*');
      const uri = r.contact[0]!.uri;
      assert.ok(uri.kind === 'sip' && uri.headers.get('Route') === '%3Csip:sip.example.com%3E');
    },
  },
  'sdp01.dat': { outcome: 'parse', validate: 406 },
  // 3.4 compat: RFC 2543 INVITE (no Max-Forwards, no branch, no Content-Length: body to datagram end)
  'inv2543.dat': {
    outcome: 'parse',
    check: (m) => {
      const r = req(m);
      assert.equal(r.maxForwards, null);
      assert.equal(branchOf(r.via[0]), null);
      assert.equal(tagOf(r.from), null);
      assert.equal(r.recordRoute.length, 1);
      assert.ok(r.body.toString('latin1').startsWith('v=0\r\n'));
      assert.ok(r.body.toString('latin1').endsWith('RTP/AVP 0\r\n'));
    },
  },
};

test('the table covers all 49 corpus files', () => {
  const files = fs.readdirSync(CORPUS).filter((f) => f.endsWith('.dat')).sort();
  assert.equal(files.length, 49);
  assert.deepEqual(files, Object.keys(TABLE).sort());
});

for (const [file, expected] of Object.entries(TABLE)) {
  test(`${file}: ${expected.outcome}${'status' in expected ? ' ' + expected.status : ''}${'validate' in expected && expected.validate ? ' → ' + expected.validate : ''}`, () => {
    const data = fs.readFileSync(path.join(CORPUS, file));
    const result = parseMessage(data);
    if (expected.outcome === 'parse') {
      assert.ok(result.ok, result.ok ? '' : result.error.reason);
      const message = result.message;
      expected.check?.(message);
      if (message.kind === 'request') {
        const rejection = validateRequest(message, OPTIONS);
        assert.equal(rejection?.status ?? null, expected.validate ?? null, rejection?.reason);
        if (rejection?.status === 420) {
          assert.deepEqual(rejection.headers, [
            {
              name: 'Unsupported',
              value: 'nothingSupportsThis, nothingSupportsThisEither, noProxiesSupportThis, norDoAnyProxiesSupportThis',
            },
          ]);
        }
        if (rejection?.status === 415) assert.deepEqual(rejection.headers, [{ name: 'Accept', value: 'application/sdp, application/dtmf-relay' }]);
      } else {
        assert.equal(expected.validate, undefined);
      }
      return;
    }
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.ok(result.error.reason.length > 0);
    assert.ok(!result.error.reason.startsWith('internal'), result.error.reason);
    if (expected.outcome === 'drop') {
      assert.equal(result.error.errorResponse, null);
      return;
    }
    const response = result.error.errorResponse;
    assert.ok(response !== null, `${file} should be answered (${result.error.reason})`);
    const text = response.toString('utf8');
    assert.ok(text.startsWith(`SIP/2.0 ${expected.status} `), text.split('\r\n')[0]);
    assert.ok(text.endsWith('Content-Length: 0\r\n\r\n'));
    // the client matches on top Via branch + CSeq (§17.1.3): both are echoed as received
    const original = data.toString('latin1');
    const cseq = /^CSeq:\s*(.*?)\r$/im.exec(original)![1]!;
    assert.ok(text.includes('\r\nCSeq: ' + cseq + '\r\n'), 'CSeq echoed');
    const branch = /branch=([^;,\s]+)/.exec(original);
    if (branch) assert.ok(text.includes('branch=' + branch[1]), 'Via branch echoed');
    // when what we echo is well formed, the answer parses as a response with the same Call-ID
    const reparsed = parseMessage(response);
    if (reparsed.ok) {
      assert.equal(reparsed.message.kind, 'response');
      assert.equal(reparsed.message.kind === 'response' && reparsed.message.status, expected.status);
      assert.ok(tagOf(reparsed.message.to) !== null, 'To tag added');
    }
  });
}

test('zeromf.dat: Max-Forwards 0 is fine for a plain UAS (not forwarded)', () => {
  const result = parseMessage(fs.readFileSync(path.join(CORPUS, 'zeromf.dat')));
  assert.ok(result.ok && result.message.kind === 'request');
  assert.equal(validateRequest(result.message, { ...OPTIONS, isProxyOrB2bua: false }), null);
});

test('every corpus file also survives with a tiny maxSize (513 or drop, never a throw)', () => {
  for (const file of Object.keys(TABLE)) {
    const result = parseMessage(fs.readFileSync(path.join(CORPUS, file)), { maxSize: 200 });
    assert.equal(result.ok, false);
    if (result.ok) continue;
    const response = result.error.errorResponse;
    if (response !== null) assert.ok(response.toString().startsWith('SIP/2.0 513 Message Too Large\r\n'), file);
  }
});
