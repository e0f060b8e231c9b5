// Property tests (fast-check, fixed seeds, bounded runs): the decoder never throws and never reads
// outside the packet it is given, whatever the bytes; the framer never throws, stays bounded, and
// frames valid streams identically however they are chunked.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HepStreamFramer, decodeHep, type HepDecodeResult } from '../../src/hep/index.ts';
import { fixtureFile, udpFixtureNames } from './fixtures.ts';
import { chunkAt, hep3StreamFixtureNames, readHepFixture, splitOnLengths } from './streams.ts';
import { plainResult } from './message-fields.ts';
import { strictView } from './strict-view.ts';

const REASONS = new Set(['empty', 'truncated', 'bad_magic', 'bad_length', 'bad_chunk', 'unsupported_version', 'no_payload', 'bad_compression', 'bad_json_payload']);

const validPackets: Buffer[] = [
  ...udpFixtureNames().map((name) => readHepFixture(name)),
  ...['hep-invite.bin', 'hep-ack.bin', 'hep-bye.bin'].map((name) => fixtureFile(`canyan/${name}`)),
  ...hep3StreamFixtureNames().flatMap((name) => splitOnLengths(readHepFixture(name))),
];

/** Decodes `packet` through a strict view (any read outside it throws, and decodeHep must not
 *  throw), and checks the result equals decoding a plain copy. */
function decodeGuarded(packet: Buffer): HepDecodeResult {
  const strict = decodeHep(strictView(packet));
  const plain = decodeHep(Buffer.from(packet));
  // Reading every field through the strict view also checks the lazily decoded ones.
  assert.deepEqual(plainResult(strict), plainResult(plain));
  assertWellFormed(strict, packet.length);
  return strict;
}

function assertWellFormed(result: HepDecodeResult, packetLength: number): void {
  if (!result.ok) {
    assert.ok(REASONS.has(result.error.reason), result.error.reason);
    assert.equal(typeof result.error.detail, 'string');
    return;
  }
  const m = result.message;
  assert.ok([1, 2, 3].includes(m.version));
  assert.ok(Buffer.isBuffer(m.payload));
  if (m.version !== 3) assert.ok(m.payload.length <= packetLength);
  assert.ok(m.payloadStart >= 0 && m.payloadStart <= m.payloadEnd && m.payloadEnd <= m.payloadBytes.length);
  assert.deepEqual(m.payload, m.payloadBytes.subarray(m.payloadStart, m.payloadEnd));
  for (const port of [m.srcPort, m.dstPort]) assert.ok(port === null || (Number.isInteger(port) && port >= 0 && port <= 0xffff));
  assert.ok(m.timestampMicros === null || Number.isSafeInteger(m.timestampMicros));
  assert.ok(m.captureId === null || (Number.isInteger(m.captureId) && m.captureId >= 0));
}

const packetArbitrary = fc.constantFrom(...validPackets);

type Mutation =
  | { kind: 'flip'; position: number; bit: number }
  | { kind: 'truncate'; keep: number }
  | { kind: 'lie16'; position: number; value: number }
  | { kind: 'splice'; position: number; bytes: Uint8Array }
  | { kind: 'refit' }
  | { kind: 'chunkDelta'; index: number; delta: number };

const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), position: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
  // Length lies: rewrite a u16, most usefully the total length or a chunk length.
  fc.record({ kind: fc.constant('lie16' as const), position: fc.oneof(fc.constant(4), fc.constant(10), fc.constant(17), fc.nat()), value: fc.oneof(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 0xffff })) }),
  fc.record({ kind: fc.constant('splice' as const), position: fc.nat(), bytes: fc.uint8Array({ maxLength: 24 }) }),
  // Make the HEP3 total length agree with the (possibly truncated or spliced) size again.
  fc.constant({ kind: 'refit' as const }),
  // Nudge one chunk's length by a few bytes: the classic off-by-some that over-reads.
  fc.record({ kind: fc.constant('chunkDelta' as const), index: fc.nat(), delta: fc.integer({ min: -8, max: 8 }) }),
);

