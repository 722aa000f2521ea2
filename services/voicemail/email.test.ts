// The voicemail email: the owner's language, who/when/how long, WAV byte for byte or MP3 by sox.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { encodeWav } from '../media/wav/wav.js';
import type { VoicemailMessage } from '../store/voicemail.js';
import { callerText, mailboxFullMail, voicemailMail } from './email.js';

const message: VoicemailMessage = { id: 7, box: '101', folder: 'new', urgent: false, caller: '102', callerName: 'Bo', receivedAt: Date.parse('2026-12-06T09:30:00Z'), durationMs: 12_400, file: 'msg.wav', bytes: 0, reason: 'busy' };

test('WAV attachment byte for byte, Spanish text with who, when and how long', async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vm-mail-')), 'msg.wav');
  const wav = encodeWav(Int16Array.from({ length: 8000 }, (_, i) => Math.round(Math.sin(i / 3) * 9000)));
  fs.writeFileSync(file, wav);
  const mail = await voicemailMail(message, { to: 'ana@office.test', language: 'es', audioFile: file, format: 'wav', timeZone: 'America/Mexico_City' });
  assert.equal(mail.subject, 'Nuevo mensaje de voz de Bo <102>');
  assert.match(mail.text, /De: Bo <102>\nRecibido: domingo, 6 de diciembre de 2026, 3:30/);
  assert.match(mail.text, /Duración: 12 s/);
  assert.equal(mail.tag, 'voicemail:7');
  assert.equal(mail.attachments?.[0]?.contentType, 'audio/wav');
  assert.ok(mail.attachments?.[0]?.content.equals(wav));
  assert.match(mail.attachments?.[0]?.filename ?? '', /^voicemail-101-20261206T093000Z\.wav$/);

  const mp3 = await voicemailMail(message, { to: 'ana@office.test', language: 'sv', audioFile: file, format: 'mp3' });
  const content = mp3.attachments?.[0]?.content ?? Buffer.alloc(0);
  assert.equal(mp3.attachments?.[0]?.contentType, 'audio/mpeg');
  // An MP3 made by sox: an ID3 tag or an MPEG frame sync at the start, and much smaller than the WAV.
  assert.ok(content.subarray(0, 3).toString() === 'ID3' || (content[0] === 0xff && ((content[1] ?? 0) & 0xe0) === 0xe0), 'MP3 data');
  assert.ok(content.length > 0 && content.length < wav.length / 2, `${content.length} bytes of MP3 for ${wav.length} of WAV`);
  assert.equal(mp3.subject, 'Nytt röstmeddelande från Bo <102>');
});

test('caller text and the mailbox-full notice', () => {
  assert.equal(callerText('102', ''), '102');
  assert.equal(callerText('102', '102'), '102');
  assert.equal(callerText('+33142345601', 'Client'), 'Client <+33142345601>');
  const full = mailboxFullMail('101', '102', { to: 'ana@office.test', language: 'fr' });
  assert.equal(full.subject, 'Votre messagerie 101 est pleine');
  assert.match(full.text, /102 a appelé/);
});
