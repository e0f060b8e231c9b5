// The known-header scan copies a message into the scan kernel's memory (1 MiB). A message inside
// a larger buffer is copied alone; a message longer than the kernel takes is read off the full
// header table. Both must answer as for any other message.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSip } from '../../src/sip/index.ts';
import { sharedScanKernel } from '../../src/scan-kernel/index.ts';

const capacity = sharedScanKernel().capacity;

const HEAD =
  'INVITE sip:bob@example.com SIP/2.0\r\n' +
  'Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-1\r\n' +
  'From: "Alice" <sip:alice@example.com>;tag=a1\r\n' +
  'To: <sip:bob@example.com>\r\n' +
  'Call-ID: large-1@example.com\r\n' +
  'CSeq: 7 INVITE\r\n' +
  'Contact: <sip:alice@10.0.0.1>\r\n' +
  'P-Asserted-Identity: <sip:+15551234@example.com>\r\n';

function assertFields(bytes: Buffer, from?: number, limit?: number): void {
  const parsed = parseSip(bytes, from, limit);
  assert.ok(parsed.ok);
  const m = parsed.message;
  assert.equal(m.method, 'INVITE');
  assert.equal(m.callId, 'large-1@example.com');
  assert.equal(m.cseqNumber, 7);
  assert.equal(m.cseqMethod, 'INVITE');
  assert.equal(m.fromTag, 'a1');
  assert.equal(m.toTag, null);
  assert.equal(m.pAssertedIdentity?.uri?.user, '+15551234');
  assert.equal(m.header('Contact'), '<sip:alice@10.0.0.1>');
}

describe('messages and buffers beyond the scan kernel capacity', () => {
  test('a message longer than the kernel takes is read off the full table', () => {
    const body = 'x'.repeat(capacity + 10);
    const bytes = Buffer.from(`${HEAD}Content-Length: ${body.length}\r\n\r\n${body}`);
    assert.ok(bytes.length > capacity);
    assertFields(bytes);
  });

  test('a header section longer than the kernel takes, with the known headers after it', () => {
    const filler = `X-Filler: ${'y'.repeat(capacity)}\r\n`;
    const bytes = Buffer.from(HEAD.replace('Via:', `${filler}Via:`) + '\r\n');
    assertFields(bytes);
  });

  test('a folded header in a message longer than the kernel takes is unfolded', () => {
    const body = 'x'.repeat(capacity + 10);
    const bytes = Buffer.from(`${HEAD.replace('Call-ID: large-1@example.com', 'Call-ID:\r\n large-1@example.com')}\r\n${body}`);
    const parsed = parseSip(bytes);
    assert.ok(parsed.ok);
    assert.equal(parsed.message.callId, 'large-1@example.com');
    assert.equal(parsed.message.fromTag, 'a1');
  });

  test('a message inside a buffer larger than the kernel takes is scanned alone', () => {
    const message = Buffer.from(`${HEAD}\r\n`);
    const offset = capacity + 123;
    const bytes = Buffer.concat([Buffer.alloc(offset, 0x0a), message, Buffer.from('Call-ID: not-this-one\r\n')]);
    assertFields(bytes, offset, offset + message.length);
  });
});
