/**
 * Number porting end to end without a browser: the pre-check's findings through the API (DSL on
 * the line, what carriers reject), a signed submission queued for the sync agent, then the
 * carrier's answers through `pbxctl porting status` (a real pbxctl process on the same SQLite
 * file), and the completed port replacing the temporary number.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { seedAdmin, startWebUi, WebClient, type WebUnderTest } from '../support/web.js';

const PBXCTL = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/pbxctl.js');

function pbxctl(dataDir: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [PBXCTL, '--data-dir', dataDir, ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 2) : 0, stdout, stderr });
    });
  });
}

const GOOD = {
  numberType: 'landline',
  provider: 'Orange',
  accountNumber: 'FR-7788-1234',
  accountPin: null,
  connection: 'fiber',
  numbers: ['01 44 55 66 77', '+33 1 44 55 66 78'],
  serviceAddress: { street: '12 rue de Rivoli', postalCode: '75004', city: 'Paris' },
  holderFirstName: 'Élise',
  holderLastName: 'Martin',
  primaryNumber: '+33 9 70 00 00 01',
  keepTemporary: false,
  termsAccepted: true,
  signature: 'élise martin',
};

interface Finding {
  code: string;
  severity: string;
  field: string | null;
}

describe('number porting: pre-check, submission, status timeline, completion', () => {
  let web: WebUnderTest;
  let admin: WebClient;

  before(async () => {
    web = await startWebUi({ country: 'FR' });
    seedAdmin(web.store);
    web.store.users.setPassword(web.store.users.byUsername('admin')!.id, 'admin-chosen-pw', false);
    web.store.extensions.add({ number: '101', displayName: 'Élise', secret: 'elise-secret-1' });
    // The temporary number the box got at activation: Élise's direct number and the main number.
    admin = new WebClient(web);
    assert.equal((await admin.login('admin', 'admin-chosen-pw')).status, 200);
    assert.equal((await admin.request('PATCH', '/api/extensions/101', { directNumber: '+33970000001' })).status, 200);
    assert.equal((await admin.request('POST', '/api/numbers/+33970000001/main')).status, 200);
  });
  after(() => web.close());

  it('blocks a request with DSL on the line being ported, and says why', async () => {
    const res = await admin.request<{ ok: boolean; findings: Finding[] }>('POST', '/api/porting/precheck', { ...GOOD, connection: 'dsl-same-line' });
    assert.equal(res.status, 200);
    assert.equal(res.body.ok, false);
    assert.deepEqual(res.body.findings.filter((f) => f.severity === 'block').map((f) => f.code), ['dsl-same-line']);
    const submit = await admin.request('POST', '/api/porting', { ...GOOD, connection: 'dsl-same-line' });
    assert.equal(submit.status, 422);
    assert.equal(web.store.porting.list().length, 0, 'nothing stored');
  });

  it('finds what carriers reject: the wrong name signed, a phone number as account, a number outside the areas', async () => {
    const res = await admin.request<{ ok: boolean; findings: Finding[] }>('POST', '/api/porting/precheck', {
      ...GOOD,
      accountNumber: '0144556677',
      numbers: ['01 44 55 66 77', '04 72 10 30 30'],
      signature: 'E. Martin',
      serviceAddress: { street: 'rue de Rivoli', postalCode: '7500', city: 'Paris' },
    });
    const codes = res.body.findings.filter((f) => f.severity === 'block').map((f) => `${f.code}@${f.field}`);
    assert.deepEqual(codes.sort(), [
      'account-is-phone-number@accountNumber',
      'area-not-supported@numbers.1',
      'postal-code-format@serviceAddress.postalCode',
      'signature-mismatch@signature',
      'street-number-missing@serviceAddress.street',
    ]);
    const mobile = await admin.request<{ findings: Finding[] }>('POST', '/api/porting/precheck', { ...GOOD, numberType: 'mobile' });
    assert.ok(mobile.body.findings.some((f) => f.code === 'number-type-mismatch'));
    assert.ok(mobile.body.findings.some((f) => f.code === 'pin-required-mobile'));
    const unsigned = await admin.request<{ findings: Finding[] }>('POST', '/api/porting/precheck', { ...GOOD, termsAccepted: false, signature: '' });
    assert.deepEqual(unsigned.body.findings.filter((f) => f.severity === 'block').map((f) => f.code).sort(), ['signature-missing', 'terms-not-accepted']);
  });

  it('refuses a form with missing fields with field codes', async () => {
    const res = await admin.request<{ error: { fields: Record<string, string> } }>('POST', '/api/porting/precheck', { ...GOOD, provider: '', numbers: [] });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.fields['provider'], 'required');
    assert.ok(res.body.error.fields['numbers']);
  });

  it('stores a signed request in the outbox, then follows the carrier to completion, replacing the temporary number', async () => {
    const created = await admin.request<{ request: { id: number; status: string; body: { numbers: string[]; signature: { digest: string } } } }>('POST', '/api/porting', GOOD);
    assert.equal(created.status, 201, created.text);
    const id = created.body.request.id;
    assert.deepEqual(created.body.request.body.numbers, ['+33144556677', '+33144556678']);
    assert.match(created.body.request.body.signature.digest, /^[0-9a-f]{64}$/);
    assert.deepEqual(web.store.porting.outbox().map((o) => o.requestId), [id]);
    // The same numbers cannot be asked for twice while the first request runs.
    const again = await admin.request<{ check: { findings: Finding[] } }>('POST', '/api/porting', GOOD);
    assert.equal(again.status, 422);
    assert.ok(again.body.check.findings.some((f) => f.code === 'number-pending'));

    const early = await pbxctl(web.dataDir, ['porting', 'status', String(id), '--set', 'completed']);
    assert.equal(early.code, 1, early.stderr);
    assert.match(early.stderr, /from submitted the status can go to foc or rejected/);
    const noDate = await pbxctl(web.dataDir, ['porting', 'status', String(id), '--set', 'foc']);
    assert.equal(noDate.code, 1);
    assert.match(noDate.stderr, /--date/);
    assert.equal((await pbxctl(web.dataDir, ['porting', 'status', String(id), '--set', 'foc', '--date', '2027-01-15'])).code, 0);
    assert.equal((await pbxctl(web.dataDir, ['porting', 'status', String(id), '--set', 'ported'])).code, 0);
    assert.equal((await pbxctl(web.dataDir, ['porting', 'status', String(id), '--set', 'test-call'])).code, 0);
    const done = await pbxctl(web.dataDir, ['porting', 'status', String(id), '--set', 'completed', '--json']);
    assert.equal(done.code, 0, done.stderr);

    const timeline = await admin.request<{ request: { status: string; focDate: string; events: Array<{ status: string }> } }>('GET', `/api/porting/${id}`);
    assert.equal(timeline.body.request.status, 'completed');
    assert.equal(timeline.body.request.focDate, '2027-01-15');
    assert.deepEqual(timeline.body.request.events.map((e) => e.status), ['submitted', 'foc', 'ported', 'test-call', 'completed']);

    // The ported main number took the temporary number's place everywhere; the temporary one is released.
    assert.equal(web.store.numbers.get('+33970000001'), null);
    assert.deepEqual(web.store.numbers.get('+33144556677')?.destination, { kind: 'extension', number: '101' });
    assert.deepEqual(web.store.numbers.get('+33144556678')?.destination, { kind: 'extension', number: '101' });
    assert.equal(web.store.extensionRouting.get('101')?.directNumber, '+33144556677');
    assert.equal(web.store.settings.get('routing.main_number', null), '+33144556677');
    const finished = await pbxctl(web.dataDir, ['porting', 'status', String(id), '--set', 'rejected', '--reason', 'late']);
    assert.equal(finished.code, 1);
    const listed = await pbxctl(web.dataDir, ['porting', 'list', '--json']);
    assert.equal((JSON.parse(listed.stdout) as { requests: Array<{ status: string }> }).requests[0]?.status, 'completed');
  });

  it('keeps the temporary number as an additional (billed) number when asked, and records a rejection with its reason', async () => {
    web.store.numbers.add('+33970000002', { kind: 'extension', number: '101' });
    const kept = await admin.request<{ request: { id: number } }>('POST', '/api/porting', { ...GOOD, numbers: ['01 44 55 66 90'], primaryNumber: '+33970000002', keepTemporary: true });
    assert.equal(kept.status, 201, kept.text);
    const id = kept.body.request.id;
    for (const args of [['--set', 'foc', '--date', '2027-02-01'], ['--set', 'ported'], ['--set', 'completed']]) {
      assert.equal((await pbxctl(web.dataDir, ['porting', 'status', String(id), ...args])).code, 0);
    }
    assert.notEqual(web.store.numbers.get('+33970000002'), null, 'kept');
    const bill = await admin.request<{ numbers: Array<{ number: string; monthlyCents: number }> }>('GET', '/api/numbers');
    assert.equal(bill.body.numbers.find((n) => n.number === '+33970000002')?.monthlyCents, 995);

    const other = await admin.request<{ request: { id: number } }>('POST', '/api/porting', { ...GOOD, numbers: ['01 44 55 66 91'], primaryNumber: '+33144556677' });
    assert.equal(other.status, 201, other.text);
    const rejected = await pbxctl(web.dataDir, ['porting', 'status', String(other.body.request.id), '--set', 'rejected', '--reason', 'account number does not match']);
    assert.equal(rejected.code, 0, rejected.stderr);
    const shown = await pbxctl(web.dataDir, ['porting', 'show', String(other.body.request.id)]);
    assert.match(shown.stdout, /rejected — account number does not match/);
  });
});
