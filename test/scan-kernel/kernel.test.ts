// The scan kernel against a byte-at-a-time model of the same rules, on inputs built to put every
// kind of byte at every position of a 16-byte vector, and at the edges of its scratch capacity.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CSEQ_SCANNED, CSEQ_UNHANDLED, NOT_SCANNED, TAG_ABSENT, TAG_FOUND, TAG_UNHANDLED, loadScanKernel } from '../../src/scan-kernel/index.ts';
import * as nameAddrBytes from '../../src/sip/name-addr-bytes.ts';
import { CALL_ID, CSEQ, FROM, P_ASSERTED_IDENTITY, TO } from '../../src/sip/known-headers.ts';
import { readFileSync } from 'node:fs';

const kernel = loadScanKernel();
const RUNS = { numRuns: 4000, seed: 20261203 };

const ESCAPED: Record<number, number> = { 0x22: 0x22, 0x5c: 0x5c, 0x2f: 0x2f, 0x62: 0x08, 0x66: 0x0c, 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09 };

function hexDigit(byte: number): number {
  const text = String.fromCharCode(byte);
  return /^[0-9a-fA-F]$/.test(text) ? parseInt(text, 16) : -1;
}

/** The rules of unescapeJsonString, one byte at a time. */
function model(bytes: Buffer, from: number, end: number): { text: Buffer; closingQuote: number } | null {
  const out: number[] = [];
  let i = from;
  while (i < end) {
    const byte = bytes[i];
    if (byte === 0x22) return { text: Buffer.from(out), closingQuote: i };
    if (byte < 0x20 || byte >= 0x80) return null;
    if (byte !== 0x5c) {
      out.push(byte);
      i++;
      continue;
    }
    if (i + 1 >= end) return null;
    const escape = bytes[i + 1];
    if (escape in ESCAPED) {
      out.push(ESCAPED[escape]);
      i += 2;
      continue;
    }
    if (escape !== 0x75 || i + 6 > end) return null;
    const digits = [2, 3, 4, 5].map((k) => hexDigit(bytes[i + k]));
    if (digits[0] !== 0 || digits[1] !== 0 || digits[2] < 0 || digits[2] > 7 || digits[3] < 0) return null;
    out.push(digits[2] * 16 + digits[3]);
    i += 6;
  }
  return null;
}

function assertLikeModel(bytes: Buffer, from: number, end: number): void {
  const label = JSON.stringify(bytes.toString('latin1'));
  const actual = kernel.unescapeJsonString(bytes, from, end);
  const expected = model(bytes, from, end);
  if (expected === null) {
    assert.equal(actual, null, label);
    return;
  }
  assert.notEqual(actual, null, label);
  assert.equal(actual?.closingQuote, expected.closingQuote, label);
  assert.deepEqual([...(actual?.text ?? [])], [...expected.text], label);
}

// Pieces that exercise every branch: plain runs of several lengths (whole vectors and parts),
// each escape, bad escapes, control and non-ASCII bytes, the closing quote.
const PIECES = [
  'a', 'INVITE sip:a@b SIP/2.0', 'Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1', '0123456789abcdef',
  '\\r\\n', '\\n', '\\"', '\\\\', '\\/', '\\b', '\\f', '\\t', '\\u0041', '\\u007F', '\\u0000', '\\u0080', '\\u20ac',
  '\\x', '\\u12', '\\uZZZZ', '\\', '"', '\x01', '\x1f', '\x7f', '\x80', '\xe9', '\xff', ' ', '~',
];

