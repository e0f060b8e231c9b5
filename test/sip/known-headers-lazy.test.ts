// The known-header scan runs lazily, only as far as the headers asked for so far. Whatever order
// the headers are asked in, each answer must be the full table's: same span, and a header is
// reported folded whenever the table has it folded.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CALL_ID, CSEQ, FROM, P_ASSERTED_IDENTITY, TO, scanKnownHeaders, type ScannedHeader } from '../../src/sip/known-headers.ts';
import { scanLayout } from '../../src/sip/header-table.ts';
import { parseSip } from '../../src/sip/index.ts';
import { parseCSeq } from '../../src/sip/cseq.ts';

const RUNS = { numRuns: 3000, seed: 20261203 };
const HEADERS: readonly ScannedHeader[] = [CALL_ID, CSEQ, FROM, TO, P_ASSERTED_IDENTITY];

// Near misses of Call-ID and CSeq differ in one byte, the case or the length: the scan compares
// their names byte by byte, unrolled.
const name = fc.constantFrom(
  'Call-ID', 'i', 'CSeq', 'From', 'f', 'To', 't', 'Via', 'v', 'P-Asserted-Identity', 'Contact', 'Fro', 'Tox', 'C', 'p',
  'CALL-ID', 'call-id', 'Call_ID', 'Call\rID', 'Cal', 'Call-I', 'Call-IDs', 'Calm-ID', 'CSEQ', 'cseq', 'CSe', 'CSeqs', 'CSez', 'Cs',
);
const line = fc.oneof(
  fc.tuple(name, fc.constantFrom(':', ' :', ': ', ' '), fc.constantFrom('x', '1 BYE', '<sip:a@b>;tag=1', '', ' ')).map((parts) => parts.join('')),
  fc.constantFrom('', ' folded', '\tfolded', ' ', 'junk', '\r'),
);
const message = fc
  .tuple(fc.array(line, { maxLength: 12 }), fc.constantFrom('\r\n', '\n'), fc.constantFrom('', '\r\n\r\nbody: x'))
  .map(([lines, end, tail]) => Buffer.from(['INVITE sip:a@b SIP/2.0', ...lines].join(end) + tail, 'utf8'));
const order = fc.shuffledSubarray([...HEADERS], { minLength: 1 });

describe('lazy known-header scan', () => {
  test('answers do not depend on the order headers are asked in', () => {
    fc.assert(
      fc.property(message, order, (bytes, asked) => {
        const table = scanLayout(bytes).headers;
        const known = scanKnownHeaders(bytes);
        for (const header of asked) {
          const index = table.firstIndex(header);
          const label = `${JSON.stringify(bytes.toString())} header ${header}`;
          if (known.isFolded(header)) continue; // the full table decides: nothing to compare
          assert.equal(known.valueStart(header), index === -1 ? -1 : table.valueStart(index), label);
          assert.equal(known.valueEnd(header), index === -1 ? -1 : table.valueEnd(index), label);
          if (index !== -1) assert.equal(table.isFolded(index), false, label);
        }
      }),
      RUNS,
    );
  });

  test('parsed fields equal the full table values, whatever is read first', () => {
    fc.assert(
      fc.property(message, order, (bytes, asked) => {
        const result = parseSip(bytes);
        if (!result.ok) return;
        const m = result.message;
        for (const header of asked) {
          if (header === CALL_ID) assert.equal(m.callId, m.header('Call-ID') === '' ? null : m.header('Call-ID'));
          if (header === FROM) assert.equal(m.from?.raw ?? null, m.header('From'));
          if (header === TO) assert.equal(m.to?.raw ?? null, m.header('To'));
          if (header === CSEQ) {
            const text = m.header('CSeq');
            const expected = text === null ? { number: null, method: null } : parseCSeq(text);
            assert.deepEqual([m.cseqNumber, m.cseqMethod], [expected.number, expected.method]);
          }
        }
      }),
      RUNS,
    );
  });

  test('a header is found after lines asked for earlier, and a fold after it is seen', () => {
    const bytes = Buffer.from('BYE sip:a@b SIP/2.0\r\nCall-ID: 1\r\nContact: <sip:c@d>\r\nFrom: <sip:x@y>;tag=9\r\n more\r\nTo: <sip:z@w>\r\n\r\n');
    const known = scanKnownHeaders(bytes);
    assert.equal(bytes.toString('latin1', known.valueStart(CALL_ID), known.valueEnd(CALL_ID)), '1');
    assert.equal(known.isFolded(CALL_ID), false);
    assert.equal(known.isFolded(FROM), true);
    assert.equal(bytes.toString('latin1', known.valueStart(TO), known.valueEnd(TO)), '<sip:z@w>');
    assert.equal(known.valueStart(CSEQ), -1);
    assert.equal(known.folded, true);
    const parsed = parseSip(bytes);
    assert.ok(parsed.ok);
    assert.equal(parsed.message.callId, '1');
    assert.equal(parsed.message.from?.tag, '9 more');
    assert.equal(parsed.message.to?.uri?.user, 'z');
  });

  test('a name cut by the payload limit is read as the bytes up to the limit, never past it', () => {
    // Every prefix of the message is parsed where it lies in the whole buffer and alone: the bytes
    // after the limit (which complete the cut name) must not count.
    const whole = Buffer.from('ACK sip:a@b SIP/2.0\r\nCall-ID: 7\r\nCSeq: 2 ACK\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:z@w>;tag=2\r\nf: x\r\nt: y\r\n\r\n');
    const read = (result: ReturnType<typeof parseSip>) =>
      result.ok ? [result.message.callId, result.message.cseqNumber, result.message.cseqMethod, result.message.fromTag, result.message.toTag] : result.reason;
    for (let cut = 1; cut <= whole.length; cut++) {
      assert.deepEqual(read(parseSip(whole, 0, cut)), read(parseSip(Buffer.from(whole.subarray(0, cut)))), `cut at ${cut}`);
    }
  });
});
