// The byte-level reader of OpenSIPS's JSON wrapper must give exactly what JSON.parse + Buffer.from
// give, on every input it accepts; everything else must reach JSON.parse, so the outcome (payload
// or error reason) of unwrapJsonPayload is always the reference's.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { unwrapJsonPayload, type PayloadOutcome } from '../../src/hep/payload.ts';

const RUNS = { numRuns: 3000, seed: 20261204 };

/** The wrapper read the plain way: decode, JSON.parse, take the "payload" string, encode. */
function reference(bytes: Buffer): PayloadOutcome {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { ok: false, reason: 'bad_json_payload', detail: '' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, reason: 'bad_json_payload', detail: '' };
  const inner: unknown = (parsed as Record<string, unknown>).payload;
  if (typeof inner !== 'string') return { ok: false, reason: 'bad_json_payload', detail: '' };
  return { ok: true, payload: Buffer.from(inner, 'utf8') };
}

/** unwrapJsonPayload's outcome in the reference's shape. */
function unwrapped(bytes: Buffer, start?: number, end?: number): PayloadOutcome {
  const outcome = unwrapJsonPayload(bytes, start, end);
  return outcome.ok ? { ok: true, payload: outcome.bytes.subarray(0, outcome.length) } : outcome;
}

function assertSameOutcome(bytes: Buffer): void {
  const label = JSON.stringify(bytes.toString('latin1'));
  const actual = unwrapped(bytes);
  const expected = reference(bytes);
  assert.equal(actual.ok, expected.ok, label);
  if (actual.ok && expected.ok) {
    assert.ok(Buffer.isBuffer(actual.payload), label);
    assert.deepEqual([...actual.payload], [...expected.payload], label);
  } else if (!actual.ok && !expected.ok) {
    assert.equal(actual.reason, expected.reason, label);
    assert.ok(actual.detail.length > 0, label);
  }
}

const STRING_PIECES = [
  'INVITE sip:a@b SIP/2.0', '\\r\\n', '\\n', '\\"', '\\\\', '\\/', '\\b', '\\f', '\\t', '\\u0041', '\\u007f', '\\u007F',
  '\\u0000', '\\u0080', '\\u00e9', '\\u20ac', '\\ud83d\\ude00', '\\ud83d', '\\x', '\\u12', '\\uZZZZ', '\\', '"', 'é', '\u20ac',
  '\t', '\n', '\x01', '\x7f', ' ', 'a', '{', '}', ':', ',',
];
const WHITESPACE = ['', ' ', '\n\t', '\r\n', '\u00a0', '\ufeff', '\x0b'];

const jsonString = fc.array(fc.constantFrom(...STRING_PIECES), { maxLength: 12 }).map((parts) => parts.join(''));
const ws = fc.constantFrom(...WHITESPACE);
const key = fc.constantFrom('"payload"', '"payload"', '"payload"', '"Payload"', '"pay\\u006coad"', '"payloa"', '"payloadx"', 'payload', '"body"');
const extra = fc.constantFrom('', '', ', "other": 1', ', "payload": "later"', ', "payload": 42', ',', ' "x": 1', ', "a": {"payload": "n"}');
const value = fc.oneof(
  jsonString.map((s) => `"${s}"`),
  fc.constantFrom('42', 'null', '"unterminated', '["a"]', '{"payload": "nested"}', 'true'),
);

const wrapper = fc
  .tuple(ws, fc.constantFrom('{', '{', '[', ''), ws, key, ws, fc.constantFrom(':', ':', ''), ws, value, ws, extra, ws, fc.constantFrom('}', '}', '', '}}', '} x'), ws)
  .map((parts) => parts.join(''));

/** The usual shape (one "payload" member, JSON whitespace), varied in its string and its end. */
const jsonWs = fc.constantFrom('', ' ', '\n\t', '\r\n');
const usual = fc
  .tuple(jsonWs, jsonWs, jsonWs, jsonWs, jsonString, jsonWs, fc.constantFrom('}', '}', '}', '} x', '}}', ',}', ''), jsonWs)
  .map(([a, b, c, d, string, e, close, f]) => `${a}{${b}"payload"${c}:${d}"${string}"${e}${close}${f}`);

describe('JSON-wrapped payloads', () => {
  test('the byte-level reader agrees with JSON.parse on generated wrappers', () => {
    fc.assert(
      fc.property(fc.oneof(usual, wrapper), fc.constantFrom('utf8', 'latin1') as fc.Arbitrary<BufferEncoding>, (text, encoding) => {
        assertSameOutcome(Buffer.from(text, encoding));
      }),
      RUNS,
    );
  });

  test('and on arbitrary bytes after an opening brace', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        assertSameOutcome(Buffer.concat([Buffer.from('{"payload":"'), Buffer.from(bytes), Buffer.from('"}')]));
        assertSameOutcome(Buffer.concat([Buffer.from('{'), Buffer.from(bytes)]));
      }),
      RUNS,
    );
  });

  test('a wrapper inside a larger buffer reads as the same wrapper alone, never past its end', () => {
    fc.assert(
      fc.property(fc.oneof(usual, wrapper), fc.uint8Array({ maxLength: 16 }), fc.uint8Array({ maxLength: 16 }), (text, before, after) => {
        const alone = Buffer.from(text, 'utf8');
        const embedded = Buffer.concat([Buffer.from(before), alone, Buffer.from(after)]);
        const label = JSON.stringify(text);
        const inSpan = unwrapped(embedded, before.length, before.length + alone.length);
        const expected = unwrapped(alone);
        assert.equal(inSpan.ok, expected.ok, label);
        if (inSpan.ok && expected.ok) assert.deepEqual([...inSpan.payload], [...expected.payload], label);
        if (!inSpan.ok && !expected.ok) assert.equal(inSpan.reason, expected.reason, label);
      }),
      RUNS,
    );
  });

  test('the usual OpenSIPS wrapper', () => {
    const sip = 'INVITE sip:2001@127.0.0.1:5060 SIP/2.0\r\nCall-ID: 1-25121@127.0.0.1\r\nContent-Type: "a/b"\\x\r\n\r\nv=0\r\n';
    const bytes = Buffer.from(`{\n\t"payload":\t${JSON.stringify(sip)}\n}`);
    const outcome = unwrapped(bytes);
    assert.ok(outcome.ok);
    assert.equal(outcome.payload.toString('utf8'), sip);
    assertSameOutcome(bytes);
  });
});