describe('scan kernel: JSON string bodies', () => {
  test('agrees with the byte-at-a-time model on random bodies, at every offset into the buffer', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...PIECES), { maxLength: 24 }),
        fc.nat(20),
        fc.nat(3),
        (parts, lead, cut) => {
          const body = Buffer.from(parts.join(''), 'latin1');
          const bytes = Buffer.concat([Buffer.alloc(lead, 0x7b), body, Buffer.from('"}')]);
          assertLikeModel(bytes, lead, bytes.length - Math.min(cut, bytes.length - lead));
        },
      ),
      RUNS,
    );
  });

  test('agrees with the model on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (raw) => {
        const bytes = Buffer.from(raw);
        assertLikeModel(bytes, 0, bytes.length);
      }),
      RUNS,
    );
  });

  test('a special byte is found at every position of a vector', () => {
    for (const special of [0x22, 0x5c, 0x00, 0x1f, 0x80, 0xff]) {
      for (let position = 0; position < 40; position++) {
        const bytes = Buffer.alloc(48, 0x41);
        bytes[position] = special;
        bytes[47] = 0x22;
        assertLikeModel(bytes, 0, bytes.length);
      }
    }
  });

  test('stops at the end it is given, not at a quote beyond it', () => {
    const bytes = Buffer.from('0123456789abcdef0123456789"');
    assert.equal(kernel.unescapeJsonString(bytes, 0, bytes.length - 1), null);
    assert.deepEqual(kernel.unescapeJsonString(bytes, 0, bytes.length)?.closingQuote, bytes.length - 1);
  });

  test('spans up to its capacity are read, longer ones and inverted ones are refused', () => {
    const full = Buffer.alloc(kernel.capacity, 0x61);
    full[kernel.capacity - 1] = 0x22;
    const result = kernel.unescapeJsonString(full, 0, full.length);
    assert.equal(result?.closingQuote, kernel.capacity - 1);
    assert.equal(result?.text.length, kernel.capacity - 1);
    const tooLong = Buffer.alloc(kernel.capacity + 1, 0x61);
    tooLong[kernel.capacity] = 0x22;
    assert.equal(kernel.unescapeJsonString(tooLong, 0, tooLong.length), null);
    assert.equal(kernel.unescapeJsonString(full, 10, 5), null);
  });

  test('the text is a Buffer of its own: a later call does not change it', () => {
    const first = kernel.unescapeJsonString(Buffer.from('first line\\r\\n"'), 0, 15);
    kernel.unescapeJsonString(Buffer.from('SECOND LINE, LONGER\\r\\n"'), 0, 24);
    assert.equal(first?.text.toString('latin1'), 'first line\r\n');
  });
});

describe('scan kernel: numbering shared with the JavaScript side', () => {
  const module = new WebAssembly.Module(readFileSync(new URL('../../src/scan-kernel/scan-kernel.wasm', import.meta.url)));
  const exports = new WebAssembly.Instance(module, {}).exports;
  const constant = (name: string): unknown => (exports[name] as WebAssembly.Global).value;

  test('tag and CSeq statuses are the ones the parser compares with', () => {
    assert.deepEqual([constant('TAG_FOUND'), constant('TAG_ABSENT'), constant('TAG_UNHANDLED')], [TAG_FOUND, TAG_ABSENT, TAG_UNHANDLED]);
    assert.deepEqual([TAG_FOUND, TAG_ABSENT, TAG_UNHANDLED], [nameAddrBytes.TAG_FOUND, nameAddrBytes.TAG_ABSENT, nameAddrBytes.TAG_UNHANDLED]);
    assert.deepEqual([constant('CSEQ_SCANNED'), constant('CSEQ_UNHANDLED')], [CSEQ_SCANNED, CSEQ_UNHANDLED]);
    assert.ok(![TAG_FOUND, TAG_ABSENT, TAG_UNHANDLED, CSEQ_SCANNED, CSEQ_UNHANDLED].includes(NOT_SCANNED));
  });

  test('headers are numbered as known-headers.ts numbers them', () => {
    // The kernel records Call-ID in slot 0, CSeq in 1, From in 2, To in 3, P-Asserted-Identity in 5.
    assert.deepEqual([CALL_ID, CSEQ, FROM, TO, P_ASSERTED_IDENTITY], [0, 1, 2, 3, 5]);
    const message = Buffer.from('X sip:a SIP/2.0\r\nP-Asserted-Identity: p\r\nTo: t\r\nFrom: f\r\nCSeq: 1 X\r\nCall-ID: c\r\n\r\n');
    const kernel = loadScanKernel();
    const scan = { spans: Array<number>(12).fill(-1), foldedMask: 0, fromTagStatus: NOT_SCANNED, fromTagStart: -1, fromTagEnd: -1, toTagStatus: NOT_SCANNED, toTagStart: -1, toTagEnd: -1, cseqStatus: NOT_SCANNED, cseqNumber: -1, cseqMethodStart: -1, cseqMethodEnd: -1, cseqMethodIndex: -1, callIdAscii: NOT_SCANNED };
    // All five wanted: the scan stops at the line after the last of them (here the blank line).
    assert.equal(kernel.scanHeaderLines(message, 0, message.indexOf('\n') + 1, message.length, 0b101111, scan), message.length - 2);
    const value = (header: number): string => message.toString('latin1', scan.spans[header * 2], scan.spans[header * 2 + 1]);
    assert.deepEqual([value(CALL_ID), value(CSEQ), value(FROM), value(TO), value(P_ASSERTED_IDENTITY)], ['c', '1 X', 'f', 't', 'p']);
    assert.deepEqual([scan.cseqNumber, scan.cseqMethodIndex, scan.fromTagStatus, scan.toTagStatus, scan.callIdAscii], [1, -1, TAG_ABSENT, TAG_ABSENT, 1]);
  });
});
