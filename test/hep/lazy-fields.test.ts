// The decoded message turns its addresses and text chunks into strings on first access (see
// src/hep/message.ts). These tests check that what it gives equals an eager reading of the same
// chunks (written here independently, last chunk of a type winning as in the decoder), whatever
// the order the fields are read in and whatever is decoded in between.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeHep, type DecodedHep, type HepMessage } from '../../src/hep/index.ts';
import { formatIpv4, formatIpv6 } from '../../src/hep/ip-format.ts';
import { SAMPLE_SIP, buildHep12, buildHep3, chunk, ipv4, typicalChunks } from './builder.ts';
import { fixtureFile, udpFixtureNames } from './fixtures.ts';
import { hepFields } from './message-fields.ts';
import { hep3StreamFixtureNames, readHepFixture, splitOnLengths } from './streams.ts';

type TextFields = Pick<HepMessage, 'srcIp' | 'dstIp' | 'authKey' | 'correlationId' | 'nodeName'>;
const TEXT_FIELDS = ['srcIp', 'dstIp', 'authKey', 'correlationId', 'nodeName'] as const;

/** The text fields read eagerly from the chunks of a (valid) HEP packet. */
function eagerText(packet: Buffer): TextFields {
  const out: TextFields = { srcIp: null, dstIp: null, authKey: null, correlationId: null, nodeName: null };
  if (packet[0] === 1 || packet[0] === 2) {
    const v6 = packet[1] === 40;
    out.srcIp = v6 ? formatIpv6(packet, 8) : formatIpv4(packet, 8);
    out.dstIp = v6 ? formatIpv6(packet, 24) : formatIpv4(packet, 12);
    return out;
  }
  const total = packet.readUInt16BE(4);
  for (let at = 6; at + 6 <= total; ) {
    const vendor = packet.readUInt16BE(at);
    const type = packet.readUInt16BE(at + 2);
    const length = packet.readUInt16BE(at + 4);
    const value = packet.subarray(at + 6, at + length);
    at += length;
    if (vendor !== 0) continue;
    if (type === 3) out.srcIp = formatIpv4(value, 0);
    else if (type === 4) out.dstIp = formatIpv4(value, 0);
    else if (type === 5) out.srcIp = formatIpv6(value, 0);
    else if (type === 6) out.dstIp = formatIpv6(value, 0);
    else if (type === 0x0e) out.authKey = value.toString('utf8');
    else if (type === 0x11) out.correlationId = value.toString('utf8');
    else if (type === 0x13) out.nodeName = value.toString('utf8');
  }
  return out;
}

function decodeOk(packet: Buffer): DecodedHep {
  const result = decodeHep(packet);
  if (!result.ok) assert.fail(`${result.error.reason}: ${result.error.detail}`);
  return result.message;
}

function textOf(message: HepMessage, order: readonly (typeof TEXT_FIELDS)[number][]): TextFields {
  const out: TextFields = { srcIp: null, dstIp: null, authKey: null, correlationId: null, nodeName: null };
  for (const field of order) out[field] = message[field];
  return out;
}

const IPV6_SRC = Buffer.from('20010db8000000000000000000000001', 'hex');
const IPV6_DST = Buffer.from('fe800000000000000202b3fffe1e8329', 'hex');
const IPV4_MAPPED = Buffer.from('00000000000000000000ffffc0a80001', 'hex');

const fixturePackets: Buffer[] = [
  ...udpFixtureNames().map((name) => readHepFixture(name)),
  ...['hep-invite.bin', 'hep-ack.bin', 'hep-bye.bin'].map((name) => fixtureFile(`canyan/${name}`)),
  ...hep3StreamFixtureNames().flatMap((name) => splitOnLengths(readHepFixture(name))),
].filter((packet) => decodeHep(packet).ok);

const builtPackets: Buffer[] = [
  buildHep3([chunk(0x000f, SAMPLE_SIP)]), // no addresses, no text chunks
  buildHep3(typicalChunks(SAMPLE_SIP, [chunk(0x0011, Buffer.from('corr-1@host')), chunk(0x000e, Buffer.from('sécret')), chunk(0x0013, Buffer.from('node-é'))])),
  buildHep3([chunk(0x0005, IPV6_SRC), chunk(0x0006, IPV6_DST), chunk(0x000f, SAMPLE_SIP)]),
  buildHep3([chunk(0x0005, IPV4_MAPPED), chunk(0x0006, Buffer.alloc(16)), chunk(0x000f, SAMPLE_SIP)]),
  // Repeated chunks: the last of each type wins, an IPv6 address after an IPv4 one included.
  buildHep3([
    chunk(0x0003, ipv4('10.0.0.1')), chunk(0x0005, IPV6_SRC), chunk(0x0004, ipv4('10.0.0.2')), chunk(0x0004, ipv4('10.0.0.3')),
    chunk(0x0011, Buffer.from('first')), chunk(0x0011, Buffer.from('second')), chunk(0x0013, Buffer.alloc(0)), chunk(0x000f, SAMPLE_SIP),
  ]),
  // Vendor chunks of the text types are never read.
  buildHep3([chunk(0x0011, Buffer.from('vendor'), 3), chunk(0x0003, ipv4('1.2.3.4'), 3), chunk(0x000f, SAMPLE_SIP)]),
  buildHep12({ version: 1, src: ipv4('192.168.0.1'), dst: ipv4('192.168.0.2'), payload: SAMPLE_SIP }),
  buildHep12({ version: 2, ipv6: true, src: IPV6_SRC, dst: IPV6_DST, seconds: 1, micros: 2, payload: SAMPLE_SIP }),
];