/** Offsets of the HEP3 chunk length fields, walking the chunks as declared. */
function chunkLengthOffsets(packet: Buffer): number[] {
  const offsets: number[] = [];
  let offset = 6;
  while (offset + 6 <= packet.length) {
    offsets.push(offset + 4);
    const length = packet.readUInt16BE(offset + 4);
    if (length < 6) break;
    offset += length;
  }
  return offsets;
}

function mutate(packet: Buffer, mutations: readonly Mutation[]): Buffer {
  let out = Buffer.from(packet);
  for (const m of mutations) {
    if (out.length === 0) break;
    switch (m.kind) {
      case 'flip':
        out[m.position % out.length] ^= 1 << m.bit;
        break;
      case 'truncate':
        out = out.subarray(0, m.keep % (out.length + 1));
        break;
      case 'lie16': {
        if (out.length < 2) break;
        const at = m.position % (out.length - 1);
        out.writeUInt16BE(m.value, at);
        break;
      }
      case 'splice': {
        const at = m.position % (out.length + 1);
        out = Buffer.concat([out.subarray(0, at), Buffer.from(m.bytes), out.subarray(at)]);
        break;
      }
      case 'refit':
        if (out.length >= 6 && out.length <= 0xffff && out.toString('latin1', 0, 4) === 'HEP3') out.writeUInt16BE(out.length, 4);
        break;
      case 'chunkDelta': {
        if (out.toString('latin1', 0, 4) !== 'HEP3') break;
        const fields = chunkLengthOffsets(out);
        if (fields.length === 0) break;
        const at = fields[m.index % fields.length];
        out.writeUInt16BE(Math.max(0, Math.min(0xffff, out.readUInt16BE(at) + m.delta)), at);
        break;
      }
    }
  }
  return out;
}

describe('decodeHep robustness', () => {
  test('every valid fixture packet decodes without touching a byte outside it', () => {
    for (const packet of validPackets) {
      const result = decodeGuarded(packet);
      assert.equal(result.ok || result.error.reason === 'no_payload', true);
    }
  });

  test('random bytes never throw and never over-read', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600, size: 'max' }), (bytes) => {
        decodeGuarded(Buffer.from(bytes));
      }),
      { numRuns: 2000, seed: 1 },
    );
  });

  test('random bytes behind a HEP magic (v3, v2, v1 headers) never throw and never over-read', () => {
    const prefixes = [Buffer.from('HEP3'), Buffer.from([2, 16]), Buffer.from([1, 40]), Buffer.from([2, 40, 10, 17])];
    fc.assert(
      fc.property(fc.constantFrom(...prefixes), fc.uint8Array({ maxLength: 120, size: 'max' }), (prefix, rest) => {
        decodeGuarded(Buffer.concat([prefix, Buffer.from(rest)]));
      }),
      { numRuns: 2000, seed: 2 },
    );
  });

  test('mutated valid packets (bit flips, truncation, length lies, splices) never throw and never over-read', () => {
    fc.assert(
      fc.property(packetArbitrary, fc.array(mutationArbitrary, { minLength: 1, maxLength: 4 }), (packet, mutations) => {
        decodeGuarded(mutate(packet, mutations));
      }),
      { numRuns: 2000, seed: 3 },
    );
  });

  test('a HEP3 message truncated anywhere is reported, not mis-decoded', () => {
    const hep3 = validPackets.filter((p) => p.toString('latin1', 0, 4) === 'HEP3');
    fc.assert(
      fc.property(fc.constantFrom(...hep3), fc.nat(), (packet, cut) => {
        const keep = cut % packet.length;
        const result = decodeHep(packet.subarray(0, keep));
        assert.equal(result.ok, false);
        if (!result.ok) assert.ok(['empty', 'truncated'].includes(result.error.reason), result.error.reason);
      }),
      { numRuns: 1000, seed: 4 },
    );
  });
});

