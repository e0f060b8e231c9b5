// The packet pipeline hands the Call-ID's string to the HEP message as its correlation id when
// the chunk holds the same bytes (shareCallIdText). Whatever the packet, the correlation id read
// afterwards must be exactly what decoding the chunk gives, and the Call-ID must not change.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeHep, type DecodedHep } from '../../src/hep/index.ts';
import { parseSip, type SipMessage } from '../../src/sip/index.ts';
import { shareCallIdText } from '../../src/transports/packet-pipeline.ts';
import { buildHep3, chunk, typicalChunks } from '../hep/builder.ts';
import { fixtureFile, udpFixtureNames } from '../hep/fixtures.ts';
import { hep3StreamFixtureNames, readHepFixture, splitOnLengths } from '../hep/streams.ts';

function decoded(packet: Buffer): { hep: DecodedHep; sip: SipMessage } | null {
  const result = decodeHep(packet);
  if (!result.ok || result.message.payloadType !== 1) return null;
  const hep = result.message;
  const sip = parseSip(hep.payloadBytes, hep.payloadStart, hep.payloadEnd);
  return sip.ok ? { hep, sip: sip.message } : null;
}

/** Correlation id and Call-ID as read without sharing, then as read after it. */
function readBothWays(packet: Buffer): { plain: [string | null, string | null]; shared: [string | null, string | null] } {
  const first = decoded(packet);
  const second = decoded(packet);
  if (first === null || second === null) assert.fail('packet does not decode');
  const plain: [string | null, string | null] = [first.hep.correlationId, first.sip.callId];
  shareCallIdText(second.hep, second.sip);
  return { plain, shared: [second.hep.correlationId, second.sip.callId] };
}

function sipWithCallId(callIdLine: string): Buffer {
  return Buffer.from(`INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:alice@example.com>;tag=1\r\n` +
    `To: <sip:bob@example.com>\r\n${callIdLine}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n`);
}

function packetWith(callIdLine: string, correlation: Buffer | null): Buffer {
  const extra = correlation === null ? [] : [chunk(0x0011, correlation)];
  return buildHep3(typicalChunks(sipWithCallId(callIdLine), extra));
}

describe('the Call-ID shared as the correlation id', () => {
  test('changes nothing that is read, on every captured packet (Kamailio, OpenSIPS, JSON-wrapped)', () => {
    const packets = [
      ...udpFixtureNames().map((name) => readHepFixture(name)),
      ...['hep-invite.bin', 'hep-ack.bin', 'hep-bye.bin'].map((name) => fixtureFile(`canyan/${name}`)),
      ...hep3StreamFixtureNames().flatMap((name) => splitOnLengths(readHepFixture(name))),
    ].filter((packet) => decoded(packet) !== null);
    assert.ok(packets.length > 100);
    let sameAsCallId = 0;
    for (const packet of packets) {
      const { plain, shared } = readBothWays(packet);
      assert.deepEqual(shared, plain);
      if (plain[0] !== null && plain[0] === plain[1]) sameAsCallId++;
    }
    assert.ok(sameAsCallId > 50, 'the captures carry the Call-ID as correlation id');
  });

  test('takes the Call-ID only when the bytes are the same', () => {
    const cases: Array<[string, Buffer | null, string | null]> = [
      ['Call-ID: abc@host', Buffer.from('abc@host'), 'abc@host'],
      ['i:abc@host', Buffer.from('abc@host'), 'abc@host'],
      ['Call-ID: abc@host', Buffer.from('abc@hosT'), 'abc@hosT'],
      ['Call-ID: abc@host', Buffer.from('abc@hos'), 'abc@hos'],
      ['Call-ID: abc@host', Buffer.from(' abc@host'), ' abc@host'],
      ['Call-ID: abc@host', Buffer.alloc(0), ''],
      ['Call-ID: abc@host', null, null],
      ['Call-ID: ünïcode@host', Buffer.from('ünïcode@host'), 'ünïcode@host'],
      // Folded: the Call-ID is read through the full table, and the chunk decoded.
      ['Call-ID: abc\r\n @host', Buffer.from('abc @host'), 'abc @host'],
      ['Call-ID:', Buffer.from('x'), 'x'],
    ];
    for (const [line, correlation, expected] of cases) {
      const { plain, shared } = readBothWays(packetWith(line, correlation));
      assert.deepEqual(shared, plain, line);
      assert.equal(shared[0], expected, line);
    }
  });

  test('the Call-ID span is where callId reads it, and -1 when the value is folded or absent', () => {
    const sip = parseSip(Buffer.concat([Buffer.from('\r\n\r\n'), sipWithCallId('Call-ID:   abc@host  ')]), 4);
    assert.ok(sip.ok);
    const { callIdStart = -1, callIdEnd = -1 } = sip.message;
    assert.ok(callIdStart > 4);
    assert.equal(sip.message.payload?.toString('latin1', callIdStart - 4, callIdEnd - 4), 'abc@host');
    for (const line of ['Call-ID: abc\r\n @host', 'X-Other: 1']) {
      const other = parseSip(sipWithCallId(line));
      assert.ok(other.ok);
      assert.deepEqual([other.message.callIdStart, other.message.callIdEnd], [-1, -1], line);
    }
  });

  test('random Call-IDs and correlation ids: the same reading with and without sharing', () => {
    const word = fc.string({ unit: fc.constantFrom('a', 'B', '9', '@', '.', '-', 'é', '~'), minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(word, fc.oneof(fc.constant('same'), fc.constant('none'), word), fc.boolean(), (callId, correlation, compact) => {
        const chunkText = correlation === 'same' ? callId : correlation === 'none' ? null : correlation;
        const packet = packetWith(`${compact ? 'i' : 'Call-ID'}: ${callId}`, chunkText === null ? null : Buffer.from(chunkText));
        const { plain, shared } = readBothWays(packet);
        assert.deepEqual(shared, plain);
        assert.equal(shared[0], chunkText);
      }),
      { numRuns: 300, seed: 11 },
    );
  });
});