describe('HEP lazily decoded text fields', () => {
  test('equal an eager reading of the chunks, on every fixture and hand-built packet', () => {
    assert.ok(fixturePackets.length > 100);
    for (const packet of [...fixturePackets, ...builtPackets]) {
      assert.deepEqual(textOf(decodeOk(packet), TEXT_FIELDS), eagerText(packet));
    }
  });

  test('hand-built packets give the expected text (IPv6, IPv4-mapped, missing and repeated chunks)', () => {
    const texts = builtPackets.map((packet) => textOf(decodeOk(packet), TEXT_FIELDS));
    assert.deepEqual(texts[0], { srcIp: null, dstIp: null, authKey: null, correlationId: null, nodeName: null });
    assert.deepEqual(texts[1], { srcIp: '10.0.0.1', dstIp: '10.0.0.2', authKey: 'sécret', correlationId: 'corr-1@host', nodeName: 'node-é' });
    assert.deepEqual(texts[2], { srcIp: '2001:db8::1', dstIp: 'fe80::202:b3ff:fe1e:8329', authKey: null, correlationId: null, nodeName: null });
    assert.deepEqual(texts[3], { srcIp: '::ffff:192.168.0.1', dstIp: '::', authKey: null, correlationId: null, nodeName: null });
    assert.deepEqual(texts[4], { srcIp: '2001:db8::1', dstIp: '10.0.0.3', authKey: null, correlationId: 'second', nodeName: '' });
    assert.deepEqual(texts[5], { srcIp: null, dstIp: null, authKey: null, correlationId: null, nodeName: null });
    assert.deepEqual(texts[6], { srcIp: '192.168.0.1', dstIp: '192.168.0.2', authKey: null, correlationId: null, nodeName: null });
    assert.deepEqual(texts[7], { srcIp: '2001:db8::1', dstIp: 'fe80::202:b3ff:fe1e:8329', authKey: null, correlationId: null, nodeName: null });
  });

  test('do not depend on the read order, nor on packets decoded before the first read', () => {
    const all = [...fixturePackets, ...builtPackets];
    const expected = all.map((packet) => eagerText(packet));
    fc.assert(
      fc.property(
        fc.array(fc.nat(all.length - 1), { minLength: 1, maxLength: 20 }),
        fc.shuffledSubarray([...TEXT_FIELDS], { minLength: 5, maxLength: 5 }),
        (indexes, order) => {
          // Decode them all first, read afterwards: no decode may disturb an earlier message.
          const messages = indexes.map((i) => decodeOk(all[i]));
          messages.forEach((message, k) => assert.deepEqual(textOf(message, order), expected[indexes[k]]));
        },
      ),
      { numRuns: 300, seed: 7 },
    );
  });

  test('a field read twice gives the same string; assigned fields keep the assigned value', () => {
    const message = decodeOk(builtPackets[1]);
    const first = message.correlationId;
    assert.equal(message.correlationId, first);
    message.correlationId = 'replaced';
    message.srcIp = null;
    assert.equal(message.correlationId, 'replaced');
    assert.equal(message.srcIp, null);
    assert.equal(message.dstIp, '10.0.0.2');
  });

  test('the payload is a span of the packet itself unless inflated or unwrapped, and its view is made once', () => {
    for (const packet of [...fixturePackets, ...builtPackets]) {
      const message = decodeOk(packet);
      assert.deepEqual(message.payload, message.payloadBytes.subarray(message.payloadStart, message.payloadEnd));
      assert.equal(message.payload, message.payload);
      const raw = packet.includes(message.payload);
      if (raw) assert.equal(message.payloadBytes, packet, 'a raw payload is read where it lies, not copied');
    }
    const message = decodeOk(builtPackets[1]);
    const replacement = Buffer.from('OPTIONS sip:x SIP/2.0\r\n\r\n');
    message.payload = replacement;
    assert.equal(message.payload, replacement);
    assert.deepEqual([message.payloadBytes, message.payloadStart, message.payloadEnd], [replacement, 0, replacement.length]);
  });

  test('JSON and hepFields show every HepMessage field', () => {
    const message = decodeOk(builtPackets[1]);
    const json: unknown = JSON.parse(JSON.stringify(message));
    const fields = hepFields(message);
    assert.deepEqual(json, { ...fields, payload: JSON.parse(JSON.stringify(fields.payload)) });
    assert.equal(Object.keys(fields).length, 14);
  });
});