describe('HepStreamFramer robustness', () => {
  test('random chunking of concatenated valid streams yields the same packets', () => {
    const streams = hep3StreamFixtureNames().map(readHepFixture);
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...streams), { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 60, size: 'max' }),
        fc.integer({ min: 1, max: 0xffff }),
        (picked, rawCuts, scale) => {
          const stream = Buffer.concat(picked);
          const cuts = rawCuts.map((c) => (c * scale) % (stream.length + 1));
          const framer = new HepStreamFramer();
          const packets: Buffer[] = [];
          for (const piece of chunkAt(stream, cuts)) {
            const result = framer.push(strictView(piece));
            assert.equal(result.error, null);
            packets.push(...result.packets);
          }
          const expected = splitOnLengths(stream);
          assert.equal(packets.length, expected.length);
          packets.forEach((p, i) => assert.ok(p.equals(expected[i])));
          assert.equal(framer.bufferedBytes, 0);
        },
      ),
      { numRuns: 300, seed: 5 },
    );
  });

  test('garbage streams never throw, buffered bytes stay under the limit, errors are sticky', () => {
    const valid = validPackets.filter((p) => p.toString('latin1', 0, 4) === 'HEP3');
    const piece = fc.oneof(
      fc.uint8Array({ maxLength: 300, size: 'medium' }).map((b) => Buffer.from(b)),
      fc.constantFrom(...valid),
      fc.constantFrom(...valid).chain((p) => fc.nat(p.length).map((n) => p.subarray(0, n))),
      fc.constant(Buffer.from('HEP3')),
      fc.integer({ min: 0, max: 0xffff }).map((n) => Buffer.from([0x48, 0x45, 0x50, 0x33, n >> 8, n & 0xff])),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), fc.integer({ min: 6, max: 2000 }), (pieces, max) => {
        const framer = new HepStreamFramer({ maxMessageBytes: max });
        let failed = false;
        for (const p of pieces) {
          const result = framer.push(strictView(p));
          assert.ok(framer.bufferedBytes <= max, `buffered ${framer.bufferedBytes} > ${max}`);
          if (failed) {
            assert.deepEqual(result.packets, []);
            assert.notEqual(result.error, null);
          }
          if (result.error) {
            failed = true;
            assert.equal(framer.bufferedBytes, 0);
          }
          for (const packet of result.packets) {
            assert.ok(packet.length >= 6 && packet.length <= max);
            assert.equal(packet.toString('latin1', 0, 4), 'HEP3');
            assert.equal(packet.readUInt16BE(4), packet.length);
            assertWellFormed(decodeHep(packet), packet.length);
          }
        }
      }),
      { numRuns: 1000, seed: 6 },
    );
  });

  test('valid messages around corrupted message bodies all frame; the intact ones decode', () => {
    const valid = validPackets.filter((p) => p.toString('latin1', 0, 4) === 'HEP3' && decodeHep(p).ok);
    fc.assert(
      fc.property(
        fc.array(fc.record({ packet: fc.constantFrom(...valid), corrupt: fc.boolean(), seed: fc.uint8Array({ minLength: 1, maxLength: 8 }) }), { minLength: 1, maxLength: 8 }),
        (entries) => {
          // Corrupt only bytes after the 6-byte frame header: the framing stays intact.
          const messages = entries.map(({ packet, corrupt, seed }) => {
            if (!corrupt) return packet;
            const copy = Buffer.from(packet);
            for (const [i, byte] of seed.entries()) copy[6 + ((byte * 31 + i * 97) % (copy.length - 6))] ^= 0xff;
            return copy;
          });
          const framer = new HepStreamFramer();
          const { packets, error } = framer.push(Buffer.concat(messages));
          assert.equal(error, null);
          assert.equal(packets.length, messages.length);
          entries.forEach((entry, i) => {
            assert.ok(packets[i].equals(messages[i]));
            if (!entry.corrupt) assert.ok(decodeHep(packets[i]).ok);
          });
        },
      ),
      { numRuns: 300, seed: 8 },
    );
  });
});
